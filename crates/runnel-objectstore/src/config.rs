//! The sink's configuration under the names users already have: Confluent's S3 sink connector
//! (`s3.bucket.name`, `flush.size`, `partitioner.class`, …) and Lenses' (`connect.s3.kcql` and
//! `connect.s3.aws.*`). Both become the same [`ObjectSinkConfig`]: where objects go (a store and
//! a prefix), how records are partitioned into paths, the format, and when objects close.

use runnel_core::config::{ConfigGroup, ConfigIssue, ConfigKey, ValueType as T, parse_bool};
use runnel_core::plugin::SinkConfig;

use crate::kcql;

pub const CONFLUENT_CLASS: &str = "io.confluent.connect.s3.S3SinkConnector";
pub const LENSES_CLASS: &str = "io.lenses.streamreactor.connect.aws.s3.sink.S3SinkConnector";

/// Where objects are stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Store {
    S3 {
        region: String,
        /// `store.url` / `connect.s3.custom.endpoint`: an S3-compatible server.
        endpoint: Option<String>,
        /// `None`: the default credential chain (environment, profile, instance metadata).
        credentials: Option<(String, String)>,
        virtual_hosted: bool,
    },
    /// A local directory (`sink.type=files`).
    Local { root: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON lines: each record's value as the converter writes it.
    Json,
    /// Each value's bytes followed by a newline (Confluent's ByteArrayFormat).
    Bytes,
    /// Parquet files of the typed values (one value schema per object).
    Parquet,
    /// Avro object container files of the typed values (one value schema per object).
    Avro,
    /// Lenses' CSV: each row's fields on a line (`headers`: a first line of field names).
    Csv { headers: bool },
    /// Lenses' text: each value, a string, on a line.
    Text,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Bytes => "bin",
            Format::Parquet => "parquet",
            Format::Avro => "avro",
            Format::Csv { .. } => "csv",
            Format::Text => "text",
        }
    }

    /// Whether objects hold typed values of one schema (a schema change opens another).
    pub fn typed(self) -> bool {
        matches!(self, Format::Parquet | Format::Avro | Format::Csv { .. })
    }
}

/// Where a time-based partitioner takes a record's time from.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeSource {
    Record,
    /// The field's path (`a.b`: field `b` of struct `a`).
    RecordField(Vec<String>),
    Wallclock,
}

/// What a path segment of the partition is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum PartitionPart {
    /// A field of the value (`customer_id`, `_value.a.b`): `name=value`.
    ValueField(Vec<String>),
    /// The key (`_key`: the whole key; `_key.f`: a field of it).
    Key(Vec<String>),
    Header(String),
    Topic,
    KafkaPartition,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Partitioner {
    /// Confluent's DefaultPartitioner: `partition=<n>`.
    KafkaPartition,
    /// Fields or other parts, each as `name=value` (Confluent's FieldPartitioner, Lenses'
    /// PARTITIONBY; `values_only`: Lenses' `WITH_PARTITIONER=Values`, segments without names).
    Parts {
        parts: Vec<(String, PartitionPart)>,
        values_only: bool,
    },
    /// Confluent's TimeBasedPartitioner (and its Daily and Hourly forms): `path.format` of the
    /// record's time floored to `partition.duration.ms`, in `timezone`.
    Time {
        path_format: String,
        duration_ms: i64,
        timezone: String,
        source: TimeSource,
    },
    /// Lenses without PARTITIONBY: `<topic>/<partition>/`.
    Hierarchical,
}

/// How object names are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `<topics.dir>/<topic>/<partition path>/<topic>+<kafka partition>+<start offset>.<ext>`.
    Confluent { zero_pad: usize },
    /// `<prefix>/<topic>/<partition>/<start offset>.<ext>`, or with PARTITIONBY
    /// `<prefix>/<k=v>/…/<topic>(<partition>_<start offset>).<ext>`.
    Lenses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullValues {
    Fail,
    Ignore,
    Write,
}

