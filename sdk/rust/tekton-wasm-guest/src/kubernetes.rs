//! The Kubernetes capability (hostabi/README.md, "Kubernetes"): the Rust
//! rendering of the Go SDK's `guest.DoKubernetes`. The plugin's manifest
//! must grant it (`capabilities.kubernetes`, RBAC-shaped rules), else the
//! plugin does not load; a plugin that never calls [`kubernetes_request`]
//! does not import it. The host makes each request as the run's
//! ServiceAccount, in the run's namespace.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::host::{self, HostError, ERRNO_INVAL};
use crate::{Error, REASON_FAILED};

/// One request for [`kubernetes_request`]: the request document's fields
/// (`hostabi.KubernetesRequest`), empty ones left out, and the body.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesRequest {
    /// `get`, `list`, `create`, `patch` or `delete`.
    pub verb: String,
    /// The kind, as in an object: `"tekton.dev/v1"`, `"PipelineRun"`; any
    /// kind the cluster serves, custom resources included.
    pub api_version: String,
    pub kind: String,
    /// The run's namespace, or empty (then the run's is used); another is
    /// `ERRNO_DENIED`. Empty for a cluster-scoped kind.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The object: required for get, patch and delete; empty for create
    /// (the body's `metadata.name` or `generateName`) and list.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// list only: `"app=x,tier!=db"`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label_selector: String,
    /// list only: page a long list, as the API's `limit` and `continue`.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: i64,
    #[serde(rename = "continue", skip_serializing_if = "String::is_empty")]
    pub continue_: String,
    /// patch only: `merge` (a JSON merge patch, the default) or `apply`
    /// (server-side apply: the body is the object as the plugin wants it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub patch_type: String,
    /// create and patch: the writer's name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field_manager: String,
    /// An apply patch only: take the fields other managers own.
    #[serde(skip_serializing_if = "is_false")]
    pub force: bool,
    /// The object to create, or the patch, as JSON; empty for get, list
    /// and delete.
    #[serde(skip)]
    pub body: Vec<u8>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The apiserver's answer: any status is an answer, not an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesResponse {
    /// 200 or 201 for success, 404 for an object that does not exist, 403
    /// for a request the run's ServiceAccount may not make, 409 for one
    /// that already exists...
    pub status: u32,
    /// The object, the list, or (for an error) a Status object, as JSON.
    pub body: Vec<u8>,
}

impl KubernetesResponse {
    /// Whether the answer is a success (2xx).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Decodes the body; a body that is not the JSON expected is a
    /// `Failed` [`Error`] saying so.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(REASON_FAILED, format!("the Kubernetes API's answer (status {}) is not the JSON expected: {}", self.status, e))
        })
    }

    /// The reason and message of an answer that is not a success, from its
    /// Status object (`"Forbidden"`, `"pipelineruns.tekton.dev is
    /// forbidden: User ... cannot create ..."`); the HTTP status when the
    /// body is no Status.
    pub fn failure(&self) -> (String, String) {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Status {
            reason: String,
            message: String,
        }
        let s: Status = serde_json::from_slice(&self.body).unwrap_or_default();
        if s.message.is_empty() {
            return (s.reason, format!("the Kubernetes API answered with status {}", self.status));
        }
        (s.reason, s.message)
    }
}

/// Sends `req` through the host's Kubernetes capability and returns the
/// whole answer. Any answer of the apiserver, a 403 or a 404 included, is
/// a [`KubernetesResponse`]; a failed host call is a [`HostError`]:
/// `ERRNO_DENIED` for a request outside the manifest's rules or the run's
/// namespace, `ERRNO_INVAL` for a bad request or a kind the cluster does
/// not serve, `ERRNO_NOT_CAPABLE` when the host serves no Kubernetes
/// (`tkn-wasm run` without `--kubeconfig`). It blocks until the answer is
/// read.
pub fn kubernetes_request(req: &KubernetesRequest) -> Result<KubernetesResponse, HostError> {
    let doc = serde_json::to_vec(req)
        .map_err(|e| HostError { errno: ERRNO_INVAL, message: format!("encoding the request: {}", e) })?;
    let (status, body) = host::kubernetes(&doc, &req.body)?;
    Ok(KubernetesResponse { status, body })
}
