//! Where a record goes: the partition path its fields, key, headers or time choose, and the
//! object name, which the position of the object's first record makes (so that a record written
//! again after a crash lands in an object of the same name: see `sink.rs`).

use std::sync::Arc;

use runnel_core::{Batch, Column, Datum, Encoding, Error, Event, Numeric, Payload, Result, Schema};

use crate::config::{Format, Naming, PartitionPart, Partitioner, Target, TimeSource};

/// A record's place in its source stream: the Kafka partition and offset it was read from, or,
/// straight from a database, stream 0 and the source's log position with a counter of the
/// records at that position (a delete and its tombstone share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamPos {
    pub partition: i32,
    pub offset: u64,
    pub sub: u64,
}

impl StreamPos {
    /// The offset as object names show it (zero-padded to `pad`; a database position carries
    /// its counter after a dot).
    pub fn text(&self, pad: usize, direct: bool) -> String {
        if direct {
            format!("{:0pad$}.{}", self.offset, self.sub)
        } else {
            format!("{:0pad$}", self.offset)
        }
    }
}

/// The object name for records of `topic` partitioned into `path`, starting at `first`.
pub fn object_name(
    naming: Naming,
    target: &Target,
    topic: &str,
    path: &str,
    first: StreamPos,
    direct: bool,
    gzip: bool,
) -> String {
    let ext = target.format.extension();
    // Parquet compresses its own pages.
    let gz = if gzip && !matches!(target.format, Format::Parquet | Format::Avro) {
        ".gz"
    } else {
        ""
    };
    let prefix = if target.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", target.prefix)
    };
    match naming {
        Naming::Confluent { zero_pad } => format!(
            "{prefix}{topic}/{path}/{topic}+{}+{}.{ext}{gz}",
            first.partition,
            first.text(zero_pad, direct)
        ),
        Naming::Lenses => match target.partitioner {
            Partitioner::Hierarchical => format!(
                "{prefix}{topic}/{}/{}.{ext}{gz}",
                first.partition,
                first.text(12, direct)
            ),
            _ => format!(
                "{prefix}{path}/{topic}({}_{}).{ext}{gz}",
                first.partition,
                first.text(12, direct)
            ),
        },
    }
}

/// The partition path of one record (`partition=0`, `customer_id=7/order_id=3`,
/// `year=2026/month=12`, …).
/// The last time path made: (target, second) and the path.
pub type TimeCache = Option<((usize, i64), String)>;