/// Where the records of one topic (or of every topic) go.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// `*`: every topic.
    pub topic: String,
    pub bucket: String,
    pub prefix: String,
    pub format: Format,
    pub partitioner: Partitioner,
    pub flush_count: u64,
    pub flush_bytes: u64,
    /// Wall-clock interval after which open objects close (`None`: never).
    pub flush_interval_ms: Option<u64>,
    /// Record-time interval (Confluent's `rotate.interval.ms`): an object closes when a record
    /// is this much later than its first.
    pub rotate_record_ms: Option<i64>,
    /// KCQL's `SELECT a, b AS c, _key.id, _header.h`: the fields written, each under its name
    /// (`None`: `SELECT *`, the whole value).
    pub select: Option<Vec<(String, PartitionPart)>>,
}

#[derive(Debug, Clone)]
pub struct ObjectSinkConfig {
    pub store: Store,
    pub targets: Vec<Target>,
    pub naming: Naming,
    pub gzip: bool,
    pub null_values: NullValues,
    /// `parquet.codec` (Parquet objects compress their pages themselves).
    pub parquet_snappy: bool,
    /// `s3.part.size`: objects larger than this are uploaded in parts of this size.
    pub part_size: usize,
    /// `avro.codec`: how Avro blocks are compressed.
    pub avro_codec: crate::avro_format::Codec,
    /// Bytes buffered across all open objects before they are all closed early.
    pub max_buffer_bytes: u64,
}

const STORE_KEYS: &[ConfigKey] = &[
    ConfigKey::new("s3.bucket.name", T::String, "The bucket (Confluent)."),
    ConfigKey::new("s3.region", T::String, "The bucket's region.").default("us-west-2"),
    ConfigKey::new(
        "store.url",
        T::String,
        "An S3-compatible endpoint (http://host:port).",
    ),
    ConfigKey::new(
        "aws.access.key.id",
        T::String,
        "Access key; empty: the default chain.",
    ),
    ConfigKey::new("aws.secret.access.key", T::Password, "Secret key."),
    ConfigKey::new(
        "s3.path.style.access.enabled",
        T::Boolean,
        "Path-style URLs (bucket in the path).",
    )
    .default("true"),
    ConfigKey::new(
        "s3.part.size",
        T::Int,
        "Objects larger than this many bytes are uploaded in parts of this size (at least 5 MiB).",
    )
    .default("26214400"),
    ConfigKey::new(
        "storage.class",
        T::String,
        "Confluent's storage class; only S3Storage exists.",
    )
    .default("io.confluent.connect.s3.storage.S3Storage"),
    ConfigKey::new(
        "connect.s3.kcql",
        T::String,
        "Lenses: INSERT INTO bucket:prefix SELECT * FROM topic [PARTITIONBY …] [STOREAS …] …",
    ),
    ConfigKey::new(
        "connect.s3.aws.auth.mode",
        T::Enum(&["Credentials", "Default"]),
        "Lenses: Credentials (the keys below) or Default (the AWS credential chain).",
    )
    .default("Default"),
    ConfigKey::new(
        "connect.s3.aws.access.key",
        T::String,
        "Lenses: access key.",
    ),
    ConfigKey::new(
        "connect.s3.aws.secret.key",
        T::Password,
        "Lenses: secret key.",
    ),
    ConfigKey::new("connect.s3.aws.region", T::String, "Lenses: region.").default("us-east-1"),
    ConfigKey::new(
        "connect.s3.custom.endpoint",
        T::String,
        "Lenses: an S3-compatible endpoint.",
    ),
    ConfigKey::new(
        "connect.s3.vhost.bucket",
        T::Boolean,
        "Lenses: virtual-hosted-style URLs (bucket in the host name).",
    )
    .default("false"),
    ConfigKey::new(
        "path",
        T::String,
        "sink.type=files: the local directory objects are written under.",
    ),
];

