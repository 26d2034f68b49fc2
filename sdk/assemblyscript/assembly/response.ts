// The Response a handler answers (hostabi/README.md, "Response"), the
// ABI's rules for it (hostabi.Response.Validate in Go), so that a
// plugin's mistake is a Failed answer of its own that says what is wrong
// instead of the host's PluginInvalidResponse, and its JSON.

import { formatDuration } from "./duration";
import { Kind, Value, Writer } from "./json";

/** The ABI version this SDK speaks. */
export const VERSION = "tekton-wasm/v1";

export const STATUS_SUCCEEDED = "Succeeded";
export const STATUS_FAILED = "Failed";
export const STATUS_RUNNING = "Running";

// Limits of the ABI (hostabi/README.md, "Limits").

/** The most results a response may carry. */
export const MAX_RESULTS = 64;
/** The most bytes of one result value. */
export const MAX_RESULT_VALUE_BYTES = 16 << 10;
/** The most bytes of all result names and values together. */
export const MAX_RESULTS_BYTES = 64 << 10;
/** The most bytes of extraFields, as compact JSON. */
export const MAX_EXTRA_FIELDS_BYTES = 64 << 10;
/** The most bytes of a message; a longer one is cut, marked with "…". */
export const MAX_MESSAGE_BYTES = 4 << 10;
/** The most bytes of a reason. */
export const MAX_REASON_BYTES = 64;
/** How deeply arrays and objects may nest in the response; extraFields is
 * one level down. */
export const MAX_JSON_DEPTH = 100;

/** One named string result. */
export class Result {
  constructor(
    public name: string,
    public value: string,
  ) {}
}

/** What a handler answers. Make one with Response.succeeded(),
 * Response.failed(reason, message) or Response.running(after) and chain
 * the setters:
 *
 *     return Response.succeeded().withResult("greeting", "hello " + name);
 */
export class Response {
  /** STATUS_SUCCEEDED, STATUS_FAILED or STATUS_RUNNING. */
  status: string;
  /** A CamelCase word (validReason) the host does not reserve
   * (reserved); the host uses the status when empty. */
  reason: string = "";
  /** The condition's message; cut to 4 KiB. */
  message: string = "";
  /** Become status.results on Succeeded. */
  results: Result[] = [];
  /** Becomes status.extraFields and comes back in the next request of a
   * Running attempt. */
  extraFields: Value | null = null;
  /** For Running: nanoseconds the host waits before calling again (at
   * least 100ms, never past the deadline); -1 for none. */
  requeueAfter: i64 = -1;

  constructor(status: string) {
    this.status = status;
  }

  /** A Succeeded response. */
  static succeeded(): Response {
    return new Response(STATUS_SUCCEEDED);
  }

  /** A Failed response with a reason and a message. */
  static failed(reason: string, message: string): Response {
    return new Response(STATUS_FAILED).withReason(reason).withMessage(message);
  }

  /** A Running response: the host calls again after `after` nanoseconds
   * (duration.ts: 30 * SECOND). */
  static running(after: i64): Response {
    const r = new Response(STATUS_RUNNING);
    r.requeueAfter = after;
    return r;
  }

  withReason(reason: string): Response {
    this.reason = reason;
    return this;
  }

  withMessage(message: string): Response {
    this.message = message;
    return this;
  }

  /** Adds a result. */
  withResult(name: string, value: string): Response {
    this.results.push(new Result(name, value));
    return this;
  }

  withExtraFields(v: Value): Response {
    this.extraFields = v;
    return this;
  }

  /** The response as one line of JSON, with the ABI version. */
  toJSON(): string {
    const w = new Writer();
    w.raw("{\"abiVersion\":");
    w.string(VERSION);
    w.raw(",\"status\":");
    w.string(this.status);
    if (this.reason.length > 0) {
      w.raw(",\"reason\":");
      w.string(this.reason);
    }
    if (this.message.length > 0) {
      w.raw(",\"message\":");
      w.string(this.message);
    }
    if (this.results.length > 0) {
      w.raw(",\"results\":[");
      for (let i = 0; i < this.results.length; i++) {
        if (i > 0) w.raw(",");
        w.raw("{\"name\":");
        w.string(this.results[i].name);
        w.raw(",\"value\":");
        w.string(this.results[i].value);
        w.raw("}");
      }
      w.raw("]");
    }
    const ef = this.extraFields;
    if (ef != null) {
      w.raw(",\"extraFields\":");
      w.value(ef);
    }
    if (this.requeueAfter >= 0) {
      w.raw(",\"requeueAfter\":");
      w.string(formatDuration(this.requeueAfter));
    }
    w.raw("}\n");
    return w.toString();
  }
}

/** A failure a handler may return as a Failed response: what the param
 * getters give when a param is missing or of the wrong type. */
export class Failure {
  constructor(
    /** A CamelCase word the host does not reserve. */
    public reason: string,
    public message: string,
  ) {}

  /** The Failed response. */
  response(): Response {
    return Response.failed(this.reason, this.message);
  }
}

const RESERVED_PREFIXES = ["CustomRun", "CustomTask", "Plugin", "Workspace"];
const RESERVED_REASONS = ["Started", "Retrying", "StatusUpdateRejected"];

/** Whether reason is reserved for the host (hostabi/README.md, "Reserved
 * reasons"). */
export function reserved(reason: string): bool {
  for (let i = 0; i < RESERVED_PREFIXES.length; i++) {
    if (reason.startsWith(RESERVED_PREFIXES[i])) return true;
  }
  return RESERVED_REASONS.includes(reason);
}

function isUpper(c: i32): bool {
  return c >= 0x41 && c <= 0x5a;
}

