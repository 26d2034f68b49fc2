//! A test plugin (a WASI command) for the SDK's tests through the host's
//! engine (cargo_test.go): with param `panic` it panics with that message;
//! with param `url` it sends a POST there with body "ping" and answers the
//! status, the Content-Type header and the body as results (a failed
//! request is Failed, reason HTTPErrno<n>); otherwise it succeeds, echoing
//! param `echo` as result `echo`.
use tekton_wasm_guest::{fail, http_request, Error, HttpRequest, Request, Response};

fn handle(req: &Request) -> Result<Response, Error> {
    let p = req.params();
    if let Some(msg) = p.optional_string("panic")? {
        panic!("{}", msg);
    }
    if let Some(url) = p.optional_string("url")? {
        let mut r = HttpRequest { method: "POST".into(), url: url.into(), body: b"ping".to_vec(), ..Default::default() };
        r.headers.insert("X-Probe".into(), vec!["1".into()]);
        let resp = http_request(&r).map_err(|e| fail!(format!("HTTPErrno{}", e.errno), "{}", e))?;
        let ctype = resp.headers.get("Content-Type").and_then(|v| v.first()).cloned().unwrap_or_default();
        return Ok(Response::succeeded()
            .result("status", resp.status.to_string())
            .result("type", ctype)
            .result("body", String::from_utf8_lossy(&resp.body)));
    }
    let echo = p.optional_string("echo")?.unwrap_or_default();
    Ok(Response::succeeded().result("echo", echo))
}

fn main() {
    tekton_wasm_guest::run(handle)
}