const LAYOUT_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "topics.dir",
        T::String,
        "Top-level directory of the objects.",
    )
    .default("topics"),
    ConfigKey::new(
        "format.class",
        T::String,
        "io.confluent.connect.s3.format.json.JsonFormat, …avro.AvroFormat, …parquet.ParquetFormat or …bytearray.ByteArrayFormat.",
    )
    .default("io.confluent.connect.s3.format.json.JsonFormat"),
    ConfigKey::new(
        "partitioner.class",
        T::String,
        "Default, Field, TimeBased, Daily or Hourly partitioner.",
    )
    .default("io.confluent.connect.storage.partitioner.DefaultPartitioner"),
    ConfigKey::new(
        "partition.field.name",
        T::List,
        "FieldPartitioner: the value fields that make the path.",
    ),
    ConfigKey::new(
        "path.format",
        T::String,
        "TimeBasedPartitioner: Joda-style path, e.g. 'year'=YYYY/'month'=MM/'day'=dd.",
    ),
    ConfigKey::new(
        "partition.duration.ms",
        T::Long,
        "TimeBasedPartitioner: the length of one time partition.",
    ),
    ConfigKey::new(
        "locale",
        T::String,
        "TimeBasedPartitioner locale (paths are numeric).",
    ),
    ConfigKey::new(
        "timezone",
        T::String,
        "TimeBasedPartitioner time zone, e.g. UTC.",
    ),
    ConfigKey::new(
        "timestamp.extractor",
        T::Enum(&["Record", "RecordField", "Wallclock"]),
        "Where a record's time comes from.",
    )
    .default("Wallclock"),
    ConfigKey::new(
        "timestamp.field",
        T::String,
        "RecordField: the value field holding the time.",
    )
    .default("timestamp"),
    ConfigKey::new(
        "filename.offset.zero.pad.width",
        T::Int,
        "Width offsets are zero-padded to in object names.",
    )
    .default("10"),
    ConfigKey::new(
        "s3.compression.type",
        T::Enum(&["none", "gzip"]),
        "Compression of JSON and bytes objects.",
    )
    .default("none"),
    ConfigKey::new(
        "parquet.codec",
        T::Enum(&["none", "snappy"]),
        "Compression of Parquet objects.",
    )
    .default("snappy"),
    ConfigKey::new(
        "avro.codec",
        T::Enum(&["null", "deflate"]),
        "Compression of Avro blocks.",
    )
    .default("null"),
    ConfigKey::new(
        "behavior.on.null.values",
        T::Enum(&["fail", "ignore", "write"]),
        "A record with a null value (a tombstone).",
    )
    .default("fail"),
    ConfigKey::new(
        "schema.compatibility",
        T::Enum(&["NONE", "BACKWARD", "FORWARD", "FULL"]),
        "Accepted; JSON objects carry each record's own schema.",
    )
    .default("NONE"),
];

const FLUSH_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "flush.size",
        T::Int,
        "Records per object (Confluent: required; runnel's direct sink: 10000).",
    ),
    ConfigKey::new(
        "rotate.interval.ms",
        T::Long,
        "An object closes when a record's time is this much past its first record's.",
    )
    .default("-1"),
    ConfigKey::new(
        "rotate.schedule.interval.ms",
        T::Long,
        "Open objects close after this much wall-clock time.",
    )
    .default("-1"),
    ConfigKey::new(
        "runnel.buffer.max.bytes",
        T::Long,
        "runnel: bytes buffered across all open objects before they close early.",
    )
    .default("67108864"),
];

pub const GROUPS: &[ConfigGroup] = &[
    ConfigGroup {
        name: "Storage",
        keys: STORE_KEYS,
    },
    ConfigGroup {
        name: "Layout",
        keys: LAYOUT_KEYS,
    },
    ConfigGroup {
        name: "Flush",
        keys: FLUSH_KEYS,
    },
];

struct Keys<'a> {
    sink: &'a SinkConfig,
    issues: Vec<ConfigIssue>,
}

impl Keys<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.sink.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    fn issue(&mut self, key: &str, message: impl Into<String>) {
        self.issues
            .push(ConfigIssue::new(self.sink.user_key(key), message.into()));
    }

    fn int(&mut self, key: &str) -> Option<i64> {
        let v = self.get(key)?;
        match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let message = format!(
                    "\"{}\" must be a number, not \"{v}\"",
                    self.sink.user_key(key)
                );
                self.issue(key, message);
                None
            }
        }
    }
}

/// A class named in full or by its simple name.
fn class_is(value: &str, simple: &str) -> bool {
    value.trim().rsplit('.').next() == Some(simple)
}

