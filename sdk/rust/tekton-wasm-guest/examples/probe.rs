//! A test plugin (a WASI command) for the SDK's tests through the host's
//! engine (cargo_test.go): with param `panic` it panics with that message;
//! with param `url` it sends a POST there with body "ping" and answers the
//! status, the Content-Type header and the body as results (a failed
//! request is Failed, reason HTTPErrno<n>); with param `kube`, a verb, it
//! sends that Kubernetes request for the ConfigMap "cm" (create: with the
//! object as body and field manager "probe") and answers the status and
//! the body as results (a failed request is Failed, reason
//! KubernetesErrno<n>); otherwise it succeeds, echoing param `echo` as
//! result `echo`.
use tekton_wasm_guest::{
    fail, http_request, kubernetes_request, Error, HttpRequest, KubernetesRequest, Request, Response,
};

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
    if let Some(verb) = p.optional_string("kube")? {
        let mut r = KubernetesRequest { verb: verb.into(), api_version: "v1".into(), kind: "ConfigMap".into(), ..Default::default() };
        if verb == "create" {
            r.field_manager = "probe".into();
            r.body = br#"{"metadata":{"name":"cm"}}"#.to_vec();
        } else {
            r.name = "cm".into();
        }
        let resp = kubernetes_request(&r).map_err(|e| fail!(format!("KubernetesErrno{}", e.errno), "{}", e))?;
        return Ok(Response::succeeded()
            .result("status", resp.status.to_string())
            .result("body", String::from_utf8_lossy(&resp.body)));
    }
    let echo = p.optional_string("echo")?.unwrap_or_default();
    Ok(Response::succeeded().result("echo", echo))
}

fn main() {
    tekton_wasm_guest::run(handle)
}
