//! The one error type of this crate. Every message is safe to show to the user who configured
//! the endpoint: URLs appear without query string, fragment or user info, and no credential,
//! token or header value ever appears.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;
use url::Url;

/// Why an outbound call failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL could not be parsed, or it carries user info (credentials belong in `Auth`).
    #[error("invalid URL: {reason}")]
    InvalidUrl { reason: String },

    /// The URL (or a redirect target, token or CSRF endpoint) is not http or https.
    #[error("only http and https URLs can be fetched, not {scheme}")]
    SchemeNotAllowed { scheme: String },

    /// The host is not on the egress allow-list ([`crate::FetchPolicy::allow_hosts`]); it was
    /// not resolved and nothing was sent to it.
    #[error(
        "host {host} is not allowed: outbound calls may reach only the hosts on the server's allow-list"
    )]
    HostNotAllowed { host: String },

    /// The host is, or resolves only to, an address that is not publicly routable.
    #[error("{}", address_message(host, address))]
    AddressNotAllowed { host: String, address: IpAddr },

    /// The whole call (authentication steps, redirects and body) took longer than the policy's
    /// timeout.
    #[error("timed out after {}", seconds(*after))]
    Timeout { after: Duration },

    /// The response body is larger than the policy allows.
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: usize },

    /// [`crate::Fetcher::fetch`] got a response outside 2xx.
    #[error("{method} {url} answered {}", status_text(*status))]
    Status {
        method: String,
        url: String,
        status: u16,
    },

    /// [`crate::Fetcher::fetch`] got a body that is not UTF-8.
    #[error("the response is not valid UTF-8 text")]
    NotUtf8,

    /// More redirects than the policy allows (or a loop).
    #[error("stopped after {limit} redirects")]
    TooManyRedirects { limit: usize },

    /// Obtaining an OAuth token or a CSRF token failed, or the `Auth` cannot be applied.
    #[error("authentication failed: {0}")]
    Auth(String),

    /// The connection could not be made (DNS, TCP, TLS, connect timeout).
    #[error("could not connect to {0}")]
    Connect(String),

    /// Anything else (a broken response, an invalid request header).
    #[error("{0}")]
    Other(String),
}

fn address_message(host: &str, address: &IpAddr) -> String {
    let address_text = address.to_string();
    // `Url` prints IPv6 hosts in brackets.
    if host == address_text || host.trim_matches(['[', ']']) == address_text {
        format!("address {address} is private; fetching private addresses is disabled")
    } else {
        format!(
            "{host} resolves to address {address}, which is private; fetching private addresses is disabled"
        )
    }
}

fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status) {
        Ok(code) => code.to_string(),
        Err(_) => status.to_string(),
    }
}

/// `10s`, `1.5s`, `300ms`.
pub(crate) fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

/// The URL as it may appear in a message: no user info, query string or fragment, which may
/// carry secrets.
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Both fail only for URLs that cannot have user info, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The error and its sources ([`sextant_domain::ErrorChain`]), without the URL that `reqwest`
/// would print (it can carry secrets in its query string) and without reqwest's and hyper's
/// wrapper messages, which say nothing the caller's message does not.
pub(crate) fn chain(error: reqwest::Error) -> String {
    const WRAPPERS: [&str; 4] = [
        "error sending request",
        "client error (Connect)",
        "error resolving DNS",
        "builder error",
    ];
    let error = error.without_url();
    sextant_domain::ErrorChain(&error).omitting(|message| WRAPPERS.contains(&message))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn messages() {
        let url = Url::parse("https://user:pw@host.example/path?token=secret#f").unwrap();
        assert_eq!(display_url(&url), "https://host.example/path");
        let error = FetchError::Status {
            method: "GET".into(),
            url: display_url(&url),
            status: 404,
        };
        assert_eq!(
            error.to_string(),
            "GET https://host.example/path answered 404 Not Found"
        );
        assert_eq!(
            FetchError::TooLarge { limit: 2097152 }.to_string(),
            "the response is larger than 2097152 bytes"
        );
        assert_eq!(
            FetchError::Timeout {
                after: Duration::from_secs(10)
            }
            .to_string(),
            "timed out after 10s"
        );
        assert_eq!(
            FetchError::Timeout {
                after: Duration::from_millis(300)
            }
            .to_string(),
            "timed out after 300ms"
        );
        assert_eq!(
            FetchError::AddressNotAllowed {
                host: "10.0.0.1".into(),
                address: "10.0.0.1".parse().unwrap()
            }
            .to_string(),
            "address 10.0.0.1 is private; fetching private addresses is disabled"
        );
        assert_eq!(
            FetchError::AddressNotAllowed {
                host: "[::1]".into(),
                address: "::1".parse().unwrap()
            }
            .to_string(),
            "address ::1 is private; fetching private addresses is disabled"
        );
        assert_eq!(
            FetchError::AddressNotAllowed {
                host: "localhost".into(),
                address: "127.0.0.1".parse().unwrap()
            }
            .to_string(),
            "localhost resolves to address 127.0.0.1, which is private; fetching private addresses is disabled"
        );
        assert_eq!(
            FetchError::SchemeNotAllowed {
                scheme: "ftp".into()
            }
            .to_string(),
            "only http and https URLs can be fetched, not ftp"
        );
    }
}