impl ObjectSinkConfig {
    pub fn parse(sink: &SinkConfig, local: bool) -> Result<Self, Vec<ConfigIssue>> {
        let mut k = Keys {
            sink,
            issues: Vec::new(),
        };
        let class = sink.connector.get("connector.class").unwrap_or_default();
        let lenses = class_is(class, "S3SinkConnector") && class.contains("lenses")
            || k.get("connect.s3.kcql").is_some();
        let store = if local {
            match k.get("path") {
                Some(root) => Store::Local { root: root.into() },
                None => {
                    k.issue("path", "sink.type=files needs \"sink.files.path\": the directory to write objects under");
                    Store::Local {
                        root: String::new(),
                    }
                }
            }
        } else if lenses {
            let mode = k.get("connect.s3.aws.auth.mode").unwrap_or("Default");
            let credentials = if mode.eq_ignore_ascii_case("Credentials") {
                match (
                    k.get("connect.s3.aws.access.key"),
                    k.get("connect.s3.aws.secret.key"),
                ) {
                    (Some(a), Some(s)) => Some((a.to_string(), s.to_string())),
                    _ => {
                        k.issue(
                            "connect.s3.aws.access.key",
                            "connect.s3.aws.auth.mode=Credentials needs connect.s3.aws.access.key and connect.s3.aws.secret.key",
                        );
                        None
                    }
                }
            } else {
                None
            };
            Store::S3 {
                region: k.get("connect.s3.aws.region").unwrap_or("us-east-1").into(),
                endpoint: k.get("connect.s3.custom.endpoint").map(Into::into),
                credentials,
                virtual_hosted: k
                    .get("connect.s3.vhost.bucket")
                    .and_then(parse_bool)
                    .unwrap_or(false),
            }
        } else {
            let credentials = match (k.get("aws.access.key.id"), k.get("aws.secret.access.key")) {
                (Some(a), Some(s)) => Some((a.to_string(), s.to_string())),
                (None, None) => None,
                _ => {
                    k.issue(
                        "aws.access.key.id",
                        "give both aws.access.key.id and aws.secret.access.key, or neither (the default credential chain)",
                    );
                    None
                }
            };
            Store::S3 {
                region: k.get("s3.region").unwrap_or("us-west-2").into(),
                endpoint: k.get("store.url").map(Into::into),
                credentials,
                virtual_hosted: !k
                    .get("s3.path.style.access.enabled")
                    .and_then(parse_bool)
                    .unwrap_or(true),
            }
        };
        let null_values = match k.get("behavior.on.null.values") {
            Some(v) if v.eq_ignore_ascii_case("ignore") => NullValues::Ignore,
            Some(v) if v.eq_ignore_ascii_case("write") => NullValues::Write,
            Some(v) if v.eq_ignore_ascii_case("fail") => NullValues::Fail,
            // The direct sink of a source and Lenses' skip tombstones; Confluent fails on them.
            None if lenses
                || !sink
                    .connector
                    .get("connector.class")
                    .is_some_and(|c| class_is(c, "S3SinkConnector")) =>
            {
                NullValues::Ignore
            }
            _ => NullValues::Fail,
        };
        let gzip = k
            .get("s3.compression.type")
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let parquet_snappy = !k
            .get("parquet.codec")
            .is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let avro_codec =
            match crate::avro_format::Codec::parse(k.get("avro.codec").unwrap_or("null")) {
                Ok(c) => c,
                Err(e) => {
                    k.issue("avro.codec", e);
                    crate::avro_format::Codec::Null
                }
            };
        let part_size = match k.int("s3.part.size") {
            Some(n) if n < 5 << 20 => {
                k.issue(
                    "s3.part.size",
                    format!("s3.part.size {n} is below S3's smallest part, 5242880 (5 MiB)"),
                );
                5 << 20
            }
            Some(n) => n as usize,
            None => 25 << 20,
        };
        let max_buffer_bytes = k
            .int("runnel.buffer.max.bytes")
            .unwrap_or(64 << 20)
            .max(1 << 20) as u64;
        let targets = if lenses {
            lenses_targets(&mut k)
        } else {
            confluent_targets(&mut k, local)
        };
        let naming = if lenses {
            Naming::Lenses
        } else {
            Naming::Confluent {
                zero_pad: k
                    .int("filename.offset.zero.pad.width")
                    .unwrap_or(10)
                    .clamp(0, 32) as usize,
            }
        };
        if !k.issues.is_empty() {
            return Err(k.issues);
        }
        Ok(Self {
            store,
            targets,
            naming,
            gzip,
            null_values,
            parquet_snappy,
            avro_codec,
            part_size,
            max_buffer_bytes,
        })
    }

