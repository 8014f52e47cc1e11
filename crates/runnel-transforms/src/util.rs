//! What the transforms share: their options (read with the key in every error), a cache of
//! what they derive per schema, access to a record's key or value (a change event becomes its
//! Debezium envelope record when a transform needs one), building structs, and Java's regular
//! expression replacement syntax.

use std::sync::Arc;

use runnel_core::config::{ConnectorConfig, parse_bool, split_list};
use runnel_core::debezium::envelope_record;
use runnel_core::transform::TransformContext;
use runnel_core::{
    Column, Datum, Encoding, Error, Event, Payload, Record, Result, Schema, SchemaMeta,
};

/// A transform's options (`transforms.<alias>.` removed).
pub struct Opts<'a>(pub &'a ConnectorConfig);

impl Opts<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    pub fn string(&self, key: &str, default: &str) -> String {
        self.0.get(key).unwrap_or(default).to_string()
    }

    pub fn required(&self, key: &str) -> Result<String> {
        match self.0.get(key).map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(Error::invalid(
                key,
                format!("missing required option \"{key}\""),
            )),
        }
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        split_list(self.0.get(key).unwrap_or(""))
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| {
                Error::invalid(
                    key,
                    format!("invalid value \"{v}\" for \"{key}\": expected true or false"),
                )
            }),
        }
    }

    pub fn int(&self, key: &str, default: i64) -> Result<i64> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Error::invalid(
                    key,
                    format!("invalid value \"{v}\" for \"{key}\": expected a whole number"),
                )
            }),
        }
    }

    /// One of `allowed` (case-insensitive), lower-cased.
    pub fn choice(&self, key: &str, allowed: &[&str], default: &str) -> Result<String> {
        let v = self
            .0
            .get(key)
            .unwrap_or(default)
            .trim()
            .to_ascii_lowercase();
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(Error::invalid(
                key,
                format!(
                    "invalid value \"{v}\" for \"{key}\": expected one of {}",
                    allowed.join(", ")
                ),
            ))
        }
    }

    /// A Java regular expression, compiled as Rust's `regex` (which has no look-around or
    /// back-references: such a pattern is an error naming the option).
    pub fn regex(&self, key: &str, whole: bool) -> Result<regex::Regex> {
        let pattern = self.required(key)?;
        compile(key, &pattern, whole)
    }
}

/// Compiles `pattern`; `whole` anchors it as Java's `Matcher.matches()` does.
pub fn compile(key: &str, pattern: &str, whole: bool) -> Result<regex::Regex> {
    let text = if whole {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_string()
    };
    regex::Regex::new(&text).map_err(|e| {
        // The parser's message is several lines (the pattern, a caret); its last says what.
        let text = e.to_string();
        let what = text
            .lines()
            .last()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        let hint = if what.contains("look-around") || what.contains("backreference") {
            " (runnel's regular expressions have no look-around or back-references)"
        } else {
            ""
        };
        Error::invalid(
            key,
            format!("invalid regular expression \"{pattern}\" in \"{key}\": {what}{hint}"),
        )
    })
}

/// Java's `Matcher.replaceFirst` replacement syntax (`$1`, `${name}`, `\$`) in Rust's.
pub fn java_replacement(java: &str) -> String {
    let mut out = String::with_capacity(java.len() + 8);
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' => {
                if chars.peek() == Some(&'{') {
                    out.push('$');
                } else {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        digits.push(*d);
                        chars.next();
                    }
                    if digits.is_empty() {
                        out.push_str("$$");
                    } else {
                        out.push_str(&format!("${{{digits}}}"));
                    }
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// What a transform derives from a schema, by the schema (`Arc` identity). The cache holds the
/// schema, so its address cannot be reused by another while the entry lives.
pub struct Cache<K, V> {
    entries: Vec<(Arc<K>, V)>,
    /// The entry found last: consecutive events mostly share a schema.
    last: usize,
}

const CACHE_SIZE: usize = 64;

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            last: 0,
        }
    }
}

impl<K, V> Cache<K, V> {
    pub fn get_or(&mut self, key: &Arc<K>, make: impl FnOnce() -> Result<V>) -> Result<&V> {
        if self
            .entries
            .get(self.last)
            .is_some_and(|(k, _)| Arc::ptr_eq(k, key))
        {
            return Ok(&self.entries[self.last].1);
        }
        if let Some(i) = self.entries.iter().position(|(k, _)| Arc::ptr_eq(k, key)) {
            self.last = i;
            return Ok(&self.entries[i].1);
        }
        let v = make()?;
        if self.entries.len() >= CACHE_SIZE {
            self.entries.remove(0);
        }
        self.entries.push((key.clone(), v));
        self.last = self.entries.len() - 1;
        Ok(&self.entries[self.last].1)
    }
}

