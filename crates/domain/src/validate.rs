//! Field rules shared by every input type, worded as Compass's validator worded them
//! (Compass's `pkg/graphql/*_validation.go` with ozzo-validation's rules and its
//! `pkg/inputvalidation`). A message is the text after `field: `; the trailing period that
//! ozzo-validation puts after a list of field errors is added by [`crate::FieldErrors`].

/// Longest description, label-definition-free short text.
pub const SHORT_STRING: usize = 128;
/// Longest URL, provider name, label key.
pub const LONG_STRING: usize = 256;
/// Longest name of an application, runtime or integration system.
pub const NAME_MAX: usize = 36;

/// Compass's message for a name that is not a DNS-1123 subdomain (Kubernetes' wording, in
/// brackets because Compass printed the list of Kubernetes' messages).
pub const DNS_SUBDOMAIN_MESSAGE: &str = "[a DNS-1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')]";

/// ozzo-validation's `Required` on a string.
pub const BLANK: &str = "cannot be blank";
/// ozzo-validation's `is.URL` (and Compass's `inputvalidation.IsURL`).
pub const INVALID_URL: &str = "must be a valid URL";

/// ozzo-validation's `RuneLength(min, max)`: an empty value passes (`Required` says blank).
pub fn rune_length(value: &str, min: usize, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let n = value.chars().count();
    if n < min || n > max {
        return Err(match (min, max) {
            (0, max) => format!("the length must be no more than {max}"),
            (min, max) if min == max => format!("the length must be exactly {min}"),
            (min, max) => format!("the length must be between {min} and {max}"),
        });
    }
    Ok(())
}

/// `Required, RuneLength(0, max)`: a non-empty string of at most `max` characters.
pub fn required(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(BLANK.into());
    }
    rune_length(value, 0, max)
}

/// `Required, RuneLength(1, max)`.
pub fn required_between(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(BLANK.into());
    }
    rune_length(value, 1, max)
}

/// `RuneLength(0, max)`: an optional string of at most `max` characters.
pub fn at_most(value: &str, max: usize) -> Result<(), String> {
    rune_length(value, 0, max)
}

/// `NilOrNotEmpty, RuneLength(1, max)`: an optional string that, when given, is not empty.
pub fn not_empty_between(value: &str, max: usize) -> Result<(), String> {
    required_between(value, max)
}

/// A URL as Compass accepted it (ozzo-validation's `is.URL`, i.e. govalidator's `IsURL`, with
/// Compass's rule that a scheme, when given, is `http` or `https`): an absolute URL or a bare
/// host with an optional port and path, such as `kyma-project.io` or `localhost:8080/x`.
/// The value is stored as given; where Sextant calls it, a missing scheme means `https`
/// ([`with_default_scheme`]).
pub fn url(value: &str) -> Result<(), String> {
    if url_ok(value) {
        Ok(())
    } else {
        Err(INVALID_URL.into())
    }
}

/// `Required, IsURL, RuneLength(0, 256)` in Compass's order.
pub fn required_url(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(BLANK.into());
    }
    url(value)?;
    rune_length(value, 0, LONG_STRING)
}

/// `Required, IsURL, RuneLength(1, 256)`.
pub fn required_url_between(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(BLANK.into());
    }
    url(value)?;
    rune_length(value, 1, LONG_STRING)
}

/// `IsURL, RuneLength(0, 256)` for an optional URL.
pub fn optional_url(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    url(value)?;
    rune_length(value, 0, LONG_STRING)
}

/// The URL to call for a stored URL: a value without a scheme (`kyma-project.io/x`) means
/// `https://kyma-project.io/x`; anything else is returned as it is.
pub fn with_default_scheme(value: &str) -> std::borrow::Cow<'_, str> {
    if split_scheme(value).is_some() {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(format!("https://{value}"))
    }
}

/// `scheme://rest` when the value starts with a scheme (`://` later on, in a query for
/// instance, is not one).
fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some((scheme, rest))
}

