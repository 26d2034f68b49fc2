//! The Wait plugin as a WASI command: the same handler, served from main.
fn main() {
    tekton_wasm_guest::run(wait_rust::handle)
}
