//! The `Auth` value object: how Sextant (or a runtime) authenticates to an application's
//! endpoint. Used by API definitions (default and per-runtime credentials), fetch requests and
//! webhooks. Stored as JSON; the JSON shape is Sextant's own (camelCase), not Go's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validate;
use crate::{FieldErrorEntry, FieldErrors};

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

impl Auth {
    /// Checks every field and reports every invalid one, keyed as Compass's `AuthInput`
    /// validation keyed them (`credential: (Basic: (password: cannot be blank.).)`):
    /// credentials present and bounded, token and CSRF endpoints are http(s) URLs, header and
    /// parameter names and values non-empty and bounded. Header names must be valid HTTP
    /// token characters and values must not contain control characters, so a stored `Auth`
    /// can always be applied to a request.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.inner("credential", credential_errors(&self.credential));
        check_headers(
            &mut errors,
            "additionalHeaders",
            self.additional_headers.as_ref(),
        );
        check_query_params(
            &mut errors,
            "additionalQueryParams",
            self.additional_query_params.as_ref(),
        );
        if let Some(request_auth) = &self.request_auth {
            let mut inner = FieldErrors::new();
            match &request_auth.csrf {
                Some(csrf) => inner.inner("csrf", csrf_errors(csrf)),
                None => inner.add("csrf", validate::BLANK),
            }
            errors.inner("requestAuth", inner);
        }
        errors.finish()
    }
}

/// The errors of a CSRF token request (Compass's `CSRFTokenCredentialRequestAuthInput`).
pub fn csrf_errors(csrf: &CsrfTokenAuth) -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.check(
        "tokenEndpointURL",
        validate::required_url(&csrf.token_endpoint_url),
    );
    errors.inner("credential", credential_errors(&csrf.credential));
    check_headers(
        &mut errors,
        "additionalHeaders",
        csrf.additional_headers.as_ref(),
    );
    check_query_params(
        &mut errors,
        "additionalQueryParams",
        csrf.additional_query_params.as_ref(),
    );
    errors
}

/// The errors of a credential, under Compass's keys of `CredentialDataInput` (`Basic`,
/// `Oauth`).
pub fn credential_errors(credential: &Credential) -> FieldErrors {
    let mut inner = FieldErrors::new();
    let key = match credential {
        Credential::Basic { username, password } => {
            inner.check("username", bounded(username));
            if username.contains(':') {
                inner.add("username", "must not contain ':'");
            }
            inner.check("password", bounded(password));
            "Basic"
        }
        Credential::OAuth {
            client_id,
            client_secret,
            url,
        } => {
            inner.check("clientId", bounded(client_id));
            inner.check("clientSecret", bounded(client_secret));
            inner.check("url", validate::required_url(url));
            "Oauth"
        }
    };
    let mut errors = FieldErrors::new();
    errors.inner(key, inner);
    errors
}

fn bounded(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(validate::BLANK.into());
    }
    if value.len() > MAX_CREDENTIAL_FIELD {
        return Err(format!("must be at most {MAX_CREDENTIAL_FIELD} bytes"));
    }
    Ok(())
}

/// Checks extra headers: names are HTTP tokens and not ones the request sets itself, values
/// hold no control characters.
pub fn check_headers(errors: &mut FieldErrors, field: &str, map: Option<&Multimap>) {
    check_map(errors, field, map, MapKind::Header);
}

