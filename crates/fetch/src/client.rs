//! The [`Fetcher`]: the reqwest client, the policy and the token cache, and the one send path
//! (redirects, address checks per hop, bounded body, total timeout).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, LOCATION,
    PROXY_AUTHORIZATION,
};
use reqwest::{Method, StatusCode};
use sextant_domain::credentials::{Auth, Credential};
use url::Url;

use crate::FetchError;
use crate::HostAllowList;
use crate::address::{
    Lookup, PolicyResolver, SystemLookup, blocked_address, check_target, parse_target,
};
use crate::auth::{CSRF_HEADER, Credentials, TokenCache};
use crate::error::{chain, display_url};

/// Limits and rules for every outbound call of a [`Fetcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Longest a whole call may take: token and CSRF steps, every redirect and reading the
    /// body. Default 10 s.
    pub timeout: Duration,
    /// Longest a TCP connection (and TLS handshake) may take. Default 3 s.
    pub connect_timeout: Duration,
    /// Largest response body read. Default [`sextant_domain::MAX_SPEC_BYTES`].
    pub max_bytes: usize,
    /// Most redirects followed. Default 5.
    pub max_redirects: usize,
    /// Whether loopback, private, link-local and other non-public addresses may be called.
    /// Default false; tests and the local demo turn it on.
    pub allow_private: bool,
    /// The egress allow-list: when set, only hosts on it are called (every URL, redirect
    /// target, token and CSRF endpoint), and any other host is refused before its name is
    /// resolved. It narrows `allow_private`, never widens it. Default None: every host the
    /// address policy allows.
    pub allow_hosts: Option<HostAllowList>,
    /// Most calls in flight at once across the whole fetcher (the server); more wait for a
    /// slot within their deadline. Default 64.
    pub max_concurrent: usize,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_bytes: sextant_domain::MAX_SPEC_BYTES,
            max_redirects: 5,
            allow_private: false,
            allow_hosts: None,
            max_concurrent: 64,
        }
    }
}

/// A request for [`Fetcher::send`].
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

impl OutboundRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// With this body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }
}

/// What [`Fetcher::send`] got back (any status).
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// At most the policy's `max_bytes`.
    pub body: Vec<u8>,
}

/// A document fetched by [`Fetcher::fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub body: String,
    /// The `Content-Type` header, if present and readable.
    pub content_type: Option<String>,
    pub status: u16,
}

