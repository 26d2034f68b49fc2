// The Request the host writes to stdin (hostabi/README.md, "Request"),
// decoded from JSON with the type checks Go's encoding/json makes: a
// field of the wrong type is an error naming it. Unknown fields are
// ignored, as the ABI requires.

import { Kind, Value } from "./json";
import { Time } from "./time";

/** The CustomRun a request is for. */
export class RunIdentity {
  name: string = "";
  namespace: string = "";
  uid: string = "";
  labels: Map<string, string> = new Map();
  serviceAccountName: string = "";
}

/** The labels and annotations of customSpec.metadata. */
export class Metadata {
  labels: Map<string, string> = new Map();
  annotations: Map<string, string> = new Map();
}

/** The type of a param value. */
export enum ParamType {
  String,
  Array,
  Object,
}

/** A param value: a string, an array of strings or an object of strings,
 * exactly as in the CustomRun. */
export class ParamValue {
  type: ParamType = ParamType.String;
  string: string = "";
  array: string[] = [];
  object: Map<string, string> = new Map();
}

/** One param of the run. */
export class Param {
  constructor(
    public name: string,
    public value: ParamValue,
  ) {}
}

/** A workspace: a directory at path. */
export class Workspace {
  name: string = "";
  path: string = "";
  readOnly: bool = false;
}

/** One call's request. */
export class Request {
  abiVersion: string = "";
  run: RunIdentity = new RunIdentity();
  /** The custom task asked for. */
  apiVersion: string = "";
  kind: string = "";
  /** The name in a named customRef, else empty. */
  ref: string = "";
  /** The resolved spec; null when the run has none. */
  spec: Value | null = null;
  metadata: Metadata | null = null;
  params: Param[] = [];
  /** 1 for the first attempt. */
  attempt: i64 = 0;
  retries: i64 = 0;
  /** When the current attempt started; the same on every call of the
   * attempt. Time.isZero() when the host sent none. */
  startTime: Time = new Time();
  /** When the host stops the current attempt; null without a timeout. */
  deadline: Time | null = null;
  /** What the last Running response of this attempt returned; null on
   * an attempt's first call. */
  extraFields: Value | null = null;
  workspaces: Workspace[] = [];
  /** Set only on a clean-up call: "Cancelled" or "TimedOut"
   * (hostabi/README.md, "Clean-up calls"); empty otherwise. */
  cleanupReason: string = "";

  /** Whether this is a clean-up call: stop what the attempt started
   * (found through extraFields) and answer Succeeded. */
  get isCleanup(): bool {
    return this.cleanupReason.length > 0;
  }

  /** The first param named name, as the host's Go rendering finds it. */
  param(name: string): Param | null {
    for (let i = 0; i < this.params.length; i++) {
      if (this.params[i].name == name) return this.params[i];
    }
    return null;
  }
}

/** What decodeRequest returns: the request, or why the JSON is not one. */
export class DecodedRequest {
  constructor(
    public request: Request | null,
    public error: string,
  ) {}
}

/** Decodes a request from its JSON document. */
export function decodeRequest(v: Value): DecodedRequest {
  const d = new Decoder();
  const req = d.request(v);
  if (d.error.length > 0) return new DecodedRequest(null, d.error);
  return new DecodedRequest(req, "");
}

const kindNames = ["null", "a boolean", "a number", "a string", "an array", "an object"];

/** Reads typed fields, keeping the first type error. */
class Decoder {
  error: string = "";

  wrong(field: string, want: string, got: Value): void {
    if (this.error.length == 0) this.error = "field " + field + " must be " + want + ", not " + kindNames[<i32>got.kind];
  }

  /** The field key of object o, or null when absent or JSON null (which
   * Go's encoding/json reads as no value). */
  field(o: Value, key: string): Value | null {
    const v = o.get(key);
    if (v == null || v.kind == Kind.Null) return null;
    return v;
  }

  str(o: Value, key: string, path: string): string {
    const v = this.field(o, key);
    if (v == null) return "";
    if (v.kind != Kind.String) {
      this.wrong(path, "a string", v);
      return "";
    }
    return v.str;
  }

  int(o: Value, key: string, path: string): i64 {
    const v = this.field(o, key);
    if (v == null) return 0;
    if (v.kind != Kind.Number || !isInteger(v.numberText)) {
      if (v.kind == Kind.Number) {
        if (this.error.length == 0) this.error = "field " + path + " must be an integer, not " + v.numberText;
      } else this.wrong(path, "an integer", v);
      return 0;
    }
    return I64.parseInt(v.numberText);
  }

  bool(o: Value, key: string, path: string): bool {
    const v = this.field(o, key);
    if (v == null) return false;
    if (v.kind != Kind.Bool) {
      this.wrong(path, "a boolean", v);
      return false;
    }
    return v.bool;
  }

  object(o: Value, key: string, path: string): Value | null {
    const v = this.field(o, key);
    if (v == null) return null;
    if (v.kind != Kind.Object) {
      this.wrong(path, "an object", v);
      return null;
    }
    return v;
  }

  array(o: Value, key: string, path: string): Value[] {
    const v = this.field(o, key);
    if (v == null) return [];
    if (v.kind != Kind.Array) {
      this.wrong(path, "an array", v);
      return [];
    }
    return v.items;
  }

