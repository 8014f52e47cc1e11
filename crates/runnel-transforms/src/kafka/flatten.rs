//! `org.apache.kafka.connect.transforms.Flatten$Key` / `$Value`: nested structs (maps when
//! schemaless) become top-level fields named by their path joined with `delimiter`. A field is
//! optional when it or any struct above it is; defaults are kept; arrays stay as they are.
//! Debezium's struct-valued logical types (`VariableScaleDecimal`, `geometry.Point`) flatten
//! into their Connect fields.

use std::sync::Arc;

use bytes::Bytes;
use runnel_core::config::{ConfigKey, ValueType};
use runnel_core::plugin::TransformPlugin;
use runnel_core::{Column, Datum, Encoding, Error, Numeric, Result, Schema};

use super::{Meta, OnSide, PayloadTransform, pairs, push_map, wrong_type};
use crate::util::{Cache, Opts, Side, basics, fields};

const KEYS: &[ConfigKey] = &[ConfigKey::new(
    "delimiter",
    ValueType::String,
    "What joins the names of nested fields.",
)
.default(".")];

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.Flatten$Value",
        aliases: &[
            "Flatten$Value",
            "org.apache.kafka.connect.transforms.Flatten$Key",
            "Flatten$Key",
        ],
        keys: KEYS,
        build: |c| {
            Ok(OnSide::boxed(
                Side::of_class(c.get("type").unwrap_or("")),
                Flatten {
                    names: Names {
                        delimiter: Opts(c).string("delimiter", "."),
                    },
                    plans: Cache::default(),
                },
            ))
        },
    }
}

struct Flatten {
    names: Names,
    plans: Cache<Schema, (Arc<Schema>, Arc<[Leaf]>)>,
}

/// One flattened field: the indices down to it, and what part of the value it is.
struct Leaf {
    path: Vec<usize>,
    part: Part,
    default: Option<Datum>,
}

#[derive(Clone, Copy)]
enum Part {
    Whole,
    DecimalScale,
    DecimalValue,
    PointX,
    PointY,
    PointWkb,
    PointSrid,
}

/// How flattened fields are named and built.
struct Names {
    delimiter: String,
}

impl Names {
    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn build(
        &self,
        schema: &Schema,
        prefix: &str,
        optional: bool,
        path: &mut Vec<usize>,
        columns: &mut Vec<Column>,
        leaves: &mut Vec<Leaf>,
    ) -> Result<()> {
        for (i, c) in schema.fields().unwrap_or_default().iter().enumerate() {
            let name = self.name(prefix, &c.name);
            let opt = optional || c.optional;
            path.push(i);
            let leaf =
                |columns: &mut Vec<Column>, leaves: &mut Vec<Leaf>, column: Column, part: Part| {
                    leaves.push(Leaf {
                        path: path.clone(),
                        part,
                        default: column.default.clone(),
                    });
                    columns.push(column);
                };
            match &c.encoding {
                Encoding::Struct(_) => {
                    self.build(&c.schema(), &name, opt, path, columns, leaves)?
                }
                Encoding::Map { .. } => {
                    return Err(Error::conversion(format!(
                        "Flatten does not flatten maps of records with schemas (field {name})"
                    )));
                }
                Encoding::VariableScaleDecimal => {
                    leaf(
                        columns,
                        leaves,
                        Column::new(&self.name(&name, "scale"), Encoding::Int32, opt),
                        Part::DecimalScale,
                    );
                    leaf(
                        columns,
                        leaves,
                        Column::new(
                            &self.name(&name, "value"),
                            Encoding::Binary(runnel_core::BinaryMode::Bytes),
                            opt,
                        ),
                        Part::DecimalValue,
                    );
                }
                Encoding::Point | Encoding::Geometry => {
                    let point = matches!(c.encoding, Encoding::Point);
                    if point {
                        leaf(
                            columns,
                            leaves,
                            Column::new(&self.name(&name, "x"), Encoding::Float64, opt),
                            Part::PointX,
                        );
                        leaf(
                            columns,
                            leaves,
                            Column::new(&self.name(&name, "y"), Encoding::Float64, opt),
                            Part::PointY,
                        );
                    }
                    // A Point's wkb is optional in its schema, a Geometry's is not.
                    leaf(
                        columns,
                        leaves,
                        Column::new(
                            &self.name(&name, "wkb"),
                            Encoding::Binary(runnel_core::BinaryMode::Bytes),
                            point || opt,
                        ),
                        Part::PointWkb,
                    );
                    leaf(
                        columns,
                        leaves,
                        Column::new(&self.name(&name, "srid"), Encoding::Int32, true),
                        Part::PointSrid,
                    );
                }
                _ => {
                    let mut column = c.clone();
                    column.name = name.as_str().into();
                    column.optional = opt;
                    leaf(columns, leaves, column, Part::Whole);
                }
            }
            path.pop();
        }
        Ok(())
    }

