//! A test plugin (a WASI command) for the SDK's tests through the host's
//! engine (cargo_test.go): with param `panic` it panics with that message;
//! otherwise it succeeds, echoing param `echo` as result `echo`.
use tekton_wasm_guest::{Error, Request, Response};

fn handle(req: &Request) -> Result<Response, Error> {
    let p = req.params();
    if let Some(msg) = p.optional_string("panic")? {
        panic!("{}", msg);
    }
    let echo = p.optional_string("echo")?.unwrap_or_default();
    Ok(Response::succeeded().result("echo", echo))
}

fn main() {
    tekton_wasm_guest::run(handle)
}
