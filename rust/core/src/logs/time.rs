//! Timestamps of access logs, to seconds since the epoch: Unix seconds, RFC 3339 / ISO 8601
//! (`2026-12-02T10:00:00.250Z`, `+01:00`, a space for the `T`), and the common log format's
//! `10/Oct/2000:13:55:36 -0700`.

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day counted from 1970-01-01 (the inverse of
/// [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn digits(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 9 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

fn seconds_of(year: i64, month: i64, day: i64, hms: (i64, i64, i64)) -> Option<f64> {
    let (h, m, s) = hms;
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&h)
        && (0..60).contains(&m)
        && (0..=60).contains(&s);
    valid.then(|| (days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s) as f64)
}

/// A `+hh:mm`, `+hhmm`, `Z` (or nothing: UTC) offset, in seconds east of UTC.
fn offset(text: &[u8]) -> Option<i64> {
    match text {
        [] | [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let rest: Vec<u8> = rest.iter().copied().filter(|c| *c != b':').collect();
            if rest.len() != 4 {
                return None;
            }
            let minutes = digits(&rest[..2])? * 60 + digits(&rest[2..])?;
            Some(if *sign == b'-' {
                -minutes * 60
            } else {
                minutes * 60
            })
        }
        _ => None,
    }
}

/// Fractional seconds after a `.` or `,`: their value and how many bytes they took.
fn fraction(text: &[u8]) -> (f64, usize) {
    match text.first() {
        Some(b'.' | b',') => {
            let n = text[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            let value = text[1..=n]
                .iter()
                .rev()
                .fold(0.0, |f, d| (f + f64::from(d - b'0')) / 10.0);
            (value, n + 1)
        }
        _ => (0.0, 0),
    }
}

/// Seconds since the epoch of an RFC 3339 / ISO 8601 timestamp, or of Unix seconds.
pub fn parse_timestamp(text: &[u8]) -> Option<f64> {
    let text = text.trim_ascii();
    if text.len() >= 19
        && text[4] == b'-'
        && text[7] == b'-'
        && matches!(text[10], b'T' | b't' | b' ')
    {
        let date = (
            digits(&text[..4])?,
            digits(&text[5..7])?,
            digits(&text[8..10])?,
        );
        if text[13] != b':' || text[16] != b':' {
            return None;
        }
        let hms = (
            digits(&text[11..13])?,
            digits(&text[14..16])?,
            digits(&text[17..19])?,
        );
        let (frac, used) = fraction(&text[19..]);
        let zone = offset(&text[19 + used..])?;
        return Some(seconds_of(date.0, date.1, date.2, hms)? + frac - zone as f64);
    }
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Seconds since the epoch of a common log format time, `10/Oct/2000:13:55:36 -0700`.
pub fn parse_clf_time(text: &[u8]) -> Option<f64> {
    if text.len() < 20 || text[2] != b'/' || text[6] != b'/' || text[11] != b':' {
        return None;
    }
    let day = digits(&text[..2])?;
    let month = MONTHS.iter().position(|m| m[..] == text[3..6])? as i64 + 1;
    let year = digits(&text[7..11])?;
    if text[14] != b':' || text[17] != b':' {
        return None;
    }
    let hms = (
        digits(&text[12..14])?,
        digits(&text[15..17])?,
        digits(&text[18..20])?,
    );
    let (frac, used) = fraction(&text[20..]);
    let zone = offset(text[20 + used..].trim_ascii())?;
    Some(seconds_of(year, month, day, hms)? + frac - zone as f64)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_and_unix_seconds() {
        let noon = 1_764_676_800.0; // 2025-12-02T12:00:00Z
        assert_eq!(parse_timestamp(b"2025-12-02T12:00:00Z"), Some(noon));
        assert_eq!(parse_timestamp(b"2025-12-02 12:00:00"), Some(noon));
        assert_eq!(parse_timestamp(b"2025-12-02T13:30:00+01:30"), Some(noon));
        assert_eq!(
            parse_timestamp(b"2025-12-02T12:00:00.25Z"),
            Some(noon + 0.25)
        );
        assert_eq!(parse_timestamp(b"1764676800.5"), Some(noon + 0.5));
        assert_eq!(parse_timestamp(b"1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_timestamp(b"2000-02-29T00:00:00Z"),
            Some(951_782_400.0)
        );
        for bad in [
            &b"2025-13-02T12:00:00Z"[..],
            b"2025-12-02T12:00:00+1",
            b"soon",
            b"-5",
            b"nan",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn common_log_format_times() {
        assert_eq!(
            parse_clf_time(b"10/Oct/2000:13:55:36 -0700"),
            Some(971_211_336.0)
        );
        assert_eq!(
            parse_clf_time(b"02/Dec/2025:12:00:00 +0000"),
            Some(1_764_676_800.0)
        );
        assert_eq!(parse_clf_time(b"02/Dek/2025:12:00:00 +0000"), None);
        assert_eq!(parse_clf_time(b"02/Dec/2025"), None);
    }
}
