//! Go's `time.Duration`: the ABI writes `requeueAfter` as Go writes a
//! duration ("1m30s"), and plugins take durations in params as Go's
//! `time.ParseDuration` reads them. Both are rendered here exactly, error
//! messages included, so a Rust plugin answers as its Go twin does.

use std::fmt;

use serde::{Serialize, Serializer};

/// A signed count of nanoseconds, as Go's `time.Duration`. It converts
/// from `std::time::Duration` (saturating at about 292 years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1000 * NANOSECOND;
const MILLISECOND: u64 = 1000 * MICROSECOND;
const SECOND: u64 = 1000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

impl Duration {
    pub const MILLISECOND: Duration = Duration(MILLISECOND as i64);
    pub const SECOND: Duration = Duration(SECOND as i64);

    /// The number of nanoseconds.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// Parses a Go duration such as "300ms", "-1.5h" or "2h45m", as Go's
    /// `time.ParseDuration`: units ns, us (or µs), ms, s, m, h.
    pub fn parse(s: &str) -> Result<Duration, ParseDurationError> {
        parse(s)
    }

    /// Rounds to the nearest multiple of `m`, halfway values away from
    /// zero, as Go's `Duration.Round`; `m <= 0` leaves it unchanged.
    pub fn round(self, m: Duration) -> Duration {
        let (d, m) = (self.0, m.0);
        if m <= 0 {
            return self;
        }
        let mut r = d % m;
        if d < 0 {
            r = -r;
            if r + r < m {
                return Duration(d + r);
            }
            return Duration(d.checked_sub(m - r).unwrap_or(i64::MIN));
        }
        if r + r < m {
            return Duration(d - r);
        }
        Duration(d.checked_add(m - r).unwrap_or(i64::MAX))
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// Go's `Duration.String`: "72h3m0.5s", "1.5ms", "0s".
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut u = self.0.unsigned_abs();
        let mut out = String::new(); // reversed
        if u < SECOND {
            let prec;
            out.push('s');
            if u == 0 {
                return f.write_str("0s");
            } else if u < MICROSECOND {
                prec = 0;
                out.push('n');
            } else if u < MILLISECOND {
                prec = 3;
                out.push('µ');
            } else {
                prec = 6;
                out.push('m');
            }
            u = frac(&mut out, u, prec);
            int(&mut out, u);
        } else {
            out.push('s');
            u = frac(&mut out, u, 9);
            int(&mut out, u % 60);
            u /= 60;
            if u > 0 {
                out.push('m');
                int(&mut out, u % 60);
                u /= 60;
                if u > 0 {
                    out.push('h');
                    int(&mut out, u);
                }
            }
        }
        if self.0 < 0 {
            out.push('-');
        }
        f.write_str(&out.chars().rev().collect::<String>())
    }
}

/// Appends, reversed, the fraction of v/10^prec without trailing zeros
/// (and without the point when it is 0); returns v/10^prec.
fn frac(out: &mut String, mut v: u64, prec: u32) -> u64 {
    let mut print = false;
    for _ in 0..prec {
        let digit = v % 10;
        print = print || digit != 0;
        if print {
            out.push(char::from(b'0' + digit as u8));
        }
        v /= 10;
    }
    if print {
        out.push('.');
    }
    v
}

/// Appends v in decimal, reversed.
fn int(out: &mut String, mut v: u64) {
    loop {
        out.push(char::from(b'0' + (v % 10) as u8));
        v /= 10;
        if v == 0 {
            break;
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a duration does not parse; its text is Go's
/// (`time: invalid duration "soon"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDurationError(String);

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseDurationError {}

const LIMIT: u64 = 1 << 63;

fn parse(orig: &str) -> Result<Duration, ParseDurationError> {
    let invalid = || ParseDurationError(format!("time: invalid duration {}", quote(orig)));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok(Duration(0));
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // [0-9]*
        let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &s[..n] {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        let pre = n > 0;
        s = &s[n..];
        // (\.[0-9]*)?
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &s[..n] {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = n > 0;
            s = &s[n..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // The unit.
        let n = s.iter().take_while(|&&c| !(c == b'.' || c.is_ascii_digit())).count();
        if n == 0 {
            return Err(ParseDurationError(format!("time: missing unit in duration {}", quote(orig))));
        }
        let u = &s[..n];
        s = &s[n..];
        let unit = match u {
            b"ns" => NANOSECOND,
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => MICROSECOND, // us, µs (U+00B5), μs (U+03BC)
            b"ms" => MILLISECOND,
            b"s" => SECOND,
            b"m" => MINUTE,
            b"h" => HOUR,
            _ => {
                let u = String::from_utf8_lossy(u);
                return Err(ParseDurationError(format!("time: unknown unit {} in duration {}", quote(&u), quote(orig))));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok(Duration((d as i64).wrapping_neg()));
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(Duration(d as i64))
}

/// Go's time.quote: a double-quoted string in which '"' and '\' are
/// escaped and every byte of a non-ASCII or control character is \xNN.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if (c as u32) < 0x20 || (c as u32) >= 0x80 {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).as_bytes() {
                out.push_str(&format!("\\x{:02x}", byte));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}
