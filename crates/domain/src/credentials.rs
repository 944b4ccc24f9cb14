//! The `Auth` value object: how Sextant (or a runtime) authenticates to an application's
//! endpoint. Used by API definitions (default and per-runtime credentials), fetch requests and
//! webhooks. Stored as JSON; the JSON shape is Sextant's own (camelCase), not Go's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validate;

/// Header or query-parameter values by name (`HttpHeaders`, `QueryParams`: `map[string][]string`).
pub type Multimap = BTreeMap<String, Vec<String>>;

/// At most this many header or query-parameter names in one map.
pub const MAX_MAP_KEYS: usize = 32;
/// At most this many values for one name.
pub const MAX_MAP_VALUES: usize = 16;
/// Longest header or query-parameter name or value, username, password, client id or secret.
pub const MAX_CREDENTIAL_FIELD: usize = 4096;

/// Credentials for an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Auth {
    pub credential: Credential,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_headers: Option<Multimap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_query_params: Option<Multimap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_auth: Option<RequestAuth>,
}

/// Either basic or OAuth2 client-credentials (`CredentialData`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    #[serde(rename_all = "camelCase")]
    OAuth {
        client_id: String,
        client_secret: String,
        /// The token endpoint.
        url: String,
    },
}

/// How to obtain something before the actual request (`CredentialRequestAuth`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestAuth {
    pub csrf: Option<CsrfTokenAuth>,
}

/// Fetch a CSRF token from `token_endpoint_url` with `credential` (and the extra headers and
/// query parameters), then send it with the actual request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsrfTokenAuth {
    #[serde(rename = "tokenEndpointURL")]
    pub token_endpoint_url: String,
    pub credential: Credential,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_headers: Option<Multimap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_query_params: Option<Multimap>,
}

/// A validation failure inside an `Auth`: the dotted path of the field and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthFieldError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> AuthFieldError {
    AuthFieldError {
        field: field.into(),
        message: message.into(),
    }
}

impl Auth {
    /// Checks every field: credentials present and bounded, token and CSRF endpoints are
    /// http(s) URLs, header and parameter names and values non-empty and bounded. Header
    /// names must be valid HTTP token characters and values must not contain control
    /// characters, so a stored `Auth` can always be applied to a request.
    pub fn validate(&self) -> Result<(), AuthFieldError> {
        validate_credential("credential", &self.credential)?;
        validate_map(
            "additionalHeaders",
            self.additional_headers.as_ref(),
            MapKind::Header,
        )?;
        validate_map(
            "additionalQueryParams",
            self.additional_query_params.as_ref(),
            MapKind::Query,
        )?;
        if let Some(csrf) = self.request_auth.as_ref().and_then(|r| r.csrf.as_ref()) {
            validate::required_url(&csrf.token_endpoint_url)
                .map_err(|m| err("requestAuth.csrf.tokenEndpointURL", m))?;
            validate_credential("requestAuth.csrf.credential", &csrf.credential)?;
            validate_map(
                "requestAuth.csrf.additionalHeaders",
                csrf.additional_headers.as_ref(),
                MapKind::Header,
            )?;
            validate_map(
                "requestAuth.csrf.additionalQueryParams",
                csrf.additional_query_params.as_ref(),
                MapKind::Query,
            )?;
        }
        Ok(())
    }
}

fn bounded(field: String, value: &str) -> Result<(), AuthFieldError> {
    if value.is_empty() {
        return Err(err(field, "cannot be blank"));
    }
    if value.len() > MAX_CREDENTIAL_FIELD {
        return Err(err(
            field,
            format!("must be at most {MAX_CREDENTIAL_FIELD} bytes"),
        ));
    }
    Ok(())
}

