//! Exact decimals from their text form to Kafka Connect's `Decimal` bytes: the unscaled value as
//! big-endian two's complement in the fewest bytes (Java's `BigInteger.toByteArray`).

/// A decimal text split into sign, digits (no point, leading zeros kept) and scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDecimal<'a> {
    pub negative: bool,
    pub int_digits: &'a [u8],
    pub frac_digits: &'a [u8],
}

/// Parses `-123.4500`, `+1`, `.5`, `1e3`-free text. Returns `None` on anything else.
pub fn parse(text: &[u8]) -> Option<ParsedDecimal<'_>> {
    let (negative, rest) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_digits, frac_digits) = match rest.iter().position(|&b| b == b'.') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    if !int_digits.iter().chain(frac_digits).all(u8::is_ascii_digit) {
        return None;
    }
    Some(ParsedDecimal {
        negative,
        int_digits,
        frac_digits,
    })
}

impl ParsedDecimal<'_> {
    /// Number of fraction digits as written.
    pub fn scale(&self) -> u32 {
        self.frac_digits.len() as u32
    }

    /// The scale without trailing fraction zeros (Java's `stripTrailingZeros`, never negative).
    pub fn trimmed_scale(&self) -> u32 {
        let zeros = self
            .frac_digits
            .iter()
            .rev()
            .take_while(|&&d| d == b'0')
            .count();
        (self.frac_digits.len() - zeros) as u32
    }

    /// Unscaled two's-complement bytes at `scale` (zero-padded, or rounded half-up when the text
    /// has more fraction digits than the scale).
    pub fn unscaled_bytes(&self, scale: u32, out: &mut Vec<u8>) {
        let scale = scale as usize;
        let mut digits: Vec<u8> = Vec::with_capacity(self.int_digits.len() + scale + 1);
        digits.extend(self.int_digits.iter().map(|d| d - b'0'));
        let mut round_up = false;
        for i in 0..scale {
            digits.push(self.frac_digits.get(i).map_or(0, |d| d - b'0'));
        }
        if self.frac_digits.len() > scale {
            round_up = self.frac_digits[scale] >= b'5';
        }
        if round_up {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
        digits_to_twos_complement(&digits, self.negative, out);
    }
}