  stringMap(o: Value | null, path: string): Map<string, string> {
    const m = new Map<string, string>();
    if (o == null) return m;
    for (let i = 0; i < o.keys.length; i++) {
      const v = o.values[i];
      if (v.kind == Kind.Null) continue;
      if (v.kind != Kind.String) {
        this.wrong(path + "." + o.keys[i], "a string", v);
        continue;
      }
      m.set(o.keys[i], v.str);
    }
    return m;
  }

  time(o: Value, key: string, path: string): Time | null {
    const v = this.field(o, key);
    if (v == null) return null;
    if (v.kind != Kind.String) {
      this.wrong(path, "an RFC 3339 time", v);
      return null;
    }
    const t = Time.parse(v.str);
    if (t == null && this.error.length == 0) this.error = "field " + path + " is not an RFC 3339 time: \"" + v.str + "\"";
    return t;
  }

  request(v: Value): Request {
    const r = new Request();
    if (v.kind != Kind.Object) {
      this.wrong("(the request)", "an object", v);
      return r;
    }
    r.abiVersion = this.str(v, "abiVersion", "abiVersion");
    const run = this.object(v, "run", "run");
    if (run != null) {
      r.run.name = this.str(run, "name", "run.name");
      r.run.namespace = this.str(run, "namespace", "run.namespace");
      r.run.uid = this.str(run, "uid", "run.uid");
      r.run.labels = this.stringMap(this.object(run, "labels", "run.labels"), "run.labels");
      r.run.serviceAccountName = this.str(run, "serviceAccountName", "run.serviceAccountName");
    }
    r.apiVersion = this.str(v, "apiVersion", "apiVersion");
    r.kind = this.str(v, "kind", "kind");
    r.ref = this.str(v, "ref", "ref");
    r.spec = this.field(v, "spec");
    const md = this.object(v, "metadata", "metadata");
    if (md != null) {
      const m = new Metadata();
      m.labels = this.stringMap(this.object(md, "labels", "metadata.labels"), "metadata.labels");
      m.annotations = this.stringMap(this.object(md, "annotations", "metadata.annotations"), "metadata.annotations");
      r.metadata = m;
    }
    const params = this.array(v, "params", "params");
    for (let i = 0; i < params.length; i++) {
      const p = this.param(params[i], "params[" + i.toString() + "]");
      if (p != null) r.params.push(p);
    }
    r.attempt = this.int(v, "attempt", "attempt");
    r.retries = this.int(v, "retries", "retries");
    const start = this.time(v, "startTime", "startTime");
    if (start != null) r.startTime = start;
    r.deadline = this.time(v, "deadline", "deadline");
    r.extraFields = this.field(v, "extraFields");
    const ws = this.array(v, "workspaces", "workspaces");
    for (let i = 0; i < ws.length; i++) {
      const path = "workspaces[" + i.toString() + "]";
      if (ws[i].kind != Kind.Object) {
        this.wrong(path, "an object", ws[i]);
        continue;
      }
      const w = new Workspace();
      w.name = this.str(ws[i], "name", path + ".name");
      w.path = this.str(ws[i], "path", path + ".path");
      w.readOnly = this.bool(ws[i], "readOnly", path + ".readOnly");
      r.workspaces.push(w);
    }
    const cleanup = this.object(v, "cleanup", "cleanup");
    if (cleanup != null) r.cleanupReason = this.str(cleanup, "reason", "cleanup.reason");
    return r;
  }

  param(v: Value, path: string): Param | null {
    if (v.kind != Kind.Object) {
      this.wrong(path, "an object", v);
      return null;
    }
    const name = this.str(v, "name", path + ".name");
    const pv = new ParamValue();
    const value = this.field(v, "value");
    if (value == null) {
      // Go's hostabi.ParamValue reads a missing value as the empty string.
    } else if (value.kind == Kind.String) {
      pv.string = value.str;
    } else if (value.kind == Kind.Array) {
      pv.type = ParamType.Array;
      for (let i = 0; i < value.items.length; i++) {
        const item = value.items[i];
        if (item.kind != Kind.String) {
          this.wrong(path + ".value[" + i.toString() + "]", "a string", item);
          return null;
        }
        pv.array.push(item.str);
      }
    } else if (value.kind == Kind.Object) {
      pv.type = ParamType.Object;
      for (let i = 0; i < value.keys.length; i++) {
        const item = value.values[i];
        if (item.kind != Kind.String) {
          this.wrong(path + ".value." + value.keys[i], "a string", item);
          return null;
        }
        pv.object.set(value.keys[i], item.str);
      }
    } else {
      this.wrong(path + ".value", "a string, an array of strings or an object of strings", value);
      return null;
    }
    return new Param(name, pv);
  }
}

/** Whether a JSON number's text is an integer that fits an i64. */
function isInteger(text: string): bool {
  if (text.includes(".") || text.includes("e") || text.includes("E")) return false;
  const digits = text.startsWith("-") ? text.length - 1 : text.length;
  if (digits < 19) return true;
  if (digits > 19) return false;
  const limit = text.startsWith("-") ? "9223372036854775808" : "9223372036854775807";
  return text.substring(text.length - 19) <= limit;
}
