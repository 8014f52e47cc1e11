//! Small helpers to write JSON tokens into a byte buffer without building a tree.

use base64::Engine as _;

#[inline]
pub fn str(out: &mut Vec<u8>, s: &str) {
    escaped(out, s.as_bytes());
}

/// Writes a JSON string from UTF-8 bytes, escaping as Jackson does: `"`, `\`, and control
/// characters; everything else (including non-ASCII) verbatim.
pub fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Most text needs no escaping: skip 8 clean bytes at a time (this loop was the top of
        // the snapshot's instruction profile when it looked at one byte at a time).
        if let Some(word) = bytes.get(i..i + 8) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            if !needs_escape(u64::from_le_bytes(eight)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True if any of the eight bytes is a control character, `"` or a backslash (the classic
/// "has zero byte" / "has byte less than" bit tricks; valid for any byte values).
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS != 0;
    below_space || has_zero(x ^ (ONES * b'"' as u64)) || has_zero(x ^ (ONES * b'\\' as u64))
}

#[inline]
pub fn key(out: &mut Vec<u8>, name: &str) {
    str(out, name);
    out.push(b':');
}

#[inline]
pub fn int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub fn uint(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A double as Jackson writes it (`Double.toString`): non-finite values as quoted strings.
pub fn f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        java_float_text(out, ryu::Buffer::new().format_finite(v), || {
            two_digits(format_args!("{v:.1e}"))
        });
    }
}

/// A float as Jackson writes it (`Float.toString`, `1.4E-45` for the smallest subnormal).
pub fn f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        java_float_text(out, ryu::Buffer::new().format_finite(v), || {
            two_digits(format_args!("{v:.1e}"))
        });
    } else {
        f64(out, f64::from(v));
    }
}

/// The decimal digits (leading and trailing zeros dropped) and exponent `e` of a number
/// printed as `d.ddd × 10^e`, read from Rust's text of it (`1.5e-7`, `0.001`, `120.0`).
fn decimal_parts(text: &str, digits: &mut [u8; 24]) -> (usize, i32) {
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut n = 0;
    let mut leading = 0i32;
    for &b in int.as_bytes().iter().chain(frac.as_bytes()) {
        if n == 0 && b == b'0' {
            leading += 1;
        } else if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    while n > 0 && digits[n - 1] == b'0' {
        n -= 1;
    }
    (n, int.len() as i32 - leading + exp - 1)
}

/// Rust's `{:.1e}` text of a value: its two closest significant digits, exactly rounded.
fn two_digits(args: std::fmt::Arguments) -> ([u8; 24], usize) {
    use std::io::Write;
    let mut buf = [0u8; 24];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = cursor.write_fmt(args);
    let len = cursor.position() as usize;
    (buf, len)
}

/// Java's `Double.toString`/`Float.toString` from the shortest digits that read back as the
/// value (`shortest`, Rust's text): at least two significant digits (the two closest to the
/// exact value, from `two`, when one would do: `1.4E-45`, not `1.0E-45`), plain notation
/// from 10⁻³ up to 10⁷ with at least one fractional digit, else `d.dddE±n`.
fn java_float_text(out: &mut Vec<u8>, shortest: &str, two: impl FnOnce() -> ([u8; 24], usize)) {
    let (negative, body) = match shortest.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, shortest),
    };
    if negative {
        out.push(b'-');
    }
    let mut digits = [0u8; 24];
    let (mut n, mut e) = decimal_parts(body, &mut digits);
    if n == 0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    if n == 1 {
        let (text, len) = two();
        let text = std::str::from_utf8(&text[..len]).unwrap_or("");
        (n, e) = decimal_parts(text.trim_start_matches('-'), &mut digits);
        if n == 0 {
            out.extend_from_slice(b"0.0");
            return;
        }
    }
    let digits = &digits[..n];
    if (-3..7).contains(&e) {
        if e < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-e - 1) as usize));
            out.extend_from_slice(digits);
        } else {
            let int = e as usize + 1;
            out.extend_from_slice(&digits[..int.min(n)]);
            out.extend(std::iter::repeat_n(b'0', int.saturating_sub(n)));
            out.push(b'.');
            if n > int {
                out.extend_from_slice(&digits[int..]);
            } else {
                out.push(b'0');
            }
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if n > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        out.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
    }
}

pub fn base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + n);
    out.push(b'"');
}

pub fn base64_url(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(
        base64::engine::general_purpose::URL_SAFE
            .encode(bytes)
            .as_bytes(),
    );
    out.push(b'"');
}

pub fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 0xf) as usize]);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn floats_print_as_java_does() {
        let f64_text = |v: f64| {
            let mut out = Vec::new();
            super::f64(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        let f32_text = |v: f32| {
            let mut out = Vec::new();
            super::f32(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        // Java 17's Double.toString / Float.toString for each.
        for (v, java) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (123.456, "123.456"),
            (0.001, "0.001"),
            (0.000_1, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e23, "1.0E23"),
            (5e-324, "4.9E-324"),
            (f64::MAX, "1.7976931348623157E308"),
            (-2.5e-10, "-2.5E-10"),
            (1e16, "1.0E16"),
        ] {
            assert_eq!(f64_text(v), java, "{v:e}");
        }
        for (v, java) in [
            (1.4e-45f32, "1.4E-45"),
            (f32::MAX, "3.4028235E38"),
            (0.1f32, "0.1"),
            (1.5f32, "1.5"),
            (-3.25e9f32, "-3.25E9"),
        ] {
            assert_eq!(f32_text(v), java, "{v:e}");
        }
        assert_eq!(f64_text(f64::NAN), "\"NaN\"");
        assert_eq!(f32_text(f32::NEG_INFINITY), "\"-Infinity\"");
    }

    /// The escaping Jackson does, one byte at a time.
    fn reference(bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &b in bytes {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                0..=0x1f => out.extend_from_slice(format!("\\u{b:04X}").as_bytes()),
                _ => out.push(b),
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn the_word_at_a_time_scan_escapes_every_byte_it_must() {
        let specials = [
            b'"', b'\\', b'\n', 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, b' ', b'a',
        ];
        // Every special byte at every position of strings up to 20 bytes long.
        for len in 0..20 {
            for pos in 0..len {
                for &sp in &specials {
                    let mut s = vec![b'x'; len];
                    s[pos] = sp;
                    let mut out = Vec::new();
                    escaped(&mut out, &s);
                    assert_eq!(out, reference(&s), "{s:?}");
                }
            }
        }
        let text = "Grüße, \"quoted\" and \\ back\tslash — über 8 bytes long".as_bytes();
        let mut out = Vec::new();
        escaped(&mut out, text);
        assert_eq!(out, reference(text));
    }
}
