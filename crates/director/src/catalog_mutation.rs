//! The catalog's mutations: webhooks, API and event definitions, documents, spec refetches,
//! per-runtime API credentials and default eventing. Fetching happens before the write
//! transaction; each write runs in one transaction.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, Scope, TenantId};
use sextant_fetch::Fetcher;
use sextant_store::{Store, Tx};
use uuid::Uuid;

use crate::catalog;
use crate::catalog_inputs::{
    ApiDefinitionInput, AuthInput, DocumentInput, EventDefinitionInput, WebhookInput,
};
use crate::catalog_types::{
    ApiDefinition, ApiRuntimeAuth, ApiSpec, ApplicationEventingConfiguration, Document,
    EventDefinition, EventSpec, Webhook,
};
use crate::confine::{self, Reach};
use crate::error::internal;
use crate::error::{GqlResult, IntoGql};
use crate::guard::{Scopes, consumer};
use crate::inputs::parse_id;
use crate::mutation::{write, write_outside_configuration};

#[derive(Default)]
pub struct CatalogMutation;

fn reach(ctx: &Context<'_>) -> GqlResult<Reach> {
    Reach::of(consumer(ctx)?).gql()
}

/// Which child a mutation names by id, to find the application it belongs to.
#[derive(Clone, Copy)]
enum Child {
    Api(Uuid),
    Event(Uuid),
    Document(Uuid),
    Webhook(Uuid),
}

/// Requires that the consumer may change the application the child belongs to. A missing
/// child passes: the operation itself reports it.
async fn writable_child(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    child: Child,
) -> Result<(), DomainError> {
    if reach == Reach::Tenant {
        return Ok(());
    }
    let app = match child {
        Child::Api(id) => tx
            .api_definition(tenant, id)
            .await
            .map_err(internal)?
            .map(|a| a.application_id),
        Child::Event(id) => tx
            .event_definition(tenant, id)
            .await
            .map_err(internal)?
            .map(|e| e.application_id),
        Child::Document(id) => tx
            .document(tenant, id)
            .await
            .map_err(internal)?
            .map(|d| d.application_id),
        Child::Webhook(id) => tx
            .webhook(tenant, id)
            .await
            .map_err(internal)?
            .map(|w| w.application_id),
    };
    match app {
        Some(app) => confine::writable_app(tx, tenant, reach, app)
            .await
            .map_err(|e| match (e, child) {
                (DomainError::NotFound(_), child) => match child {
                    Child::Api(id) => DomainError::not_found("API definition", id),
                    Child::Event(id) => DomainError::not_found("event definition", id),
                    Child::Document(id) => DomainError::not_found("document", id),
                    Child::Webhook(id) => DomainError::not_found("webhook", id),
                },
                (other, _) => other,
            }),
        None => Ok(()),
    }
}

/// Before fetching for an application: it must exist and be within reach, so nobody makes
/// the server fetch on behalf of an application it may not change. The write transaction
/// checks again.
async fn check_app(ctx: &Context<'_>, app: Uuid, what: &str) -> GqlResult<()> {
    let tenant = consumer(ctx)?.tenant;
    let reach = reach(ctx)?;
    let mut tx = store(ctx)?.read().await.gql()?;
    if tx.application(tenant, app).await.gql()?.is_none() {
        return Err(crate::error::to_graphql(DomainError::NotFound(format!(
            "Cannot add {what} to not existing Application"
        ))));
    }
    confine::writable_app(&mut *tx, tenant, reach, app)
        .await
        .gql()
}

/// Before fetching for an existing child: it must exist and be within reach.
async fn check_existing(ctx: &Context<'_>, child: Child) -> GqlResult<()> {
    check_child(ctx, child).await?;
    let tenant = consumer(ctx)?.tenant;
    let mut tx = store(ctx)?.read().await.gql()?;
    let exists = match child {
        Child::Api(id) => tx.api_definition(tenant, id).await.gql()?.is_some(),
        Child::Event(id) => tx.event_definition(tenant, id).await.gql()?.is_some(),
        Child::Document(id) => tx.document(tenant, id).await.gql()?.is_some(),
        Child::Webhook(id) => tx.webhook(tenant, id).await.gql()?.is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(crate::error::to_graphql(match child {
            Child::Api(id) => DomainError::not_found("API definition", id),
            Child::Event(id) => DomainError::not_found("event definition", id),
            Child::Document(id) => DomainError::not_found("document", id),
            Child::Webhook(id) => DomainError::not_found("webhook", id),
        }))
    }
}

