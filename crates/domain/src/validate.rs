//! Field rules shared by every input type (`pkg/graphql/validation.go` in Compass).

/// Longest description, label-definition-free short text.
pub const SHORT_STRING: usize = 128;
/// Longest URL, provider name, label key.
pub const LONG_STRING: usize = 256;
/// Longest name of an application, runtime or integration system.
pub const NAME_MAX: usize = 36;

/// The Name rule: at most 36 characters, a DNS-1123 subdomain (lowercase alphanumerics, `-`
/// and `.`, each part starting and ending alphanumeric), not starting with a digit.
pub fn name(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("cannot be blank".into());
    }
    if value.chars().count() > NAME_MAX {
        return Err(format!("must be no more than {NAME_MAX} characters"));
    }
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("cannot start with digit".into());
    }
    let part_ok = |part: &str| {
        let bytes = part.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    };
    if !value.split('.').all(part_ok) {
        return Err(
            "must be a valid DNS-1123 subdomain: lowercase alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character"
                .into(),
        );
    }
    Ok(())
}

/// A required string of at most `max` characters.
pub fn required(value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("cannot be blank".into());
    }
    at_most(value, max)
}

/// An optional string of at most `max` characters.
pub fn at_most(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        return Err(format!("the length must be no more than {max}"));
    }
    Ok(())
}

/// An absolute http or https URL of at most 256 characters.
pub fn http_url(value: &str) -> Result<(), String> {
    at_most(value, LONG_STRING)?;
    let parsed = url::Url::parse(value).map_err(|_| "must be a valid URL".to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("must be a valid URL".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "app",
            "my-app",
            "a.b-c",
            "x1",
            "abcdefghijabcdefghijabcdefghijabcdef",
        ] {
            assert!(name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "0invalid",
            "Upper",
            "-dash",
            "dash-",
            "a..b",
            "under_score",
            "spa ce",
            "abcdefghijabcdefghijabcdefghijabcdefg",
        ] {
            assert!(name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert!(http_url("https://example.com/health").is_ok());
        assert!(http_url("http://127.0.0.1:8080").is_ok());
        assert!(http_url("ftp://example.com").is_err());
        assert!(http_url("not a url").is_err());
        assert!(http_url(&format!("https://e.com/{}", "a".repeat(300))).is_err());
    }

    #[test]
    fn lengths() {
        assert!(required("", 10).is_err());
        assert!(required("  ", 10).is_err());
        assert!(required("abc", 3).is_ok());
        assert!(at_most("abcd", 3).is_err());
    }
}
