//! Pairing, resuming, renewal, and calls to the certificate-secured Director as the
//! application.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_client::certs::{self, CertificateInfo};
use sextant_client::connector::{self, CertificateRequest, Endpoints};
use sextant_client::http::{self, Security};
use sextant_client::{CallError, Connection, Credentials, StateDir};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::AppError;
use crate::http::USER_AGENT;
use crate::state::AppState;

/// How an application finds itself: it sees only itself among the applications.
const WHOAMI: &str = "query { applications(first: 2) { data { id name } } }";

/// A one-time token as an administrator hands it over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneTimeToken {
    /// The token.
    pub token: String,
    /// The token-secured Connector, when the token names it (`rawEncoded`).
    pub connector_url: Option<String>,
}

impl OneTimeToken {
    /// Reads a raw token, or Compass's `rawEncoded` (base64 of
    /// `{"token": …, "connectorURL": …}`), or `raw` (that JSON itself).
    pub fn parse(text: &str) -> Result<OneTimeToken, AppError> {
        #[derive(Deserialize)]
        struct Raw {
            token: String,
            #[serde(rename = "connectorURL")]
            connector_url: Option<String>,
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(AppError::Input("the one-time token is empty".into()));
        }
        let json = if text.starts_with('{') {
            Some(text.as_bytes().to_vec())
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .filter(|bytes| bytes.first() == Some(&b'{'))
        };
        if let Some(json) = json {
            let raw: Raw = serde_json::from_slice(&json).map_err(|e| {
                AppError::Input(format!("the token looks like rawEncoded but is not: {e}"))
            })?;
            return Ok(OneTimeToken {
                token: raw.token,
                connector_url: raw.connector_url.filter(|u| !u.is_empty()),
            });
        }
        Ok(OneTimeToken {
            token: text.to_owned(),
            connector_url: None,
        })
    }
}

/// How to pair (or resume).
#[derive(Clone, Debug, Default)]
pub struct PairOptions {
    /// A one-time token (raw, `raw` or `rawEncoded`); without it the state directory must
    /// hold a certificate.
    pub token: Option<String>,
    /// The token-secured Connector (`…/connector/graphql`), unless the token names it.
    pub connector_url: Option<String>,
    /// A PEM file with the CA(s) the token-secured Connector's TLS certificate chains to;
    /// default: the platform's roots.
    pub ca_file: Option<PathBuf>,
    /// Renew the certificate now (after pairing or resuming).
    pub renew_now: bool,
}

/// The connection in use: a client presenting the current certificate.
pub(crate) struct Link {
    pub client: reqwest::Client,
    pub director_url: String,
    pub connector_url: String,
    pub credentials: Credentials,
    pub certificate: CertificateInfo,
}

impl Link {
    fn new(credentials: &Credentials, connection: &Connection) -> Result<Link, AppError> {
        Ok(Link {
            client: http::mtls_client(USER_AGENT, credentials).map_err(AppError::Client)?,
            director_url: connection.director_url.clone(),
            connector_url: connection.certificate_secured_connector_url.clone(),
            credentials: credentials.clone(),
            certificate: connection.certificate.clone(),
        })
    }
}

/// Who the application is (what `sextant app pair` prints).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The application's id.
    #[serde(rename = "applicationID")]
    pub application_id: Uuid,
    /// Its name.
    pub name: String,
    /// The client id (the certificate's CN).
    #[serde(rename = "clientID")]
    pub client_id: Option<String>,
    /// The certificate in use.
    pub certificate: CertificateInfo,
    /// The state directory.
    pub state_dir: PathBuf,
}

/// A paired application: its state directory and a client for the certificate-secured
/// Director and Connector. Cheap to share (`Arc`); renewal swaps the certificate in.
pub struct AppClient {
    pub(crate) dir: StateDir,
    link: ArcSwap<Link>,
    state: tokio::sync::Mutex<AppState>,
    application_id: Uuid,
    application_name: String,
}

/// The CN of a Compass subject: the client id.
fn common_name(subject: &str) -> Option<String> {
    subject
        .split(',')
        .filter_map(|part| part.split_once('='))
        .find(|(name, _)| name.trim() == "CN")
        .map(|(_, value)| value.to_owned())
}