fn url_ok(value: &str) -> bool {
    // govalidator's bounds: fewer than 2083 characters, more than 3 bytes, no leading dot.
    if value.chars().count() >= 2083 || value.len() <= 3 || value.starts_with('.') {
        return false;
    }
    if value.chars().any(char::is_whitespace) {
        return false;
    }
    let rest = match split_scheme(value) {
        Some((scheme, rest)) => {
            // Compass's scheme rule: only what Compass could call.
            if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
                return false;
            }
            rest
        }
        None => {
            // govalidator parses a value without a scheme or port as a path, and wants a dot
            // in it: `kyma-project.io` is a host, `nope` is not.
            let path = &value[..value.find(['?', '#']).unwrap_or(value.len())];
            if !value.contains(':') && !path.contains('.') {
                return false;
            }
            value
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) if !userinfo.is_empty() => host_port,
        Some(_) => return false,
        None => authority,
    };
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((v6, after)) = bracketed.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() || !port_ok(after) {
            return false;
        }
        return parses(value);
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => {
                if !port_ok(&format!(":{port}")) {
                    return false;
                }
                host
            }
            None => host_port,
        }
    };
    host_ok(host) && parses(value)
}

fn port_ok(after_host: &str) -> bool {
    match after_host.strip_prefix(':') {
        None => after_host.is_empty(),
        Some(port) => (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn host_ok(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() == 4 && labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        // An IPv4 address: govalidator wants a first octet of 1..223.
        return match host.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => (1..=223).contains(&ip.octets()[0]),
            Err(_) => false,
        };
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c >= '\u{a1}')
    };
    if !labels.iter().all(|l| label_ok(l)) {
        return false;
    }
    // A top-level domain, when there is one, is letters only.
    match labels.as_slice() {
        [_] => true,
        [.., tld] => tld.chars().all(|c| c.is_alphabetic()),
        [] => false,
    }
}

fn parses(value: &str) -> bool {
    ::url::Url::parse(&with_default_scheme(value)).is_ok_and(|u| u.host_str().is_some())
}

/// Whether a string holds a control character (NUL, C0, DEL, C1), which no key or name may
/// hold and PostgreSQL cannot store as text at all (NUL).
pub fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Label keys and similar identifiers: no control characters.
pub fn printable(value: &str) -> Result<(), String> {
    if has_control(value) {
        Err("cannot contain not printable characters".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_compass_accepted_them() {
        for ok in [
            "https://example.com/health",
            "http://127.0.0.1:8080",
            "kyma-project.io",
            "kyma-project.io/docs?x=1#y",
            "localhost:8080/path",
            "www.example.com",
            "https://user:pw@example.com:443/a",
            "http://[::1]:3000/x",
            "HTTPS://EXAMPLE.COM",
            "http://example.com.",
            "kyma-project.io/redirect?to=http://x",
        ] {
            assert!(url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com",
            "javascript://alert(1)",
            "not a url",
            "abc",
            "nope",
            "localhost/path",
            ".example.com",
            "http://",
            "https://exa mple.com",
            "http://0.1.2.3",
            "http://example.com:123456",
            "example.c0m",
            "http://-bad-.com",
            "http://[::zz]/",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            optional_url(&format!("https://e.com/{}", "a".repeat(300))).unwrap_err(),
            "the length must be no more than 256"
        );
        assert_eq!(required_url("").unwrap_err(), BLANK);
        assert_eq!(
            required_url_between(&format!("https://e.com/{}", "a".repeat(300))).unwrap_err(),
            "the length must be between 1 and 256"
        );
    }

    #[test]
    fn default_scheme_is_https() {
        assert_eq!(
            with_default_scheme("kyma-project.io"),
            "https://kyma-project.io"
        );
        assert_eq!(with_default_scheme("http://a.io"), "http://a.io");
        assert_eq!(
            with_default_scheme("a.io/r?to=http://b"),
            "https://a.io/r?to=http://b"
        );
    }

    #[test]
    fn lengths() {
        assert_eq!(required("", 10).unwrap_err(), "cannot be blank");
        assert!(required("abc", 3).is_ok());
        assert_eq!(
            at_most("abcd", 3).unwrap_err(),
            "the length must be no more than 3"
        );
        assert_eq!(
            required_between("abcd", 3).unwrap_err(),
            "the length must be between 1 and 3"
        );
        assert!(at_most("", 3).is_ok());
        // Characters, not bytes.
        assert!(at_most("ééé", 3).is_ok());
    }

    #[test]
    fn control_characters() {
        assert!(printable("a\0b").is_err());
        assert!(printable("a\u{7}").is_err());
        assert!(printable("a\u{85}").is_err());
        assert!(printable("ok key").is_ok());
    }
}
