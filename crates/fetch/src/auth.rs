//! Turning an application-supplied [`Auth`] into what goes on a request: resolving OAuth2
//! client-credentials tokens (cached) and CSRF tokens, then adding headers and query
//! parameters.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, SET_COOKIE,
};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use sextant_domain::credentials::{Auth, Credential, CsrfTokenAuth, Multimap};
use tokio::time::Instant;
use url::Url;
use url::form_urlencoded::byte_serialize;

use crate::address::parse_target;
use crate::client::read_bounded;
use crate::error::display_url;
use crate::{FetchError, Fetcher};

/// The CSRF header, both as the request for a token (`Fetch`) and to send the token.
pub const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// Largest token endpoint response read.
const TOKEN_RESPONSE_LIMIT: usize = 64 * 1024;
/// How long a token without `expires_in` is used.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Tokens are refreshed this long before they expire, at most (10% of shorter lifetimes).
const MAX_EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Most tokens kept at once.
const TOKEN_CACHE_CAPACITY: usize = 1024;

/// What an [`Auth`] resolved to for one call: headers (Authorization, additional headers, CSRF
/// token and cookies; all marked sensitive) and query parameters. Obtain it with
/// [`Fetcher::credentials`]; apply it to requests sent to the endpoint's origin only.
#[derive(Clone, Default)]
pub struct Credentials {
    headers: HeaderMap,
    query: Vec<(String, String)>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the values are secrets.
        f.debug_struct("Credentials")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "query",
                &self.query.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Credentials {
    /// Adds the credential headers, replacing headers of the same name, except `Cookie`, whose
    /// cookies are added to those already there.
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        for name in self.headers.keys() {
            if *name == COOKIE {
                for value in self.headers.get_all(COOKIE) {
                    add_cookie(headers, value.clone());
                }
                continue;
            }
            headers.remove(name);
            for value in self.headers.get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
    }

    /// Appends the additional query parameters to `url`, form-urlencoded.
    pub fn apply_query(&self, url: &mut Url) {
        if self.query.is_empty() {
            return;
        }
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &self.query {
            pairs.append_pair(name, value);
        }
    }

    /// Adds headers and query parameters to a request.
    pub fn apply(&self, request: &mut reqwest::Request) {
        self.apply_query(request.url_mut());
        self.apply_headers(request.headers_mut());
    }
}

fn add_cookie(headers: &mut HeaderMap, cookie: HeaderValue) {
    // One Cookie header (RFC 6265 §5.4): join with what is there.
    let joined = match headers.get(COOKIE) {
        Some(existing) => {
            let mut bytes = existing.as_bytes().to_vec();
            bytes.extend_from_slice(b"; ");
            bytes.extend_from_slice(cookie.as_bytes());
            HeaderValue::from_bytes(&bytes).unwrap_or(cookie)
        }
        None => cookie,
    };
    headers.insert(COOKIE, sensitive(joined));
}

fn sensitive(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

/// Adds `map` to `headers`, each name replacing what was there.
fn add_header_map(
    map: Option<&Multimap>,
    headers: &mut HeaderMap,
    what: &str,
) -> Result<(), FetchError> {
    let Some(map) = map else { return Ok(()) };
    for (name, values) in map {
        // Validation refuses these at input; stored data from before that rule (or written
        // around it) is refused here, before anything is sent.
        if sextant_domain::credentials::is_refused_outbound_header(name) {
            return Err(FetchError::Auth(format!(
                "{what}: {name} {}",
                sextant_domain::credentials::REFUSED_OUTBOUND_HEADER
            )));
        }
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            FetchError::Auth(format!("{what}: {name:?} is not a valid header name"))
        })?;
        headers.remove(&name);
        for value in values {
            let value = HeaderValue::from_str(value).map_err(|_| {
                FetchError::Auth(format!(
                    "{what}: the value of {name} is not a valid header value"
                ))
            })?;
            headers.append(name.clone(), sensitive(value));
        }
    }
    Ok(())
}

fn query_pairs(map: Option<&Multimap>) -> Vec<(String, String)> {
    map.into_iter()
        .flatten()
        .flat_map(|(name, values)| values.iter().map(move |v| (name.clone(), v.clone())))
        .collect()
}

fn basic(username: &str, password: &str) -> Result<HeaderValue, FetchError> {
    let encoded = STANDARD.encode(format!("{username}:{password}"));
    HeaderValue::from_str(&format!("Basic {encoded}"))
        .map(sensitive)
        .map_err(|_| FetchError::Auth("the basic credentials cannot be encoded".into()))
}

