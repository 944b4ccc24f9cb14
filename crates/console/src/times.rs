//! Times as pages show them: the Director answers RFC 3339; people read UTC to the second.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn parse(rfc3339: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(rfc3339, &Rfc3339).ok()
}

/// `2026-12-07 10:15:00 UTC`; the text itself when it does not parse.
pub(crate) fn text(rfc3339: &str) -> String {
    let Some(at) = parse(rfc3339) else {
        return rfc3339.to_owned();
    };
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// How long from `from` to `to`, in milliseconds under ten seconds and seconds above
/// (`None` when either does not parse).
pub(crate) fn between(from: &str, to: &str) -> Option<String> {
    let took = parse(to)? - parse(from)?;
    Some(millis(
        i64::try_from(took.whole_milliseconds()).unwrap_or(i64::MAX),
    ))
}

/// A duration in milliseconds as [`between`] shows it.
pub(crate) fn millis(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 10_000 {
        format!("{ms} ms")
    } else {
        format!("{} s", ms / 1000)
    }
}

/// Whether the time has passed (`false` when it does not parse).
pub(crate) fn is_past(rfc3339: &str) -> bool {
    parse(rfc3339).is_some_and(|at| at <= OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_utc() {
        assert_eq!(text("2026-12-07T11:15:00+01:00"), "2026-12-07 10:15:00 UTC");
        assert_eq!(text("soon"), "soon");
    }

    #[test]
    fn durations_in_milliseconds_then_seconds() {
        assert_eq!(
            between("2026-12-07T10:00:00Z", "2026-12-07T10:00:00.250Z").as_deref(),
            Some("250 ms")
        );
        assert_eq!(
            between("2026-12-07T10:00:00Z", "2026-12-07T10:01:00Z").as_deref(),
            Some("60 s")
        );
        assert_eq!(between("x", "2026-12-07T10:01:00Z"), None);
    }
}
