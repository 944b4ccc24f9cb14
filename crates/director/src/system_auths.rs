//! System auths: OAuth2 client credentials for applications, runtimes and integration systems
//! (`requestClientCredentialsFor*`, `deleteSystemAuthFor*`, the `auths` fields). The client
//! secret is generated here, answered once, and stored only as a hash; the token endpoint
//! (`/oauth2/token`, in the server) checks it.

use async_graphql::{Context, ID, Object, SimpleObject};
use sextant_domain::{
    Credential, DomainError, OneTimeTokenKind, Scope, SystemAuth as DomainSystemAuth,
    SystemAuthOwner, TenantId,
};
use sextant_store::{OwnerKind, Tx};
use uuid::Uuid;

use crate::Settings;
use crate::catalog_types::Auth;
use crate::confine::{self, Reach};
use crate::error::{GqlResult, IntoGql, internal};
use crate::guard::{Scopes, consumer};
use crate::inputs::parse_id;
use crate::mutation::{write, write_outside_configuration};
use crate::service::now_micros;

type Result<T> = std::result::Result<T, DomainError>;

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

fn oauth_auth(client_id: Uuid, secret: String, token_url: &str) -> Auth {
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

fn token_url<'a>(ctx: &Context<'a>) -> GqlResult<&'a str> {
    Ok(ctx.data::<Settings>()?.token_url.as_str())
}

fn reach(ctx: &Context<'_>) -> GqlResult<Reach> {
    Reach::of(consumer(ctx)?).gql()
}

/// The system auths of one owner (batched per query level).
pub async fn auths_of(
    ctx: &Context<'_>,
    kind: OwnerKind,
    owner: Uuid,
) -> GqlResult<Vec<SystemAuth>> {
    let url = token_url(ctx)?;
    let list = ctx
        .data::<crate::loaders::Catalog>()?
        .load_one(crate::loaders::SystemAuthsKey { kind, owner })
        .await
        .map_err(crate::catalog_types::load_error)?
        .unwrap_or_default();
    Ok(list.iter().map(|a| SystemAuth::stored(a, url)).collect())
}

/// Creates client credentials for an owner that the caller has checked.
async fn create(
    tx: &mut dyn Tx,
    tenant: Option<TenantId>,
    owner: SystemAuthOwner,
    hash: Vec<u8>,
) -> Result<DomainSystemAuth> {
    let auth = DomainSystemAuth {
        id: Uuid::new_v4(),
        tenant,
        owner,
        secret_hash: Some(hash),
        created_at: now_micros(),
    };
    tx.insert_system_auth(&auth).await.map_err(internal)?;
    Ok(auth)
}

