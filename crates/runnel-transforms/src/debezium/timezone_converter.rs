//! `io.debezium.transforms.TimezoneConverter`: the timestamps of a change event's `before` and
//! `after` rows (`ZonedTimestamp`, `ZonedTime`, `MicroTimestamp`, `NanoTimestamp`,
//! `Timestamp`, Connect's `Timestamp`) shown in `converted.timezone` (a zone name such as
//! `Europe/Lisbon`, or `+hh:mm`), as Debezium converts them: zoned values keep their instant
//! and get the zone's offset; local timestamps are read as UTC wall time and become the instant
//! of that wall time in the zone; the `source` block's `ts_ms`/`ts_us`/`ts_ns`, when listed,
//! move by the zone's offset. `include.list` / `exclude.list` (`source:<table>[:<field>]`,
//! `topic:<topic>[:<field>]`, `<name>:<field>`) pick the records and fields. Date and time-of-day
//! types are left alone. The schema does not change.

use std::collections::{HashMap, HashSet};

use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Column, Datum, Error, Event, Result};

use super::envelope::{envelope_of, field};
use crate::util::{Opts, record};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "converted.timezone",
        ValueType::String,
        "The zone to show timestamps in: a name (America/Los_Angeles) or an offset (+08:00).",
    )
    .required(),
    ConfigKey::new(
        "include.list",
        ValueType::List,
        "source:<table>[:<field>], topic:<topic>[:<field>] or <name>:<field> rules to convert.",
    ),
    ConfigKey::new(
        "exclude.list",
        ValueType::List,
        "Rules (as include.list) to leave alone.",
    ),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "io.debezium.transforms.TimezoneConverter",
        aliases: &["TimezoneConverter"],
        keys: KEYS,
        build: |c| Ok(Box::new(TimezoneConverter::new(&Opts(c))?)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Include,
    Exclude,
}

struct TimezoneConverter {
    zone: TimeZone,
    include: bool,
    exclude: bool,
    topics: HashMap<String, HashSet<String>>,
    tables: HashMap<String, HashSet<String>>,
    either: HashMap<String, HashSet<String>>,
}

impl TimezoneConverter {
    fn new(o: &Opts<'_>) -> Result<Self> {
        let name = o.required("converted.timezone")?;
        let zone = parse_zone(&name).ok_or_else(|| {
            Error::invalid(
                "converted.timezone",
                format!(
                    "invalid time zone \"{name}\" in \"converted.timezone\": give a zone name such as America/Los_Angeles or an offset such as +08:00"
                ),
            )
        })?;
        let include = o.list("include.list");
        let exclude = o.list("exclude.list");
        if !include.is_empty() && !exclude.is_empty() {
            return Err(Error::invalid(
                "exclude.list",
                "both \"include.list\" and \"exclude.list\" are set: set only one",
            ));
        }
        let mut t = Self {
            zone,
            include: !include.is_empty(),
            exclude: !exclude.is_empty(),
            topics: HashMap::new(),
            tables: HashMap::new(),
            either: HashMap::new(),
        };
        let key = if t.include {
            "include.list"
        } else {
            "exclude.list"
        };
        let mut prefix: Option<String> = None;
        for item in include.iter().chain(&exclude) {
            let parts: Vec<&str> = item.split(':').collect();
            let (p, name, f) = match parts[..] {
                [name] => (None, name, None),
                [p, name]
                    if p.eq_ignore_ascii_case("source") || p.eq_ignore_ascii_case("topic") =>
                {
                    (Some(p), name, None)
                }
                [name, f] => (None, name, Some(f)),
                [p, name, f]
                    if p.eq_ignore_ascii_case("source") || p.eq_ignore_ascii_case("topic") =>
                {
                    (Some(p), name, Some(f))
                }
                _ => {
                    return Err(Error::invalid(
                        key,
                        format!(
                            "invalid rule \"{item}\" in \"{key}\": use source:<table>[:<field>], topic:<topic>[:<field>] or <name>:<field>"
                        ),
                    ));
                }
            };
            // As Debezium: a rule without prefix takes the previous rule's.
            if let Some(p) = p {
                prefix = Some(p.to_ascii_lowercase());
            }
            let map = match prefix.as_deref() {
                Some("topic") => &mut t.topics,
                Some("source") => &mut t.tables,
                _ => &mut t.either,
            };
            let set = map.entry(name.to_string()).or_default();
            if let Some(f) = f {
                set.insert(f.to_string());
            }
        }
        Ok(t)
    }