    /// The target of a topic's records, if any.
    pub fn target(&self, topic: &str) -> Option<usize> {
        self.targets
            .iter()
            .position(|t| t.topic == topic)
            .or_else(|| self.targets.iter().position(|t| t.topic == "*"))
    }
}

fn format_of(value: &str) -> Option<Format> {
    let v = value.trim().trim_matches('`').to_ascii_lowercase();
    match v.as_str() {
        "json" => Some(Format::Json),
        "bytes" | "binary" => Some(Format::Bytes),
        "parquet" if cfg!(feature = "parquet") => Some(Format::Parquet),
        "avro" => Some(Format::Avro),
        "csv" => Some(Format::Csv { headers: false }),
        "csv_withheaders" => Some(Format::Csv { headers: true }),
        "text" => Some(Format::Text),
        _ if v.ends_with("jsonformat") => Some(Format::Json),
        _ if v.ends_with("bytearrayformat") => Some(Format::Bytes),
        _ if v.ends_with("parquetformat") && cfg!(feature = "parquet") => Some(Format::Parquet),
        _ if v.ends_with("avroformat") => Some(Format::Avro),
        _ => None,
    }
}

const FORMATS_LATER: &str = "that format is not written (runnel writes JSON, Avro, Parquet, bytes, and with KCQL CSV and text)";

fn confluent_targets(k: &mut Keys, local: bool) -> Vec<Target> {
    let bucket = if local {
        String::new()
    } else {
        match k.get("s3.bucket.name") {
            Some(b) => b.to_string(),
            None => {
                k.issue(
                    "s3.bucket.name",
                    "\"s3.bucket.name\" is required: the bucket to write to",
                );
                String::new()
            }
        }
    };
    let format_class = k
        .get("format.class")
        .unwrap_or("io.confluent.connect.s3.format.json.JsonFormat")
        .to_string();
    let format = format_of(&format_class).unwrap_or_else(|| {
        k.issue(
            "format.class",
            format!("format.class \"{format_class}\": {FORMATS_LATER}; use io.confluent.connect.s3.format.json.JsonFormat, …avro.AvroFormat or …parquet.ParquetFormat"),
        );
        Format::Json
    });
    let class = k
        .get("partitioner.class")
        .unwrap_or("DefaultPartitioner")
        .to_string();
    let simple = class.rsplit('.').next().unwrap_or_default().to_string();
    let zone = k.get("timezone").map(str::to_string);
    let source = match k.get("timestamp.extractor").unwrap_or("Wallclock") {
        "Record" => TimeSource::Record,
        "RecordField" => TimeSource::RecordField(
            k.get("timestamp.field")
                .unwrap_or("timestamp")
                .split('.')
                .map(str::to_string)
                .collect(),
        ),
        _ => TimeSource::Wallclock,
    };
    let time = |k: &mut Keys, path: Option<String>, duration: Option<i64>| {
        let timezone = zone.clone().unwrap_or_else(|| {
            k.issue(
                "timezone",
                "a time-based partitioner needs \"timezone\" (e.g. UTC)",
            );
            "UTC".into()
        });
        if jiff::tz::TimeZone::get(&timezone).is_err() {
            k.issue(
                "timezone",
                format!(
                    "unknown time zone \"{timezone}\": use an IANA name such as UTC or Europe/Paris"
                ),
            );
        }
        Partitioner::Time {
            path_format: path.unwrap_or_default(),
            duration_ms: duration.unwrap_or(0),
            timezone,
            source: source.clone(),
        }
    };
    let partitioner = match simple.as_str() {
        "DefaultPartitioner" => Partitioner::KafkaPartition,
        "FieldPartitioner" => {
            let fields = k
                .get("partition.field.name")
                .map(runnel_core::config::split_list)
                .unwrap_or_default();
            if fields.is_empty() {
                k.issue(
                    "partition.field.name",
                    "FieldPartitioner needs \"partition.field.name\": the value fields of the path",
                );
            }
            Partitioner::Parts {
                parts: fields
                    .into_iter()
                    .map(|f| {
                        let path = f.split('.').map(str::to_string).collect();
                        (f, PartitionPart::ValueField(path))
                    })
                    .collect(),
                values_only: false,
            }
        }
        "DailyPartitioner" => time(
            k,
            Some("'year'=YYYY/'month'=MM/'day'=dd".into()),
            Some(86_400_000),
        ),
        "HourlyPartitioner" => time(
            k,
            Some("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH".into()),
            Some(3_600_000),
        ),
        "TimeBasedPartitioner" => {
            let path = k.get("path.format").map(str::to_string);
            if path.is_none() {
                k.issue("path.format", "TimeBasedPartitioner needs \"path.format\", e.g. 'year'=YYYY/'month'=MM/'day'=dd");
            }
            let duration = k.int("partition.duration.ms");
            if duration.is_none_or(|d| d <= 0) {
                k.issue(
                    "partition.duration.ms",
                    "TimeBasedPartitioner needs a positive \"partition.duration.ms\"",
                );
            }
            time(k, path, duration)
        }
        _ => {
            k.issue(
                "partitioner.class",
                format!("unknown partitioner.class \"{class}\": DefaultPartitioner, FieldPartitioner, TimeBasedPartitioner, DailyPartitioner or HourlyPartitioner"),
            );
            Partitioner::KafkaPartition
        }
    };
    let flush_count = match k.int("flush.size") {
        Some(n) if n > 0 => n as u64,
        Some(_) => {
            k.issue("flush.size", "\"flush.size\" must be positive");
            1
        }
        None if k.get("flush.size").is_none()
            && k.sink
                .connector
                .get("connector.class")
                .is_some_and(|c| class_is(c, "S3SinkConnector")) =>
        {
            k.issue(
                "flush.size",
                "\"flush.size\" is required: records per object",
            );
            1
        }
        None => 10_000,
    };
    let positive = |v: Option<i64>| v.filter(|v| *v > 0);
    let rotate_record_ms = positive(k.int("rotate.interval.ms"));
    let flush_interval_ms = positive(k.int("rotate.schedule.interval.ms")).map(|v| v as u64);
    vec![Target {
        topic: "*".into(),
        bucket,
        prefix: k
            .get("topics.dir")
            .unwrap_or("topics")
            .trim_matches('/')
            .to_string(),
        format,
        partitioner,
        flush_count,
        flush_bytes: u64::MAX,
        flush_interval_ms,
        rotate_record_ms,
        select: None,
    }]
}

