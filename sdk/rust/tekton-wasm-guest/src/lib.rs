//! Turns a Rust function into a tekton-wasm plugin. The crate owns the
//! plugin side of the host ABI (`hostabi/README.md`, version
//! `tekton-wasm/v1`): reading the [`Request`] from stdin, checking the ABI
//! version, turning errors and panics into `Failed` responses, validating
//! the [`Response`] against the ABI's limits and writing it, once, to
//! stdout. It is the Rust rendering of the Go SDK, `hostabi/guest`, reason
//! for reason.
//!
//! A complete plugin, built as a WASI reactor (preferred; `crate-type =
//! ["cdylib"]`), whose `tekton_run` export serves the call:
//!
//! ```no_run
//! use tekton_wasm_guest::{Error, Request, Response};
//!
//! fn handle(req: &Request) -> Result<Response, Error> {
//!     let p = req.params();
//!     let name = p.string("name")?; // Failed, reason MissingParam or InvalidParam
//!     p.only(&["name"])?; // Failed, reason UnexpectedParams
//!     Ok(Response::succeeded().result("greeting", format!("hello {}", name)))
//! }
//!
//! tekton_wasm_guest::export!(handle);
//! ```
//!
//! The same handler serves a WASI command (a binary target) from `main`:
//! `fn main() { tekton_wasm_guest::run(handle) }`.
//!
//! Logging is writing to stderr (`eprintln!`). Stdout is the response:
//! whatever else a handler prints there makes the response invalid, which
//! the host reports as `PluginInvalidResponse` (RATIONALE.md).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod duration;
mod host;
mod http;
mod kubernetes;
mod params;
mod time;
mod validate;

pub use duration::{Duration, ParseDurationError};
pub use host::{
    HostError, ERRNO_CANCELED, ERRNO_DENIED, ERRNO_FAULT, ERRNO_INVAL, ERRNO_IO, ERRNO_LIMIT, ERRNO_NOT_CAPABLE, ERRNO_RANGE,
    ERRNO_TOO_LARGE,
};
pub use http::{http_request, HttpRequest, HttpResponse};
pub use kubernetes::{kubernetes_request, KubernetesRequest, KubernetesResponse};
pub use params::{ParamSet, REASON_INVALID_PARAM, REASON_MISSING_PARAM, REASON_UNEXPECTED_PARAMS};
pub use time::Time;
pub use validate::{
    reserved, valid_reason, valid_result_name, MAX_EXTRA_FIELDS_BYTES, MAX_JSON_DEPTH, MAX_MESSAGE_BYTES, MAX_REASON_BYTES,
    MAX_RESULTS, MAX_RESULTS_BYTES, MAX_RESULT_VALUE_BYTES,
};

/// The ABI version this crate speaks.
pub const VERSION: &str = "tekton-wasm/v1";

/// Reason of the `Failed` response when stdin does not hold a JSON request.
pub const REASON_INVALID_REQUEST: &str = "InvalidRequest";
/// Reason of the `Failed` response when the host speaks another ABI version.
pub const REASON_UNSUPPORTED_ABI_VERSION: &str = "UnsupportedABIVersion";
/// Reason of the `Failed` response for an [`Error`] made from another
/// error type (through `?`), which carries no reason.
pub const REASON_FAILED: &str = "Failed";
/// Reason of the `Failed` response when the handler panicked.
pub const REASON_PANICKED: &str = "Panicked";
/// Reason of the `Failed` response when the handler's response breaks the
/// ABI (a reason reserved for the host included).
pub const REASON_INVALID_RESPONSE: &str = "InvalidResponse";
/// Reason of the `Failed` response when the handler's response breaks a
/// result or `extraFields` limit of the ABI.
pub const REASON_RESULTS_TOO_LARGE: &str = "ResultsTooLarge";

