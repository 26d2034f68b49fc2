// Go's time.Duration, which the ABI speaks: requeueAfter is written as Go
// writes a duration ("1m30s"), and plugins take durations in params as
// Go's time.ParseDuration reads them. Both are rendered here exactly,
// error messages included, so a plugin answers as its Go twin does. A
// duration is an i64 count of nanoseconds.

export const NANOSECOND: i64 = 1;
export const MICROSECOND: i64 = 1000 * NANOSECOND;
export const MILLISECOND: i64 = 1000 * MICROSECOND;
export const SECOND: i64 = 1000 * MILLISECOND;
export const MINUTE: i64 = 60 * SECOND;
export const HOUR: i64 = 60 * MINUTE;

/** What parseDuration returns: the nanoseconds, or Go's error text
 * (`time: invalid duration "soon"`) when error is not empty. */
export class ParsedDuration {
  constructor(
    public nanos: i64,
    public error: string,
  ) {}
  get ok(): bool {
    return this.error.length == 0;
  }
}

const LIMIT: u64 = 1 << 63;

/** Parses a Go duration such as "300ms", "-1.5h" or "2h45m", as Go's
 * time.ParseDuration: units ns, us (or µs), ms, s, m, h. */
export function parseDuration(orig: string): ParsedDuration {
  const s = Uint8Array.wrap(String.UTF8.encode(orig));
  const invalid = new ParsedDuration(0, "time: invalid duration " + quote(orig));
  let i = 0;
  const n = s.length;
  let neg = false;
  if (n > 0 && (s[0] == 0x2d || s[0] == 0x2b)) {
    neg = s[0] == 0x2d;
    i = 1;
  }
  if (n - i == 1 && s[i] == 0x30) return new ParsedDuration(0, "");
  if (i == n) return invalid;
  let d: u64 = 0;
  while (i < n) {
    if (!(s[i] == 0x2e || isDigit(s[i]))) return invalid;
    // [0-9]*
    let v: u64 = 0;
    const intStart = i;
    for (; i < n && isDigit(s[i]); i++) {
      if (v > LIMIT / 10) return invalid;
      v = v * 10 + <u64>(s[i] - 0x30);
      if (v > LIMIT) return invalid;
    }
    const pre = i > intStart;
    // (\.[0-9]*)?
    let f: u64 = 0;
    let scale: f64 = 1;
    let post = false;
    if (i < n && s[i] == 0x2e) {
      i++;
      const fracStart = i;
      let overflow = false;
      for (; i < n && isDigit(s[i]); i++) {
        if (overflow) continue;
        if (f > (LIMIT - 1) / 10) {
          overflow = true;
          continue;
        }
        const y = f * 10 + <u64>(s[i] - 0x30);
        if (y > LIMIT) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = i > fracStart;
    }
    if (!pre && !post) return invalid;
    // The unit.
    const unitStart = i;
    while (i < n && !(s[i] == 0x2e || isDigit(s[i]))) i++;
    if (i == unitStart) return new ParsedDuration(0, "time: missing unit in duration " + quote(orig));
    const u = String.UTF8.decodeUnsafe(s.dataStart + unitStart, i - unitStart);
    let unit: u64;
    if (u == "ns") unit = <u64>NANOSECOND;
    else if (u == "us" || u == "\u00b5s" || u == "\u03bcs") unit = <u64>MICROSECOND;
    else if (u == "ms") unit = <u64>MILLISECOND;
    else if (u == "s") unit = <u64>SECOND;
    else if (u == "m") unit = <u64>MINUTE;
    else if (u == "h") unit = <u64>HOUR;
    else {
      const raw = s.slice(unitStart, i);
      return new ParsedDuration(0, "time: unknown unit " + quoteBytes(raw) + " in duration " + quote(orig));
    }
    if (v > LIMIT / unit) return invalid;
    v *= unit;
    if (f > 0) {
      v += <u64>(<f64>f * (<f64>unit / scale));
      if (v > LIMIT) return invalid;
    }
    d += v;
    if (d > LIMIT) return invalid;
  }
  if (neg) return new ParsedDuration(-(<i64>d), "");
  if (d > LIMIT - 1) return invalid;
  return new ParsedDuration(<i64>d, "");
}

function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

/** Go's time.quote: a double-quoted string in which '"' and '\' are
 * escaped and every byte of a non-ASCII or control character is \xNN. */
function quote(s: string): string {
  return quoteBytes(Uint8Array.wrap(String.UTF8.encode(s)));
}

function quoteBytes(b: Uint8Array): string {
  const parts: string[] = ["\""];
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c < 0x20 || c >= 0x80) {
      parts.push("\\x" + (<u32>c).toString(16).padStart(2, "0"));
    } else {
      if (c == 0x22 || c == 0x5c) parts.push("\\");
      parts.push(String.fromCharCode(c));
    }
  }
  parts.push("\"");
  return parts.join("");
}

