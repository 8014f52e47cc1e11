//! Whether a value fits its column's encoding: the values a database holds that the encoding
//! Debezium chose cannot represent (a `numeric` NaN as a Connect Decimal, an interval past
//! ±292,000 years as microseconds, a timestamp in PostgreSQL's last days as microseconds since
//! 1970, an array deeper than its column declares). Sources check the columns that can hold
//! such values as they decode a row, so that a refused value is one event, with its table, key
//! and position, that `event.processing.failure.handling.mode` can skip.

use crate::datum::{Datum, Numeric};
use crate::schema::Encoding;
use crate::temporal::interval_micros;

/// Whether values of this encoding can fail [`misfit`] (the columns a source checks).
pub fn can_misfit(encoding: &Encoding) -> bool {
    matches!(
        encoding,
        Encoding::Decimal { .. }
            | Encoding::VariableScaleDecimal
            | Encoding::MicroDuration
            | Encoding::MicroTimestamp
            | Encoding::Array(_)
    )
}

/// Why `datum` cannot be encoded as `encoding` and how to capture it, or `None` when it can.
pub fn misfit(encoding: &Encoding, datum: &Datum) -> Option<String> {
    match (encoding, datum) {
        (Encoding::Decimal { .. } | Encoding::VariableScaleDecimal, Datum::Numeric(n)) => {
            let special = match n {
                Numeric::Finite(_) => return None,
                Numeric::NaN => "NaN",
                Numeric::PosInfinity => "Infinity",
                Numeric::NegInfinity => "-Infinity",
            };
            Some(format!(
                "holds {special}, which decimal.handling.mode=precise cannot represent; set \
                 \"decimal.handling.mode\" to \"string\" (or \"double\") to capture it"
            ))
        }
        (
            Encoding::MicroDuration,
            Datum::Interval {
                months,
                days,
                micros,
            },
        ) => interval_micros(*months, *days, *micros).is_none().then(|| {
            "holds an interval too long for microseconds in 64 bits (past ±292,000 years); \
                 set \"interval.handling.mode\" to \"string\" to capture it"
                .to_string()
        }),
        (Encoding::MicroTimestamp, Datum::FarTimestamp { .. }) => Some(
            "holds a timestamp after 294247-01-10T04:00:54.775807, past what \
             io.debezium.time.MicroTimestamp (microseconds since 1970 in 64 bits) can hold; set \
             \"time.precision.mode\" to \"connect\" to send milliseconds"
                .to_string(),
        ),
        (Encoding::Array(items), Datum::Array(values)) => {
            values.iter().find_map(|v| misfit(&items.encoding, v))
        }
        (encoding, Datum::Array(_)) if !matches!(encoding, Encoding::Array(_)) => Some(
            "holds an array with more dimensions than the column declares; PostgreSQL does \
             not enforce declared dimensions: declare the column with every dimension (ALTER \
             TABLE … ALTER COLUMN … TYPE integer[][] for two) so that its schema carries them"
                .to_string(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_the_encoding_cannot_hold() {
        let decimal = Encoding::VariableScaleDecimal;
        assert!(misfit(&decimal, &Datum::Numeric(Numeric::NaN)).is_some());
        assert!(misfit(&decimal, &Datum::Numeric(Numeric::Finite("1.5".into()))).is_none());
        let long = Datum::Interval {
            months: i32::MAX,
            days: 0,
            micros: 0,
        };
        assert!(misfit(&Encoding::MicroDuration, &long).is_some());
        assert!(misfit(&Encoding::IntervalString, &long).is_none());
        let far = Datum::FarTimestamp {
            zoned: false,
            days: 106_762_939,
            micros_of_day: 0,
        };
        assert!(misfit(&Encoding::MicroTimestamp, &far).is_some());
        assert!(misfit(&Encoding::MilliTimestamp, &far).is_none());
        let nested = Datum::Array(Box::new([Datum::Array(Box::new([Datum::Int(1)]))]));
        assert!(misfit(&Encoding::array_of(Encoding::Int32), &nested).is_some());
        let twice = Encoding::array_of(Encoding::array_of(Encoding::Int32));
        assert!(misfit(&twice, &nested).is_none());
    }
}

/// Debezium's `event.processing.failure.handling.mode`: what a source does with an event it
/// cannot process (a value its schema cannot hold or a value it cannot parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Stop the connector with the error (Debezium's default).
    #[default]
    Fail,
    /// Skip the event, logging a warning with its table, key and position.
    Warn,
    /// Skip the event, logging it at info level (`ignore` is Debezium's older name).
    Skip,
}

impl FailureMode {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("warn") => Self::Warn,
            Some("skip" | "ignore") => Self::Skip,
            _ => Self::Fail,
        }
    }
}