impl<K, V> Cache<K, V> {
    /// The entry of `key`, made by `make` when missing, to change in place.
    pub fn get_mut_or(&mut self, key: &Arc<K>, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.entries.iter().position(|(k, _)| Arc::ptr_eq(k, key)) {
            Some(i) => i,
            None => {
                if self.entries.len() >= CACHE_SIZE {
                    self.entries.remove(0);
                }
                self.entries.push((key.clone(), make()));
                self.entries.len() - 1
            }
        };
        self.last = i;
        &mut self.entries[i].1
    }
}

/// The event as a Kafka Connect record: a change event becomes its Debezium envelope record
/// (key struct, envelope value), in place.
pub fn record<'a>(event: &'a mut Event, cx: &mut TransformContext<'_>) -> Result<&'a mut Record> {
    if let Event::Change(change) = event {
        let envelope = cx.envelope.ok_or_else(|| {
            Error::internal("a change event reached a transform without its source's envelope")
        })?;
        let r = envelope_record(change, envelope, cx.datums, cx.now_ns);
        *event = Event::Record(r);
    }
    match event {
        Event::Record(r) => Ok(r),
        Event::Change(_) => unreachable!("replaced above"),
    }
}

/// A record's key or value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    /// `$Key` / `$Value` of a Kafka Connect class name.
    pub fn of_class(class: &str) -> Side {
        if class.ends_with("$Key") {
            Side::Key
        } else {
            Side::Value
        }
    }

    pub fn get(self, r: &Record) -> &Option<Payload> {
        match self {
            Side::Key => &r.key,
            Side::Value => &r.value,
        }
    }

    pub fn get_mut(self, r: &mut Record) -> &mut Option<Payload> {
        match self {
            Side::Key => &mut r.key,
            Side::Value => &mut r.value,
        }
    }
}

/// A typed payload's schema (none when schemaless) and value.
pub type Typed<'a> = (Option<&'a Arc<Schema>>, &'a Datum);

/// A typed payload's schema and value (`None` for a null without schema, a tombstone).
pub fn typed(p: &Option<Payload>) -> Result<Option<Typed<'_>>> {
    match p {
        None => Ok(None),
        Some(Payload::Value { schema, datum }) => Ok(Some((schema.as_ref(), datum))),
        Some(Payload::Encoded(_)) => Err(Error::internal(
            "a transform got undecoded bytes: records must be decoded before transforms",
        )),
    }
}

/// The fields of a struct value.
pub fn fields<'a>(datums: &'a [Datum], d: &Datum) -> Option<&'a [Datum]> {
    match d {
        Datum::Struct(r) => datums.get(r.start as usize..r.end as usize),
        _ => None,
    }
}

/// Moves the values of `range` to the end of `datums`, leaving nulls behind: for a row that
/// only one event refers to (a change event's), so that the next transform can append to it
/// in place instead of copying it.
pub fn move_to_end(datums: &mut Vec<Datum>, range: &std::ops::Range<u32>) -> std::ops::Range<u32> {
    if range.end as usize == datums.len() {
        return range.clone();
    }
    let start = datums.len();
    datums.reserve(range.len());
    for i in range.clone() {
        let d = std::mem::replace(&mut datums[i as usize], Datum::Null);
        datums.push(d);
    }
    start as u32..datums.len() as u32
}

/// Appends `values` as one struct.
pub fn push_struct(datums: &mut Vec<Datum>, values: impl IntoIterator<Item = Datum>) -> Datum {
    let start = datums.len() as u32;
    datums.extend(values);
    Datum::Struct(start..datums.len() as u32)
}

/// A struct's fields followed by `extra`, as a struct: in place when the struct is the last
/// thing in `datums` (an earlier transform of this event just built it), else copied.
pub fn extend_struct(
    datums: &mut Vec<Datum>,
    d: &Datum,
    extra: impl IntoIterator<Item = Datum>,
) -> Datum {
    if let Datum::Struct(r) = d
        && r.end as usize == datums.len()
    {
        datums.extend(extra);
        return Datum::Struct(r.start..datums.len() as u32);
    }
    let start = datums.len();
    if let Datum::Struct(r) = d {
        datums.extend_from_within(r.start as usize..r.end as usize);
    }
    datums.extend(extra);
    Datum::Struct(start as u32..datums.len() as u32)
}

/// Kafka Connect's `SchemaUtil.copySchemaBasics`: name, version, doc and parameters (not
/// optionality, not the default).
pub fn basics(schema: &Schema) -> Option<Arc<SchemaMeta>> {
    match &schema.meta {
        Some(m) => Some(m.clone()),
        None => {
            let name = schema.encoding.logical_name()?;
            Some(Arc::new(SchemaMeta {
                name: Some(name.into()),
                version: Some(1),
                ..SchemaMeta::default()
            }))
        }
    }
}

