// One call: read the request from stdin, run the handler, validate its
// response and write it, once, to stdout; and the abort handler that
// turns an abort (a throw, a failed assertion, an index out of range) into
// a Failed answer with reason Panicked.

import { fd_read, fd_write, proc_exit } from "@assemblyscript/wasi-shim/assembly/bindings/wasi_snapshot_preview1";
import { parse } from "./json";
import { decodeUTF8 } from "./utf8";
import { decodeRequest, Request } from "./request";
import { Response, validate, VERSION } from "./response";

/** Reason of the Failed answer when stdin does not hold a JSON request. */
export const REASON_INVALID_REQUEST = "InvalidRequest";
/** Reason of the Failed answer when the host speaks another ABI version. */
export const REASON_UNSUPPORTED_ABI_VERSION = "UnsupportedABIVersion";
/** Reason of the Failed answer when the plugin aborted (threw). */
export const REASON_PANICKED = "Panicked";
/** Reason of the Failed answer when the handler's response breaks the
 * ABI (a reason reserved for the host included). */
export const REASON_INVALID_RESPONSE = "InvalidResponse";
/** Reason of the Failed answer when the handler's response breaks a
 * result or extraFields limit of the ABI. */
export const REASON_RESULTS_TOO_LARGE = "ResultsTooLarge";

/** A handler serves one call. Every outcome is a Response: return
 * Response.failed(...) (or a param getter's fail()) to fail. */
export type Handler = (req: Request) => Response;

/** Set once run starts: an abort before (in a reactor's _initialize, or
 * before a command calls run) is no call's answer. */
let serving = false;

/** Set once the response is written (or being written): an abort after
 * it writes no second one. */
let responded = false;

/** Set while the abort handler runs: an abort inside it just exits. */
let aborting = false;

/** Serves one call with handler: reads the request from stdin, calls the
 * handler, validates its response and writes it to stdout, then returns.
 * Call it from the exported tekton_run (a reactor) or at the top level of
 * the entry file (a command; asconfig "exportStart": "_start"). If stdout
 * cannot be written it exits with code 1. */
export function run(handler: Handler): void {
  serving = true;
  const resp = handle(readStdin(), handler);
  respond(resp);
}

/** The call without the process: decodes input, runs the handler and
 * returns its answer, every failure made a Failed response. */
export function handle(input: string, handler: Handler): Response {
  const parsed = parse(input);
  const doc = parsed.value;
  if (doc == null) return Response.failed(REASON_INVALID_REQUEST, "stdin is not a JSON request: " + parsed.error);
  const decoded = decodeRequest(doc);
  const req = decoded.request;
  if (req == null) return Response.failed(REASON_INVALID_REQUEST, "stdin is not a JSON request: " + decoded.error);
  if (req.abiVersion != VERSION) {
    return Response.failed(
      REASON_UNSUPPORTED_ABI_VERSION,
      "the host speaks ABI \"" + req.abiVersion + "\" but this plugin was built for \"" + VERSION + "\"; rebuild it against the host's tekton-wasm-guest",
    );
  }
  return handler(req);
}

/** Validates resp (replacing it with a Failed answer saying why it is
 * invalid) and writes it as one line of JSON. */
function respond(resp: Response): void {
  const invalid = validate(resp);
  if (invalid != null) {
    resp = Response.failed(invalid.limit ? REASON_RESULTS_TOO_LARGE : REASON_INVALID_RESPONSE, "the plugin returned an invalid response: " + invalid.message);
  }
  responded = true;
  if (!writeAll(1, resp.toJSON())) {
    writeAll(2, "tekton-wasm-guest: writing the response to stdout failed\n");
    proc_exit(1);
  }
}

/** Writes a line to the plugin's log (stderr), which the host keeps.
 * Stdout is the response: never print there. */
export function log(message: string): void {
  writeAll(2, message + "\n");
}

/** Writes s as UTF-8 to fd; false if the write failed. */
function writeAll(fd: u32, s: string): bool {
  const buf = String.UTF8.encode(s);
  let ptr = changetype<usize>(buf);
  let left = <usize>buf.byteLength;
  const iov = memory.data(16);
  while (left > 0) {
    store<usize>(iov, ptr);
    store<usize>(iov, left, sizeof<usize>());
    if (fd_write(fd, iov, 1, iov + 2 * sizeof<usize>()) != 0) return false;
    const n = load<usize>(iov, 2 * sizeof<usize>());
    if (n == 0) return false;
    ptr += n;
    left -= n;
  }
  return true;
}

/** All of stdin, decoded as UTF-8 (an invalid sequence reads as U+FFFD,
 * as Go reads it). */
function readStdin(): string {
  let buf = new Uint8Array(64 << 10);
  let used = 0;
  const iov = memory.data(16);
  for (;;) {
    if (used == buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    store<usize>(iov, buf.dataStart + <usize>used);
    store<usize>(iov, <usize>(buf.length - used), sizeof<usize>());
    if (fd_read(0, iov, 1, iov + 2 * sizeof<usize>()) != 0) break;
    const n = <i32>load<usize>(iov, 2 * sizeof<usize>());
    if (n == 0) break;
    used += n;
  }
  return decodeUTF8(buf, used);
}


/** The abort handler (the SDK's asconfig.json: "use": ["abort=tekton_abort"]):
 * an abort in the handler is a Failed answer with reason Panicked, its
 * message in the answer and the log, and the call ends with exit code 0,
 * as the Go SDK answers for a panic. An abort outside run (a global's
 * initializer) is logged and exits with code 70. */
// @ts-ignore: decorator
@global export function tekton_abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // Aborted while answering, or outside a call (initialization): no
  // answer, a non-zero exit, which the host reports as PluginExited with
  // the log.
  if (aborting) proc_exit(70);
  aborting = true;
  const answer = serving && !responded;
  responded = true;
  let where = "";
  if (fileName != null) where = " at " + fileName + "(" + line.toString() + ":" + column.toString() + ")";
  const what = (message != null ? message : "abort") + where;
  log("panic: " + what);
  if (!answer) proc_exit(70);
  const r = Response.failed(REASON_PANICKED, "the plugin panicked: " + what);
  writeAll(1, r.toJSON());
  proc_exit(0);
}

/** console for plugins (the SDK's asconfig.json: "console=tekton_console"):
 * every level writes a line to stderr, the plugin's log, because stdout is
 * the response, which a console.log there would corrupt. */
// @ts-ignore: decorator
@global export namespace tekton_console {
  export function log(message: string = ""): void {
    writeAll(2, message + "\n");
  }
  export function debug(message: string = ""): void {
    writeAll(2, "Debug: " + message + "\n");
  }
  export function info(message: string = ""): void {
    writeAll(2, "Info: " + message + "\n");
  }
  export function warn(message: string = ""): void {
    writeAll(2, "Warning: " + message + "\n");
  }
  export function error(message: string = ""): void {
    writeAll(2, "Error: " + message + "\n");
  }
}