/// The one JSON document the host writes to stdin. Unknown fields are
/// ignored, as the ABI requires.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Request {
    pub abi_version: String,
    pub run: RunIdentity,
    /// The custom task asked for.
    pub api_version: String,
    pub kind: String,
    /// The name in a named `customRef`, else empty.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The resolved spec; `None` when the run has none.
    pub spec: Option<Value>,
    pub metadata: Option<Metadata>,
    /// Empty when the request has none (absent or null).
    #[serde(deserialize_with = "null_as_default")]
    pub params: Vec<Param>,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub retries: i64,
    /// When the current attempt started; the same on every call of the
    /// attempt. [`Time::is_zero`] when the host sent none.
    pub start_time: Time,
    /// When the host stops the current attempt; `None` without a timeout.
    pub deadline: Option<Time>,
    /// What the last `Running` response of this attempt returned.
    pub extra_fields: Option<Value>,
    pub workspaces: Vec<Workspace>,
}

/// The CustomRun a request is for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunIdentity {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub service_account_name: String,
}

/// The labels and annotations of `customSpec.metadata`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// One param of the run.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    pub name: String,
    pub value: ParamValue,
}

/// A param value: a string, an array of strings or an object of strings,
/// exactly as in the CustomRun.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    String(String),
    Array(Vec<String>),
    Object(BTreeMap<String, String>),
}

/// A workspace: a directory at `path`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Workspace {
    pub name: String,
    pub path: String,
    pub read_only: bool,
}

/// Reads null as the type's default, as Go's encoding/json does.
fn null_as_default<'de, D: serde::Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

impl Request {
    /// Typed access to the params; see [`ParamSet`].
    pub fn params(&self) -> ParamSet<'_> {
        ParamSet::new(self)
    }

    /// The first param named `name`, as the host's Go rendering finds it.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// The outcome of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Ends the run `Succeeded=True` with the results.
    Succeeded,
    /// Ends the attempt; the host retries while retries are left.
    Failed,
    /// Keeps the run waiting; the host calls again after `requeue_after`
    /// with `extra_fields` handed back.
    Running,
}

/// One named string result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultValue {
    pub name: String,
    pub value: String,
}

/// What a handler answers. Build one with [`Response::succeeded`],
/// [`Response::failed`] or [`Response::running`] and the builder methods.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: Status,
    /// A CamelCase word ([`valid_reason`]) the host does not reserve
    /// ([`reserved`]); the host uses the status when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The condition's message; cut to 4 KiB.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Become `status.results` on `Succeeded`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultValue>,
    /// Becomes `status.extraFields` and comes back in the next request of
    /// a `Running` attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_fields: Option<Value>,
    /// For `Running`: how long the host waits before calling again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requeue_after: Option<Duration>,
}

impl Response {
    fn new(status: Status) -> Self {
        Response { status, reason: String::new(), message: String::new(), results: Vec::new(), extra_fields: None, requeue_after: None }
    }

    /// A `Succeeded` response.
    pub fn succeeded() -> Self {
        Self::new(Status::Succeeded)
    }

    /// A `Failed` response with a reason and a message. A handler may
    /// rather return an [`Error`].
    pub fn failed(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Failed).reason(reason).message(message)
    }

    /// A `Running` response: the host calls again after `after` (at least
    /// 100ms, never past the deadline).
    pub fn running(after: impl Into<Duration>) -> Self {
        let mut r = Self::new(Status::Running);
        r.requeue_after = Some(after.into());
        r
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Sets the message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds a result.
    pub fn result(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.results.push(ResultValue { name: name.into(), value: value.into() });
        self
    }

    /// Sets the extra fields.
    pub fn extra_fields(mut self, v: Value) -> Self {
        self.extra_fields = Some(v);
        self
    }
}

/// A handler error: it becomes a `Failed` response with its reason and
/// message. Any error type converts into one through `?`, with reason
/// [`REASON_FAILED`] and the error's text as the message; make one with a
/// reason of the plugin's own with [`Error::new`] or [`fail!`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// A CamelCase word the host does not reserve; any other turns the
    /// response into a [`REASON_INVALID_RESPONSE`] failure.
    pub reason: String,
    pub message: String,
}

impl Error {
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Error { reason: reason.into(), message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

// Error does not implement std::error::Error, so that this conversion
// (anyhow's trick) does not collide with From<T> for T.
impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Error::new(REASON_FAILED, e.to_string())
    }
}

/// `fail!(reason, format, args...)` is an [`Error`] with a formatted
/// message: `return Err(fail!("InvalidDuration", "{:?} is not a duration", s));`
#[macro_export]
macro_rules! fail {
    ($reason:expr, $($arg:tt)+) => {
        $crate::Error::new($reason, format!($($arg)+))
    };
}