/// A struct schema of `fields` with `schema`'s basics, not optional (what Kafka Connect's
/// transforms build with `copySchemaBasics(schema, SchemaBuilder.struct())`).
pub fn rebuilt_struct(schema: &Schema, fields: Vec<Column>) -> Schema {
    let mut s = Schema::new(Encoding::Struct(fields.into()), false);
    s.meta = basics(schema);
    s
}

/// `schema` made optional (Debezium's `SchemaUtil.copySchemaBasics(…).optional()`: basics
/// only, no default).
pub fn optional_copy(schema: &Schema) -> Schema {
    let mut s = Schema::new(schema.encoding.clone(), true);
    s.meta = basics(schema);
    s
}

/// The value a null field shows with `replace.null.with.default`: its default when it has one.
pub fn with_default(column: &Column, d: &Datum, replace_null_with_default: bool) -> Datum {
    match (d, &column.default) {
        (Datum::Null, Some(def)) if replace_null_with_default => def.clone(),
        _ => d.clone(),
    }
}

/// A plain schema without logical type: Kafka Connect's `Schema.OPTIONAL_STRING_SCHEMA` etc.
pub fn plain(encoding: Encoding, optional: bool) -> Arc<Schema> {
    Arc::new(Schema::new(encoding, optional))
}

/// Fields of a struct schema picked (and possibly renamed) into a new struct schema, and how
/// to build its values: Kafka Connect's `ReplaceField` shape, also used by transforms that
/// drop fields.
pub struct Projection {
    pub schema: Arc<Schema>,
    /// Per new field: the index of the field it is, and that field's default.
    from: Vec<(usize, Option<Datum>)>,
}

impl Projection {
    /// `pick` names each field to keep (its new name) or drops it (`None`). The new schema is
    /// the old one's basics, not optional (`copySchemaBasics(schema, SchemaBuilder.struct())`).
    pub fn new(schema: &Schema, mut pick: impl FnMut(&Column) -> Option<Arc<str>>) -> Self {
        let mut columns = Vec::new();
        let mut from = Vec::new();
        for (i, c) in schema.fields().unwrap_or_default().iter().enumerate() {
            if let Some(name) = pick(c) {
                let mut c = c.clone();
                from.push((i, c.default.clone()));
                c.name = name;
                columns.push(c);
            }
        }
        Self {
            schema: Arc::new(rebuilt_struct(schema, columns)),
            from,
        }
    }

    /// The picked fields of struct `value`, at the end of `datums`; a null stays null.
    pub fn apply(
        &self,
        datums: &mut Vec<Datum>,
        value: &Datum,
        replace_null_with_default: bool,
    ) -> Datum {
        let Datum::Struct(r) = value else {
            return value.clone();
        };
        let start = datums.len();
        for (i, default) in &self.from {
            let d = &datums[r.start as usize + i];
            let d = match (d, default) {
                (Datum::Null, Some(def)) if replace_null_with_default => def.clone(),
                _ => d.clone(),
            };
            datums.push(d);
        }
        Datum::Struct(start as u32..datums.len() as u32)
    }
}

/// Datums equal as values: structs and maps by their fields, not their place in the batch.
pub fn same_value(datums: &[Datum], a: &Datum, b: &Datum) -> bool {
    match (a, b) {
        (Datum::Struct(x), Datum::Struct(y)) | (Datum::Map(x), Datum::Map(y)) => {
            x.len() == y.len()
                && datums[x.start as usize..x.end as usize]
                    .iter()
                    .zip(&datums[y.start as usize..y.end as usize])
                    .all(|(p, q)| same_value(datums, p, q))
        }
        (Datum::Array(x), Datum::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| same_value(datums, p, q))
        }
        _ => a == b,
    }
}

/// A struct schema's field names, for messages.
pub fn field_names(schema: &Schema) -> String {
    schema
        .fields()
        .unwrap_or_default()
        .iter()
        .map(|c| &*c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_replacements_become_rust_ones() {
        assert_eq!(java_replacement("cdc_$1"), "cdc_${1}");
        assert_eq!(java_replacement("$1abc"), "${1}abc");
        assert_eq!(java_replacement("a\\$b"), "a$$b");
        assert_eq!(java_replacement("${name}-x"), "${name}-x");
        let re = compile("regex", "rig\\.public\\.(.*)", true).unwrap();
        assert_eq!(
            re.replace("rig.public.orders", java_replacement("cdc_$1").as_str()),
            "cdc_orders"
        );
    }
}