/// Lenses' defaults: 50,000 records, 500 MB, 3,600 s.
fn lenses_targets(k: &mut Keys) -> Vec<Target> {
    let text = k.get("connect.s3.kcql").unwrap_or_default().to_string();
    let statements = match kcql::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            k.issue("connect.s3.kcql", e);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for st in statements {
        let format = match &st.store_as {
            None => Format::Json,
            Some(f) => format_of(f).unwrap_or_else(|| {
                k.issue("connect.s3.kcql", format!("STOREAS `{f}`: {FORMATS_LATER}"));
                Format::Json
            }),
        };
        let mut select = None;
        if let Some(fields) = &st.fields {
            let mut out = Vec::new();
            for (field, alias) in fields {
                let part = part_of(field);
                if matches!(part, PartitionPart::Topic | PartitionPart::KafkaPartition) {
                    k.issue(
                        "connect.s3.kcql",
                        format!("SELECT {field}: select value fields, _key, _key.<field> or _header.<name>"),
                    );
                    continue;
                }
                out.push((alias.clone().unwrap_or_else(|| display_name(field)), part));
            }
            if format == Format::Bytes {
                k.issue(
                    "connect.s3.kcql",
                    "STOREAS bytes writes whole values: use SELECT *",
                );
            }
            select = Some(out);
        }
        let values_only = st
            .partitioner
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("Values"));
        let partitioner = match &st.partition_by {
            None => Partitioner::Hierarchical,
            Some(parts) => Partitioner::Parts {
                parts: parts
                    .iter()
                    .map(|p| (display_name(p), part_of(p)))
                    .collect(),
                values_only,
            },
        };
        let prop = |name: &str| st.properties.get(name).and_then(|v| v.parse::<u64>().ok());
        out.push(Target {
            topic: st.topic.clone(),
            bucket: st.bucket.clone(),
            prefix: st.prefix.clone(),
            format,
            partitioner,
            flush_count: st
                .flush_count
                .or(prop("flush.count"))
                .unwrap_or(50_000)
                .max(1),
            flush_bytes: st
                .flush_size
                .or(prop("flush.size"))
                .unwrap_or(500_000_000)
                .max(1),
            flush_interval_ms: Some(
                st.flush_interval_secs
                    .or(prop("flush.interval"))
                    .unwrap_or(3600)
                    .max(1)
                    * 1000,
            ),
            rotate_record_ms: None,
            select,
        });
    }
    out
}

