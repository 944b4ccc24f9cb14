//! The mutations of system auths: one-time tokens and client credentials for applications,
//! runtimes and integration systems, revoking all of an owner's, deleting one, and revoking
//! one client certificate of an application.

use async_graphql::{Context, ID, Object};
use sextant_auth::NewSecret;
use sextant_domain::{DomainError, OneTimeTokenKind, Scope, SystemAuthOwner};
use sextant_store::{CertificatesOf, OwnerKind};

use crate::clock::now_micros;
use crate::confine;
use crate::context::{Scopes, consumer, reach, settings};
use crate::error::{GqlResult, IntoGql, internal};
use crate::system_auths::rules::{
    create, for_deletion, new_secret, new_token, pairing_token, parse_serial, revoke_all,
    revoke_application_certificate, runtime_pairing,
};
use crate::system_auths::wire::{
    ClientCertificate, OneTimeToken, RevokedCredentials, SystemAuth, oauth_auth, token_url,
};
use crate::transaction::{write, write_outside_configuration};
use crate::validation::parse_id;

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
        let settings = settings(ctx)?.clone();
        let NewSecret {
            secret: token,
            hash,
        } = new_token().gql()?;
        let ttl = settings.application_token_ttl;
        let pairing = write_outside_configuration(ctx, move |tx| {
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
        Ok(OneTimeToken::new(token, settings.connector_url, pairing))
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
        let settings = settings(ctx)?.clone();
        let ttl = settings.runtime_token_ttl;
        let (token, pairing) = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::runtime_credentials(reach, runtime)?;
                runtime_pairing(tx, tenant, runtime, ttl).await
            })
        })
        .await?;
        Ok(OneTimeToken::new(token, settings.connector_url, pairing))
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
        let NewSecret { secret, hash } = new_secret().gql()?;
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
        let NewSecret { secret, hash } = new_secret().gql()?;
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
        let NewSecret { secret, hash } = new_secret().gql()?;
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
                revoke_all(tx, tenant, SystemAuthOwner::Application(app)).await
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
                revoke_all(tx, tenant, SystemAuthOwner::Runtime(runtime)).await
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
                    tx.revoke_certificates_of(tenant, CertificatesOf::Client(id), now_micros())
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
                    tx.revoke_certificates_of(tenant, CertificatesOf::Client(id), now_micros())
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
                    tx.revoke_certificates_of(tenant, CertificatesOf::Client(id), now_micros())
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

    /// Sextant: revokes one certificate the Connector issued to one of an application's
    /// clients (by its serial, hexadecimal), and every certificate renewed from it, as the
    /// certificate-secured Connector's `revokeCertificate` does; the client itself stays.
    /// From the next request on the certificate is refused, and within seconds at the
    /// handshake, by every server. Whoever may change the application may revoke its
    /// certificates; another tenant's or application's serial is not found.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn revoke_client_certificate(
        &self,
        ctx: &Context<'_>,
        serial: String,
    ) -> GqlResult<ClientCertificate> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let serial = parse_serial(&serial).gql()?;
        // `write` raises the tenant's configuration epoch: identities cached as valid are
        // checked again.
        let revoked = write(ctx, move |tx| {
            Box::pin(async move { revoke_application_certificate(tx, tenant, reach, serial).await })
        })
        .await?;
        Ok(ClientCertificate::from(revoked))
    }
}