/// `export!(handler)` makes the crate a reactor plugin: it exports
/// `tekton_run`, which serves the call with `handler` (a
/// `fn(&Request) -> Result<Response, Error>`). Build the crate as a
/// `cdylib` for `wasm32-wasi`. No `_initialize` is needed.
#[macro_export]
macro_rules! export {
    ($handler:expr) => {
        #[no_mangle]
        pub extern "C" fn tekton_run() {
            $crate::run($handler)
        }
    };
}

/// Set once the response is written: a panic afterwards writes no second
/// one.
static RESPONDED: AtomicBool = AtomicBool::new(false);

/// Serves one call with `handler`: reads the request from stdin, calls the
/// handler, validates its response and writes it to stdout. Call it from
/// `main` (a command) or through [`export!`] (a reactor). It returns once
/// the response is written; if stdout cannot be written it exits with
/// code 1.
///
/// A panic in the handler becomes a `Failed` response with reason
/// [`REASON_PANICKED`] and the panic's message, and the process exits with
/// code 0: Rust's `wasm32-wasi` target aborts on panic, so the response is
/// written from the panic hook (RATIONALE.md). A response that breaks the
/// ABI becomes a `Failed` response saying why, with reason
/// [`REASON_INVALID_RESPONSE`] or [`REASON_RESULTS_TOO_LARGE`].
pub fn run<H: FnOnce(&Request) -> Result<Response, Error>>(handler: H) {
    std::panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "(a value that is not a string)".to_string()
        };
        eprintln!("panic: {}", info);
        if !RESPONDED.swap(true, Ordering::SeqCst) {
            let r = Response::failed(REASON_PANICKED, format!("the plugin panicked: {}", msg));
            let _ = write_response(&mut io::stdout().lock(), r);
        }
        std::process::exit(0);
    }));
    let mut input = Vec::new();
    let resp = match io::stdin().lock().read_to_end(&mut input) {
        Ok(_) => handle(&input, handler),
        Err(e) => Response::failed(REASON_INVALID_REQUEST, format!("reading the request from stdin: {}", e)),
    };
    RESPONDED.store(true, Ordering::SeqCst);
    if let Err(e) = write_response(&mut io::stdout().lock(), resp) {
        eprintln!("tekton-wasm-guest: writing the response: {}", e);
        std::process::exit(1);
    }
}

/// The call without the process: decodes `input`, runs the handler and
/// returns its response, every failure made a `Failed` response.
fn handle<H: FnOnce(&Request) -> Result<Response, Error>>(input: &[u8], handler: H) -> Response {
    let req: Request = match serde_json::from_slice(input) {
        Ok(r) => r,
        Err(e) => return Response::failed(REASON_INVALID_REQUEST, format!("stdin is not a JSON request: {}", e)),
    };
    if req.abi_version != VERSION {
        return Response::failed(
            REASON_UNSUPPORTED_ABI_VERSION,
            format!(
                "the host speaks ABI {:?} but this plugin was built for {:?}; rebuild it against the host's tekton-wasm-guest",
                req.abi_version, VERSION
            ),
        );
    }
    match handler(&req) {
        Ok(r) => r,
        Err(e) => Response::failed(e.reason, e.message),
    }
}

/// Validates `resp` (replacing it with a Failed response saying why it is
/// invalid) and writes it, with the ABI version, as one line.
fn write_response(w: &mut impl Write, mut resp: Response) -> io::Result<()> {
    if let Err(e) = validate::validate(&mut resp) {
        let reason = if e.limit { REASON_RESULTS_TOO_LARGE } else { REASON_INVALID_RESPONSE };
        resp = Response::failed(reason, format!("the plugin returned an invalid response: {}", e.message));
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Versioned<'a> {
        abi_version: &'static str,
        #[serde(flatten)]
        response: &'a Response,
    }
    let mut b = serde_json::to_vec(&Versioned { abi_version: VERSION, response: &resp }).map_err(io::Error::from)?;
    b.push(b'\n');
    w.write_all(&b)?;
    w.flush()
}

#[cfg(test)]
mod tests;