    fn schemaless(
        &self,
        datums: &[Datum],
        d: &Datum,
        prefix: &str,
        out: &mut Vec<(Datum, Datum)>,
    ) -> Result<()> {
        let Some(entries) = pairs(datums, d) else {
            return Err(wrong_type("a map", "flattening", d));
        };
        for (k, v) in entries {
            let name = self.name(prefix, std::str::from_utf8(k).unwrap_or_default());
            match v {
                Datum::Map(_) => self.schemaless(datums, v, &name, out)?,
                Datum::Struct(_) => {
                    return Err(Error::conversion(format!(
                        "Flatten does not flatten a struct without schema (field {name})"
                    )));
                }
                v => out.push((Datum::text(&name), v.clone())),
            }
        }
        Ok(())
    }
}

/// The value of `leaf` in `root` (null when a struct above it is null).
fn leaf_value(datums: &[Datum], root: &Datum, leaf: &Leaf) -> Datum {
    let mut current = root.clone();
    for &i in &leaf.path {
        match fields(datums, &current) {
            Some(f) => current = f[i].clone(),
            None => return Datum::Null,
        }
    }
    let parent_present = !current.is_null() || leaf.path.len() == 1 || {
        let mut p = root.clone();
        for &i in &leaf.path[..leaf.path.len() - 1] {
            p = fields(datums, &p).map_or(Datum::Null, |f| f[i].clone());
        }
        !p.is_null()
    };
    match (leaf.part, current) {
        (Part::Whole, Datum::Null) if parent_present => leaf.default.clone().unwrap_or(Datum::Null),
        (Part::Whole, d) => d,
        (_, Datum::Null) => Datum::Null,
        (Part::DecimalScale | Part::DecimalValue, Datum::Numeric(Numeric::Finite(t))) => {
            let Some(parsed) = runnel_core::decimal::parse(&t) else {
                return Datum::Null;
            };
            let scale = parsed.trimmed_scale();
            if matches!(leaf.part, Part::DecimalScale) {
                Datum::Int(i64::from(scale))
            } else {
                let mut bytes = Vec::new();
                parsed.unscaled_bytes(scale, &mut bytes);
                Datum::Bytes(Bytes::from(bytes))
            }
        }
        (Part::PointX, Datum::Point { x, .. }) => Datum::F64(x),
        (Part::PointY, Datum::Point { y, .. }) => Datum::F64(y),
        (Part::PointWkb, Datum::Point { x, y, .. }) => {
            let mut wkb = Vec::with_capacity(21);
            wkb.push(1);
            wkb.extend_from_slice(&1u32.to_le_bytes());
            wkb.extend_from_slice(&x.to_le_bytes());
            wkb.extend_from_slice(&y.to_le_bytes());
            Datum::Bytes(Bytes::from(wkb))
        }
        (Part::PointWkb, Datum::Geometry { wkb, .. }) => Datum::Bytes(wkb),
        (Part::PointSrid, Datum::Geometry { srid, .. } | Datum::Point { srid, .. }) => {
            srid.map_or(Datum::Null, |s| Datum::Int(i64::from(s)))
        }
        _ => Datum::Null,
    }
}

impl PayloadTransform for Flatten {
    fn transform(
        &mut self,
        _meta: &Meta<'_>,
        schema: Option<&Arc<Schema>>,
        datum: &Datum,
        datums: &mut Vec<Datum>,
    ) -> Result<Option<(Option<Arc<Schema>>, Datum)>> {
        if datum.is_null() && schema.is_none() {
            return Ok(None);
        }
        let Some(schema) = schema else {
            let mut out = Vec::new();
            self.names.schemaless(datums, datum, "", &mut out)?;
            return Ok(Some((None, push_map(datums, out))));
        };
        let this = &self.names;
        let (out, leaves) = self
            .plans
            .get_or(schema, || {
                let mut columns = Vec::new();
                let mut leaves = Vec::new();
                this.build(
                    schema,
                    "",
                    schema.optional,
                    &mut Vec::new(),
                    &mut columns,
                    &mut leaves,
                )?;
                let mut s = Schema::new(Encoding::Struct(columns.into()), false);
                s.meta = basics(schema);
                Ok((Arc::new(s), leaves.into()))
            })?
            .clone();
        if datum.is_null() {
            return Ok(Some((Some(out), Datum::Null)));
        }
        if !matches!(datum, Datum::Struct(_)) {
            return Err(wrong_type("a struct", "flattening", datum));
        }
        let values: Vec<Datum> = leaves
            .iter()
            .map(|l| leaf_value(datums, datum, l))
            .collect();
        let start = datums.len() as u32;
        datums.extend(values);
        Ok(Some((Some(out), Datum::Struct(start..datums.len() as u32))))
    }
}