pub fn path_of(
    out: &mut String,
    time_cache: &mut TimeCache,
    target: &Target,
    batch: &Batch,
    event: &Event,
    pos: StreamPos,
    timestamp_ms: i64,
) -> Result<()> {
    use std::fmt::Write as _;
    out.clear();
    match &target.partitioner {
        Partitioner::KafkaPartition => {
            let _ = write!(out, "partition={}", pos.partition);
            Ok(())
        }
        Partitioner::Hierarchical => Ok(()),
        Partitioner::Parts { parts, values_only } => {
            for (i, (name, part)) in parts.iter().enumerate() {
                if i > 0 {
                    out.push('/');
                }
                if !values_only {
                    out.push_str(name);
                    out.push('=');
                }
                push_part(out, batch, event, part, pos)?;
            }
            Ok(())
        }
        Partitioner::Time {
            path_format,
            duration_ms,
            timezone,
            source,
        } => {
            let ms = match source {
                TimeSource::Record => timestamp_ms,
                TimeSource::Wallclock => now_ms(),
                TimeSource::RecordField(path) => match value_field(batch, event, path)? {
                    Some(Datum::Int(v)) => v,
                    Some(Datum::Timestamp(us) | Datum::TimestampTz(us)) => us.div_euclid(1000),
                    Some(Datum::Text(t)) => parse_iso_ms(&t).ok_or_else(|| {
                        Error::conversion(format!(
                            "timestamp.field \"{}\" holds \"{}\", not a time",
                            path.join("."),
                            String::from_utf8_lossy(&t)
                        ))
                    })?,
                    other => {
                        return Err(Error::conversion(format!(
                            "timestamp.field \"{}\" holds {}, not a time (a number of \
                             milliseconds, a Timestamp or an ISO-8601 string)",
                            path.join("."),
                            describe(other.as_ref())
                        )));
                    }
                },
            };
            // Time zone offsets are whole seconds: with a duration of whole seconds, every
            // record of one second has the same path, made once.
            let second = ms.div_euclid(1000);
            let key = (target as *const Target as usize, second);
            if duration_ms % 1000 == 0
                && let Some((k, path)) = time_cache.as_ref()
                && *k == key
            {
                out.push_str(path);
                return Ok(());
            }
            let path = time_path(path_format, *duration_ms, timezone, ms)?;
            out.push_str(&path);
            *time_cache = Some((key, path));
            Ok(())
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn parse_iso_ms(t: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(t).ok()?;
    let ts: jiff::Timestamp = s.parse().ok()?;
    Some(ts.as_millisecond())
}

/// `path.format` (Joda-style: `'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH`) of `ms` floored to
/// `duration_ms` in `timezone`, as Confluent's TimeBasedPartitioner does.
pub fn time_path(format: &str, duration_ms: i64, timezone: &str, ms: i64) -> Result<String> {
    let tz = jiff::tz::TimeZone::get(timezone)
        .map_err(|e| Error::config(format!("timezone \"{timezone}\": {e}")))?;
    let at = jiff::Timestamp::from_millisecond(ms)
        .map_err(|e| Error::conversion(format!("record time {ms} ms: {e}")))?;
    let offset_ms = i64::from(tz.to_offset(at).seconds()) * 1000;
    let floored = if duration_ms > 0 {
        (ms + offset_ms).div_euclid(duration_ms) * duration_ms - offset_ms
    } else {
        ms
    };
    let dt = jiff::Timestamp::from_millisecond(floored)
        .map_err(|e| Error::conversion(format!("record time {ms} ms: {e}")))?
        .to_zoned(tz)
        .datetime();
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == '\'')
                .map_or(chars.len(), |p| i + 1 + p);
            out.extend(&chars[i + 1..end]);
            i = end + 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        let two = |v: i8| format!("{v:02}");
        match c {
            'Y' | 'y' => out.push_str(&format!("{:0w$}", dt.year(), w = run.max(4))),
            'M' => out.push_str(&two(dt.month())),
            'd' => out.push_str(&two(dt.day())),
            'H' => out.push_str(&two(dt.hour())),
            'm' => out.push_str(&two(dt.minute())),
            's' => out.push_str(&two(dt.second())),
            _ => {
                for _ in 0..run {
                    out.push(c);
                }
            }
        }
        i += run;
    }
    Ok(out)
}

fn push_part(
    out: &mut String,
    batch: &Batch,
    event: &Event,
    part: &PartitionPart,
    pos: StreamPos,
) -> Result<()> {
    use std::fmt::Write as _;
    let datum = match part {
        PartitionPart::Topic => {
            out.push_str(event.topic());
            return Ok(());
        }
        PartitionPart::KafkaPartition => {
            let _ = write!(out, "{}", pos.partition);
            return Ok(());
        }
        PartitionPart::ValueField(path) => value_field(batch, event, path)?,
        PartitionPart::Key(path) => key_field(batch, event, path)?,
        PartitionPart::Header(name) => match event {
            Event::Record(r) => {
                r.headers
                    .iter()
                    .find(|h| &*h.key == name)
                    .and_then(|h| match &h.value {
                        Some(Payload::Value { datum, .. }) => Some(datum.clone()),
                        _ => None,
                    })
            }
            Event::Change(_) => None,
        },
    };
    push_text(out, datum.as_ref()).map_err(|held| {
        let what = match part {
            PartitionPart::ValueField(p) => p.join("."),
            PartitionPart::Key(p) if p.is_empty() => "_key".into(),
            PartitionPart::Key(p) => format!("_key.{}", p.join(".")),
            PartitionPart::Header(h) => format!("_header.{h}"),
            _ => String::new(),
        };
        not_a_path_value(&what, held)
    })
}

fn not_a_path_value(what: &str, held: &str) -> Error {
    Error::conversion(format!(
        "the partition field \"{what}\" holds {held}: partition by a number, string or boolean \
         field"
    ))
}

/// A partition value as path text: numbers, strings, booleans and decimals; `null` for a
/// missing or null one.
fn push_text(out: &mut String, datum: Option<&Datum>) -> std::result::Result<(), &'static str> {
    use std::fmt::Write as _;
    let _ = match datum {
        None | Some(Datum::Null) => write!(out, "null"),
        Some(Datum::Int(v)) => write!(out, "{v}"),
        Some(Datum::Bool(b)) => write!(out, "{b}"),
        Some(Datum::F32(v)) => write!(out, "{v}"),
        Some(Datum::F64(v)) => write!(out, "{v}"),
        Some(Datum::Text(t)) | Some(Datum::Numeric(Numeric::Finite(t))) => {
            write!(out, "{}", String::from_utf8_lossy(t))
        }
        Some(Datum::Date(d)) => write!(out, "{d}"),
        other => return Err(describe(other)),
    };
    Ok(())
}