fn validate_credential(prefix: &str, credential: &Credential) -> Result<(), AuthFieldError> {
    match credential {
        Credential::Basic { username, password } => {
            bounded(format!("{prefix}.basic.username"), username)?;
            bounded(format!("{prefix}.basic.password"), password)?;
            if username.contains(':') {
                return Err(err(
                    format!("{prefix}.basic.username"),
                    "must not contain ':'",
                ));
            }
        }
        Credential::OAuth {
            client_id,
            client_secret,
            url,
        } => {
            bounded(format!("{prefix}.oauth.clientId"), client_id)?;
            bounded(format!("{prefix}.oauth.clientSecret"), client_secret)?;
            validate::required_url(url).map_err(|m| err(format!("{prefix}.oauth.url"), m))?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum MapKind {
    Header,
    Query,
}

/// Whether a header may not be sent as one of an `Auth`'s extra headers: those that frame
/// the message or govern the connection (`Host`, `Content-Length`, `Transfer-Encoding`,
/// `Connection`, `Upgrade`, `TE`, `Keep-Alive`, `Trailer`) and any `Proxy-*` header. The
/// HTTP client sets them from the request itself; a stored value could otherwise smuggle a
/// second request, address another virtual host or talk to a proxy on the way. Checked when
/// an `Auth` is validated and again by `sextant-fetch` before it sends one.
pub fn is_refused_outbound_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "upgrade"
            | "te"
            | "keep-alive"
            | "trailer"
    ) || name.starts_with("proxy-")
}

/// The message for a header refused by [`is_refused_outbound_header`].
pub const REFUSED_OUTBOUND_HEADER: &str = "cannot be set: Host, Content-Length, Transfer-Encoding, Connection, Upgrade, TE, Keep-Alive, Trailer and Proxy-* headers come from the request itself";

/// True for an RFC 9110 token character (what a header name may contain).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn validate_map(field: &str, map: Option<&Multimap>, kind: MapKind) -> Result<(), AuthFieldError> {
    let Some(map) = map else { return Ok(()) };
    if map.len() > MAX_MAP_KEYS {
        return Err(err(
            field,
            format!("at most {MAX_MAP_KEYS} names are allowed"),
        ));
    }
    for (name, values) in map {
        let at = format!("{field}.{name}");
        bounded(at.clone(), name).map_err(|_| err(field, "names cannot be blank"))?;
        if name.len() > MAX_CREDENTIAL_FIELD {
            return Err(err(field, "a name is too long"));
        }
        if matches!(kind, MapKind::Header) && !name.bytes().all(is_tchar) {
            return Err(err(at, "is not a valid HTTP header name"));
        }
        if matches!(kind, MapKind::Header) && is_refused_outbound_header(name) {
            return Err(err(at, REFUSED_OUTBOUND_HEADER));
        }
        if values.is_empty() {
            return Err(err(at, "must have at least one value"));
        }
        if values.len() > MAX_MAP_VALUES {
            return Err(err(
                at,
                format!("at most {MAX_MAP_VALUES} values are allowed"),
            ));
        }
        for value in values {
            bounded(at.clone(), value)?;
            if matches!(kind, MapKind::Header)
                && value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
            {
                return Err(err(at, "must not contain control characters"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic() -> Auth {
        Auth {
            credential: Credential::Basic {
                username: "x-men".into(),
                password: "secret".into(),
            },
            additional_headers: None,
            additional_query_params: None,
            request_auth: None,
        }
    }

    #[test]
    fn json_round_trip() {
        let mut auth = basic();
        auth.additional_headers = Some(BTreeMap::from([("X-A".into(), vec!["1".into()])]));
        auth.request_auth = Some(RequestAuth {
            csrf: Some(CsrfTokenAuth {
                token_endpoint_url: "https://e.com/csrf".into(),
                credential: Credential::OAuth {
                    client_id: "c".into(),
                    client_secret: "s".into(),
                    url: "https://e.com/token".into(),
                },
                additional_headers: None,
                additional_query_params: None,
            }),
        });
        let json = serde_json::to_string(&auth).unwrap();
        assert!(json.contains("\"tokenEndpointURL\""), "{json}");
        assert!(json.contains("\"clientId\""), "{json}");
        let back: Auth = serde_json::from_str(&json).unwrap();
        assert_eq!(back, auth);
        assert!(auth.validate().is_ok());
    }

    #[test]
    fn rejects_bad_fields() {
        let mut a = basic();
        a.credential = Credential::Basic {
            username: "".into(),
            password: "p".into(),
        };
        assert_eq!(a.validate().unwrap_err().field, "credential.basic.username");

        let mut a = basic();
        a.credential = Credential::OAuth {
            client_id: "c".into(),
            client_secret: "s".into(),
            url: "not a url".into(),
        };
        assert_eq!(a.validate().unwrap_err().field, "credential.oauth.url");

        let mut a = basic();
        a.additional_headers = Some(BTreeMap::from([("X-A".into(), vec![])]));
        assert!(a.validate().is_err());
        a.additional_headers = Some(BTreeMap::from([("".into(), vec!["v".into()])]));
        assert!(a.validate().is_err());
        a.additional_headers = Some(BTreeMap::from([("Bad Name".into(), vec!["v".into()])]));
        assert!(a.validate().is_err());
        a.additional_headers = Some(BTreeMap::from([("X".into(), vec!["a\r\nb".into()])]));
        assert!(a.validate().is_err());
        a.additional_headers = None;
        a.additional_query_params = Some(BTreeMap::from([("q".into(), vec!["".into()])]));
        assert!(a.validate().is_err());
        a.additional_query_params = Some(BTreeMap::from([("q p".into(), vec!["a b".into()])]));
        assert!(a.validate().is_ok(), "query parameters are percent-encoded");
    }

    #[test]
    fn refuses_headers_that_frame_the_message_or_steer_the_connection() {
        for name in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "CONNECTION",
            "Upgrade",
            "TE",
            "Keep-Alive",
            "Trailer",
            "Proxy-Authorization",
            "proxy-connection",
        ] {
            let mut a = basic();
            a.additional_headers = Some(BTreeMap::from([(name.into(), vec!["x".into()])]));
            let e = a.validate().unwrap_err();
            assert_eq!(e.field, format!("additionalHeaders.{name}"));
            assert_eq!(e.message, REFUSED_OUTBOUND_HEADER);
            // In a CSRF token request's headers as well.
            let mut a = basic();
            a.request_auth = Some(RequestAuth {
                csrf: Some(CsrfTokenAuth {
                    token_endpoint_url: "https://e.com/csrf".into(),
                    credential: a.credential.clone(),
                    additional_headers: Some(BTreeMap::from([(name.into(), vec!["x".into()])])),
                    additional_query_params: None,
                }),
            });
            let e = a.validate().unwrap_err();
            assert_eq!(
                e.field,
                format!("requestAuth.csrf.additionalHeaders.{name}")
            );
        }
        // Ordinary headers, and names that only start alike, pass.
        for name in [
            "X-Host",
            "Hosting",
            "Tenant",
            "Proxyish",
            "Authorization-Extra",
        ] {
            let mut a = basic();
            a.additional_headers = Some(BTreeMap::from([(name.into(), vec!["x".into()])]));
            assert!(a.validate().is_ok(), "{name}");
        }
        // And query parameters of those names are only parameters.
        let mut a = basic();
        a.additional_query_params = Some(BTreeMap::from([("host".into(), vec!["x".into()])]));
        assert!(a.validate().is_ok());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(String::new()),
                "[a-zA-Z0-9:_-]{1,12}",
                "\\PC{0,40}",
                ".{0,8}[\r\n\t\x00\x7f].{0,8}",
                "https?://[a-z]{1,8}(\\.[a-z]{2,3})?(:[0-9]{1,5})?/[a-z/]{0,10}",
            ]
        }

        fn credential() -> impl Strategy<Value = Credential> {
            prop_oneof![
                (text(), text())
                    .prop_map(|(username, password)| Credential::Basic { username, password }),
                (text(), text(), text()).prop_map(|(client_id, client_secret, url)| {
                    Credential::OAuth {
                        client_id,
                        client_secret,
                        url,
                    }
                }),
            ]
        }

        fn multimap() -> impl Strategy<Value = Option<Multimap>> {
            proptest::option::of(proptest::collection::btree_map(
                text(),
                proptest::collection::vec(text(), 0..3),
                0..4,
            ))
        }

        fn auth() -> impl Strategy<Value = Auth> {
            (
                credential(),
                multimap(),
                multimap(),
                proptest::option::of((text(), credential(), multimap(), multimap())),
            )
                .prop_map(|(credential, headers, params, csrf)| Auth {
                    credential,
                    additional_headers: headers,
                    additional_query_params: params,
                    request_auth: csrf.map(|(url, credential, h, q)| RequestAuth {
                        csrf: Some(CsrfTokenAuth {
                            token_endpoint_url: url,
                            credential,
                            additional_headers: h,
                            additional_query_params: q,
                        }),
                    }),
                })
        }

        proptest! {
            /// Validation never panics; what it accepts can be stored and applied: it
            /// round-trips through JSON, and every header is a valid HTTP header.
            #[test]
            fn accepted_auths_are_safe_to_store_and_apply(auth in auth()) {
                if auth.validate().is_ok() {
                    let json = serde_json::to_string(&auth).unwrap();
                    let back: Auth = serde_json::from_str(&json).unwrap();
                    prop_assert_eq!(&back, &auth);
                    let mut maps = vec![auth.additional_headers.as_ref()];
                    if let Some(csrf) = auth.request_auth.as_ref().and_then(|r| r.csrf.as_ref()) {
                        maps.push(csrf.additional_headers.as_ref());
                    }
                    for (name, values) in maps.into_iter().flatten().flat_map(|m| m.iter()) {
                        prop_assert!(!name.is_empty() && name.bytes().all(is_tchar));
                        prop_assert!(!values.is_empty());
                        for v in values {
                            prop_assert!(!v.is_empty());
                            prop_assert!(!v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f));
                        }
                    }
                    if let Credential::OAuth { url, .. } = &auth.credential {
                        // Called as given, or over https when it has no scheme.
                        let called = url::Url::parse(&crate::validate::with_default_scheme(url));
                        prop_assert!(called.is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
                    }
                }
            }
        }
    }
}
