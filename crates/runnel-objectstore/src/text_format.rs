//! Lenses' text formats: `STOREAS csv` (each row's fields, comma-separated, RFC 4180 quoting),
//! `STOREAS csv_withheaders` (and a first line of field names in every object) and
//! `STOREAS text` (each value, a string, on its own line).
//!
//! A cell is the field's value as the JSON converter writes it, without JSON's quotes: numbers
//! as numbers, Debezium's temporal values as it sends them, decimals as their digits, strings
//! as they are; structs and arrays as JSON. NULL is an empty cell.

use runnel_core::encode::json::write_value_json;
use runnel_core::{Batch, Column, Datum, Error, Numeric, Result, Schema};

/// Appends one CSV line of `datum` (a struct of `schema`). `scratch` is reused between cells.
pub fn write_csv_row(
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    batch: &Batch,
    schema: &Schema,
    datum: &Datum,
) -> Result<()> {
    let (Some(columns), Datum::Struct(range)) = (schema.fields(), datum) else {
        return Err(Error::config(
            "CSV needs rows (struct values): unwrap Debezium's envelope with \
             io.debezium.transforms.ExtractNewRecordState",
        ));
    };
    write_csv_cells(buf, scratch, batch, columns, batch.fields(range))
}

/// Appends one CSV line of a row of `columns` whose values are `values`.
pub fn write_csv_cells(
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    batch: &Batch,
    columns: &[Column],
    values: &[Datum],
) -> Result<()> {
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        match values.get(i).unwrap_or(&Datum::Null) {
            Datum::Null => {}
            Datum::Text(t) => cell(buf, t),
            Datum::Numeric(Numeric::Finite(t)) => cell(buf, t),
            Datum::Numeric(Numeric::NaN) => buf.extend_from_slice(b"NaN"),
            Datum::Numeric(Numeric::PosInfinity) => buf.extend_from_slice(b"Infinity"),
            Datum::Numeric(Numeric::NegInfinity) => buf.extend_from_slice(b"-Infinity"),
            v => {
                scratch.clear();
                write_value_json(scratch, batch, c, v)?;
                // A JSON string here is text without escapes (a zoned timestamp, base64):
                // its contents are the cell.
                let text = match scratch.as_slice() {
                    [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => inner,
                    all => all,
                };
                cell(buf, text);
            }
        }
    }
    buf.push(b'\n');
    Ok(())
}

/// A cell, quoted when it holds a comma, a quote or a line break (quotes doubled).
fn cell(buf: &mut Vec<u8>, text: &[u8]) {
    if !text
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        buf.extend_from_slice(text);
        return;
    }
    buf.push(b'"');
    for &b in text {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}

/// The header line of `schema`'s rows: its field names.
pub fn csv_header(schema: &Schema) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in schema.fields().unwrap_or_default().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        cell(&mut out, c.name.as_bytes());
    }
    out.push(b'\n');
    out
}

/// Appends a text line: the value, which must be a string on one line.
pub fn write_text_line(buf: &mut Vec<u8>, datum: &Datum) -> Result<()> {
    match datum {
        Datum::Text(t) if !t.contains(&b'\n') => {
            buf.extend_from_slice(t);
            buf.push(b'\n');
            Ok(())
        }
        Datum::Text(_) => Err(Error::conversion(
            "a value with a line break cannot be one line of a text object (STOREAS text): \
             store it as json",
        )),
        _ => Err(Error::config(
            "STOREAS text writes string values: this value is not a string; store it as json \
             (or extract a string field with ExtractField$Value)",
        )),
    }
}

/// Records in a CSV object: its line breaks outside quotes, less the header line.
pub fn count_csv_records(data: &[u8], headers: bool) -> u64 {
    let mut quoted = false;
    let mut lines = 0u64;
    for &b in data {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => lines += 1,
            _ => {}
        }
    }
    if headers {
        lines.saturating_sub(1)
    } else {
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_only_when_they_must_be_and_counted_back() {
        let mut buf = Vec::new();
        cell(&mut buf, b"plain");
        buf.push(b',');
        cell(&mut buf, b"a,b");
        buf.push(b',');
        cell(&mut buf, b"say \"hi\"\nthere");
        buf.push(b'\n');
        assert_eq!(buf, b"plain,\"a,b\",\"say \"\"hi\"\"\nthere\"\n");
        assert_eq!(count_csv_records(&buf, false), 1);
        let mut with_header = b"id,note\n".to_vec();
        with_header.extend_from_slice(&buf);
        with_header.extend_from_slice(&buf);
        assert_eq!(count_csv_records(&with_header, true), 2);
    }
}