/// A PARTITIONBY entry as Lenses names its path segment (the field's last name).
fn display_name(p: &str) -> String {
    match p {
        "_key" => "key".into(),
        "_topic" => "topic".into(),
        "_partition" => "partition".into(),
        _ => p.rsplit('.').next().unwrap_or(p).to_string(),
    }
}

fn part_of(p: &str) -> PartitionPart {
    let path = |rest: &str| rest.split('.').map(str::to_string).collect::<Vec<_>>();
    if p == "_key" {
        PartitionPart::Key(Vec::new())
    } else if let Some(rest) = p.strip_prefix("_key.") {
        PartitionPart::Key(path(rest))
    } else if let Some(rest) = p.strip_prefix("_header.") {
        PartitionPart::Header(rest.to_string())
    } else if p == "_topic" {
        PartitionPart::Topic
    } else if p == "_partition" {
        PartitionPart::KafkaPartition
    } else {
        PartitionPart::ValueField(path(p.strip_prefix("_value.").unwrap_or(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use runnel_core::config::ConnectorConfig;

    fn sink(pairs: &[(&str, &str)], class: &str) -> SinkConfig {
        let mut c = serde_json::Map::new();
        c.insert("name".into(), "t".into());
        c.insert("connector.class".into(), class.into());
        for (k, v) in pairs {
            c.insert((*k).into(), (*v).into());
        }
        let connector =
            ConnectorConfig::from_json(&serde_json::Value::Object(c).to_string()).unwrap();
        SinkConfig {
            keys: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            connector,
            worker: Default::default(),
            spelled: BTreeMap::new(),
        }
    }

    #[test]
    fn the_seed_kcql_config() {
        let s = sink(
            &[
                (
                    "connect.s3.kcql",
                    "INSERT INTO data-lake-demo-cevo:cdc-events SELECT * FROM msk.datalake.cdc_events PARTITIONBY customer_id,order_id STOREAS `json` WITH_FLUSH_INTERVAL = 60 WITH_FLUSH_COUNT = 50",
                ),
                ("connect.s3.aws.region", "ap-southeast-2"),
            ],
            LENSES_CLASS,
        );
        let cfg = ObjectSinkConfig::parse(&s, false).unwrap();
        let t = &cfg.targets[0];
        assert_eq!(
            (t.bucket.as_str(), t.prefix.as_str()),
            ("data-lake-demo-cevo", "cdc-events")
        );
        assert_eq!(t.flush_count, 50);
        assert_eq!(t.flush_interval_ms, Some(60_000));
        assert_eq!(cfg.naming, Naming::Lenses);
        assert!(matches!(&t.partitioner, Partitioner::Parts { parts, .. } if parts.len() == 2));
        assert_eq!(cfg.target("msk.datalake.cdc_events"), Some(0));
        assert_eq!(cfg.target("other"), None);
    }

    #[test]
    fn confluent_keys_and_their_errors() {
        let s = sink(
            &[
                ("s3.bucket.name", "b"),
                ("flush.size", "3"),
                (
                    "partitioner.class",
                    "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
                ),
                ("path.format", "'year'=YYYY/'month'=MM"),
                ("partition.duration.ms", "3600000"),
                ("timezone", "UTC"),
            ],
            CONFLUENT_CLASS,
        );
        let cfg = ObjectSinkConfig::parse(&s, false).unwrap();
        assert!(matches!(
            cfg.targets[0].partitioner,
            Partitioner::Time {
                duration_ms: 3_600_000,
                ..
            }
        ));
        assert_eq!(cfg.null_values, NullValues::Fail);
        let bad = sink(
            &[
                ("flush.size", "x"),
                (
                    "format.class",
                    "io.confluent.connect.s3.format.orc.OrcFormat",
                ),
            ],
            CONFLUENT_CLASS,
        );
        let issues = ObjectSinkConfig::parse(&bad, false).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert!(
            keys.contains(&"s3.bucket.name")
                && keys.contains(&"flush.size")
                && keys.contains(&"format.class"),
            "{issues:?}"
        );
    }
}
