//! Calendar arithmetic for dates and timestamps (proleptic Gregorian, as PostgreSQL and Java).

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The wall clock in microseconds since 1970-01-01 (0 before it).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// An interval as Debezium's `MicroDuration` counts it (a month is 365.25 / 12 = 30.4375 days
/// = 2 629 800 s), or `None` past what microseconds in 64 bits hold (±292,000 years), where
/// Debezium wraps around.
pub fn interval_micros(months: i32, days: i32, micros: i64) -> Option<i64> {
    // In 128 bits: parts of opposite signs may overflow alone and fit together.
    let total = i128::from(months) * 2_629_800_000_000
        + i128::from(days) * i128::from(MICROS_PER_DAY)
        + i128::from(micros);
    i64::try_from(total).ok()
}

/// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Writes `micros` since the epoch as ISO-8601 UTC (`2025-01-02T03:04:05.123456Z`) with exactly
/// `fraction` fractional digits (1–6), or, with `fraction == 0`, Java's `ISO_OFFSET_DATE_TIME`
/// style: the fraction only when non-zero, without trailing zeros.
pub fn write_iso_utc(out: &mut Vec<u8>, micros: i64, fraction: u32) {
    write_iso_utc_parts(
        out,
        micros.div_euclid(MICROS_PER_DAY),
        micros.rem_euclid(MICROS_PER_DAY),
        fraction,
    );
}

/// [`write_iso_utc`] for an instant given as days since the epoch and microseconds into that
/// day (instants past what microseconds in 64 bits hold: PostgreSQL's last days, year 294276).
pub fn write_iso_utc_parts(out: &mut Vec<u8>, days: i64, in_day: i64, fraction: u32) {
    write_iso_date(out, days);
    out.push(b'T');
    write_time_of_day(out, in_day, fraction);
    out.push(b'Z');
}

/// `YYYY-MM-DD`; years beyond 9999 get a `+` as in Java's ISO formatter.
pub fn write_iso_date(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if y > 9999 {
        out.push(b'+');
    }
    if y < 0 {
        out.push(b'-');
    }
    let ya = y.unsigned_abs();
    write_padded(out, ya, 4);
    out.push(b'-');
    write_padded(out, u64::from(m), 2);
    out.push(b'-');
    write_padded(out, u64::from(d), 2);
}

/// Debezium's `ZonedTime` text: a local time and its offset as the UTC time of day,
/// `HH:MM:SS[.fraction]Z`.
pub fn write_zoned_time(out: &mut Vec<u8>, micros: i64, offset_secs: i32) {
    let utc = (micros - i64::from(offset_secs) * MICROS_PER_SECOND).rem_euclid(MICROS_PER_DAY);
    write_time_of_day(out, utc, 0);
    out.push(b'Z');
}

/// `HH:MM:SS[.fraction]` for microseconds since midnight.
pub fn write_time_of_day(out: &mut Vec<u8>, micros: i64, fraction: u32) {
    let secs = micros / MICROS_PER_SECOND;
    let frac = (micros % MICROS_PER_SECOND) as u64;
    write_padded(out, (secs / 3600) as u64, 2);
    out.push(b':');
    write_padded(out, ((secs / 60) % 60) as u64, 2);
    out.push(b':');
    write_padded(out, (secs % 60) as u64, 2);
    write_fraction(out, frac, fraction);
}

fn write_fraction(out: &mut Vec<u8>, micros: u64, fraction: u32) {
    if fraction == 0 {
        if micros == 0 {
            return;
        }
        let mut digits = [0u8; 6];
        let mut v = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let mut len = 6;
        while len > 1 && digits[len - 1] == b'0' {
            len -= 1;
        }
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
        return;
    }
    let width = fraction.min(9);
    out.push(b'.');
    // Microsecond precision: digits past the sixth are zeros.
    let mut digits = [b'0'; 9];
    let mut v = micros;
    for d in digits[..6].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[..width as usize]);
}

fn write_padded(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(value);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1_000_000i64, -719_468, -1, 0, 1, 20_090, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2025, 1, 2), 20_090);
    }

    #[test]
    fn iso_formats() {
        let mut out = Vec::new();
        write_iso_utc(&mut out, 1_735_787_045_123_456, 6);
        assert_eq!(out, b"2025-01-02T03:04:05.123456Z");
        out.clear();
        write_iso_utc(&mut out, 0, 6);
        assert_eq!(out, b"1970-01-01T00:00:00.000000Z");
        out.clear();
        write_iso_utc(&mut out, 1_500_000, 0);
        assert_eq!(out, b"1970-01-01T00:00:01.5Z");
        out.clear();
        write_iso_utc(&mut out, -1, 3);
        assert_eq!(out, b"1969-12-31T23:59:59.999Z");
    }
}