    /// The rule's name and fields matching this record (Debezium's order: topic, table, then
    /// the unprefixed rules by topic and by table).
    fn matching(&self, table: Option<&str>, topic: &str) -> Option<&HashSet<String>> {
        self.topics
            .get(topic)
            .or_else(|| table.and_then(|t| self.tables.get(t)))
            .or_else(|| self.either.get(topic))
            .or_else(|| table.and_then(|t| self.either.get(t)))
    }

    fn offset_at_instant(&self, micros: i64) -> i64 {
        jiff::Timestamp::from_microsecond(micros)
            .map_or(0, |ts| i64::from(self.zone.to_offset(ts).seconds()))
    }

    /// The zone's offset at a wall time given as UTC microseconds (the offset before a
    /// transition in a gap or a fold, as Java's `ZoneRules.getOffset(LocalDateTime)`).
    fn offset_at_local(&self, micros: i64) -> i64 {
        let Ok(ts) = jiff::Timestamp::from_microsecond(micros) else {
            return 0;
        };
        let civil = ts.to_zoned(TimeZone::UTC).datetime();
        let offset = match self.zone.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        i64::from(offset.seconds())
    }

    /// `d`, a value of `c`, in the zone (`None`: not a timestamp this converts).
    fn convert(&self, c: &Column, d: &Datum) -> Option<Datum> {
        let name = c
            .meta
            .as_ref()
            .and_then(|m| m.name.as_deref())
            .or(c.encoding.logical_name())?;
        const SECOND: i64 = 1_000_000;
        Some(match (name, d) {
            (_, Datum::Null) => return None,
            ("io.debezium.time.ZonedTimestamp", Datum::TimestampTz(us)) => {
                Datum::text(&self.zoned_timestamp(*us)?)
            }
            ("io.debezium.time.ZonedTimestamp", Datum::Text(t)) => {
                let ts: jiff::Timestamp = std::str::from_utf8(t).ok()?.parse().ok()?;
                Datum::text(&self.zoned_timestamp(ts.as_microsecond())?)
            }
            ("io.debezium.time.ZonedTime", _) => {
                let utc_micros = match d {
                    Datum::TimeTz {
                        micros,
                        offset_secs,
                    } => (micros - i64::from(*offset_secs) * SECOND).rem_euclid(86_400 * SECOND),
                    Datum::Text(t) => parse_offset_time(std::str::from_utf8(t).ok()?)?,
                    _ => return None,
                };
                let now = jiff::Timestamp::now().as_microsecond();
                let offset = self.offset_at_instant(now);
                let local = (utc_micros + offset * SECOND).rem_euclid(86_400 * SECOND);
                let mut out = Vec::new();
                runnel_core::temporal::write_time_of_day(&mut out, local, 0);
                write_offset(&mut out, offset);
                Datum::Text(out.into())
            }
            ("io.debezium.time.MicroTimestamp", Datum::Timestamp(us)) => {
                Datum::Timestamp(us - self.offset_at_local(*us) * SECOND)
            }
            ("io.debezium.time.MicroTimestamp", Datum::Int(us)) => {
                Datum::Int(us - self.offset_at_local(*us) * SECOND)
            }
            ("io.debezium.time.NanoTimestamp", Datum::Int(ns)) => {
                Datum::Int(ns - self.offset_at_local(ns.div_euclid(1000)) * 1_000_000_000)
            }
            (
                "io.debezium.time.Timestamp" | "org.apache.kafka.connect.data.Timestamp",
                Datum::Timestamp(us),
            ) => Datum::Timestamp(us - self.offset_at_local(*us) * SECOND),
            ("io.debezium.time.Timestamp", Datum::Int(ms)) => {
                Datum::Int(ms - self.offset_at_local(ms * 1000) * 1000)
            }
            _ => return None,
        })
    }

