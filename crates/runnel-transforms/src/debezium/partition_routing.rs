//! `io.debezium.transforms.partitions.PartitionRouting`: the Kafka partition is the hash of
//! `partition.payload.fields` (`after.x`, `source.table`, `change.x` — `after`, or `before` for
//! a delete) modulo `partition.topic.num`, with Java's `hashCode` (`partition.hash.function=java`,
//! the default) or Debezium's MurmurHash3 (`murmur`), so a table's rows land on the partitions
//! Debezium would put them on. Fields that are missing or null are left out; a record with
//! none keeps its partition.

use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Datum, Encoding, Error, Event, Result, Schema};

use super::envelope::{envelope_of, field};
use crate::util::{Opts, fields, record};

const KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "partition.payload.fields",
        ValueType::List,
        "Envelope fields hashed into the partition (after.x, source.table, change.x).",
    )
    .required(),
    ConfigKey::new(
        "partition.topic.num",
        ValueType::Int,
        "The topic's number of partitions.",
    )
    .required(),
    ConfigKey::new(
        "partition.hash.function",
        ValueType::Enum(&["java", "murmur"]),
        "java (hashCode) or murmur (MurmurHash3).",
    )
    .default("java"),
];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "io.debezium.transforms.partitions.PartitionRouting",
        aliases: &["PartitionRouting"],
        keys: KEYS,
        build: |c| {
            let o = Opts(c);
            let fields: Vec<Vec<String>> = o
                .list("partition.payload.fields")
                .iter()
                .map(|f| f.split('.').map(|s| s.trim().to_string()).collect())
                .collect();
            if fields.is_empty() || fields.iter().any(|f| f.iter().any(String::is_empty)) {
                return Err(Error::invalid(
                    "partition.payload.fields",
                    "\"partition.payload.fields\" needs field paths such as after.name, source.table or change.name, none empty",
                ));
            }
            let partitions = o.int("partition.topic.num", 0)?;
            if partitions <= 0 || partitions > i64::from(i32::MAX) {
                return Err(Error::invalid(
                    "partition.topic.num",
                    "\"partition.topic.num\" must be a positive number: the topic's partition count",
                ));
            }
            Ok(Box::new(PartitionRouting {
                fields,
                partitions: partitions as i32,
                murmur: o.choice("partition.hash.function", &["java", "murmur"], "java")?
                    == "murmur",
            }))
        },
    }
}

struct PartitionRouting {
    fields: Vec<Vec<String>>,
    partitions: i32,
    murmur: bool,
}

impl Transform for PartitionRouting {
    fn apply(&mut self, event: &mut Event, cx: &mut TransformContext<'_>) -> Result<bool> {
        let r = record(event, cx)?;
        let Some((envelope, range)) = envelope_of(r) else {
            return Ok(true);
        };
        let envelope = envelope.clone();
        let datums = &*cx.datums;
        let top = Datum::Struct(range);
        let op = field(&envelope, "op")
            .and_then(|(i, _)| fields(datums, &top).map(|f| f[i].clone()))
            .unwrap_or(Datum::Null);
        let op = match &op {
            Datum::Text(t) => &t[..],
            _ => b"",
        };
        if op == b"t" || op == b"m" {
            return Ok(true);
        }
        let mut total: i32 = 0;
        let mut any = false;
        for path in &self.fields {
            let mut schema: Schema = (*envelope).clone();
            let mut value = top.clone();
            let mut found = true;
            for (n, step) in path.iter().enumerate() {
                let name = match (n + 1 < path.len(), step.as_str()) {
                    (true, "change") if op == b"d" => "before",
                    (true, "change") => "after",
                    (_, s) => s,
                };
                let Some((i, c)) = field(&schema, name) else {
                    found = false;
                    break;
                };
                value = fields(datums, &value).map_or(Datum::Null, |f| f[i].clone());
                schema = c.schema();
                if value.is_null() {
                    found = false;
                    break;
                }
            }
            if !found {
                continue;
            }
            let h = hash(&schema.encoding, &value, self.murmur).ok_or_else(|| {
                Error::conversion(format!(
                    "PartitionRouting cannot hash field {} ({}): use string, integer, float or boolean fields",
                    path.join("."),
                    schema.encoding.logical_name().unwrap_or("a struct, array, map, bytes or decimal")
                ))
            })?;
            total = total.wrapping_add(h);
            any = true;
        }
        if any {
            let mut h = total & i32::MAX;
            if h == i32::MAX {
                h = 0;
            }
            r.partition = Some(h % self.partitions);
        }
        Ok(true)
    }
}

