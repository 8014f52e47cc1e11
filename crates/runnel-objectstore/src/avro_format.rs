//! Avro object container files: a header (magic, the writer's schema, the codec, a sync
//! marker) and blocks of datums. The datums are written once, as records arrive
//! (`runnel_core::encode::avro`), and an object is that byte range framed into blocks: closing
//! one copies the bytes once, never decodes them. (`apache-avro` writes containers only from
//! its own per-row `Value`s; the framing is a few lines of the specification.)

use std::io::Write;

use runnel_core::encode::avro::{read_long, write_bytes, write_long};
use runnel_core::{Error, Result};

const MAGIC: &[u8; 4] = b"Obj\x01";
/// Datum bytes per block before the next block starts (readers hold one block at a time).
const BLOCK_BYTES: usize = 1 << 20;

/// `avro.codec`: how blocks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Null,
    Deflate,
}

impl Codec {
    /// Confluent's `avro.codec` (or Lenses' `connect.s3.compression.codec`).
    pub fn parse(name: &str) -> std::result::Result<Codec, String> {
        match name.to_ascii_lowercase().as_str() {
            "null" | "none" | "uncompressed" => Ok(Codec::Null),
            "deflate" => Ok(Codec::Deflate),
            other => Err(format!(
                "Avro codec \"{other}\": runnel writes null (the default) or deflate"
            )),
        }
    }

    fn name(self) -> &'static [u8] {
        match self {
            Codec::Null => b"null",
            Codec::Deflate => b"deflate",
        }
    }
}

/// An object of the datums `data`, whose records end at `ends` (offsets into `data`, in
/// order), written with `schema` (JSON). `sync` marks block ends.
pub fn container(
    schema: &str,
    data: &[u8],
    ends: impl Iterator<Item = usize>,
    codec: Codec,
    sync: [u8; 16],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() + schema.len() + 64);
    out.extend_from_slice(MAGIC);
    write_long(&mut out, 2);
    write_bytes(&mut out, b"avro.schema");
    write_bytes(&mut out, schema.as_bytes());
    write_bytes(&mut out, b"avro.codec");
    write_bytes(&mut out, codec.name());
    write_long(&mut out, 0);
    out.extend_from_slice(&sync);
    let (mut start, mut count) = (0usize, 0i64);
    let mut last = 0usize;
    for end in ends {
        count += 1;
        last = end;
        if end - start >= BLOCK_BYTES {
            block(&mut out, &data[start..end], count, codec, &sync)?;
            start = end;
            count = 0;
        }
    }
    if count > 0 {
        block(&mut out, &data[start..last], count, codec, &sync)?;
    }
    Ok(out)
}

fn block(
    out: &mut Vec<u8>,
    datums: &[u8],
    count: i64,
    codec: Codec,
    sync: &[u8; 16],
) -> Result<()> {
    write_long(out, count);
    match codec {
        Codec::Null => write_bytes(out, datums),
        Codec::Deflate => {
            // Avro's deflate is raw DEFLATE (RFC 1951), no zlib header.
            let mut z = flate2::write::DeflateEncoder::new(
                Vec::with_capacity(datums.len() / 3),
                flate2::Compression::default(),
            );
            let packed = z
                .write_all(datums)
                .and_then(|_| z.finish())
                .map_err(|e| Error::internal(format!("deflate: {e}")))?;
            write_bytes(out, &packed);
        }
    }
    out.extend_from_slice(sync);
    Ok(())
}

/// Records in an existing Avro object (the sum of its blocks' counts; nothing is decoded).
pub fn record_count(data: &[u8]) -> Result<u64> {
    let bad = || Error::sink_permanent("an existing object is not an Avro container file");
    if data.get(..4) != Some(MAGIC) {
        return Err(bad());
    }
    let mut at = 4usize;
    // The metadata map: blocks of (key, value) pairs until an empty block.
    loop {
        let mut n = read_long(data, &mut at).ok_or_else(bad)?;
        if n == 0 {
            break;
        }
        if n < 0 {
            n = -n;
            read_long(data, &mut at).ok_or_else(bad)?;
        }
        for _ in 0..n * 2 {
            let len = read_long(data, &mut at).ok_or_else(bad)?;
            at = at
                .checked_add(usize::try_from(len).map_err(|_| bad())?)
                .ok_or_else(bad)?;
        }
    }
    at += 16;
    let mut total = 0u64;
    while at < data.len() {
        let count = read_long(data, &mut at).ok_or_else(bad)?;
        let size = read_long(data, &mut at).ok_or_else(bad)?;
        at = at
            .checked_add(usize::try_from(size).map_err(|_| bad())?)
            .and_then(|a| a.checked_add(16))
            .ok_or_else(bad)?;
        total += u64::try_from(count).map_err(|_| bad())?;
    }
    if at != data.len() {
        return Err(bad());
    }
    Ok(total)
}

/// A sync marker derived from the object's name: the same records make the same bytes.
pub fn sync_marker(name: &str) -> [u8; 16] {
    use std::hash::{Hash, Hasher};
    let mut out = [0u8; 16];
    for (i, half) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (i, name).hash(&mut h);
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_every_record_and_are_counted_back() {
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for i in 0..5000i64 {
            write_long(&mut data, i);
            write_bytes(&mut data, &[b'x'; 400]);
            ends.push(data.len());
        }
        for codec in [Codec::Null, Codec::Deflate] {
            let file = container(
                r#"{"type":"record","name":"R","fields":[{"name":"i","type":"long"},{"name":"s","type":"string"}]}"#,
                &data,
                ends.iter().copied(),
                codec,
                sync_marker("a/b+0+0.avro"),
            )
            .unwrap();
            assert_eq!(record_count(&file).unwrap(), 5000, "{codec:?}");
        }
        assert!(record_count(b"Obj\x01\x02").is_err());
        assert!(record_count(b"PAR1").is_err());
    }
}