/// Loads a system auth for deletion through the mutation of `expected` kind: it must exist in
/// the caller's tenant (integration systems: owned by it) and belong to that kind of object.
async fn for_deletion(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    id: Uuid,
    expected: OwnerKind,
) -> Result<DomainSystemAuth> {
    let missing = || DomainError::not_found("system auth", id);
    let auth = tx
        .system_auth(id)
        .await
        .map_err(internal)?
        .ok_or_else(missing)?;
    if auth.tenant.is_some_and(|t| t != tenant) {
        return Err(missing());
    }
    // Out of the consumer's reach looks like missing, before anything about the owner shows.
    let reachable = match auth.owner {
        SystemAuthOwner::Application(app) => {
            match confine::writable_app(tx, tenant, reach, app).await {
                Ok(()) => true,
                Err(DomainError::NotFound(_)) => false,
                Err(other) => return Err(other),
            }
        }
        SystemAuthOwner::Runtime(runtime) => confine::runtime_credentials(reach, runtime).is_ok(),
        SystemAuthOwner::IntegrationSystem(system) => {
            match confine::integration_system_credentials(tx, tenant, reach, system).await {
                Ok(()) => true,
                Err(DomainError::NotFound(_) | DomainError::Forbidden(_)) => false,
                Err(other) => return Err(other),
            }
        }
    };
    if !reachable {
        return Err(missing());
    }
    let kind = match auth.owner {
        SystemAuthOwner::Application(_) => OwnerKind::Application,
        SystemAuthOwner::Runtime(_) => OwnerKind::Runtime,
        SystemAuthOwner::IntegrationSystem(_) => OwnerKind::IntegrationSystem,
    };
    if kind != expected {
        return Err(DomainError::Invalid(format!(
            "system auth with ID \"{id}\" belongs to {} {}, not to {}",
            article(auth.owner.kind_name()),
            auth.owner.kind_name(),
            match expected {
                OwnerKind::Application => "an application",
                OwnerKind::Runtime => "a runtime",
                OwnerKind::IntegrationSystem => "an integration system",
            }
        )));
    }
    Ok(auth)
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn new_secret() -> Result<(String, Vec<u8>)> {
    sextant_auth::new_client_secret().map_err(|e| DomainError::Internal(Box::new(e)))
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
    fn new(token: String, connector_url: String) -> Self {
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

/// Creates a secretless system auth for the owner (its id becomes the client id the
/// Connector puts into the certificate) and a one-time token that pairs it.
pub(crate) async fn pairing_token(
    tx: &mut dyn Tx,
    tenant: TenantId,
    owner: SystemAuthOwner,
    kind: OneTimeTokenKind,
    hash: Vec<u8>,
    ttl: std::time::Duration,
) -> Result<()> {
    let auth = DomainSystemAuth {
        id: Uuid::new_v4(),
        tenant: Some(tenant),
        owner,
        secret_hash: None,
        created_at: now_micros(),
    };
    tx.insert_system_auth(&auth).await.map_err(internal)?;
    let now = now_micros();
    let ttl = time::Duration::try_from(ttl).map_err(|e| DomainError::Internal(Box::new(e)))?;
    tx.insert_one_time_token(&sextant_domain::OneTimeToken {
        hash,
        kind,
        client_id: auth.id,
        tenant,
        created_at: now,
        expires_at: now + ttl,
        parent_serial: None,
    })
    .await
    .map_err(internal)
}

pub(crate) fn new_token() -> Result<(String, Vec<u8>)> {
    sextant_auth::new_one_time_token().map_err(|e| DomainError::Internal(Box::new(e)))
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

/// Revokes every certificate of the owner's clients and deletes the clients (their one-time
/// tokens go with them), in the caller's transaction.
async fn revoke_all(
    tx: &mut dyn Tx,
    tenant: TenantId,
    kind: OwnerKind,
    owner: Uuid,
) -> Result<RevokedCredentials> {
    let certificates = tx
        .revoke_certificates_of(
            tenant,
            sextant_store::CertificatesOf::Owner(kind, owner),
            now_micros(),
        )
        .await
        .map_err(internal)?;
    let system_auths = tx
        .delete_system_auths_of(tenant, kind, owner)
        .await
        .map_err(internal)?;
    Ok(RevokedCredentials {
        system_auths,
        certificates,
    })
}

#[derive(Default)]
pub struct SystemAuthMutation;

#[Object]
impl SystemAuthMutation {
    /// A token that pairs the application through the Connector (valid once, for the
    /// configured lifetime; stored only as a hash).
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn request_one_time_token_for_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<OneTimeToken> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        confine::creating_credentials(reach).gql()?;
        let app = parse_id(&id, "application").gql()?;
        let settings = ctx.data::<Settings>()?.clone();
        let (token, hash) = new_token().gql()?;
        let ttl = settings.application_token_ttl;
        write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                if tx
                    .application(tenant, app)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(DomainError::not_found("application", app));
                }
                confine::writable_app(tx, tenant, reach, app).await?;
                let owner = SystemAuthOwner::Application(app);
                pairing_token(tx, tenant, owner, OneTimeTokenKind::Application, hash, ttl).await
            })
        })
        .await?;
        Ok(OneTimeToken::new(token, settings.connector_url))
    }

    /// A token that pairs the runtime (its agent) through the Connector.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn request_one_time_token_for_runtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<OneTimeToken> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        confine::creating_credentials(reach).gql()?;
        let runtime = parse_id(&id, "runtime").gql()?;
        let settings = ctx.data::<Settings>()?.clone();
        let ttl = settings.runtime_token_ttl;
        let token = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::runtime_credentials(reach, runtime)?;
                crate::provisioning::runtime_pairing_token(tx, tenant, runtime, ttl).await
            })
        })
        .await?;
        Ok(OneTimeToken::new(token, settings.connector_url))
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn request_client_credentials_for_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<SystemAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        confine::creating_credentials(reach).gql()?;
        let app = parse_id(&id, "application").gql()?;
        let (secret, hash) = new_secret().gql()?;
        let auth = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                if tx
                    .application(tenant, app)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(DomainError::not_found("application", app));
                }
                confine::writable_app(tx, tenant, reach, app).await?;
                create(tx, Some(tenant), SystemAuthOwner::Application(app), hash).await
            })
        })
        .await?;
        Ok(SystemAuth {
            id: ID(auth.id.to_string()),
            auth: Some(oauth_auth(auth.id, secret, token_url(ctx)?)),
        })
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn request_client_credentials_for_runtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<SystemAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        confine::creating_credentials(reach).gql()?;
        let runtime = parse_id(&id, "runtime").gql()?;
        let (secret, hash) = new_secret().gql()?;
        let auth = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::runtime_credentials(reach, runtime)?;
                if tx
                    .runtime(tenant, runtime)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(DomainError::not_found("runtime", runtime));
                }
                create(tx, Some(tenant), SystemAuthOwner::Runtime(runtime), hash).await
            })
        })
        .await?;
        Ok(SystemAuth {
            id: ID(auth.id.to_string()),
            auth: Some(oauth_auth(auth.id, secret, token_url(ctx)?)),
        })
    }

    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn request_client_credentials_for_integration_system(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<SystemAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let system = parse_id(&id, "integration system").gql()?;
        let (secret, hash) = new_secret().gql()?;
        let auth = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::integration_system_credentials(tx, tenant, reach, system).await?;
                create(tx, None, SystemAuthOwner::IntegrationSystem(system), hash).await
            })
        })
        .await?;
        Ok(SystemAuth {
            id: ID(auth.id.to_string()),
            auth: Some(oauth_auth(auth.id, secret, token_url(ctx)?)),
        })
    }

    /// Revokes every credential of the application at once: its client certificates (and
    /// their renewals), OAuth2 clients, paired clients and unused one-time tokens (a Sextant
    /// extension). It pairs again only with a new one-time token.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn revoke_all_credentials_for_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<RevokedCredentials> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&id, "application").gql()?;
        write(ctx, move |tx| {
            Box::pin(async move {
                if tx
                    .application(tenant, app)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(DomainError::not_found("application", app));
                }
                confine::writable_app(tx, tenant, reach, app).await?;
                revoke_all(tx, tenant, OwnerKind::Application, app).await
            })
        })
        .await
    }

    /// Revokes every credential of the runtime at once (see
    /// `revokeAllCredentialsForApplication`); its agent pairs again only with a new token.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn revoke_all_credentials_for_runtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<RevokedCredentials> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let runtime = parse_id(&id, "runtime").gql()?;
        write(ctx, move |tx| {
            Box::pin(async move {
                confine::runtime_credentials(reach, runtime)?;
                if tx
                    .runtime(tenant, runtime)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(DomainError::not_found("runtime", runtime));
                }
                revoke_all(tx, tenant, OwnerKind::Runtime, runtime).await
            })
        })
        .await
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_system_auth_for_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "authID")] auth_id: ID,
    ) -> GqlResult<SystemAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&auth_id, "system auth").gql()?;
        let auth = write(ctx, move |tx| {
            Box::pin(async move {
                let auth = for_deletion(tx, tenant, reach, id, OwnerKind::Application).await?;
                if let Some(tenant) = auth.tenant {
                    tx.revoke_certificates_of(
                        tenant,
                        sextant_store::CertificatesOf::Client(id),
                        now_micros(),
                    )
                    .await
                    .map_err(internal)?;
                }
                tx.delete_system_auth(id).await.map_err(internal)?;
                Ok(auth)
            })
        })
        .await?;
        Ok(SystemAuth::stored(&auth, token_url(ctx)?))
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn delete_system_auth_for_runtime(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "authID")] auth_id: ID,
    ) -> GqlResult<SystemAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&auth_id, "system auth").gql()?;
        let auth = write(ctx, move |tx| {
            Box::pin(async move {
                let auth = for_deletion(tx, tenant, reach, id, OwnerKind::Runtime).await?;
                if let Some(tenant) = auth.tenant {
                    tx.revoke_certificates_of(
                        tenant,
                        sextant_store::CertificatesOf::Client(id),
                        now_micros(),
                    )
                    .await
                    .map_err(internal)?;
                }
                tx.delete_system_auth(id).await.map_err(internal)?;
                Ok(auth)
            })
        })
        .await?;
        Ok(SystemAuth::stored(&auth, token_url(ctx)?))
    }

    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn delete_system_auth_for_integration_system(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "authID")] auth_id: ID,
    ) -> GqlResult<SystemAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&auth_id, "system auth").gql()?;
        let auth = write(ctx, move |tx| {
            Box::pin(async move {
                let auth =
                    for_deletion(tx, tenant, reach, id, OwnerKind::IntegrationSystem).await?;
                if let Some(tenant) = auth.tenant {
                    tx.revoke_certificates_of(
                        tenant,
                        sextant_store::CertificatesOf::Client(id),
                        now_micros(),
                    )
                    .await
                    .map_err(internal)?;
                }
                tx.delete_system_auth(id).await.map_err(internal)?;
                Ok(auth)
            })
        })
        .await?;
        Ok(SystemAuth::stored(&auth, token_url(ctx)?))
    }
}
