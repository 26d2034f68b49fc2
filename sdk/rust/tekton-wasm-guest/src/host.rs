//! The host functions of the capabilities (hostabi/README.md, "Host
//! capabilities"): the calls, the buffers they answer with, the errnos and
//! the host's messages. [`crate::http_request`] and
//! [`crate::kubernetes_request`] are built on it; each host function is
//! imported only by a plugin that calls its wrapper (the linker drops
//! unused imports).

use std::fmt;

/// A failed host call: the errno (`ERRNO_*`) and the host's message, which
/// says what to change (for a denied request, the manifest setting that
/// allows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub errno: u32,
    pub message: String,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

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

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::HostError;

    /// The most bytes of a message `last_error` returns.
    const MAX_ERROR_BYTES: usize = 1 << 10;

    #[link(wasm_import_module = "tekton")]
    extern "C" {
        fn http_request(req: *const u8, req_len: u32, body: *const u8, body_len: u32, out: *mut u32) -> u32;
        fn kubernetes_request(req: *const u8, req_len: u32, body: *const u8, body_len: u32, out: *mut u32) -> u32;
        fn buffer_read(handle: u32, buf: *mut u8, buf_len: u32) -> u32;
        fn buffer_close(handle: u32) -> u32;
        fn last_error(buf: *mut u8, buf_len: u32) -> i32;
    }

    /// Calls http_request and reads the response's buffers: the status,
    /// the headers' JSON and the body.
    pub(crate) fn http(doc: &[u8], body: &[u8]) -> Result<(u32, Vec<u8>, Vec<u8>), HostError> {
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

    /// Calls kubernetes_request and reads the answer's buffer: the status
    /// and the body.
    pub(crate) fn kubernetes(doc: &[u8], body: &[u8]) -> Result<(u32, Vec<u8>), HostError> {
        let mut out = [0u32; 3]; // status, body handle and length
        // SAFETY: the pointers and lengths are those of live slices; the
        // host writes 12 bytes at out.
        let errno =
            unsafe { kubernetes_request(doc.as_ptr(), doc.len() as u32, body.as_ptr(), body.len() as u32, out.as_mut_ptr()) };
        if errno != 0 {
            return Err(host_error(errno));
        }
        Ok((out[0], read_buffer(out[1], out[2])?))
    }

    /// Copies the host buffer `handle` of `n` bytes and closes it.
    fn read_buffer(handle: u32, n: u32) -> Result<Vec<u8>, HostError> {
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

    fn host_error(errno: u32) -> HostError {
        let mut buf = vec![0u8; MAX_ERROR_BYTES];
        // SAFETY: buf holds buf.len() bytes.
        let n = unsafe { last_error(buf.as_mut_ptr(), buf.len() as u32) };
        buf.truncate(n.max(0).min(MAX_ERROR_BYTES as i32) as usize);
        let mut message = String::from_utf8_lossy(&buf).into_owned();
        if message.is_empty() {
            message = format!("the host function failed with errno {}", errno);
        }
        HostError { errno, message }
    }
}

/// Off wasm (the SDK's native tests), there is no host.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HostError, ERRNO_NOT_CAPABLE};

    fn no_host(capability: &str) -> HostError {
        HostError {
            errno: ERRNO_NOT_CAPABLE,
            message: format!("no tekton-wasm host: the {} capability exists only in a plugin", capability),
        }
    }

    pub(crate) fn http(_: &[u8], _: &[u8]) -> Result<(u32, Vec<u8>, Vec<u8>), HostError> {
        Err(no_host("HTTP"))
    }

    pub(crate) fn kubernetes(_: &[u8], _: &[u8]) -> Result<(u32, Vec<u8>), HostError> {
        Err(no_host("Kubernetes"))
    }
}

pub(crate) use imp::{http, kubernetes};