impl Fetcher {
    /// Resolves `auth` for one call: obtains an OAuth token (from the cache when it is still
    /// fresh) and a CSRF token if configured. The total timeout of the policy applies.
    pub async fn credentials(&self, auth: &Auth) -> Result<Credentials, FetchError> {
        self.within_deadline(self.resolve_credentials(auth)).await
    }

    /// Applies `auth` to a request built elsewhere (for instance with `reqwest`): resolves the
    /// credentials as [`Fetcher::credentials`] does and adds them to the request. The request is
    /// not sent, and nothing stops a caller from sending it to a different origin later; prefer
    /// [`Fetcher::send`], which also enforces the policy.
    pub async fn authorize(
        &self,
        request: &mut reqwest::Request,
        auth: &Auth,
    ) -> Result<(), FetchError> {
        let credentials = self.credentials(auth).await?;
        credentials.apply(request);
        Ok(())
    }

    pub(crate) async fn resolve_credentials(&self, auth: &Auth) -> Result<Credentials, FetchError> {
        let mut headers = HeaderMap::new();
        add_header_map(
            auth.additional_headers.as_ref(),
            &mut headers,
            "additional headers",
        )?;
        headers.insert(AUTHORIZATION, self.authorization(&auth.credential).await?);
        if let Some(csrf) = auth.request_auth.as_ref().and_then(|r| r.csrf.as_ref()) {
            let (token, cookie) = self.csrf_token(csrf).await?;
            headers.insert(CSRF_HEADER, token);
            if let Some(cookie) = cookie {
                add_cookie(&mut headers, cookie);
            }
        }
        Ok(Credentials {
            headers,
            query: query_pairs(auth.additional_query_params.as_ref()),
        })
    }

    /// The `Authorization` value for `credential`.
    async fn authorization(&self, credential: &Credential) -> Result<HeaderValue, FetchError> {
        match credential {
            Credential::Basic { username, password } => basic(username, password),
            Credential::OAuth {
                client_id,
                client_secret,
                url,
            } => {
                let key = self.inner.tokens.key(url, client_id, client_secret);
                if let Some(token) = self.inner.tokens.get(&key) {
                    return Ok(token);
                }
                let (token, lifetime) = self.request_token(url, client_id, client_secret).await?;
                self.inner.tokens.put(key, token.clone(), lifetime);
                Ok(token)
            }
        }
    }

    /// Drops the cached token of an OAuth credential (after the target refused it).
    pub(crate) fn forget_token(&self, credential: &Credential) {
        if let Credential::OAuth {
            client_id,
            client_secret,
            url,
        } = credential
        {
            let key = self.inner.tokens.key(url, client_id, client_secret);
            self.inner.tokens.remove(&key);
        }
    }

