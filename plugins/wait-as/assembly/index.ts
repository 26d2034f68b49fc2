// The Wait custom task (kind Wait) in AssemblyScript, the twin of the Go
// plugin plugins/wait: a run succeeds once the duration given in its
// duration param has elapsed since the attempt started. It answers every
// request exactly as plugins/wait does, reason for reason and message for
// message; the tests run the same cases through both modules.
//
// It holds no sandbox while waiting: each call compares the attempt's
// start time with the clock and either succeeds or answers Running with
// requeueAfter set to the time left.
//
// Build (a WASI reactor): npm ci && npm run build, in this directory.

import { run } from "tekton-wasm-guest";
import { handle } from "./wait";

/** The reactor's entry point: the host calls it once per instance. */
export function tekton_run(): void {
  run(handle);
}
