//! Wall-clock helpers (milliseconds since the epoch, ISO-8601 text).

use time::OffsetDateTime;

pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `2026-11-22T04:00:00.120Z`: RFC 3339 with exactly three fractional digits, so that the
/// text sorts as the time does (activity order, cursors). RFC 3339's shortest form does not:
/// `…:00.12Z` sorts after `…:00.123Z`, and `…:00Z` after `…:00.5Z`.
pub fn iso(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn iso_text_sorts_as_the_time_does() {
        let times = [1_795_960_800_000, 1_795_960_800_120, 1_795_960_800_123, 1_795_960_800_500, 1_795_960_801_000];
        let texts: Vec<String> = times.iter().map(|t| iso(*t)).collect();
        assert_eq!(texts[1], "2026-11-29T14:00:00.120Z");
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(sorted, texts);
        let parsed = OffsetDateTime::parse(&texts[2], &Rfc3339).expect("still RFC 3339");
        assert_eq!(parsed.unix_timestamp_nanos() / 1_000_000, 1_795_960_800_123);
    }
}
