//! The HTTP capability (hostabi/README.md, "Host capabilities"): the
//! Rust rendering of the Go SDK's `guest.DoHTTP`. The plugin's manifest
//! must grant it (`capabilities.http`), else the plugin does not load; a
//! plugin that never calls [`http_request`] does not import it (the linker
//! drops unused imports), so it needs no grant.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::host::{self, HostError, ERRNO_INVAL, ERRNO_IO};

/// One request for [`http_request`].
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// The HTTP method; empty means GET.
    pub method: String,
    /// An absolute http or https URL whose host the manifest allows.
    pub url: String,
    /// The request's header fields, by name.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The request body; empty for none.
    pub body: Vec<u8>,
}

/// The final response, after the redirects the host followed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// Any status is a response, not an error.
    pub status: u32,
    /// The response's header fields, by canonical name.
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    method: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: &'a BTreeMap<String, Vec<String>>,
}

/// Sends `req` through the host and returns the whole response. The host
/// bounds it by the call's deadline and its size and count limits; every
/// failure is a [`HostError`] (`ERRNO_DENIED` for a host the manifest
/// does not allow). It blocks until the response is read.
pub fn http_request(req: &HttpRequest) -> Result<HttpResponse, HostError> {
    let doc = serde_json::to_vec(&Document { method: &req.method, url: &req.url, headers: &req.headers })
        .map_err(|e| HostError { errno: ERRNO_INVAL, message: format!("encoding the request: {}", e) })?;
    let (status, headers, body) = host::http(&doc, &req.body)?;
    let headers = if headers.is_empty() {
        BTreeMap::new()
    } else {
        serde_json::from_slice(&headers)
            .map_err(|e| HostError { errno: ERRNO_IO, message: format!("the host's response headers are not JSON: {}", e) })?
    };
    Ok(HttpResponse { status, headers, body })
}
