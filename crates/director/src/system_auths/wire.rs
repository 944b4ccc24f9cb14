//! System auths, one-time tokens, revoked credentials and client certificates as answered.

use async_graphql::{Context, ID, SimpleObject};
use sextant_domain::{Credential, SystemAuth as DomainSystemAuth, SystemAuthId, SystemAuthOwner};

use crate::catalog::credentials::wire::Auth;
use crate::context::{loader, settings};
use crate::error::GqlResult;
use crate::loaders::{SystemAuthsKey, load_error};
use crate::scalars::Timestamp;
use crate::system_auths::rules::Pairing;
use sextant_store::PairingTokenState;

/// Sextant: a client certificate the Connector issued (never a key or a secret).
#[derive(SimpleObject)]
pub struct ClientCertificate {
    /// The serial number, hexadecimal (as in the certificate and the CRL).
    pub serial: String,
    /// The client (system auth) it was issued to.
    #[graphql(name = "clientID")]
    pub client_id: ID,
    /// When it becomes valid (`notBefore`).
    pub not_before: Timestamp,
    /// When it expires (`notAfter`).
    pub expires_at: Timestamp,
    /// When it was revoked (revoking a certificate revokes those renewed from it); null
    /// while it is not.
    pub revoked_at: Option<Timestamp>,
}

impl ClientCertificate {
    /// A serial as lowercase hexadecimal.
    pub fn hex(serial: &[u8]) -> String {
        serial.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl From<sextant_store::ApplicationCertificate> for ClientCertificate {
    fn from(c: sextant_store::ApplicationCertificate) -> Self {
        ClientCertificate {
            serial: ClientCertificate::hex(&c.serial),
            client_id: ID(c.client.to_string()),
            not_before: Timestamp(c.not_before),
            expires_at: Timestamp(c.not_after),
            revoked_at: c.revoked_at.map(Timestamp),
        }
    }
}

/// `SystemAuth`: a credential of an application, runtime or integration system.
#[derive(SimpleObject)]
pub struct SystemAuth {
    pub id: ID,
    pub auth: Option<Auth>,
}

impl SystemAuth {
    /// The wire form of a stored auth: OAuth2 client credentials show the client id and the
    /// token URL; the secret was shown once, when it was made, and is not kept.
    pub fn stored(auth: &DomainSystemAuth, token_url: &str) -> Self {
        SystemAuth {
            id: ID(auth.id.to_string()),
            auth: auth
                .secret_hash
                .as_ref()
                .map(|_| oauth_auth(auth.id, String::new(), token_url)),
        }
    }
}

/// OAuth2 client credentials as answered: the client id, the secret (empty once it was
/// shown) and the token URL.
pub fn oauth_auth(client_id: SystemAuthId, secret: String, token_url: &str) -> Auth {
    sextant_domain::Auth {
        credential: Credential::OAuth {
            client_id: client_id.to_string(),
            client_secret: secret,
            url: token_url.to_owned(),
        },
        additional_headers: None,
        additional_query_params: None,
        request_auth: None,
    }
    .into()
}

/// Where OAuth2 clients get their tokens.
pub fn token_url<'a>(ctx: &Context<'a>) -> GqlResult<&'a str> {
    Ok(settings(ctx)?.token_url.as_str())
}

/// The system auths of one owner (batched per query level).
pub async fn auths_of(ctx: &Context<'_>, owner: SystemAuthOwner) -> GqlResult<Vec<SystemAuth>> {
    let url = token_url(ctx)?;
    let list = loader(ctx)?
        .load_one(SystemAuthsKey(owner))
        .await
        .map_err(load_error)?
        .unwrap_or_default();
    Ok(list.iter().map(|a| SystemAuth::stored(a, url)).collect())
}

/// `OneTimeToken`: what an administrator hands to an application or runtime to pair it.
#[derive(SimpleObject)]
pub struct OneTimeToken {
    pub token: String,
    #[graphql(name = "connectorURL")]
    pub connector_url: String,
    /// `{"token":"…","connectorURL":"…"}`.
    pub raw: Option<String>,
    /// `raw`, base64 (standard alphabet).
    pub raw_encoded: Option<String>,
    /// Sextant: the id of the client the token pairs (its system auth; the CN of the
    /// certificate it buys). Not a secret: `oneTimeTokenStatus(id)` tells by it whether
    /// the token was used.
    pub id: ID,
    /// Sextant: when the token stops working if it is not used.
    pub expires_at: Timestamp,
}

impl OneTimeToken {
    pub fn new(token: String, connector_url: String, pairing: Pairing) -> Self {
        use base64::Engine;
        let raw = serde_json::json!({"token": token, "connectorURL": connector_url}).to_string();
        let raw_encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
        OneTimeToken {
            token,
            connector_url,
            raw: Some(raw),
            raw_encoded: Some(raw_encoded),
            id: ID(pairing.client_id.to_string()),
            expires_at: Timestamp(pairing.expires_at),
        }
    }
}

/// Sextant: the state of a one-time token.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneTimeTokenState {
    /// It still pairs.
    Unused,
    /// The Connector redeemed it.
    Used,
    /// It expired unused.
    Expired,
}

/// Sextant: whether a one-time token was used, and when; never the token itself.
#[derive(SimpleObject)]
pub struct OneTimeTokenStatus {
    /// The id `OneTimeToken.id` answered.
    pub id: ID,
    pub state: OneTimeTokenState,
    /// The application the token pairs (null for a runtime's).
    #[graphql(name = "applicationID")]
    pub application_id: Option<ID>,
    /// The runtime the token pairs (null for an application's).
    #[graphql(name = "runtimeID")]
    pub runtime_id: Option<ID>,
    pub created_at: Timestamp,
    /// Null once the token was used, or when its expired row was purged.
    pub expires_at: Option<Timestamp>,
    pub used_at: Option<Timestamp>,
}

impl OneTimeTokenStatus {
    /// The state at `now`: used if the Connector recorded a use, unused while a live token
    /// is stored, expired otherwise (an expired token is purged in time).
    pub fn of(stored: PairingTokenState, now: time::OffsetDateTime) -> Self {
        let state = match (stored.used_at, stored.expires_at) {
            (Some(_), _) => OneTimeTokenState::Used,
            (None, Some(expiry)) if expiry > now => OneTimeTokenState::Unused,
            (None, _) => OneTimeTokenState::Expired,
        };
        let (application_id, runtime_id) = match stored.owner {
            SystemAuthOwner::Application(app) => (Some(ID(app.to_string())), None),
            SystemAuthOwner::Runtime(runtime) => (None, Some(ID(runtime.to_string()))),
            SystemAuthOwner::IntegrationSystem(_) => (None, None),
        };
        OneTimeTokenStatus {
            id: ID(stored.client.to_string()),
            state,
            application_id,
            runtime_id,
            created_at: Timestamp(stored.created_at),
            expires_at: stored
                .used_at
                .is_none()
                .then_some(stored.expires_at)
                .flatten()
                .map(Timestamp),
            used_at: stored.used_at.map(Timestamp),
        }
    }
}

/// What `revokeAllCredentialsFor*` removed.
#[derive(SimpleObject)]
pub struct RevokedCredentials {
    /// System auths deleted: OAuth2 clients (their access tokens stop working at once) and
    /// paired clients (with their unused one-time tokens).
    pub system_auths: u64,
    /// Client certificates newly revoked (refused from the next request on and listed in
    /// the CRL).
    pub certificates: u64,
}