/** Go's Duration.String: "72h3m0.5s", "1.5ms", "0s". */
export function formatDuration(d: i64): string {
  // Built backwards into buf, as Go does.
  const buf = new Array<string>(32);
  let w = buf.length;
  let u: u64 = d < 0 ? <u64>(-d) : <u64>d; // -MIN wraps to 2^63, as in Go
  if (u < <u64>SECOND) {
    let prec = 0;
    w--;
    buf[w] = "s";
    if (u == 0) return "0s";
    w--;
    if (u < <u64>MICROSECOND) {
      buf[w] = "n";
    } else if (u < <u64>MILLISECOND) {
      prec = 3;
      buf[w] = "\u00b5";
    } else {
      prec = 6;
      buf[w] = "m";
    }
    w = fmtFrac(buf, w, u, prec);
    u = fracRest(u, prec);
    w = fmtInt(buf, w, u);
  } else {
    w--;
    buf[w] = "s";
    w = fmtFrac(buf, w, u, 9);
    u = fracRest(u, 9);
    w = fmtInt(buf, w, u % 60);
    u /= 60;
    if (u > 0) {
      w--;
      buf[w] = "m";
      w = fmtInt(buf, w, u % 60);
      u /= 60;
      if (u > 0) {
        w--;
        buf[w] = "h";
        w = fmtInt(buf, w, u);
      }
    }
  }
  if (d < 0) {
    w--;
    buf[w] = "-";
  }
  return buf.slice(w).join("");
}

/** Writes, backwards before w, the fraction of v/10^prec without trailing
 * zeros (and without the point when it is 0); returns the new w. */
function fmtFrac(buf: string[], w: i32, v: u64, prec: i32): i32 {
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10;
    print = print || digit != 0;
    if (print) {
      w--;
      buf[w] = String.fromCharCode(0x30 + <i32>digit);
    }
    v /= 10;
  }
  if (print) {
    w--;
    buf[w] = ".";
  }
  return w;
}

function fracRest(v: u64, prec: i32): u64 {
  for (let i = 0; i < prec; i++) v /= 10;
  return v;
}

/** Writes v in decimal, backwards before w; returns the new w. */
function fmtInt(buf: string[], w: i32, v: u64): i32 {
  do {
    w--;
    buf[w] = String.fromCharCode(0x30 + <i32>(v % 10));
    v /= 10;
  } while (v > 0);
  return w;
}

/** Rounds d to the nearest multiple of m, halfway values away from zero,
 * as Go's Duration.Round; m <= 0 leaves it unchanged. */
export function roundDuration(d: i64, m: i64): i64 {
  if (m <= 0) return d;
  let r = d % m;
  if (d < 0) {
    r = -r;
    if (lessThanHalf(r, m)) return d + r;
    const d1 = d - m + r;
    return d1 < d ? d1 : i64.MIN_VALUE;
  }
  if (lessThanHalf(r, m)) return d - r;
  const d1 = d + m - r;
  return d1 > d ? d1 : i64.MAX_VALUE;
}

function lessThanHalf(x: i64, y: i64): bool {
  return <u64>x + <u64>x < <u64>y;
}