/// The Java object's `hashCode`, or Debezium's MurmurHash3 of it.
fn hash(enc: &Encoding, d: &Datum, murmur: bool) -> Option<i32> {
    let int = |v: i64| -> i32 {
        match enc {
            Encoding::Int64
            | Encoding::MicroTimestamp
            | Encoding::MilliTimestamp
            | Encoding::MicroTime
            | Encoding::MicroDuration => (v ^ ((v as u64) >> 32) as i64) as i32,
            _ => v as i32,
        }
    };
    let code = match d {
        Datum::Text(t) => {
            if murmur {
                return Some((murmur64(t, 9001) >> 32) as i32);
            }
            let s = std::str::from_utf8(t).ok()?;
            s.encode_utf16()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
        }
        Datum::Bool(b) => {
            if *b {
                1231
            } else {
                1237
            }
        }
        Datum::Int(v) => int(*v),
        Datum::Date(v) => *v as i32,
        Datum::Timestamp(us) => match enc {
            Encoding::MilliTimestamp => int(us.div_euclid(1000)),
            _ => int(*us),
        },
        Datum::F64(f) => {
            let bits = if f.is_nan() {
                0x7ff8_0000_0000_0000u64
            } else {
                f.to_bits()
            };
            (bits ^ (bits >> 32)) as i32
        }
        Datum::F32(f) => {
            if f.is_nan() {
                0x7fc0_0000
            } else {
                f.to_bits() as i32
            }
        }
        Datum::Bytes(b) if murmur => return Some((murmur64(b, 9001) >> 32) as i32),
        _ => return None,
    };
    Some(if murmur {
        (murmur64(&code.to_le_bytes(), 9001) >> 32) as i32
    } else {
        code
    })
}

struct State {
    h1: u64,
    h2: u64,
    k1: u64,
    k2: u64,
    c1: u64,
    c2: u64,
}

impl State {
    fn bmix(&mut self) {
        self.k1 = self
            .k1
            .wrapping_mul(self.c1)
            .rotate_left(23)
            .wrapping_mul(self.c2);
        self.h1 ^= self.k1;
        self.h1 = self.h1.wrapping_add(self.h2);
        self.h2 = self.h2.rotate_left(41);
        self.k2 = self
            .k2
            .wrapping_mul(self.c2)
            .rotate_left(23)
            .wrapping_mul(self.c1);
        self.h2 ^= self.k2;
        self.h2 = self.h2.wrapping_add(self.h1);
        self.h1 = self.h1.wrapping_mul(3).wrapping_add(0x52dc_e729);
        self.h2 = self.h2.wrapping_mul(3).wrapping_add(0x3849_5ab5);
        self.c1 = self.c1.wrapping_mul(5).wrapping_add(0x7b7d_159c);
        self.c2 = self.c2.wrapping_mul(5).wrapping_add(0x6bce_6396);
    }
}

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Debezium's `MurmurHash3_x64_64` (a variant of MurmurHash3: its own mixing constants),
/// including Java's sign extension of the tail bytes.
fn murmur64(key: &[u8], seed: u64) -> i64 {
    let mut s = State {
        h1: 0x9368_e53c_2f6a_f274 ^ seed,
        h2: 0x586d_cd20_8f7c_d3fd ^ seed,
        k1: 0,
        k2: 0,
        c1: 0x87c3_7b91_1142_53d5,
        c2: 0x4cf5_ad43_2745_937f,
    };
    let block = |i: usize| u64::from_le_bytes(key[i..i + 8].try_into().expect("8 bytes"));
    for i in 0..key.len() / 16 {
        s.k1 = block(i * 16);
        s.k2 = block(i * 16 + 8);
        s.bmix();
    }
    s.k1 = 0;
    s.k2 = 0;
    let tail = &key[key.len() / 16 * 16..];
    let signed = |b: u8| b as i8 as i64 as u64;
    for (i, &b) in tail.iter().enumerate().rev() {
        if i >= 8 {
            s.k2 ^= signed(b) << ((i - 8) * 8);
        } else {
            s.k1 ^= signed(b) << (i * 8);
        }
    }
    if !tail.is_empty() {
        s.bmix();
    }
    s.h2 ^= key.len() as u64;
    s.h1 = s.h1.wrapping_add(s.h2);
    s.h2 = s.h2.wrapping_add(s.h1);
    s.h1 = fmix(s.h1);
    s.h2 = fmix(s.h2);
    s.h1 = s.h1.wrapping_add(s.h2);
    s.h1 as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_codes() {
        assert_eq!(
            hash(&Encoding::String, &Datum::text("hello"), false),
            Some(99_162_322)
        );
        assert_eq!(hash(&Encoding::Int64, &Datum::Int(1 << 32), false), Some(1));
        assert_eq!(hash(&Encoding::Int32, &Datum::Int(-7), false), Some(-7));
        assert_eq!(
            hash(&Encoding::Boolean, &Datum::Bool(true), false),
            Some(1231)
        );
    }
}