/// Asks the Director who the application is (it sees only itself).
async fn whoami(link: &Link) -> Result<(Uuid, String), AppError> {
    let data = http::graphql(
        &link.client,
        &link.director_url,
        &[],
        WHOAMI,
        json!({}),
        Security::Certificate,
    )
    .await?;
    let apps = data["applications"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match apps.as_slice() {
        [app] => {
            let id = app["id"]
                .as_str()
                .and_then(|id| Uuid::parse_str(id).ok())
                .ok_or_else(|| AppError::Protocol("the application's id is not a UUID".into()))?;
            let name = app["name"].as_str().unwrap_or_default().to_owned();
            Ok((id, name))
        }
        _ => Err(AppError::Protocol(format!(
            "the certificate does not stand for exactly one application (the Director shows {})",
            apps.len()
        ))),
    }
}

impl AppClient {
    /// Pairs with `options.token` (or resumes from the state directory when there is no
    /// token, or the token was used before and the directory holds a certificate), and
    /// renews when `options.renew_now` or the certificate is past two thirds of its life.
    pub async fn pair(state_dir: &Path, options: PairOptions) -> Result<AppClient, AppError> {
        let dir = StateDir::open(state_dir, &[])?;
        let mut state: AppState = dir.read_state()?.unwrap_or_default();
        let paired = state.connection.is_some() && dir.read_credentials()?.is_some();
        let client = match &options.token {
            None if paired => AppClient::resume(dir, state).await?,
            None => return Err(AppError::NoToken),
            Some(text) => {
                let token = OneTimeToken::parse(text)?;
                let hash = certs::sha256_hex(token.token.as_bytes());
                if state.used_tokens.contains(&hash) {
                    if paired {
                        AppClient::resume(dir, state).await?
                    } else {
                        return Err(AppError::TokenAlreadyUsed);
                    }
                } else {
                    let connector_url = token
                        .connector_url
                        .clone()
                        .or_else(|| options.connector_url.clone())
                        .ok_or_else(|| {
                            AppError::Input(
                                "the token does not name the Connector: give its URL \
                                 (--connector-url)"
                                    .into(),
                            )
                        })?;
                    let mut roots = Vec::new();
                    if let Some(path) = &options.ca_file {
                        roots.push(std::fs::read_to_string(path).map_err(|source| {
                            AppError::File {
                                path: path.clone(),
                                source,
                            }
                        })?);
                    }
                    if let Some(old) = dir.read_credentials()? {
                        roots.push(old.ca_pem);
                    }
                    let token_client =
                        http::token_client(USER_AGENT, &roots).map_err(AppError::Client)?;
                    let configured =
                        connector::configuration(&token_client, &connector_url, Some(&token.token))
                            .await;
                    if matches!(configured, Ok(_) | Err(CallError::TokenRefused(_))) {
                        state.used_tokens.record(hash);
                        dir.write_state(&state)?;
                    }
                    let configured = configured?;
                    let subject = configured.subject().map_err(AppError::Protocol)?;
                    let csr_token = configured.csr_token().map_err(AppError::Protocol)?;
                    let endpoints = configured.endpoints().map_err(AppError::Protocol)?;
                    let request = CertificateRequest::new(subject, endpoints)?;
                    let signed = connector::sign(
                        &token_client,
                        &connector_url,
                        Some(&csr_token),
                        request.csr(),
                    )
                    .await?;
                    let (credentials, connection) = request.issued(signed)?;
                    state.client_id = common_name(&connection.subject);
                    state.application_id = None;
                    state.application_name = None;
                    state.connection = Some(connection);
                    dir.install_credentials(&credentials, &state)?;
                    tracing::info!(client = ?state.client_id, "paired: the client certificate is issued");
                    AppClient::resume(dir, state).await?
                }
            }
        };
        if options.renew_now {
            client.renew().await?;
        } else {
            client.renew_if_due().await?;
        }
        Ok(client)
    }

    /// Opens a paired state directory (renewing the certificate when it is due).
    pub async fn open(state_dir: &Path) -> Result<AppClient, AppError> {
        AppClient::pair(state_dir, PairOptions::default()).await
    }

    async fn resume(dir: StateDir, mut state: AppState) -> Result<AppClient, AppError> {
        let credentials = dir.read_credentials()?.ok_or(AppError::NotPaired)?;
        let connection = state.connection.clone().ok_or(AppError::NotPaired)?;
        let link = Link::new(&credentials, &connection)?;
        let (id, name) = match (state.application_id, state.application_name.clone()) {
            (Some(id), Some(name)) => (id, name),
            _ => {
                let (id, name) = whoami(&link).await?;
                state.application_id = Some(id);
                state.application_name = Some(name.clone());
                dir.write_state(&state)?;
                (id, name)
            }
        };
        Ok(AppClient {
            dir,
            link: ArcSwap::from_pointee(link),
            state: tokio::sync::Mutex::new(state),
            application_id: id,
            application_name: name,
        })
    }

    /// The application's id in the Director.
    pub fn application_id(&self) -> Uuid {
        self.application_id
    }

    /// The application's name.
    pub fn application_name(&self) -> &str {
        &self.application_name
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        self.dir.root()
    }

    /// The certificate in use.
    pub fn certificate(&self) -> CertificateInfo {
        self.link.load().certificate.clone()
    }

    /// Who the application is.
    pub async fn identity(&self) -> Identity {
        Identity {
            application_id: self.application_id,
            name: self.application_name.clone(),
            client_id: self.state.lock().await.client_id.clone(),
            certificate: self.certificate(),
            state_dir: self.dir.root().to_owned(),
        }
    }

    /// The state as stored.
    pub async fn state(&self) -> AppState {
        self.state.lock().await.clone()
    }

    pub(crate) fn link(&self) -> Arc<Link> {
        self.link.load_full()
    }

    /// Renews the certificate over mTLS (a new key, the same subject); the new key,
    /// certificate and CA bundle are stored as one before this returns.
    pub async fn renew(&self) -> Result<CertificateInfo, AppError> {
        let mut state = self.state.lock().await;
        let link = self.link.load_full();
        let configured = connector::configuration(&link.client, &link.connector_url, None).await?;
        let subject = configured.subject().map_err(AppError::Protocol)?;
        let endpoints = configured.endpoints().unwrap_or_else(|_| Endpoints {
            director_url: link.director_url.clone(),
            certificate_secured_connector_url: link.connector_url.clone(),
        });
        let request = CertificateRequest::new(subject, endpoints)?;
        let signed =
            connector::sign(&link.client, &link.connector_url, None, request.csr()).await?;
        let (credentials, connection) = request.issued(signed)?;
        let certificate = connection.certificate.clone();
        let new_link = Link::new(&credentials, &connection)?;
        let mut next = state.clone();
        next.connection = Some(connection);
        self.dir.install_credentials(&credentials, &next)?;
        *state = next;
        self.link.store(Arc::new(new_link));
        tracing::info!(serial = %certificate.serial, not_after = %certificate.not_after, "the client certificate is renewed");
        Ok(certificate)
    }

    /// Renews when the certificate is past two thirds of its life; answers whether it did.
    pub async fn renew_if_due(&self) -> Result<bool, AppError> {
        if OffsetDateTime::now_utc() >= self.certificate().renew_at() {
            self.renew().await?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Renews at two thirds of each certificate's life until `shutdown` (failures are logged
    /// and retried after a minute).
    pub async fn keep_renewed(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let due = self.certificate().renew_at() - OffsetDateTime::now_utc();
            // Re-checked at least every 10 minutes (a suspended machine, a clock jump).
            let wait = Duration::try_from(due)
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(600));
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            match self.renew_if_due().await {
                // A certificate whose window starts well before its issue (the CA backdates
                // for clock skew) and is very short may be due at once: never more than one
                // renewal a second.
                Ok(true) => tokio::time::sleep(Duration::from_secs(1)).await,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %sextant_client::chain(&e), "renewing the certificate failed; retrying in a minute");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    }
                }
            }
        }
    }

    /// Runs a GraphQL request on the certificate-secured Director as the application and
    /// answers its `data`.
    pub async fn director(&self, query: &str, variables: Value) -> Result<Value, AppError> {
        let link = self.link.load_full();
        http::graphql(
            &link.client,
            &link.director_url,
            &[],
            query,
            variables,
            Security::Certificate,
        )
        .await
        .map_err(AppError::from)
    }

    /// Sets the credentials a runtime uses for one of the application's APIs
    /// (`setAPIAuth`); `auth` is an `AuthInput` as JSON.
    pub async fn set_api_auth(
        &self,
        api_id: Uuid,
        runtime_id: Uuid,
        auth: Value,
    ) -> Result<(), AppError> {
        self.director(
            "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }",
            json!({"api": api_id, "rt": runtime_id, "in": auth}),
        )
        .await?;
        Ok(())
    }

    /// The base URL (scheme, host, port) of the certificate-secured listener.
    pub(crate) fn mtls_base(&self) -> Result<url::Url, AppError> {
        let link = self.link.load_full();
        let mut url = url::Url::parse(&link.connector_url)
            .map_err(|e| AppError::Protocol(format!("bad Connector URL: {e}")))?;
        url.set_path("/");
        url.set_query(None);
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_raw_and_encoded() {
        assert_eq!(
            OneTimeToken::parse(" abc-123 \n").unwrap(),
            OneTimeToken {
                token: "abc-123".into(),
                connector_url: None
            }
        );
        let raw = r#"{"token":"t1","connectorURL":"https://mp/connector/graphql"}"#;
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        for text in [raw.to_owned(), encoded] {
            let parsed = OneTimeToken::parse(&text).unwrap();
            assert_eq!(parsed.token, "t1");
            assert_eq!(
                parsed.connector_url.as_deref(),
                Some("https://mp/connector/graphql")
            );
        }
        assert!(OneTimeToken::parse("").is_err());
    }

    #[test]
    fn the_client_id_is_the_cn() {
        assert_eq!(
            common_name("O=Org,OU=OrgUnit,L=l,ST=s,C=DE,CN=abc").as_deref(),
            Some("abc")
        );
    }
}
