//! Instants as the request carries them (RFC 3339 strings), without a
//! date library: a plugin compares them with the clock and adds durations.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::Duration;

/// An instant, in nanoseconds since the Unix epoch (UTC). The default is
/// Go's zero time (January 1, year 1), which is what the host writes for
/// an instant it does not know; [`Time::is_zero`] tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    unix_nanos: i128,
}

/// Seconds from January 1, year 1 to the Unix epoch.
const ZERO_UNIX_SECONDS: i128 = -62_135_596_800;

impl Default for Time {
    fn default() -> Self {
        Time { unix_nanos: ZERO_UNIX_SECONDS * 1_000_000_000 }
    }
}

impl Time {
    /// The wall clock now. Inside a call it is the time of the call.
    pub fn now() -> Time {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Time { unix_nanos: d.as_nanos() as i128 }
    }

    /// An instant from nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(unix_nanos: i128) -> Time {
        Time { unix_nanos }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> i128 {
        self.unix_nanos
    }

    /// Whether this is Go's zero time: the host knew no instant.
    pub fn is_zero(self) -> bool {
        self == Time::default()
    }

    /// `self + d`.
    pub fn add(self, d: Duration) -> Time {
        Time { unix_nanos: self.unix_nanos + i128::from(d.0) }
    }

    /// `self - other`, saturating at the bounds of a [`Duration`].
    pub fn sub(self, other: Time) -> Duration {
        let d = self.unix_nanos - other.unix_nanos;
        Duration(d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    /// Parses an RFC 3339 instant ("2026-03-04T05:06:07.5Z",
    /// "2026-03-04T07:06:07+02:00").
    pub fn parse_rfc3339(s: &str) -> Option<Time> {
        let b = s.as_bytes();
        let num = |from: usize, to: usize| -> Option<i128> {
            let digits = b.get(from..to)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(digits.iter().fold(0, |n, &c| n * 10 + i128::from(c - b'0')))
        };
        let sep = |i: usize, c: &[u8]| b.get(i).map_or(false, |x| c.contains(x));
        if b.len() < 20 || !sep(4, b"-") || !sep(7, b"-") || !sep(10, b"Tt") || !sep(13, b":") || !sep(16, b":") {
            return None;
        }
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, min, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || min > 59 || sec > 59 {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0i128;
        if b[i] == b'.' {
            let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            nanos = num(i + 1, i + 1 + n)? * 10i128.pow(9 - n as u32);
            i += 1 + n;
        }
        let offset = match b.get(i..)? {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (h, m) = (num(i + 1, i + 3)?, num(i + 4, i + 6)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let o = (h * 60 + m) * 60;
                if *sign == b'-' {
                    -o
                } else {
                    o
                }
            }
            _ => return None,
        };
        let secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
        Some(Time { unix_nanos: secs * 1_000_000_000 + nanos })
    }
}

fn days_in_month(year: i128, month: i128) -> i128 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// days_from_civil).
fn days_from_civil(y: i128, m: i128, d: i128) -> i128 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Time, E> {
                Time::parse_rfc3339(s).ok_or_else(|| E::custom(format!("{:?} is not an RFC 3339 time", s)))
            }
        }
        d.deserialize_str(V)
    }
}
