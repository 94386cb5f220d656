//! RFC 3339 UTC timestamps with millisecond precision, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2024-05-01T12:34:56.789Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Formats `time` as RFC 3339 UTC with milliseconds, e.g. `2024-05-01T12:34:56.789Z`.
pub fn format_rfc3339(time: SystemTime) -> String {
    let millis: i128 = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i128,
        Err(before) => -(before.duration().as_millis() as i128),
    };
    format_unix_millis(millis as i64)
}

/// Formats milliseconds since the Unix epoch as RFC 3339 UTC.
pub fn format_unix_millis(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(format_unix_millis(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (leap day in a century leap year)
        assert_eq!(
            format_unix_millis(951_782_400_000 + 3_723_004),
            "2000-02-29T01:02:03.004Z"
        );
        // 2024-12-31T23:59:59.999Z
        assert_eq!(
            format_unix_millis(1_735_689_599_999),
            "2024-12-31T23:59:59.999Z"
        );
        // 2100-03-01 (2100 is not a leap year)
        assert_eq!(
            format_unix_millis(4_107_542_400_000),
            "2100-03-01T00:00:00.000Z"
        );
        assert_eq!(format_unix_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn system_time_formatting() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(format_rfc3339(t), "2023-11-14T22:13:20.123Z");
        let now = now_rfc3339();
        assert_eq!(now.len(), "2024-05-01T12:34:56.789Z".len());
        assert!(now.ends_with('Z'));
    }
}
