// Instants as the request carries them (RFC 3339 strings), and the wall
// clock, without a date library: a plugin compares them and adds
// durations (nanoseconds, duration.ts).

import { clock_time_get, clockid } from "@assemblyscript/wasi-shim/assembly/bindings/wasi_snapshot_preview1";

/** Seconds from January 1, year 1 (Go's zero time) to the Unix epoch. */
const ZERO_UNIX_SECONDS: i64 = -62135596800;
const NANOS_PER_SECOND: i64 = 1000000000;

/** An instant: seconds and nanoseconds since the Unix epoch (UTC). The
 * default is Go's zero time (January 1, year 1), which is what the host
 * means by no instant; isZero tells it. */
export class Time {
  constructor(
    public unixSeconds: i64 = ZERO_UNIX_SECONDS,
    public nanos: i32 = 0,
  ) {}

  /** The wall clock now. Inside a call, the time of the call. */
  static now(): Time {
    const out = memory.data(8);
    if (clock_time_get(clockid.REALTIME, 1, out) != 0) return new Time(0, 0);
    const ns = load<u64>(out);
    return new Time(<i64>(ns / <u64>NANOS_PER_SECOND), <i32>(ns % <u64>NANOS_PER_SECOND));
  }

  /** Whether this is Go's zero time: the host knew no instant. */
  isZero(): bool {
    return this.unixSeconds == ZERO_UNIX_SECONDS && this.nanos == 0;
  }

  /** This instant plus d nanoseconds. */
  add(d: i64): Time {
    let s = this.unixSeconds + d / NANOS_PER_SECOND;
    let n = <i64>this.nanos + d % NANOS_PER_SECOND;
    if (n < 0) {
      n += NANOS_PER_SECOND;
      s--;
    } else if (n >= NANOS_PER_SECOND) {
      n -= NANOS_PER_SECOND;
      s++;
    }
    return new Time(s, <i32>n);
  }

  /** This instant minus other, in nanoseconds, saturating at the bounds
   * of an i64 as Go's Time.Sub does. */
  sub(other: Time): i64 {
    const ds = this.unixSeconds - other.unixSeconds;
    const dn = <i64>this.nanos - <i64>other.nanos;
    const limit = i64.MAX_VALUE / NANOS_PER_SECOND - 1;
    if (ds > limit) return i64.MAX_VALUE;
    if (ds < -limit) return i64.MIN_VALUE;
    return ds * NANOS_PER_SECOND + dn;
  }

  /** Parses an RFC 3339 instant ("2026-03-04T05:06:07.5Z",
   * "2026-03-04T07:06:07+02:00"); null if it is not one. */
  static parse(s: string): Time | null {
    const n = s.length;
    if (n < 20 || !sep(s, 4, "-") || !sep(s, 7, "-") || !sep(s, 10, "Tt") || !sep(s, 13, ":") || !sep(s, 16, ":")) return null;
    const year = num(s, 0, 4), month = num(s, 5, 7), day = num(s, 8, 10);
    const hour = num(s, 11, 13), min = num(s, 14, 16), sec = num(s, 17, 19);
    if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
    if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59) return null;
    let i = 19;
    let nanos: i64 = 0;
    if (s.charCodeAt(i) == 0x2e) {
      let j = i + 1;
      while (j < n && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
      const digits = j - i - 1;
      if (digits == 0 || digits > 9) return null;
      nanos = num(s, i + 1, j);
      for (let k = digits; k < 9; k++) nanos *= 10;
      i = j;
    }
    let offset: i64 = 0;
    const rest = s.substring(i);
    if (rest != "Z" && rest != "z") {
      if (rest.length != 6 || !sep(s, i, "+-") || !sep(s, i + 3, ":")) return null;
      const h = num(s, i + 1, i + 3), m = num(s, i + 4, i + 6);
      if (h < 0 || h > 23 || m < 0 || m > 59) return null;
      offset = (h * 60 + m) * 60;
      if (s.charCodeAt(i) == 0x2d) offset = -offset;
    }
    const secs = daysFromCivil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
    return new Time(secs, <i32>nanos);
  }
}

function sep(s: string, i: i32, chars: string): bool {
  return i < s.length && chars.indexOf(s.charAt(i)) >= 0;
}

/** The decimal number s[from:to], or -1 if it holds anything else. */
function num(s: string, from: i32, to: i32): i64 {
  let n: i64 = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + <i64>(c - 0x30);
  }
  return n;
}

function daysInMonth(year: i64, month: i64): i64 {
  if (month == 2) return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28;
  if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
  return 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
function daysFromCivil(y: i64, m: i64, d: i64): i64 {
  if (m <= 2) y--;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