/// Sextant's outbound HTTP client. Cheap to clone: clones share the connection pool and the
/// OAuth token cache.
#[derive(Clone)]
pub struct Fetcher {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    client: reqwest::Client,
    slots: tokio::sync::Semaphore,
    pub(crate) policy: FetchPolicy,
    pub(crate) tokens: TokenCache,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher trusting the platform's root certificates.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        Self::build(policy, Vec::new())
    }

    /// A fetcher that trusts the certificates in `roots_pem` (one or more PEM certificates) in
    /// addition to the platform's roots.
    pub fn with_root_certificates(
        policy: FetchPolicy,
        roots_pem: &[u8],
    ) -> Result<Self, FetchError> {
        let roots = reqwest::Certificate::from_pem_bundle(roots_pem)
            .map_err(|e| FetchError::Other(format!("invalid root certificates: {}", chain(e))))?;
        if roots.is_empty() {
            return Err(FetchError::Other(
                "invalid root certificates: no certificate found in the PEM".into(),
            ));
        }
        Self::build(policy, roots)
    }

    fn build(policy: FetchPolicy, roots: Vec<reqwest::Certificate>) -> Result<Self, FetchError> {
        Self::build_with_lookup(policy, roots, Arc::new(SystemLookup))
    }

    /// A fetcher whose resolver looks names up with `lookup` (tests count the lookups).
    pub(crate) fn build_with_lookup(
        policy: FetchPolicy,
        roots: Vec<reqwest::Certificate>,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            // Redirects are followed by `follow`, which checks every hop.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect for us, past the address policy.
            .no_proxy()
            .dns_resolver(PolicyResolver {
                allow_private: policy.allow_private,
                allow_hosts: policy.allow_hosts.clone().map(Arc::new),
                lookup,
            })
            .connect_timeout(policy.connect_timeout)
            .user_agent(concat!("sextant/", env!("CARGO_PKG_VERSION")))
            .referer(false)
            .tls_certs_merge(roots)
            .build()
            .map_err(|e| {
                FetchError::Other(format!("cannot build the HTTP client: {}", chain(e)))
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                slots: tokio::sync::Semaphore::new(policy.max_concurrent.max(1)),
                policy,
                tokens: TokenCache::new(),
            }),
        })
    }

    /// The policy this fetcher enforces.
    pub fn policy(&self) -> &FetchPolicy {
        &self.inner.policy
    }

    /// GETs `url` with `auth` and returns the body as text. Succeeds only on a 2xx answer with
    /// a UTF-8 body of at most `max_bytes`.
    pub async fn fetch(&self, url: &str, auth: Option<&Auth>) -> Result<Fetched, FetchError> {
        let request = OutboundRequest::new(Method::GET, url);
        self.within_deadline(async {
            let response = self.execute(&request, auth).await?;
            let status = response.status();
            if !status.is_success() {
                return Err(FetchError::Status {
                    method: Method::GET.to_string(),
                    url: display_url(response.url()),
                    status: status.as_u16(),
                });
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = read_bounded(response, self.inner.policy.max_bytes).await?;
            let body = String::from_utf8(body).map_err(|_| FetchError::NotUtf8)?;
            Ok(Fetched {
                body,
                content_type,
                status: status.as_u16(),
            })
        })
        .await
    }

    /// Sends `request` with `auth` under the policy and returns whatever status the endpoint
    /// answered, with its headers and body (at most `max_bytes`).
    pub async fn send(
        &self,
        request: OutboundRequest,
        auth: Option<&Auth>,
    ) -> Result<OutboundResponse, FetchError> {
        self.within_deadline(async {
            let response = self.execute(&request, auth).await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = read_bounded(response, self.inner.policy.max_bytes).await?;
            Ok(OutboundResponse {
                status,
                headers,
                body,
            })
        })
        .await
    }

    /// Runs `work` under the policy's total timeout.
    pub(crate) async fn within_deadline<T>(
        &self,
        work: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        let after = self.inner.policy.timeout;
        tokio::time::timeout(after, async {
            // Waiting for a slot counts against the deadline.
            let _slot = self
                .inner
                .slots
                .acquire()
                .await
                .map_err(|_| FetchError::Other("the fetcher is closed".into()))?;
            work.await
        })
        .await
        .unwrap_or(Err(FetchError::Timeout { after }))
    }

    /// Resolves the credentials, sends and follows redirects. A 401 to a request that carried
    /// an OAuth token drops the token and tries once more with a new one.
    async fn execute(
        &self,
        request: &OutboundRequest,
        auth: Option<&Auth>,
    ) -> Result<reqwest::Response, FetchError> {
        // Checked before any credential is obtained for it.
        let url = parse_target(&request.url, &self.inner.policy)?;
        let Some(auth) = auth else {
            return Ok(self.follow(request, url, None).await?.0);
        };
        let credentials = self.resolve_credentials(auth).await?;
        let (response, authorized) = self
            .follow(request, url.clone(), Some(&credentials))
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED
            && authorized
            && matches!(auth.credential, Credential::OAuth { .. })
        {
            tracing::debug!(url = %display_url(response.url()), "token refused; fetching a new one");
            drop(response);
            self.forget_token(&auth.credential);
            let credentials = self.resolve_credentials(auth).await?;
            return Ok(self.follow(request, url, Some(&credentials)).await?.0);
        }
        Ok(response)
    }

    /// Sends `request` to `url` and follows up to `max_redirects` redirects. Credentials go
    /// with the first request and with redirects while they stay on its origin (scheme, host,
    /// port); from the first hop that leaves it on, neither they nor the request's own
    /// sensitive headers are sent. Returns the final response and whether it was sent with
    /// the credentials.
    async fn follow(
        &self,
        request: &OutboundRequest,
        mut url: Url,
        credentials: Option<&Credentials>,
    ) -> Result<(reqwest::Response, bool), FetchError> {
        if let Some(credentials) = credentials {
            credentials.apply_query(&mut url);
        }
        let origin = url.origin();
        let mut method = request.method.clone();
        let mut headers = request.headers.clone();
        let mut body = request.body.clone();
        let mut on_origin = true;
        let mut redirects = 0;
        loop {
            let mut hop = reqwest::Request::new(method.clone(), url.clone());
            *hop.headers_mut() = headers.clone();
            if on_origin && let Some(credentials) = credentials {
                credentials.apply_headers(hop.headers_mut());
            }
            if let Some(body) = &body {
                *hop.body_mut() = Some(body.clone().into());
            }
            let response = self.hop(hop).await?;
            let Some(next) = redirect_target(&response)? else {
                return Ok((response, on_origin && credentials.is_some()));
            };
            if redirects == self.inner.policy.max_redirects {
                return Err(FetchError::TooManyRedirects {
                    limit: self.inner.policy.max_redirects,
                });
            }
            redirects += 1;
            let status = response.status();
            drop(response);
            // As browsers and RFC 9110 §15.4 do: 303 turns anything but HEAD into GET, 301 and
            // 302 turn POST into GET; 307 and 308 keep method and body.
            let to_get = match status {
                StatusCode::SEE_OTHER => method != Method::HEAD,
                StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => method == Method::POST,
                _ => false,
            };
            if to_get {
                method = Method::GET;
                body = None;
                for name in [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING] {
                    headers.remove(name);
                }
            }
            if on_origin && next.origin() != origin {
                on_origin = false;
                strip_sensitive(&mut headers);
            }
            tracing::debug!(from = %display_url(&url), to = %display_url(&next), "following a redirect");
            url = next;
        }
    }

    /// Sends one request, after checking its URL (scheme, allow-list, IP literal); the
    /// addresses of host names are checked by the resolver when the connection is made. No
    /// redirect is followed.
    pub(crate) async fn hop(
        &self,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, FetchError> {
        check_target(request.url(), &self.inner.policy)?;
        let origin = request.url().origin().ascii_serialization();
        self.inner
            .client
            .execute(request)
            .await
            .map_err(|e| request_error(e, &origin))
    }
}

fn request_error(error: reqwest::Error, origin: &str) -> FetchError {
    if let Some(blocked) = blocked_address(&error) {
        return blocked;
    }
    if error.is_connect() {
        return FetchError::Connect(format!("{origin}: {}", chain(error)));
    }
    FetchError::Other(format!("calling {origin} failed: {}", chain(error)))
}

/// The next URL if `response` is a redirect with a `Location`; a redirect without one is an
/// answer like any other.
fn redirect_target(response: &reqwest::Response) -> Result<Option<Url>, FetchError> {
    let redirect = matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    let Some(location) = response.headers().get(LOCATION).filter(|_| redirect) else {
        return Ok(None);
    };
    let invalid = || FetchError::InvalidUrl {
        reason: format!(
            "{} redirected to an invalid location",
            display_url(response.url())
        ),
    };
    let location = location.to_str().map_err(|_| invalid())?;
    response
        .url()
        .join(location)
        .map(Some)
        .map_err(|_| invalid())
}

/// Removes what must not follow a redirect to another origin: credentials, cookies, the CSRF
/// token, and any header the caller marked sensitive.
fn strip_sensitive(headers: &mut HeaderMap) {
    for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, CSRF_HEADER] {
        headers.remove(name);
    }
    let marked: Vec<_> = headers
        .iter()
        .filter(|(_, value)| value.is_sensitive())
        .map(|(name, _)| name.clone())
        .collect();
    for name in marked {
        headers.remove(name);
    }
}

/// Reads the body, refusing it as soon as it exceeds `limit` bytes: before reading if
/// `Content-Length` says so, otherwise while streaming.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_large = FetchError::TooLarge { limit };
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    let capacity = declared.map_or(0, |length| length as usize).min(64 * 1024);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Other(format!("reading the response failed: {}", chain(e))))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