/// The same check in its own read transaction, for operations that fetch before writing.
async fn check_child(ctx: &Context<'_>, child: Child) -> GqlResult<()> {
    let tenant = consumer(ctx)?.tenant;
    let reach = reach(ctx)?;
    let mut tx = store(ctx)?.read().await.gql()?;
    writable_child(&mut *tx, tenant, reach, child).await.gql()
}

fn fetcher<'a>(ctx: &Context<'a>) -> GqlResult<&'a Fetcher> {
    ctx.data::<Fetcher>()
}

/// The server's spec size limits and quotas.
fn spec_limits(ctx: &Context<'_>) -> GqlResult<sextant_domain::SpecLimits> {
    Ok(ctx.data::<crate::Settings>()?.spec_limits)
}

fn store<'a>(ctx: &Context<'a>) -> GqlResult<&'a Arc<dyn Store>> {
    ctx.data::<Arc<dyn Store>>()
}

#[Object]
impl CatalogMutation {
    // --- webhooks ---

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn add_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        #[graphql(name = "in")] input: WebhookInput,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&application_id, "application").gql()?;
        let webhook = catalog::prepare_webhooks(tenant, vec![input.validate().gql()?]);
        let webhook = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(webhook) = webhook.into_iter().next() else {
                    return Err(sextant_domain::DomainError::Invalid("no webhook".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                catalog::add_webhook(tx, tenant, app, webhook).await
            })
        })
        .await?;
        Ok(Webhook::revealing_secret(webhook))
    }

    /// Sextant: gives the webhook a new signing secret and shows it (this once); deliveries
    /// are signed with it from now on.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "webhookID")] webhook_id: ID,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&webhook_id, "webhook").gql()?;
        let secret = catalog::new_webhook_secret();
        let webhook = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                let mut webhook = tx
                    .webhook(tenant, id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| DomainError::not_found("webhook", id))?;
                confine::writable_app(tx, tenant, reach, webhook.application_id).await?;
                tx.set_webhook_secret(tenant, id, &secret)
                    .await
                    .map_err(internal)?;
                webhook.secret = Some(secret);
                Ok(webhook)
            })
        })
        .await?;
        Ok(Webhook::revealing_secret(webhook))
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "webhookID")] webhook_id: ID,
        #[graphql(name = "in")] input: WebhookInput,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&webhook_id, "webhook").gql()?;
        let draft = input.validate().gql()?;
        let webhook = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Webhook(id)).await?;
                catalog::update_webhook(tx, tenant, id, draft).await
            })
        })
        .await?;
        Ok(webhook.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "webhookID")] webhook_id: ID,
    ) -> GqlResult<Webhook> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&webhook_id, "webhook").gql()?;
        let webhook = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Webhook(id)).await?;
                catalog::delete_webhook(tx, tenant, id).await
            })
        })
        .await?;
        Ok(webhook.into())
    }

    // --- API definitions ---

    #[graphql(
        name = "addAPIDefinition",
        guard = "Scopes(&[Scope::ApplicationWrite])"
    )]
    async fn add_api_definition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        #[graphql(name = "in")] input: ApiDefinitionInput,
    ) -> GqlResult<ApiDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&application_id, "application").gql()?;
        let draft = input.validate().gql()?;
        check_app(ctx, app, "API").await?;
        let limits = spec_limits(ctx)?;
        let apis = catalog::prepare_apis(fetcher(ctx)?, tenant, vec![draft]).await;
        let api = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(api) = apis.into_iter().next() else {
                    return Err(sextant_domain::DomainError::Invalid("no API".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                catalog::add_api(tx, tenant, app, api, &limits).await
            })
        })
        .await?;
        Ok(ApiDefinition(api))
    }

    #[graphql(
        name = "updateAPIDefinition",
        guard = "Scopes(&[Scope::ApplicationWrite])"
    )]
    async fn update_api_definition(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: ApiDefinitionInput,
    ) -> GqlResult<ApiDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "API definition").gql()?;
        let draft = input.validate().gql()?;
        check_existing(ctx, Child::Api(id)).await?;
        let limits = spec_limits(ctx)?;
        let apis = catalog::prepare_apis(fetcher(ctx)?, tenant, vec![draft]).await;
        let api = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(api) = apis.into_iter().next() else {
                    return Err(sextant_domain::DomainError::Invalid("no API".into()));
                };
                writable_child(tx, tenant, reach, Child::Api(id)).await?;
                catalog::update_api(tx, tenant, id, api, &limits).await
            })
        })
        .await?;
        Ok(ApiDefinition(api))
    }

    #[graphql(
        name = "deleteAPIDefinition",
        guard = "Scopes(&[Scope::ApplicationWrite])"
    )]
    async fn delete_api_definition(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ApiDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "API definition").gql()?;
        let api = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Api(id)).await?;
                catalog::delete_api(tx, tenant, id).await
            })
        })
        .await?;
        Ok(ApiDefinition(api))
    }

    /// Fetches the spec again with its fetch request and answers the new spec.
    #[graphql(name = "refetchAPISpec", guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn refetch_api_spec(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "apiID")] api_id: ID,
    ) -> GqlResult<ApiSpec> {
        let tenant = consumer(ctx)?.tenant;
        let id = parse_id(&api_id, "API definition").gql()?;
        check_child(ctx, Child::Api(id)).await?;
        let spec = catalog::refetch_api_spec(
            store(ctx)?.as_ref(),
            fetcher(ctx)?,
            tenant,
            id,
            &spec_limits(ctx)?,
        )
        .await
        .gql()?;
        Ok(spec.into())
    }

    // --- per-runtime API credentials ---

    #[graphql(name = "setAPIAuth", guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn set_api_auth(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "apiID")] api_id: ID,
        #[graphql(name = "runtimeID")] runtime_id: ID,
        #[graphql(name = "in")] input: AuthInput,
    ) -> GqlResult<ApiRuntimeAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let api = parse_id(&api_id, "API definition").gql()?;
        let runtime = parse_id(&runtime_id, "runtime").gql()?;
        let auth = input.validate().gql()?;
        let value = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Api(api)).await?;
                catalog::set_api_auth(tx, tenant, api, runtime, auth).await
            })
        })
        .await?;
        Ok(ApiRuntimeAuth {
            runtime_id: ID(value.runtime_id.to_string()),
            auth: Some(value.auth.into()),
        })
    }

    #[graphql(name = "deleteAPIAuth", guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_api_auth(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "apiID")] api_id: ID,
        #[graphql(name = "runtimeID")] runtime_id: ID,
    ) -> GqlResult<ApiRuntimeAuth> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let api = parse_id(&api_id, "API definition").gql()?;
        let runtime = parse_id(&runtime_id, "runtime").gql()?;
        let auth = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Api(api)).await?;
                catalog::delete_api_auth(tx, tenant, api, runtime).await
            })
        })
        .await?;
        Ok(ApiRuntimeAuth {
            runtime_id: ID(runtime.to_string()),
            auth: auth.map(Into::into),
        })
    }

    // --- event definitions ---

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn add_event_definition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        #[graphql(name = "in")] input: EventDefinitionInput,
    ) -> GqlResult<EventDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&application_id, "application").gql()?;
        let draft = input.validate().gql()?;
        check_app(ctx, app, "Event Definition").await?;
        let limits = spec_limits(ctx)?;
        let events = catalog::prepare_events(fetcher(ctx)?, tenant, vec![draft]).await;
        let event = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(event) = events.into_iter().next() else {
                    return Err(sextant_domain::DomainError::Invalid("no event".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                catalog::add_event(tx, tenant, app, event, &limits).await
            })
        })
        .await?;
        Ok(event.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn update_event_definition(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: EventDefinitionInput,
    ) -> GqlResult<EventDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "event definition").gql()?;
        let draft = input.validate().gql()?;
        check_existing(ctx, Child::Event(id)).await?;
        let limits = spec_limits(ctx)?;
        let events = catalog::prepare_events(fetcher(ctx)?, tenant, vec![draft]).await;
        let event = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(event) = events.into_iter().next() else {
                    return Err(sextant_domain::DomainError::Invalid("no event".into()));
                };
                writable_child(tx, tenant, reach, Child::Event(id)).await?;
                catalog::update_event(tx, tenant, id, event, &limits).await
            })
        })
        .await?;
        Ok(event.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_event_definition(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<EventDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "event definition").gql()?;
        let event = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Event(id)).await?;
                catalog::delete_event(tx, tenant, id).await
            })
        })
        .await?;
        Ok(event.into())
    }

    /// Fetches the event spec again (Compass's scope configuration denied this one always;
    /// here it needs `application:write`, like `refetchAPISpec`).
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn refetch_event_definition_spec(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "eventID")] event_id: ID,
    ) -> GqlResult<EventSpec> {
        let tenant = consumer(ctx)?.tenant;
        let id = parse_id(&event_id, "event definition").gql()?;
        check_child(ctx, Child::Event(id)).await?;
        let spec = catalog::refetch_event_spec(
            store(ctx)?.as_ref(),
            fetcher(ctx)?,
            tenant,
            id,
            &spec_limits(ctx)?,
        )
        .await
        .gql()?;
        Ok(spec.into())
    }

    // --- documents ---

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn add_document(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        #[graphql(name = "in")] input: DocumentInput,
    ) -> GqlResult<Document> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let app = parse_id(&application_id, "application").gql()?;
        let draft = input.validate().gql()?;
        check_app(ctx, app, "Document").await?;
        let documents = catalog::prepare_documents(fetcher(ctx)?, tenant, vec![draft]).await;
        let document = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(document) = documents.into_iter().next() else {
                    return Err(sextant_domain::DomainError::Invalid("no document".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                catalog::add_document(tx, tenant, app, document).await
            })
        })
        .await?;
        Ok(document.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_document(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Document> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "document").gql()?;
        let document = write(ctx, move |tx| {
            Box::pin(async move {
                writable_child(tx, tenant, reach, Child::Document(id)).await?;
                catalog::delete_document(tx, tenant, id).await
            })
        })
        .await?;
        Ok(document.into())
    }

    // --- eventing ---

    #[graphql(guard = "Scopes(&[Scope::EventingManage])")]
    async fn set_default_eventing_for_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "appID")] app_id: String,
        #[graphql(name = "runtimeID")] runtime_id: String,
    ) -> GqlResult<ApplicationEventingConfiguration> {
        let tenant = consumer(ctx)?.tenant;
        let app = parse_id(&ID(app_id), "application").gql()?;
        let runtime = parse_id(&ID(runtime_id), "runtime").gql()?;
        let default_url = write(ctx, move |tx| {
            Box::pin(async move { catalog::set_default_eventing(tx, tenant, app, runtime).await })
        })
        .await?;
        Ok(ApplicationEventingConfiguration { default_url })
    }

    #[graphql(guard = "Scopes(&[Scope::EventingManage])")]
    async fn delete_default_eventing_for_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "appID")] app_id: String,
    ) -> GqlResult<ApplicationEventingConfiguration> {
        let tenant = consumer(ctx)?.tenant;
        let app = parse_id(&ID(app_id), "application").gql()?;
        let default_url = write(ctx, move |tx| {
            Box::pin(async move { catalog::delete_default_eventing(tx, tenant, app).await })
        })
        .await?;
        Ok(ApplicationEventingConfiguration { default_url })
    }
}