    /// An instant as Java's `ISO_OFFSET_DATE_TIME` writes it in the zone's offset then.
    fn zoned_timestamp(&self, utc_micros: i64) -> Option<String> {
        // Debezium takes the offset of the wall time in UTC, not of the instant.
        let offset = self.offset_at_local(utc_micros);
        let local = utc_micros + offset * 1_000_000;
        let days = local.div_euclid(86_400_000_000);
        let mut out = Vec::new();
        runnel_core::temporal::write_iso_date(&mut out, days);
        out.push(b'T');
        runnel_core::temporal::write_time_of_day(&mut out, local.rem_euclid(86_400_000_000), 0);
        write_offset(&mut out, offset);
        String::from_utf8(out).ok()
    }

    /// An epoch value of the `source` block moved by the zone's offset at that instant.
    fn convert_epoch(&self, name: &str, d: &Datum) -> Option<Datum> {
        let Datum::Int(v) = d else { return None };
        let (per_second, micros) = match name {
            "ts_ms" => (1_000, v * 1000),
            "ts_us" => (1_000_000, *v),
            "ts_ns" => (1_000_000_000, v.div_euclid(1000)),
            _ => return None,
        };
        Some(Datum::Int(v + self.offset_at_instant(micros) * per_second))
    }
}

/// `Z`, or `+hh:mm` (`:ss` when there are seconds), as Java writes an offset.
fn write_offset(out: &mut Vec<u8>, seconds: i64) {
    if seconds == 0 {
        out.push(b'Z');
        return;
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    let mut text = format!("{sign}{:02}:{:02}", s / 3600, s / 60 % 60);
    if s % 60 != 0 {
        text.push_str(&format!(":{:02}", s % 60));
    }
    out.extend_from_slice(text.as_bytes());
}

/// `HH:MM:SS[.f](Z|±hh:mm)` as microseconds past midnight UTC.
fn parse_offset_time(text: &str) -> Option<i64> {
    let split = text.find(['Z', '+', '-'])?;
    let (time, offset) = text.split_at(split);
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec = parts.next().unwrap_or("0");
    let (s, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let s: i64 = s.parse().ok()?;
    let frac: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    let off = if offset == "Z" {
        0
    } else {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let mut p = offset[1..].split(':');
        let oh: i64 = p.next()?.parse().ok()?;
        let om: i64 = p.next().unwrap_or("0").parse().ok()?;
        sign * (oh * 3600 + om * 60)
    };
    Some(((h * 3600 + m * 60 + s - off) * 1_000_000 + frac).rem_euclid(86_400_000_000))
}

fn parse_zone(name: &str) -> Option<TimeZone> {
    let b = name.as_bytes();
    if b.len() >= 6 && (b[0] == b'+' || b[0] == b'-') && b[3] == b':' {
        let sign: i32 = if b[0] == b'-' { -1 } else { 1 };
        let h: i32 = name.get(1..3)?.parse().ok()?;
        let m: i32 = name.get(4..6)?.parse().ok()?;
        let s: i32 = match name.get(6..) {
            Some(rest) if !rest.is_empty() => rest.strip_prefix(':')?.parse().ok()?,
            _ => 0,
        };
        let offset = Offset::from_seconds(sign * (h * 3600 + m * 60 + s)).ok()?;
        return Some(TimeZone::fixed(offset));
    }
    TimeZone::get(name).ok()
}

impl Transform for TimezoneConverter {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        let Some((schema, range)) = envelope_of(r) else {
            return Ok(true);
        };
        let schema = schema.clone();
        let top =
            |name: &str| field(&schema, name).map(|(i, c)| (range.start as usize + i, c.clone()));
        let table = top("source").and_then(|(at, c)| {
            let Datum::Struct(src) = &cx.datums[at] else {
                return None;
            };
            let (i, _) = field(&c.schema(), "table")?;
            match &cx.datums[src.start as usize + i] {
                Datum::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                _ => None,
            }
        });
        let (mode, fields): (Mode, HashSet<String>) =
            match self.matching(table.as_deref(), &r.topic) {
                None if self.include => return Ok(true),
                None => (Mode::All, HashSet::new()),
                Some(fields) if self.include => (
                    if fields.is_empty() {
                        Mode::All
                    } else {
                        Mode::Include
                    },
                    fields.clone(),
                ),
                Some(fields) if self.exclude => {
                    if fields.is_empty() {
                        return Ok(true);
                    }
                    (Mode::Exclude, fields.clone())
                }
                // No lists: a record some rule names is left alone (there are none).
                Some(_) => return Ok(true),
            };
        let mut source_fields = HashSet::new();
        let mut before_fields = HashSet::new();
        let mut after_fields = HashSet::new();
        for f in &fields {
            if let Some(s) = f.strip_prefix("source.") {
                source_fields.insert(s.to_string());
            } else if let Some(s) = f.strip_prefix("before.") {
                before_fields.insert(s.to_string());
            } else if let Some(s) = f.strip_prefix("after.") {
                after_fields.insert(s.to_string());
            } else {
                before_fields.insert(f.clone());
                after_fields.insert(f.clone());
            }
        }
        for (part, listed) in [
            ("before", &before_fields),
            ("after", &after_fields),
            ("source", &source_fields),
        ] {
            if part == "source" && listed.is_empty() {
                continue;
            }
            let Some((at, c)) = top(part) else { continue };
            let Datum::Struct(row) = cx.datums[at].clone() else {
                continue;
            };
            let row_schema = c.schema();
            for (i, col) in row_schema.fields().unwrap_or_default().iter().enumerate() {
                let selected = match mode {
                    Mode::All => true,
                    Mode::Include => listed.contains(&*col.name),
                    Mode::Exclude => !listed.contains(&*col.name),
                };
                if !selected {
                    continue;
                }
                let slot = row.start as usize + i;
                let new = if part == "source" {
                    self.convert_epoch(&col.name, &cx.datums[slot])
                } else {
                    self.convert(col, &cx.datums[slot])
                };
                // The value is this record's: rewritten in place, as Debezium's Struct is.
                if let Some(new) = new {
                    cx.datums[slot] = new;
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_offsets_and_formats() {
        let t = |name: &str| TimezoneConverter {
            zone: parse_zone(name).unwrap(),
            include: false,
            exclude: false,
            topics: HashMap::new(),
            tables: HashMap::new(),
            either: HashMap::new(),
        };
        let lisbon = t("Europe/Lisbon");
        // 2024-07-01T12:00:00Z: summer time, +01:00.
        let us = 1_719_835_200_000_000;
        assert_eq!(
            lisbon.zoned_timestamp(us).unwrap(),
            "2024-07-01T13:00:00+01:00"
        );
        assert_eq!(
            t("+08:00").zoned_timestamp(us + 123_000).unwrap(),
            "2024-07-01T20:00:00.123+08:00"
        );
        assert_eq!(
            t("UTC").zoned_timestamp(us).unwrap(),
            "2024-07-01T12:00:00Z"
        );
        // A wall time of 12:00 (held as UTC) is 11:00Z in Lisbon's summer.
        assert_eq!(lisbon.offset_at_local(us), 3600);
        assert!(parse_zone("Mars/Olympus").is_none());
        assert_eq!(
            parse_offset_time("10:15:30.5+02:00"),
            Some((8 * 3600 + 15 * 60 + 30) * 1_000_000 + 500_000)
        );
    }
}
