//! Durations in scenario files: a bare integer is milliseconds; a string
//! carries a unit, as in "250ms", "10s", "2m" or "1h".
//!
//! Both types deserialise straight from TOML, so a malformed duration is
//! reported by the `toml` crate at the exact span of the value. Both are
//! bounded by [`MAX_TIME_MS`] in magnitude, here, so that no field can
//! forget to be.

use super::limits::{MAX_TIME_MS, show};
use crate::core::ids::Millis;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;

const EXPECTING: &str =
    "a duration: integer milliseconds or a string such as \"250ms\", \"10s\", \"2m\" or \"1h\"";

/// A duration that may not be negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dur(pub Millis);

/// A duration that may be negative (clock offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignedDur(pub i64);

/// Parses the string form of a duration into signed milliseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let split = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (number, unit) = body.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "\"{s}\" is not a duration: expected a whole number followed by ms, s, m or h, \
             e.g. \"250ms\""
        ));
    }
    let factor: i64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => {
            return Err(format!(
                "duration \"{s}\" has no unit: write \"{s}ms\", or a bare integer for milliseconds"
            ));
        }
        u if u.starts_with('.') => {
            return Err(format!(
                "duration \"{s}\" is fractional: use a smaller unit instead, e.g. \"1500ms\""
            ));
        }
        u => {
            return Err(format!(
                "unknown unit `{u}` in duration \"{s}\" (use ms, s, m or h)"
            ));
        }
    };
    let too_large = || beyond(&format_args!("\"{s}\""));
    let n: i64 = number.parse().map_err(|_| too_large())?;
    let ms = n.checked_mul(factor).ok_or_else(too_large)?;
    Ok(if negative { -ms } else { ms })
}

fn beyond(shown: &dyn fmt::Display) -> String {
    format!(
        "duration {shown} is beyond the limit of {} for every time and duration in a scenario",
        show(MAX_TIME_MS)
    )
}

struct DurVisitor {
    signed: bool,
}

impl DurVisitor {
    fn check<E: de::Error>(&self, ms: i64, shown: &dyn fmt::Display) -> Result<i64, E> {
        if ms < 0 && !self.signed {
            Err(E::custom(format!(
                "duration {shown} is negative; only clock_skew offsets may be negative"
            )))
        } else if ms.unsigned_abs() > MAX_TIME_MS {
            Err(E::custom(beyond(shown)))
        } else {
            Ok(ms)
        }
    }
}

impl<'de> Visitor<'de> for DurVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTING)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        self.check(v, &v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        let ms = i64::try_from(v).map_err(|_| E::custom(beyond(&v)))?;
        self.check(ms, &v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        let ms = parse_duration(v).map_err(E::custom)?;
        self.check(ms, &format_args!("\"{v}\""))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ms = d.deserialize_any(DurVisitor { signed: false })?;
        // The visitor has rejected negative values.
        Ok(Dur(ms.unsigned_abs()))
    }
}

impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurVisitor { signed: true })
            .map(SignedDur)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn units() {
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("10s"), Ok(10_000));
        assert_eq!(parse_duration("2m"), Ok(120_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("-30s"), Ok(-30_000));
        assert_eq!(parse_duration("0s"), Ok(0));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "ms",
            "10",
            "10x",
            "1.5s",
            "10 s",
            "+1s",
            "--1s",
            "s10",
            "99999999999999999999s",
            "9999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            parse_duration("10x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
    }
}
