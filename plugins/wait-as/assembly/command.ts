// The Wait plugin as a WASI command: the same handler, served from the
// start function (asconfig.json's "command" target exports it as _start).
import { run } from "tekton-wasm-guest";
import { handle } from "./wait";

run(handle);
