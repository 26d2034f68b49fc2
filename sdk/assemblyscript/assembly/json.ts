// JSON for the SDK: a reader that returns an error instead of aborting
// (AssemblyScript has no exceptions, and the request is untrusted input
// that must become an InvalidRequest answer, not a trap), a writer, and
// Value, the JSON document a plugin reads (spec, extraFields) and builds
// (extraFields). Numbers keep their text, so a value read from the
// request is written back exactly.

/** The kind of a JSON value. */
export enum Kind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** A JSON value. Objects keep their keys in order; a key that appears
 * twice is found by get as its last value, as Go's encoding/json reads it. */
export class Value {
  kind: Kind = Kind.Null;
  bool: bool = false;
  /** A number's JSON text ("12", "1.5e3"). */
  numberText: string = "";
  str: string = "";
  items: Value[] = [];
  keys: string[] = [];
  values: Value[] = [];

  static null(): Value {
    return new Value();
  }

  static boolean(b: bool): Value {
    const v = new Value();
    v.kind = Kind.Bool;
    v.bool = b;
    return v;
  }

  /** An integer. */
  static integer(n: i64): Value {
    const v = new Value();
    v.kind = Kind.Number;
    v.numberText = n.toString();
    return v;
  }

  /** A number; NaN and the infinities, which JSON cannot hold, make the
   * response invalid when written (the SDK then answers InvalidResponse). */
  static number(n: f64): Value {
    const v = new Value();
    v.kind = Kind.Number;
    v.numberText = isFinite(n) ? formatFloat(n) : "";
    return v;
  }

  static string(s: string): Value {
    const v = new Value();
    v.kind = Kind.String;
    v.str = s;
    return v;
  }

  static array(items: Value[] = []): Value {
    const v = new Value();
    v.kind = Kind.Array;
    v.items = items;
    return v;
  }

  static object(): Value {
    const v = new Value();
    v.kind = Kind.Object;
    return v;
  }

  /** Sets key in an object (replacing its value if it has one) and
   * returns the object, for chaining. */
  set(key: string, value: Value): Value {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) {
        this.values[i] = value;
        return this;
      }
    }
    this.keys.push(key);
    this.values.push(value);
    return this;
  }

  /** The value of key in an object; null when absent or not an object. */
  get(key: string): Value | null {
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) return this.values[i];
    }
    return null;
  }

  /** A number as f64 (NaN for anything else). */
  toF64(): f64 {
    return this.kind == Kind.Number ? parseFloat(this.numberText) : NaN;
  }

  /** The compact JSON text of the value. */
  toJSON(): string {
    const out = new Writer();
    out.value(this);
    return out.toString();
  }
}

/** The number's shortest text that reads back as the same f64, without a
 * needless ".0". */
function formatFloat(n: f64): string {
  if (n == Math.trunc(n) && Math.abs(n) < 1e15) return (<i64>n).toString();
  return n.toString();
}

/** What parse returns: the value, or the error that stopped it. */
export class Parsed {
  constructor(
    public value: Value | null,
    public error: string,
  ) {}
}

/** The deepest nesting of arrays and objects parse accepts: Go's
 * encoding/json refuses deeper documents too. */
export const MAX_PARSE_DEPTH = 10000;

/** Parses one JSON document (RFC 8259) with nothing but whitespace after
 * it. Invalid input returns an error naming the offset, never aborts. */
export function parse(text: string): Parsed {
  const p = new Parser(text);
  p.space();
  const v = p.value(0);
  if (v != null) {
    p.space();
    if (p.pos < text.length) p.fail("invalid character " + p.describe() + " after the JSON value");
  }
  if (p.error.length > 0) return new Parsed(null, p.error);
  return new Parsed(v, "");
}

class Parser {
  pos: i32 = 0;
  error: string = "";
  constructor(public text: string) {}

  fail(message: string): void {
    if (this.error.length == 0) this.error = message + " (at offset " + this.pos.toString() + ")";
  }

