//! System auths, one-time tokens and revoked credentials as answered.

use async_graphql::{Context, ID, SimpleObject};
use sextant_domain::{Credential, SystemAuth as DomainSystemAuth, SystemAuthId, SystemAuthOwner};

use crate::catalog::credentials::wire::Auth;
use crate::context::{loader, settings};
use crate::error::GqlResult;
use crate::loaders::{SystemAuthsKey, load_error};

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
}

impl OneTimeToken {
    pub fn new(token: String, connector_url: String) -> Self {
        use base64::Engine;
        let raw = serde_json::json!({"token": token, "connectorURL": connector_url}).to_string();
        let raw_encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
        OneTimeToken {
            token,
            connector_url,
            raw: Some(raw),
            raw_encoded: Some(raw_encoded),
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