/// Decimal digits (values 0–9, most significant first) to minimal two's-complement bytes.
fn digits_to_twos_complement(digits: &[u8], negative: bool, out: &mut Vec<u8>) {
    let start = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    let digits = &digits[start..];
    if digits.len() <= 38 {
        let mut v: i128 = 0;
        for &d in digits {
            v = v * 10 + i128::from(d);
        }
        if negative {
            v = -v;
        }
        push_minimal(&v.to_be_bytes(), out);
        return;
    }
    // Arbitrary precision: magnitude in base 2^32 limbs, least significant first.
    let mut limbs: Vec<u32> = vec![0];
    for &d in digits {
        let mut carry = u64::from(d);
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * 10 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
    }
    // One extra limb so the sign bit is free.
    limbs.push(0);
    if negative {
        let mut carry = 1u64;
        for limb in limbs.iter_mut() {
            let v = u64::from(!*limb) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
    }
    let mut bytes = Vec::with_capacity(limbs.len() * 4);
    for limb in limbs.iter().rev() {
        bytes.extend_from_slice(&limb.to_be_bytes());
    }
    push_minimal(&bytes, out);
}

/// Kafka Connect `Decimal` bytes (big-endian two's complement of the unscaled value) back to
/// plain decimal text at `scale` (`-12.50` for `0xfb 0x1e` at scale 2).
pub fn from_unscaled(bytes: &[u8], scale: u32) -> String {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude = bytes.to_vec();
    if negative {
        // Two's complement: invert and add one.
        for b in magnitude.iter_mut() {
            *b = !*b;
        }
        for b in magnitude.iter_mut().rev() {
            let (v, overflow) = b.overflowing_add(1);
            *b = v;
            if !overflow {
                break;
            }
        }
    }
    let mut digits = if magnitude.len() <= 16 {
        let mut v: u128 = 0;
        for &b in &magnitude {
            v = (v << 8) | u128::from(b);
        }
        v.to_string()
    } else {
        // Base 10^9 limbs, least significant first.
        let mut limbs: Vec<u32> = vec![0];
        for &b in &magnitude {
            let mut carry = u64::from(b);
            for limb in limbs.iter_mut() {
                let v = u64::from(*limb) * 256 + carry;
                *limb = (v % 1_000_000_000) as u32;
                carry = v / 1_000_000_000;
            }
            while carry > 0 {
                limbs.push((carry % 1_000_000_000) as u32);
                carry /= 1_000_000_000;
            }
        }
        let mut s = limbs.last().map_or_else(String::new, u32::to_string);
        for limb in limbs.iter().rev().skip(1) {
            s.push_str(&format!("{limb:09}"));
        }
        s
    };
    let scale = scale as usize;
    if scale > 0 {
        if digits.len() <= scale {
            digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
        }
        digits.insert(digits.len() - scale, '.');
    }
    if negative {
        digits.insert(0, '-');
    }
    digits
}

/// Drops redundant sign-extension bytes, keeping at least one byte.
fn push_minimal(bytes: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i + 1 < bytes.len() {
        let (b, next) = (bytes[i], bytes[i + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            i += 1;
        } else {
            break;
        }
    }
    out.extend_from_slice(&bytes[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str, scale: u32) -> Vec<u8> {
        let mut out = Vec::new();
        parse(text.as_bytes())
            .unwrap()
            .unscaled_bytes(scale, &mut out);
        out
    }

    #[test]
    fn matches_java_big_integer() {
        assert_eq!(bytes("19.99", 2), vec![0x07, 0xcf]);
        assert_eq!(bytes("0", 2), vec![0x00]);
        assert_eq!(bytes("1234.5678", 4), vec![0x00, 0xbc, 0x61, 0x4e]);
        assert_eq!(bytes("-1", 0), vec![0xff]);
        assert_eq!(bytes("-128", 0), vec![0x80]);
        assert_eq!(bytes("-129", 0), vec![0xff, 0x7f]);
        assert_eq!(bytes("128", 0), vec![0x00, 0x80]);
        assert_eq!(bytes("1.005", 2), vec![0x65]);
    }

    #[test]
    fn unscaled_bytes_read_back() {
        for (text, scale) in [
            ("19.99", 2),
            ("0.00", 2),
            ("-1", 0),
            ("-128", 0),
            ("-0.000000000000000001", 18),
            ("1234.5678", 4),
            ("12345678901234567890123456789012345678901234567890.12", 2),
            ("-12345678901234567890123456789012345678901234567890.12", 2),
        ] {
            assert_eq!(from_unscaled(&bytes(text, scale), scale), text, "{text}");
        }
    }

    #[test]
    fn big_values_agree_with_i128_path() {
        // 39+ digits take the limb path; compare against a value that fits both ways.
        let v = "12345678901234567890123456789012345678901234567890";
        let mut out = Vec::new();
        parse(v.as_bytes()).unwrap().unscaled_bytes(0, &mut out);
        // Reconstruct the magnitude from bytes and compare the decimal string.
        let mut limbs = vec![0u8];
        for b in &out {
            // multiply by 256 and add b in base 10 digits (little-endian)
            let mut carry = u32::from(*b);
            for d in limbs.iter_mut() {
                let x = u32::from(*d) * 256 + carry;
                *d = (x % 10) as u8;
                carry = x / 10;
            }
            while carry > 0 {
                limbs.push((carry % 10) as u8);
                carry /= 10;
            }
        }
        let s: String = limbs.iter().rev().map(|d| (b'0' + d) as char).collect();
        assert_eq!(s.trim_start_matches('0'), v);
        let mut neg = Vec::new();
        parse(format!("-{v}").as_bytes())
            .unwrap()
            .unscaled_bytes(0, &mut neg);
        assert_eq!(neg.len(), out.len());
        assert!(neg[0] & 0x80 != 0);
    }
}