  /** The character at pos, for an error message. */
  describe(): string {
    if (this.pos >= this.text.length) return "the end";
    const c = this.text.charCodeAt(this.pos);
    if (c < 0x20) return "U+" + c.toString(16).padStart(4, "0");
    return "'" + this.text.charAt(this.pos) + "'";
  }

  space(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  value(depth: i32): Value | null {
    if (this.pos >= this.text.length) {
      this.fail("unexpected end of JSON input");
      return null;
    }
    const c = this.text.charCodeAt(this.pos);
    if (c == 0x7b /* { */ || c == 0x5b /* [ */) {
      if (depth >= MAX_PARSE_DEPTH) {
        this.fail("arrays and objects nest deeper than " + MAX_PARSE_DEPTH.toString() + " levels");
        return null;
      }
      return c == 0x7b ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c == 0x22 /* " */) {
      const s = this.string();
      return s == null ? null : Value.string(s);
    }
    if (c == 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) return Value.boolean(true);
    if (this.literal("false")) return Value.boolean(false);
    if (this.literal("null")) return Value.null();
    this.fail("invalid character " + this.describe() + " looking for the beginning of a value");
    return null;
  }

  literal(word: string): bool {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  object(depth: i32): Value | null {
    const v = Value.object();
    this.pos++; // {
    this.space();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x7d) {
      this.pos++;
      return v;
    }
    for (;;) {
      this.space();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x22) {
        this.fail("invalid character " + this.describe() + " looking for the beginning of an object key");
        return null;
      }
      const key = this.string();
      if (key == null) return null;
      this.space();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x3a /* : */) {
        this.fail("invalid character " + this.describe() + " after an object key");
        return null;
      }
      this.pos++;
      this.space();
      const item = this.value(depth);
      if (item == null) return null;
      v.keys.push(key);
      v.values.push(item);
      this.space();
      if (this.pos < this.text.length) {
        const c = this.text.charCodeAt(this.pos);
        this.pos++;
        if (c == 0x2c /* , */) continue;
        if (c == 0x7d /* } */) return v;
        this.pos--;
      }
      this.fail("invalid character " + this.describe() + " after an object value");
      return null;
    }
  }

  array(depth: i32): Value | null {
    const v = Value.array();
    this.pos++; // [
    this.space();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x5d) {
      this.pos++;
      return v;
    }
    for (;;) {
      this.space();
      const item = this.value(depth);
      if (item == null) return null;
      v.items.push(item);
      this.space();
      if (this.pos < this.text.length) {
        const c = this.text.charCodeAt(this.pos);
        this.pos++;
        if (c == 0x2c) continue;
        if (c == 0x5d /* ] */) return v;
        this.pos--;
      }
      this.fail("invalid character " + this.describe() + " after an array element");
      return null;
    }
  }

  digits(): i32 {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    return this.pos - start;
  }

  number(): Value | null {
    const start = this.pos;
    if (this.text.charCodeAt(this.pos) == 0x2d) this.pos++;
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x30) {
      this.pos++;
    } else if (this.digits() == 0) {
      this.fail("invalid character " + this.describe() + " in numeric literal");
      return null;
    }
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x2e /* . */) {
      this.pos++;
      if (this.digits() == 0) {
        this.fail("invalid character " + this.describe() + " after decimal point in numeric literal");
        return null;
      }
    }
    if (this.pos < this.text.length && (this.text.charCodeAt(this.pos) | 0x20) == 0x65 /* e E */) {
      this.pos++;
      if (this.pos < this.text.length) {
        const c = this.text.charCodeAt(this.pos);
        if (c == 0x2b || c == 0x2d) this.pos++;
      }
      if (this.digits() == 0) {
        this.fail("invalid character " + this.describe() + " in exponent of numeric literal");
        return null;
      }
    }
    const v = new Value();
    v.kind = Kind.Number;
    v.numberText = this.text.substring(start, this.pos);
    return v;
  }

  hex4(): i32 {
    if (this.pos + 4 > this.text.length) return -1;
    let n = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.text.charCodeAt(this.pos + i);
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
      else return -1;
      n = (n << 4) | d;
    }
    this.pos += 4;
    return n;
  }

  /** A string at pos (which is its opening quote), unescaped. */
  string(): string | null {
    const t = this.text;
    this.pos++; // "
    const parts: string[] = [];
    let run = this.pos;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c == 0x22) {
        parts.push(t.substring(run, this.pos));
        this.pos++;
        return parts.join("");
      }
      if (c < 0x20) {
        this.fail("invalid character " + this.describe() + " in string literal");
        return null;
      }
      if (c != 0x5c /* \ */) {
        this.pos++;
        continue;
      }
      parts.push(t.substring(run, this.pos));
      this.pos++;
      if (this.pos >= t.length) break;
      const e = t.charCodeAt(this.pos);
      this.pos++;
      switch (e) {
        case 0x22: parts.push("\""); break;
        case 0x5c: parts.push("\\"); break;
        case 0x2f: parts.push("/"); break;
        case 0x62: parts.push("\b"); break;
        case 0x66: parts.push("\f"); break;
        case 0x6e: parts.push("\n"); break;
        case 0x72: parts.push("\r"); break;
        case 0x74: parts.push("\t"); break;
        case 0x75: {
          const u = this.hex4();
          if (u < 0) {
            this.fail("invalid \\u escape in string literal");
            return null;
          }
          parts.push(String.fromCharCode(u));
          break;
        }
        default:
          this.pos--;
          this.fail("invalid escape " + this.describe() + " in string literal");
          return null;
      }
      run = this.pos;
    }
    this.fail("unexpected end of JSON input in a string literal");
    return null;
  }
}

