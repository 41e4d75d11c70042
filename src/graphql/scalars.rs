//! Scalars: `Date`, `DateTime` and exact money as `Decimal`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};

/// A calendar date, `2026-11-22`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date in ISO 8601 form, `YYYY-MM-DD`.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a real date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }
    // Checked during validation too, so that a bad value is reported with the input field's
    // path (`input.date`) rather than only the input object's type.
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }
    fn to_value(&self) -> Value {
        // NaiveDate's Display is `%Y-%m-%d`, written without parsing a format string.
        Value::String(self.0.to_string())
    }
}

/// An instant.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant in RFC 3339 form, `2026-11-22T10:00:00Z`.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| DateTime(d.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 instant")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// An exact amount of money in minor units (cents).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal(pub i64);

impl Decimal {
    /// Parses `"1234"`, `"1234.5"` or `"-1234.50"`; at most two decimals.
    pub fn parse_str(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty()
            || whole.len() > 15
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (digits.contains('.') && frac.is_empty())
        {
            return None;
        }
        let w: i64 = whole.parse().ok()?;
        let f: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().ok()?
        };
        let cents = w.checked_mul(100)?.checked_add(f)?;
        Some(Decimal(if neg { -cents } else { cents }))
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// An exact decimal amount of money, sent as a string with two decimals (`"1234.50"`).
/// Input accepts a string with at most two decimals, or an integer; never a float.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Decimal::parse_str(s).ok_or_else(|| {
                InputValueError::custom("expected a decimal string with at most two decimals")
            }),
            Value::Number(n) if n.is_i64() => n
                .as_i64()
                .and_then(|i| i.checked_mul(100))
                .map(Decimal)
                .ok_or_else(|| InputValueError::custom("amount out of range")),
            _ => Err(InputValueError::custom(
                "expected a decimal string such as \"1234.50\"",
            )),
        }
    }
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }
    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

/// Hours stored as hundredths, shown as a float.
pub fn hours(centi: i64) -> f64 {
    centi as f64 / 100.0
}

/// Hours given as a float, as exact hundredths; `None` when not a multiple of 0.01.
pub fn centi_hours(h: f64) -> Option<i64> {
    if !h.is_finite() {
        return None;
    }
    let c = (h * 100.0).round();
    ((h * 100.0 - c).abs() < 1e-6 && c.abs() < 1e12).then_some(c as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trips() {
        assert_eq!(Decimal::parse_str("1234.5"), Some(Decimal(123450)));
        assert_eq!(Decimal::parse_str("0.05"), Some(Decimal(5)));
        assert_eq!(Decimal::parse_str("-2"), Some(Decimal(-200)));
        assert_eq!(Decimal::parse_str("1.234"), None);
        assert_eq!(Decimal::parse_str("1."), None);
        assert_eq!(Decimal::parse_str("abc"), None);
        assert_eq!(Decimal(123450).to_string(), "1234.50");
        assert_eq!(Decimal(-5).to_string(), "-0.05");
    }

    #[test]
    fn hours_are_hundredths() {
        assert_eq!(centi_hours(7.5), Some(750));
        assert_eq!(centi_hours(0.01), Some(1));
        assert_eq!(centi_hours(0.001), None);
        assert_eq!(centi_hours(f64::NAN), None);
    }
}
