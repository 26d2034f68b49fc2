//! The HTTP capability (hostabi/README.md, "Host capabilities"): the
//! Rust rendering of the Go SDK's `guest.DoHTTP`. The plugin's manifest
//! must grant it (`capabilities.http`), else the plugin does not load; a
//! plugin that never calls [`http_request`] does not import it (the linker
//! drops unused imports), so it needs no grant.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

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

/// A failed host call: the errno (`ERRNO_*`) and the host's message,
/// which for a denied host names the host and the manifest setting that
/// allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub errno: u32,
    pub message: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

// The errnos of the host functions (hostabi/README.md, "Errnos").
pub const ERRNO_INVAL: u32 = 1;
pub const ERRNO_FAULT: u32 = 2;
pub const ERRNO_DENIED: u32 = 3;
pub const ERRNO_TOO_LARGE: u32 = 4;
pub const ERRNO_LIMIT: u32 = 5;
pub const ERRNO_CANCELED: u32 = 6;
pub const ERRNO_IO: u32 = 7;
pub const ERRNO_NOT_CAPABLE: u32 = 8;
pub const ERRNO_RANGE: u32 = 9;

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
/// failure is an [`HttpError`] (`ERRNO_DENIED` for a host the manifest
/// does not allow). It blocks until the response is read.
pub fn http_request(req: &HttpRequest) -> Result<HttpResponse, HttpError> {
    let doc = serde_json::to_vec(&Document { method: &req.method, url: &req.url, headers: &req.headers })
        .map_err(|e| HttpError { errno: ERRNO_INVAL, message: format!("encoding the request: {}", e) })?;
    let (status, headers, body) = host::request(&doc, &req.body)?;
    let headers = if headers.is_empty() {
        BTreeMap::new()
    } else {
        serde_json::from_slice(&headers)
            .map_err(|e| HttpError { errno: ERRNO_IO, message: format!("the host's response headers are not JSON: {}", e) })?
    };
    Ok(HttpResponse { status, headers, body })
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::HttpError;

    /// The most bytes of a message `last_error` returns.
    const MAX_ERROR_BYTES: usize = 1 << 10;

    #[link(wasm_import_module = "tekton")]
    extern "C" {
        fn http_request(req: *const u8, req_len: u32, body: *const u8, body_len: u32, out: *mut u32) -> u32;
        fn buffer_read(handle: u32, buf: *mut u8, buf_len: u32) -> u32;
        fn buffer_close(handle: u32) -> u32;
        fn last_error(buf: *mut u8, buf_len: u32) -> i32;
    }

    /// Calls http_request and reads the response's buffers: the status,
    /// the headers' JSON and the body.
    pub(super) fn request(doc: &[u8], body: &[u8]) -> Result<(u32, Vec<u8>, Vec<u8>), HttpError> {
        let mut out = [0u32; 5]; // status, headers handle and length, body handle and length
        // SAFETY: the pointers and lengths are those of live slices; the
        // host writes 20 bytes at out.
        let errno = unsafe { http_request(doc.as_ptr(), doc.len() as u32, body.as_ptr(), body.len() as u32, out.as_mut_ptr()) };
        if errno != 0 {
            return Err(host_error(errno));
        }
        let headers = read_buffer(out[1], out[2])?;
        let body = read_buffer(out[3], out[4])?;
        Ok((out[0], headers, body))
    }

    /// Copies the host buffer `handle` of `n` bytes and closes it.
    fn read_buffer(handle: u32, n: u32) -> Result<Vec<u8>, HttpError> {
        if handle == 0 {
            return Ok(Vec::new());
        }
        let mut b = vec![0u8; n as usize];
        // SAFETY: b holds n bytes.
        let errno = unsafe { buffer_read(handle, b.as_mut_ptr(), n) };
        // SAFETY: no memory is passed.
        unsafe { buffer_close(handle) };
        if errno != 0 {
            return Err(host_error(errno));
        }
        Ok(b)
    }

    fn host_error(errno: u32) -> HttpError {
        let mut buf = vec![0u8; MAX_ERROR_BYTES];
        // SAFETY: buf holds buf.len() bytes.
        let n = unsafe { last_error(buf.as_mut_ptr(), buf.len() as u32) };
        buf.truncate(n.max(0).min(MAX_ERROR_BYTES as i32) as usize);
        let mut message = String::from_utf8_lossy(&buf).into_owned();
        if message.is_empty() {
            message = format!("the host function failed with errno {}", errno);
        }
        HttpError { errno, message }
    }
}

/// Off wasm (the SDK's native tests), there is no host.
#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::{HttpError, ERRNO_NOT_CAPABLE};

    pub(super) fn request(_: &[u8], _: &[u8]) -> Result<(u32, Vec<u8>, Vec<u8>), HttpError> {
        Err(HttpError { errno: ERRNO_NOT_CAPABLE, message: "no tekton-wasm host: the HTTP capability exists only in a plugin".to_string() })
    }
}