/// Checks extra query parameters.
pub fn check_query_params(errors: &mut FieldErrors, field: &str, map: Option<&Multimap>) {
    check_map(errors, field, map, MapKind::Query);
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

fn check_map(errors: &mut FieldErrors, field: &str, map: Option<&Multimap>, kind: MapKind) {
    let Some(map) = map else { return };
    if map.len() > MAX_MAP_KEYS {
        errors.add(field, format!("at most {MAX_MAP_KEYS} names are allowed"));
        return;
    }
    if map.keys().any(|name| name.is_empty()) {
        errors.add(field, "names cannot be blank");
        return;
    }
    if map.keys().any(|name| name.len() > MAX_CREDENTIAL_FIELD) {
        errors.add(field, "a name is too long");
        return;
    }
    let mut inner = FieldErrors::new();
    for (name, values) in map {
        if let Some(entry) = entry_error(name, values, kind) {
            inner.set(name.as_str(), entry);
        }
    }
    errors.inner(field, inner);
}

/// The error of one header or parameter: its name, then its values (Compass: each value
/// list and each value required).
fn entry_error(name: &str, values: &[String], kind: MapKind) -> Option<FieldErrorEntry> {
    let message = |m: &str| Some(FieldErrorEntry::Message(m.to_owned()));
    if matches!(kind, MapKind::Header) && !name.bytes().all(is_tchar) {
        return message("is not a valid HTTP header name");
    }
    if matches!(kind, MapKind::Header) && is_refused_outbound_header(name) {
        return message(REFUSED_OUTBOUND_HEADER);
    }
    if values.is_empty() {
        return message(validate::BLANK);
    }
    if values.len() > MAX_MAP_VALUES {
        return message(&format!("at most {MAX_MAP_VALUES} values are allowed"));
    }
    let mut by_index = FieldErrors::new();
    for (i, value) in values.iter().enumerate() {
        by_index.check(i.to_string(), bounded(value));
        if matches!(kind, MapKind::Header)
            && value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            by_index.add(i.to_string(), "must not contain control characters");
        }
    }
    (!by_index.is_empty()).then_some(FieldErrorEntry::Inner(by_index))
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
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "credential: (Basic: (username: cannot be blank.).)."
        );

        let mut a = basic();
        a.credential = Credential::OAuth {
            client_id: "c".into(),
            client_secret: "s".into(),
            url: "not a url".into(),
        };
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "credential: (Oauth: (url: must be a valid URL.).)."
        );

        let mut a = basic();
        a.additional_headers = Some(BTreeMap::from([("X-A".into(), vec![])]));
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "additionalHeaders: (X-A: cannot be blank.)."
        );
        a.additional_headers = Some(BTreeMap::from([("".into(), vec!["v".into()])]));
        assert!(a.validate().is_err());
        a.additional_headers = Some(BTreeMap::from([("Bad Name".into(), vec!["v".into()])]));
        assert!(a.validate().is_err());
        a.additional_headers = Some(BTreeMap::from([("X".into(), vec!["a\r\nb".into()])]));
        assert!(a.validate().is_err());
        a.additional_headers = None;
        a.additional_query_params = Some(BTreeMap::from([("q".into(), vec!["".into()])]));
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "additionalQueryParams: (q: (0: cannot be blank.).)."
        );
        a.additional_query_params = Some(BTreeMap::from([("q p".into(), vec!["a b".into()])]));
        assert!(a.validate().is_ok(), "query parameters are percent-encoded");
    }

    #[test]
    fn reports_every_invalid_field() {
        let auth = Auth {
            credential: Credential::Basic {
                username: "a:b".into(),
                password: "".into(),
            },
            additional_headers: Some(BTreeMap::from([
                ("Bad Name".into(), vec!["v".into()]),
                ("X-A".into(), vec!["ok".into(), "".into()]),
            ])),
            additional_query_params: None,
            request_auth: Some(RequestAuth {
                csrf: Some(CsrfTokenAuth {
                    token_endpoint_url: "".into(),
                    credential: Credential::OAuth {
                        client_id: "c".into(),
                        client_secret: "".into(),
                        url: "u".into(),
                    },
                    additional_headers: None,
                    additional_query_params: None,
                }),
            }),
        };
        assert_eq!(
            auth.validate().unwrap_err().to_string(),
            "additionalHeaders: (Bad Name: is not a valid HTTP header name; X-A: (1: cannot be blank.).); \
             credential: (Basic: (password: cannot be blank; username: must not contain ':'.).); \
             requestAuth: (csrf: (credential: (Oauth: (clientSecret: cannot be blank; url: must be a valid URL.).); tokenEndpointURL: cannot be blank.).)."
        );
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
            assert_eq!(
                e.to_string(),
                format!("additionalHeaders: ({name}: {REFUSED_OUTBOUND_HEADER}.).")
            );
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
                e.to_string(),
                format!(
                    "requestAuth: (csrf: (additionalHeaders: ({name}: {REFUSED_OUTBOUND_HEADER}.).).)."
                )
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