    /// OAuth2 client-credentials grant (RFC 6749 §4.4), the client authenticated with HTTP
    /// Basic. As RFC 6749 §2.3.1 says (and Go's `x/oauth2`, which Compass used, does), the id
    /// and secret are form-urlencoded before the Basic encoding.
    async fn request_token(
        &self,
        url: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(HeaderValue, Duration), FetchError> {
        let target = parse_target(url, &self.inner.policy).map_err(|e| {
            FetchError::Auth(format!("the OAuth token endpoint cannot be used: {e}"))
        })?;
        let shown = display_url(&target);
        let mut request = reqwest::Request::new(Method::POST, target);
        let id: String = byte_serialize(client_id.as_bytes()).collect();
        let secret: String = byte_serialize(client_secret.as_bytes()).collect();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, basic(&id, &secret)?);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        *request.body_mut() = Some("grant_type=client_credentials".into());

        tracing::debug!(endpoint = %shown, "requesting an OAuth token");
        let response = self.hop(request).await.map_err(|e| {
            FetchError::Auth(format!(
                "requesting an OAuth token from {shown} failed: {e}"
            ))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Auth(format!(
                "the OAuth token endpoint {shown} answered {}",
                status
            )));
        }
        let body = read_bounded(response, TOKEN_RESPONSE_LIMIT)
            .await
            .map_err(|e| {
                FetchError::Auth(format!("reading the OAuth token from {shown} failed: {e}"))
            })?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            FetchError::Auth(format!(
                "the OAuth token endpoint {shown} did not answer with a token"
            ))
        })?;
        if parsed.access_token.is_empty() {
            return Err(FetchError::Auth(format!(
                "the OAuth token endpoint {shown} answered an empty access token"
            )));
        }
        if let Some(kind) = &parsed.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(FetchError::Auth(format!(
                "the OAuth token endpoint {shown} answered a {kind:?} token; only bearer tokens are supported"
            )));
        }
        let value = HeaderValue::from_str(&format!("Bearer {}", parsed.access_token))
            .map_err(|_| {
                FetchError::Auth(format!(
                    "the OAuth token endpoint {shown} answered a token that cannot be sent in a header"
                ))
            })?;
        Ok((sensitive(value), parsed.lifetime()))
    }

    /// Fetches a CSRF token: GET the token endpoint with `X-CSRF-Token: Fetch` and the CSRF
    /// credential; returns the token and the cookies set with it (as one `Cookie` value). A
    /// 401 with an OAuth credential drops the cached token and tries once more.
    async fn csrf_token(
        &self,
        csrf: &CsrfTokenAuth,
    ) -> Result<(HeaderValue, Option<HeaderValue>), FetchError> {
        let mut target =
            parse_target(&csrf.token_endpoint_url, &self.inner.policy).map_err(|e| {
                FetchError::Auth(format!("the CSRF token endpoint cannot be used: {e}"))
            })?;
        let shown = display_url(&target);
        let extra = Credentials {
            headers: {
                let mut headers = HeaderMap::new();
                add_header_map(
                    csrf.additional_headers.as_ref(),
                    &mut headers,
                    "CSRF additional headers",
                )?;
                headers
            },
            query: query_pairs(csrf.additional_query_params.as_ref()),
        };
        extra.apply_query(&mut target);

        let mut retried = false;
        let response = loop {
            let mut request = reqwest::Request::new(Method::GET, target.clone());
            extra.apply_headers(request.headers_mut());
            let authorization = self.authorization(&csrf.credential).await?;
            let headers = request.headers_mut();
            headers.insert(AUTHORIZATION, authorization);
            headers.insert(CSRF_HEADER, HeaderValue::from_static("Fetch"));
            tracing::debug!(endpoint = %shown, "fetching a CSRF token");
            let response = self.hop(request).await.map_err(|e| {
                FetchError::Auth(format!("fetching a CSRF token from {shown} failed: {e}"))
            })?;
            if response.status() == StatusCode::UNAUTHORIZED
                && matches!(csrf.credential, Credential::OAuth { .. })
                && !retried
            {
                self.forget_token(&csrf.credential);
                retried = true;
                continue;
            }
            break response;
        };
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Auth(format!(
                "the CSRF token endpoint {shown} answered {}",
                status
            )));
        }
        let token = response
            .headers()
            .get(CSRF_HEADER)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| {
                FetchError::Auth(format!(
                    "the CSRF token endpoint {shown} sent no X-CSRF-Token header"
                ))
            })?;
        let cookies: Vec<&str> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::trim)
            .filter(|pair| pair.contains('='))
            .collect();
        let cookie = if cookies.is_empty() {
            None
        } else {
            Some(
                HeaderValue::from_str(&cookies.join("; "))
                    .map(sensitive)
                    .map_err(|_| {
                        FetchError::Auth(format!(
                            "the CSRF token endpoint {shown} set cookies that cannot be sent back"
                        ))
                    })?,
            )
        };
        Ok((sensitive(token), cookie))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    /// A number of seconds; some servers send it as a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenResponse {
    /// How long to use the token: `expires_in` less a margin (10%, at most 30 s), or
    /// [`DEFAULT_TOKEN_LIFETIME`] without `expires_in`.
    fn lifetime(&self) -> Duration {
        let seconds = match &self.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match seconds {
            Some(s) if s.is_finite() && s > 0.0 => {
                // Bounded: a year is plenty, and keeps `Duration` arithmetic away from overflow.
                let expires = Duration::from_secs_f64(s.min(365.0 * 24.0 * 3600.0));
                expires - (expires / 10).min(MAX_EXPIRY_MARGIN)
            }
            Some(_) => Duration::ZERO,
            None => DEFAULT_TOKEN_LIFETIME,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    url: String,
    client_id: String,
    /// A keyed hash of the secret: a changed secret is a different key.
    secret: u64,
}

struct CachedToken {
    value: HeaderValue,
    fresh_until: Instant,
}

/// OAuth tokens by (token URL, client id, secret), bounded to [`TOKEN_CACHE_CAPACITY`].
pub(crate) struct TokenCache {
    hasher: RandomState,
    entries: Mutex<HashMap<TokenKey, CachedToken>>,
}

impl TokenCache {
    pub(crate) fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn key(&self, url: &str, client_id: &str, client_secret: &str) -> TokenKey {
        TokenKey {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            secret: self.hasher.hash_one(client_secret),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, CachedToken>> {
        // The map stays consistent even if a holder panicked: every change is one call.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &TokenKey) -> Option<HeaderValue> {
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.get(key) {
            Some(token) if token.fresh_until > now => Some(token.value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: TokenKey, value: HeaderValue, lifetime: Duration) {
        if lifetime.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= TOKEN_CACHE_CAPACITY && !entries.contains_key(&key) {
            entries.retain(|_, token| token.fresh_until > now);
            if entries.len() >= TOKEN_CACHE_CAPACITY {
                // Still full of fresh tokens: drop the one that expires first.
                let first = entries
                    .iter()
                    .min_by_key(|(_, token)| token.fresh_until)
                    .map(|(key, _)| key.clone());
                if let Some(first) = first {
                    entries.remove(&first);
                }
            }
        }
        entries.insert(
            key,
            CachedToken {
                value,
                fresh_until: now + lifetime,
            },
        );
    }

    fn remove(&self, key: &TokenKey) {
        self.lock().remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn token(expires_in: Option<serde_json::Value>) -> TokenResponse {
        TokenResponse {
            access_token: "t".into(),
            token_type: Some("bearer".into()),
            expires_in,
        }
    }

    #[test]
    fn token_lifetime() {
        use serde_json::json;
        assert_eq!(token(None).lifetime(), Duration::from_secs(300));
        assert_eq!(
            token(Some(json!(3600))).lifetime(),
            Duration::from_secs(3570)
        );
        assert_eq!(token(Some(json!(100))).lifetime(), Duration::from_secs(90));
        assert_eq!(
            token(Some(json!("3600"))).lifetime(),
            Duration::from_secs(3570)
        );
        assert_eq!(token(Some(json!(0))).lifetime(), Duration::ZERO);
        assert_eq!(token(Some(json!(-5))).lifetime(), Duration::ZERO);
        assert_eq!(
            token(Some(json!(true))).lifetime(),
            Duration::from_secs(300)
        );
    }

    #[tokio::test]
    async fn cache_is_bounded_and_keyed_by_secret() {
        let cache = TokenCache::new();
        let value = HeaderValue::from_static("Bearer t");
        let a = cache.key("https://t/token", "id", "one");
        let b = cache.key("https://t/token", "id", "two");
        assert!(a != b);
        cache.put(a.clone(), value.clone(), Duration::from_secs(60));
        assert!(cache.get(&a).is_some());
        assert!(cache.get(&b).is_none());
        cache.remove(&a);
        assert!(cache.get(&a).is_none());

        for i in 0..TOKEN_CACHE_CAPACITY + 10 {
            let key = cache.key("https://t/token", &format!("client-{i}"), "s");
            cache.put(key, value.clone(), Duration::from_secs(60 + i as u64));
        }
        assert_eq!(cache.len(), TOKEN_CACHE_CAPACITY);
        // The ones expiring first were dropped.
        assert!(
            cache
                .get(&cache.key("https://t/token", "client-0", "s"))
                .is_none()
        );
        let last = cache.key(
            "https://t/token",
            &format!("client-{}", TOKEN_CACHE_CAPACITY + 9),
            "s",
        );
        assert!(cache.get(&last).is_some());
    }

    #[test]
    fn credentials_apply() {
        let mut headers = HeaderMap::new();
        add_header_map(
            Some(&Multimap::from([(
                "X-Api-Key".to_owned(),
                vec!["k1".to_owned(), "k2".to_owned()],
            )])),
            &mut headers,
            "additional headers",
        )
        .unwrap();
        add_cookie(&mut headers, HeaderValue::from_static("a=1"));
        let credentials = Credentials {
            headers,
            query: query_pairs(Some(&Multimap::from([(
                "q p".to_owned(),
                vec!["a b&c".to_owned()],
            )]))),
        };
        let mut target = HeaderMap::new();
        target.insert("x-api-key", HeaderValue::from_static("old"));
        target.insert(COOKIE, HeaderValue::from_static("z=0"));
        credentials.apply_headers(&mut target);
        let keys: Vec<_> = target.get_all("x-api-key").iter().collect();
        assert_eq!(keys, ["k1", "k2"]);
        assert_eq!(target[COOKIE], "z=0; a=1");
        assert!(target[COOKIE].is_sensitive());

        let mut url = Url::parse("https://h/p?x=1").unwrap();
        credentials.apply_query(&mut url);
        assert_eq!(url.as_str(), "https://h/p?x=1&q+p=a+b%26c");
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("k1"), "{debug}");
    }
}
