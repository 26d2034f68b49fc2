// Typed access to a request's params, with the Go SDK's reasons and
// messages (hostabi/guest/params.go).

import { Param, ParamType, Request } from "./request";
import { Failure, Response } from "./response";

/** Reason of the failure when a required param is absent. */
export const REASON_MISSING_PARAM = "MissingParam";
/** Reason of the failure when a param has the wrong type. */
export const REASON_INVALID_PARAM = "InvalidParam";
/** Reason of the failure when the run passes params the plugin does not take. */
export const REASON_UNEXPECTED_PARAMS = "UnexpectedParams";

/** A param's value, or why it cannot be had. AssemblyScript has no
 * exceptions: check ok (or failure) before using value.
 *
 *     const name = params(req).string("name");
 *     if (!name.ok) return name.fail(); // Failed, MissingParam or InvalidParam
 */
export class Got<T> {
  constructor(
    /** The value; the default when the param is absent or failed. */
    public value: T,
    /** Whether the run passes the param. */
    public present: bool,
    /** Why the value cannot be had; null when it can. */
    public failure: Failure | null,
  ) {}

  get ok(): bool {
    return this.failure == null;
  }

  /** The Failed response for the failure, for a handler to return. */
  fail(): Response {
    return this.failure!.response();
  }
}

/** The params of a request, as Go's guest.Params: typed getters whose
 * failures carry the reasons above; a plugin that wants its own reasons
 * checks has() first or replaces the failure. */
export class ParamSet {
  constructor(public req: Request) {}

  /** Whether the run passes the param name. */
  has(name: string): bool {
    return this.req.param(name) != null;
  }

  /** The string param name, which must be present. */
  string(name: string): Got<string> {
    return required(name, this.optionalString(name, ""));
  }

  /** The string param name, or def when it is absent. */
  optionalString(name: string, def: string): Got<string> {
    const p = this.req.param(name);
    if (p == null) return new Got<string>(def, false, null);
    const f = check(name, p, ParamType.String);
    return new Got<string>(f == null ? p.value.string : def, true, f);
  }

  /** The array param name, which must be present. */
  array(name: string): Got<string[]> {
    return required(name, this.optionalArray(name));
  }

  /** The array param name, or an empty array when it is absent. */
  optionalArray(name: string): Got<string[]> {
    const p = this.req.param(name);
    if (p == null) return new Got<string[]>([], false, null);
    const f = check(name, p, ParamType.Array);
    return new Got<string[]>(f == null ? p.value.array : [], true, f);
  }

  /** The object param name, which must be present. */
  object(name: string): Got<Map<string, string>> {
    return required(name, this.optionalObject(name));
  }

  /** The object param name, or an empty map when it is absent. */
  optionalObject(name: string): Got<Map<string, string>> {
    const p = this.req.param(name);
    if (p == null) return new Got<Map<string, string>>(new Map(), false, null);
    const f = check(name, p, ParamType.Object);
    return new Got<Map<string, string>>(f == null ? p.value.object : new Map(), true, f);
  }

  /** A failure with REASON_UNEXPECTED_PARAMS naming them in order if the
   * run passes any param not in names, else null:
   * `unexpected params: [colour size]; this plugin takes [name]`. */
  only(names: string[]): Failure | null {
    const extra: string[] = [];
    for (let i = 0; i < this.req.params.length; i++) {
      const n = this.req.params[i].name;
      if (!names.includes(n)) extra.push(n);
    }
    if (extra.length == 0) return null;
    return new Failure(REASON_UNEXPECTED_PARAMS, "unexpected params: [" + extra.join(" ") + "]; this plugin takes [" + names.join(" ") + "]");
  }
}

/** The params of req. */
export function params(req: Request): ParamSet {
  return new ParamSet(req);
}

function required<T>(name: string, got: Got<T>): Got<T> {
  if (got.present || got.failure != null) return got;
  got.failure = new Failure(REASON_MISSING_PARAM, "param " + goQuote(name) + " is required");
  return got;
}

const typeNames = ["a string", "an array", "an object"];

function check(name: string, p: Param, want: ParamType): Failure | null {
  if (p.value.type == want) return null;
  return new Failure(REASON_INVALID_PARAM, "param " + goQuote(name) + " must be " + typeNames[<i32>want] + ", not " + typeNames[<i32>p.value.type]);
}

/** Go's %q of a string: double-quoted, with Go's escapes for '"', '\'
 * and control characters (printable Unicode is kept). */
export function goQuote(s: string): string {
  const parts: string[] = ["\""];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) parts.push("\\\"");
    else if (c == 0x5c) parts.push("\\\\");
    else if (c == 0x0a) parts.push("\\n");
    else if (c == 0x0d) parts.push("\\r");
    else if (c == 0x09) parts.push("\\t");
    else if (c < 0x20 || c == 0x7f) parts.push("\\x" + c.toString(16).padStart(2, "0"));
    else parts.push(String.fromCharCode(c));
  }
  parts.push("\"");
  return parts.join("");
}