fn describe(d: Option<&Datum>) -> &'static str {
    match d {
        None | Some(Datum::Null) => "null",
        Some(Datum::Struct(_)) => "a struct",
        Some(Datum::Map(_)) => "a map",
        Some(Datum::Array(_)) => "an array",
        Some(Datum::Bytes(_)) => "bytes",
        Some(_) => "a value of another type",
    }
}

/// The value at `path` in a record's value (a change event: its row after the change, or
/// before it for a delete).
fn value_field(batch: &Batch, event: &Event, path: &[String]) -> Result<Option<Datum>> {
    match event {
        Event::Change(c) => {
            let row = c.after.as_ref().or(c.before.as_ref());
            Ok(row.and_then(|r| in_columns(batch, &c.table.columns, batch.row(r), path)))
        }
        Event::Record(r) => payload_field(batch, r.value.as_ref(), path),
    }
}

fn key_field(batch: &Batch, event: &Event, path: &[String]) -> Result<Option<Datum>> {
    match event {
        Event::Change(c) => {
            let Some(row) = c.after.as_ref().or(c.before.as_ref()) else {
                return Ok(None);
            };
            let values = batch.row(row);
            let key = &c.table.key;
            if path.is_empty() {
                // The whole key: its only column, or the columns joined.
                let mut joined = String::new();
                for (n, &i) in key.iter().enumerate() {
                    if n > 0 {
                        joined.push(',');
                    }
                    push_text(&mut joined, values.get(i))
                        .map_err(|held| not_a_path_value(&c.table.columns[i].name, held))?;
                }
                return Ok(Some(Datum::text(&joined)));
            }
            Ok(key
                .iter()
                .find(|&&i| *c.table.columns[i].name == *path[0])
                .and_then(|&i| values.get(i).cloned()))
        }
        Event::Record(r) => payload_field(batch, r.key.as_ref(), path),
    }
}

fn payload_field(
    batch: &Batch,
    payload: Option<&Payload>,
    path: &[String],
) -> Result<Option<Datum>> {
    match payload {
        None => Ok(None),
        Some(Payload::Encoded(_)) => Err(Error::internal(
            "a record reached the object storage sink without its values decoded",
        )),
        Some(Payload::Value { schema, datum }) => Ok(in_datum(batch, schema.as_ref(), datum, path)),
    }
}

fn in_datum(
    batch: &Batch,
    schema: Option<&Arc<Schema>>,
    datum: &Datum,
    path: &[String],
) -> Option<Datum> {
    let Some((first, rest)) = path.split_first() else {
        return Some(datum.clone());
    };
    match datum {
        Datum::Struct(range) => {
            let fields = schema?.fields()?;
            in_columns(batch, fields, batch.fields(range), path)
        }
        Datum::Map(range) => {
            let kv = batch.fields(range);
            let at = kv
                .chunks(2)
                .position(|p| matches!(&p[0], Datum::Text(t) if &t[..] == first.as_bytes()))?;
            let value = kv.get(at * 2 + 1)?;
            in_datum(batch, None, value, rest)
        }
        _ => None,
    }
}

fn in_columns(
    batch: &Batch,
    columns: &[Column],
    values: &[Datum],
    path: &[String],
) -> Option<Datum> {
    let (first, rest) = path.split_first()?;
    let i = columns.iter().position(|c| *c.name == **first)?;
    let value = values.get(i)?;
    if rest.is_empty() {
        return Some(value.clone());
    }
    match (&columns[i].encoding, value) {
        (Encoding::Struct(fields), Datum::Struct(range)) => {
            in_columns(batch, fields, batch.fields(range), rest)
        }
        (_, Datum::Map(_)) => in_datum(batch, None, value, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_paths_as_confluent_writes_them() {
        // 2026-12-04T22:31:25.123Z
        let ms = 1_796_423_485_123;
        assert_eq!(
            time_path(
                "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
                3_600_000,
                "UTC",
                ms
            )
            .unwrap(),
            "year=2026/month=12/day=04/hour=22"
        );
        // Floored in the zone: a day in Tokyo starts at 15:00 UTC.
        assert_eq!(
            time_path("YYYY-MM-dd", 86_400_000, "Asia/Tokyo", ms).unwrap(),
            "2026-12-05"
        );
    }
}