/** Builds compact JSON text. */
export class Writer {
  parts: string[] = [];

  raw(s: string): void {
    this.parts.push(s);
  }

  /** A JSON string; a lone surrogate, which UTF-8 cannot carry, is
   * written as U+FFFD, as Go writes invalid UTF-8. */
  string(s: string): void {
    const parts = this.parts;
    parts.push("\"");
    let run = 0;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      let esc: string | null = null;
      if (c == 0x22) esc = "\\\"";
      else if (c == 0x5c) esc = "\\\\";
      else if (c == 0x0a) esc = "\\n";
      else if (c == 0x0d) esc = "\\r";
      else if (c == 0x09) esc = "\\t";
      else if (c < 0x20) esc = "\\u" + c.toString(16).padStart(4, "0");
      else if (c >= 0xd800 && c <= 0xdbff) {
        if (i + 1 < n) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            i++;
            continue;
          }
        }
        esc = "\ufffd";
      } else if (c >= 0xdc00 && c <= 0xdfff) esc = "\ufffd";
      if (esc != null) {
        parts.push(s.substring(run, i));
        parts.push(esc);
        run = i + 1;
      }
    }
    parts.push(s.substring(run));
    parts.push("\"");
  }

  value(v: Value): void {
    switch (v.kind) {
      case Kind.Null: this.raw("null"); break;
      case Kind.Bool: this.raw(v.bool ? "true" : "false"); break;
      case Kind.Number: this.raw(v.numberText); break;
      case Kind.String: this.string(v.str); break;
      case Kind.Array: {
        this.raw("[");
        for (let i = 0; i < v.items.length; i++) {
          if (i > 0) this.raw(",");
          this.value(v.items[i]);
        }
        this.raw("]");
        break;
      }
      case Kind.Object: {
        this.raw("{");
        for (let i = 0; i < v.keys.length; i++) {
          if (i > 0) this.raw(",");
          this.string(v.keys[i]);
          this.raw(":");
          this.value(v.values[i]);
        }
        this.raw("}");
        break;
      }
    }
  }

  toString(): string {
    return this.parts.join("");
  }
}