function isAlnum(c: i32): bool {
  return isUpper(c) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

/** Whether s may be a condition reason: one CamelCase word of at most
 * MAX_REASON_BYTES (^[A-Z][A-Za-z0-9]*$). */
export function validReason(s: string): bool {
  if (s.length == 0 || s.length > MAX_REASON_BYTES || !isUpper(s.charCodeAt(0))) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isAlnum(s.charCodeAt(i))) return false;
  }
  return true;
}

/** Whether s may name a result, as Tekton requires:
 * ^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$. */
export function validResultName(s: string): bool {
  const n = s.length;
  if (n == 0 || !isAlnum(s.charCodeAt(0)) || !isAlnum(s.charCodeAt(n - 1))) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && c != 0x2d && c != 0x5f && c != 0x2e) return false;
  }
  return true;
}

/** Why a response breaks the ABI: limit says a size limit (the answer's
 * reason is then ResultsTooLarge), not a rule (InvalidResponse). */
export class Invalid {
  constructor(
    public limit: bool,
    public message: string,
  ) {}
}

function bytes(s: string): i32 {
  return String.UTF8.byteLength(s);
}

/** The first n bytes of s (as UTF-8), cut at a character boundary,
 * marked with "…" when cut. */
function head(s: string, n: i32): string {
  if (bytes(s) <= n) return s;
  let b = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    let w = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    let units = 1;
    if ((c & 0xfc00) == 0xd800 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) == 0xdc00) {
      w = 4;
      units = 2;
    }
    if (b + w > n) break;
    b += w;
    i += units;
  }
  return s.substring(0, i) + "…";
}

/** Checks r against the ABI, cutting an over-long message; null when it
 * is valid. */
export function validate(r: Response): Invalid | null {
  if (r.status != STATUS_SUCCEEDED && r.status != STATUS_FAILED && r.status != STATUS_RUNNING) {
    return new Invalid(false, "response status \"" + head(r.status, 80) + "\" is not one of Succeeded, Failed, Running");
  }
  if (r.reason.length > 0 && !validReason(r.reason)) {
    return new Invalid(false, "response reason \"" + head(r.reason, 80) + "\" is not a CamelCase word of at most " + MAX_REASON_BYTES.toString() + " bytes");
  }
  if (reserved(r.reason)) {
    return new Invalid(false, "response reason \"" + r.reason + "\" is reserved for the host, which sets it itself; choose a reason of the plugin's own");
  }
  if (r.requeueAfter < -1) {
    return new Invalid(false, "response requeueAfter " + formatDuration(r.requeueAfter) + " is negative");
  }
  if (bytes(r.message) > MAX_MESSAGE_BYTES) {
    r.message = head(r.message, MAX_MESSAGE_BYTES - 3); // "…" is 3 bytes
  }
  const ef = r.extraFields;
  if (ef != null) {
    const why = checkValue(ef, 1);
    if (why.length > 0) return new Invalid(false, "response extraFields: " + why);
    const n = bytes(ef.toJSON());
    if (n > MAX_EXTRA_FIELDS_BYTES) {
      return new Invalid(true, "extraFields are " + n.toString() + " bytes; the limit is " + MAX_EXTRA_FIELDS_BYTES.toString());
    }
  }
  if (r.results.length > MAX_RESULTS) {
    return new Invalid(true, "the plugin returned " + r.results.length.toString() + " results; the limit is " + MAX_RESULTS.toString());
  }
  let total = 0;
  const seen = new Set<string>();
  for (let i = 0; i < r.results.length; i++) {
    const res = r.results[i];
    if (!validResultName(res.name)) {
      return new Invalid(true, "result name \"" + head(res.name, 80) + "\" is invalid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit");
    }
    if (seen.has(res.name)) return new Invalid(true, "result \"" + res.name + "\" is returned twice");
    seen.add(res.name);
    const n = bytes(res.value);
    if (n > MAX_RESULT_VALUE_BYTES) {
      return new Invalid(true, "result \"" + res.name + "\" is " + n.toString() + " bytes; the limit is " + MAX_RESULT_VALUE_BYTES.toString());
    }
    total += bytes(res.name) + n;
  }
  if (total > MAX_RESULTS_BYTES) {
    return new Invalid(true, "results add up to " + total.toString() + " bytes; the limit is " + MAX_RESULTS_BYTES.toString());
  }
  return null;
}

/** Why v, nested depth levels down in the response, is not what the host
 * accepts (hostabi/README.md, "Response"): too deep, a key twice, a
 * number that is not a finite float; empty when it is fine. */
function checkValue(v: Value, depth: i32): string {
  if (v.kind == Kind.Number) {
    const f = parseFloat(v.numberText);
    if (v.numberText.length == 0 || !isFinite(f)) return "a number is not a finite 64-bit float (" + (v.numberText.length > 0 ? v.numberText : "NaN or infinity") + ")";
    return "";
  }
  if (v.kind != Kind.Array && v.kind != Kind.Object) return "";
  if (depth + 1 > MAX_JSON_DEPTH) return "arrays and objects nest deeper than " + MAX_JSON_DEPTH.toString() + " levels";
  if (v.kind == Kind.Array) {
    for (let i = 0; i < v.items.length; i++) {
      const why = checkValue(v.items[i], depth + 1);
      if (why.length > 0) return why;
    }
    return "";
  }
  const seen = new Set<string>();
  for (let i = 0; i < v.keys.length; i++) {
    const k = v.keys[i];
    if (seen.has(k)) return "key \"" + head(k, 80) + "\" appears twice in one object";
    seen.add(k);
    const why = checkValue(v.values[i], depth + 1);
    if (why.length > 0) return why;
  }
  return "";
}
