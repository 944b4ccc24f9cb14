//! The Director's mutations. Each one validates its input, then runs in one write
//! transaction: on any error nothing changes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, ObjectKind, ObjectRef, Scope};
use sextant_store::{Store, Tx};

use crate::confine::{self, Reach};
use crate::error::{GqlResult, IntoGql, internal};
use crate::guard::{Scopes, consumer};
use crate::inputs::{
    self, ApplicationFromTemplateInput, ApplicationRegisterInput, ApplicationTemplateInput,
    ApplicationUpdateInput, IntegrationSystemInput, LabelDefinitionInput, RuntimeInput, parse_id,
};
use crate::scalars::Any;
use crate::service;
use crate::types::{
    Application, ApplicationTemplate, IntegrationSystem, Label, LabelDefinition, Runtime,
};

/// The Director's mutations: the core ones and the catalog's.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    CoreMutation,
    crate::catalog_mutation::CatalogMutation,
    crate::system_auths::SystemAuthMutation,
);

#[derive(Default)]
pub struct CoreMutation;

pub(crate) type TxFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 't>>;

/// Runs `op` in a write transaction and commits only if it succeeded. The mutation raises
/// the tenant's configuration epoch in the same transaction: runtimes' configuration
/// documents are rebuilt (and compared) after the change, never served stale.
pub(crate) async fn write<T, F>(ctx: &Context<'_>, op: F) -> GqlResult<T>
where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> TxFuture<'t, T>,
{
    write_with(ctx, true, op).await
}

/// [`write`] for the few mutations that change nothing a runtime's configuration document
/// holds and revoke no certificate (a runtime's status, new one-time tokens and client
/// credentials): they leave the epoch alone, so they wake no waiting agent. Every agent
/// reports its status once configured; with the epoch raised, a fleet starting up would
/// rebuild every waiting agent's document once per agent.
pub(crate) async fn write_outside_configuration<T, F>(ctx: &Context<'_>, op: F) -> GqlResult<T>
where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> TxFuture<'t, T>,
{
    write_with(ctx, false, op).await
}

async fn write_with<T, F>(ctx: &Context<'_>, raise_epoch: bool, op: F) -> GqlResult<T>
where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> TxFuture<'t, T>,
{
    let tenant = consumer(ctx)?.tenant;
    let mut tx = ctx.data::<Arc<dyn Store>>()?.write().await.gql()?;
    let value = op(&mut *tx).await.gql()?;
    if raise_epoch {
        tx.bump_config_epoch(tenant).await.gql()?;
    }
    tx.commit().await.gql()?;
    Ok(value)
}

/// Registers an application: fetches what its children's fetch requests point at (outside
/// any transaction), then writes everything in one.
async fn register(
    ctx: &Context<'_>,
    tenant: sextant_domain::TenantId,
    mut input: service::NewApplication,
) -> GqlResult<Application> {
    confine::registering_app(reach(ctx)?, &mut input.integration_system_id).gql()?;
    let fetcher = ctx.data::<sextant_fetch::Fetcher>()?;
    let children = crate::catalog::prepare_children(
        fetcher,
        tenant,
        std::mem::take(&mut input.apis),
        std::mem::take(&mut input.events),
        std::mem::take(&mut input.documents),
        std::mem::take(&mut input.webhooks),
    )
    .await;
    let limits = ctx.data::<crate::Settings>()?.spec_limits;
    let added: u64 = children
        .apis
        .iter()
        .map(|api| crate::catalog::spec_bytes(api.spec.as_ref().and_then(|s| s.data.as_deref())))
        .chain(
            children
                .events
                .iter()
                .map(|event| crate::catalog::spec_bytes(event.spec.data.as_deref())),
        )
        .fold(0, u64::saturating_add);
    let app = write(ctx, move |tx| {
        Box::pin(async move {
            let app = service::register_application(tx, tenant, input, children).await?;
            crate::catalog::within_spec_quota(tx, tenant, app.id, added, &limits).await?;
            Ok(app)
        })
    })
    .await?;
    Ok(Application::new(app))
}

fn reach(ctx: &Context<'_>) -> GqlResult<Reach> {
    Reach::of(consumer(ctx)?).gql()
}

/// Requires that the consumer may change this label of the object. Scenarios decide what a
/// runtime sees and the integration-system label mirrors who manages an application: only
/// users set those, or a runtime or application could widen its own reach.
async fn writable_object(
    tx: &mut dyn Tx,
    tenant: sextant_domain::TenantId,
    reach: Reach,
    object: ObjectRef,
    key: &str,
) -> Result<(), DomainError> {
    // Look-alikes (`Scenarios`, ` scenarios`) are refused too, so that no other consumer
    // can plant a key that a reader might take for the real one.
    if reach != Reach::Tenant && sextant_domain::label::is_reserved_key(key) {
        return Err(DomainError::Forbidden(format!(
            "only users may set or delete the label {key:?}"
        )));
    }
    match object.kind {
        ObjectKind::Application => confine::writable_app(tx, tenant, reach, object.id).await,
        ObjectKind::Runtime => confine::writable_runtime_labels(reach, object.id),
    }
}

fn object(kind: ObjectKind, id: &ID) -> GqlResult<ObjectRef> {
    let what = match kind {
        ObjectKind::Application => "application",
        ObjectKind::Runtime => "runtime",
    };
    Ok(ObjectRef {
        kind,
        id: parse_id(id, what).gql()?,
    })
}

#[Object]
impl CoreMutation {
    // --- applications ---

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn register_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: ApplicationRegisterInput,
    ) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let input = input.validate().gql()?;
        register(ctx, tenant, input).await
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn update_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: ApplicationUpdateInput,
    ) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "application").gql()?;
        let mut input = input.validate().gql()?;
        if let Reach::IntegrationSystem(_) = reach {
            confine::registering_app(reach, &mut input.integration_system_id).gql()?;
        }
        let app = write(ctx, move |tx| {
            Box::pin(async move {
                confine::writable_app(tx, tenant, reach, id).await?;
                // An application cannot move itself to (or away from) an integration system.
                if let Reach::Application(_) = reach
                    && let Some(current) = tx.application(tenant, id).await.map_err(internal)?
                    && current.integration_system_id != input.integration_system_id
                {
                    return Err(DomainError::Forbidden(
                        "an application cannot change its integrationSystemID".into(),
                    ));
                }
                service::update_application(tx, tenant, id, input).await
            })
        })
        .await?;
        Ok(Application::new(app))
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn unregister_application(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let id = parse_id(&id, "application").gql()?;
        let reach = reach(ctx)?;
        let (app, labels) = write(ctx, move |tx| {
            Box::pin(async move {
                confine::writable_app(tx, tenant, reach, id).await?;
                service::unregister_application(tx, tenant, id).await
            })
        })
        .await?;
        Ok(Application::with_labels(app, labels))
    }

    // --- application templates ---

    /// A template of the caller's tenant (`accessLevel: TENANT`), or a global one
    /// (`GLOBAL`: operators only, with `application_template:global`).
    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateWrite])")]
    async fn create_application_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: ApplicationTemplateInput,
    ) -> GqlResult<ApplicationTemplate> {
        let caller = consumer(ctx)?.clone();
        let template = input.validate(caller.tenant).gql()?;
        let template = write(ctx, move |tx| {
            Box::pin(
                async move { service::create_application_template(tx, &caller, template).await },
            )
        })
        .await?;
        Ok(template.into())
    }

    /// Registers from the caller's tenant's template of that name, else from the global one.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn register_application_from_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: ApplicationFromTemplateInput,
    ) -> GqlResult<Application> {
        let tenant = consumer(ctx)?.tenant;
        let (template_name, values) = input.validate().gql()?;
        let text = {
            let mut tx = ctx.data::<Arc<dyn Store>>()?.read().await.gql()?;
            service::fill_template(&mut *tx, tenant, &template_name, &values)
                .await
                .gql()?
        };
        let input = inputs::application_from_template_json(&text).gql()?;
        register(ctx, tenant, input).await
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateWrite])")]
    async fn update_application_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: ApplicationTemplateInput,
    ) -> GqlResult<ApplicationTemplate> {
        let caller = consumer(ctx)?.clone();
        let id = parse_id(&id, "application template").gql()?;
        let mut template = input.validate(caller.tenant).gql()?;
        template.id = id;
        let template = write(ctx, move |tx| {
            Box::pin(
                async move { service::update_application_template(tx, &caller, template).await },
            )
        })
        .await?;
        Ok(template.into())
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationTemplateWrite])")]
    async fn delete_application_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<ApplicationTemplate> {
        let caller = consumer(ctx)?.clone();
        let id = parse_id(&id, "application template").gql()?;
        let template = write(ctx, move |tx| {
            Box::pin(async move { service::delete_application_template(tx, &caller, id).await })
        })
        .await?;
        Ok(template.into())
    }

    // --- runtimes ---

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn register_runtime(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: RuntimeInput,
    ) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let input = input.validate().gql()?;
        let runtime = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_runtimes(reach)?;
                service::register_runtime(tx, tenant, input).await
            })
        })
        .await?;
        Ok(Runtime::new(runtime))
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn update_runtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: RuntimeInput,
    ) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "runtime").gql()?;
        let input = input.validate().gql()?;
        let runtime = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_runtimes(reach)?;
                service::update_runtime(tx, tenant, id, input).await
            })
        })
        .await?;
        Ok(Runtime::new(runtime))
    }

    /// Sets the runtime's status (a Sextant extension; Compass E19 had no way to): a user
    /// for any runtime of the tenant, a runtime (its agent) for itself only.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn set_runtime_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        condition: crate::types::RuntimeStatusCondition,
        message: Option<String>,
    ) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "runtime").gql()?;
        let runtime = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::writable_runtime_labels(reach, id)?;
                service::set_runtime_status(tx, tenant, id, condition.into(), message).await
            })
        })
        .await?;
        Ok(Runtime::new(runtime))
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn unregister_runtime(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Runtime> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "runtime").gql()?;
        let (runtime, labels) = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_runtimes(reach)?;
                service::unregister_runtime(tx, tenant, id).await
            })
        })
        .await?;
        Ok(Runtime::with_labels(runtime, labels))
    }

    // --- integration systems ---

    /// Registers an integration system owned by the caller's tenant, which grants it access.
    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn register_integration_system(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: IntegrationSystemInput,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let (name, description) = input.validate().gql()?;
        let system = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                service::register_integration_system(tx, tenant, name, description).await
            })
        })
        .await?;
        Ok(system.into())
    }

    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn update_integration_system(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "in")] input: IntegrationSystemInput,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let (name, description) = input.validate().gql()?;
        let system = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                service::update_integration_system(tx, tenant, id, name, description).await
            })
        })
        .await?;
        Ok(system.into())
    }

    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn unregister_integration_system(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let system = write(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                service::unregister_integration_system(tx, tenant, id).await
            })
        })
        .await?;
        Ok(system.into())
    }

    /// Sextant: lets an integration system (of this or another tenant; its owner hands out
    /// the id) act in the caller's tenant. Its clients name this tenant in the `Tenant`
    /// header; without the grant they are refused with 403.
    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn grant_integration_system_access(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let system = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                service::grant_integration_system_access(tx, tenant, id).await
            })
        })
        .await?;
        Ok(system.into())
    }

    /// Sextant: withdraws the caller's tenant's grant; the system's clients are refused in
    /// this tenant from their next request on.
    #[graphql(guard = "Scopes(&[Scope::IntegrationSystemWrite])")]
    async fn revoke_integration_system_access(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<IntegrationSystem> {
        let tenant = consumer(ctx)?.tenant;
        let reach = reach(ctx)?;
        let id = parse_id(&id, "integration system").gql()?;
        let system = write_outside_configuration(ctx, move |tx| {
            Box::pin(async move {
                confine::managing_integration_systems(reach)?;
                service::revoke_integration_system_access(tx, tenant, id).await
            })
        })
        .await?;
        Ok(system.into())
    }

    // --- label definitions ---

    #[graphql(guard = "Scopes(&[Scope::LabelDefinitionWrite])")]
    async fn create_label_definition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: LabelDefinitionInput,
    ) -> GqlResult<LabelDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let definition = write(ctx, move |tx| {
            Box::pin(async move {
                let schema = input.schema.as_ref().map(|s| s.0.as_str());
                service::create_label_definition(tx, tenant, &input.key, schema).await
            })
        })
        .await?;
        Ok(definition.into())
    }

    #[graphql(guard = "Scopes(&[Scope::LabelDefinitionWrite])")]
    async fn update_label_definition(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "in")] input: LabelDefinitionInput,
    ) -> GqlResult<LabelDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let definition = write(ctx, move |tx| {
            Box::pin(async move {
                let schema = input.schema.as_ref().map(|s| s.0.as_str());
                service::update_label_definition(tx, tenant, &input.key, schema).await
            })
        })
        .await?;
        Ok(definition.into())
    }

    #[graphql(guard = "Scopes(&[Scope::LabelDefinitionWrite])")]
    async fn delete_label_definition(
        &self,
        ctx: &Context<'_>,
        key: String,
        #[graphql(default_with = "Some(false)")] delete_related_labels: Option<bool>,
    ) -> GqlResult<LabelDefinition> {
        let tenant = consumer(ctx)?.tenant;
        let delete_related = delete_related_labels.unwrap_or(false);
        let definition = write(ctx, move |tx| {
            Box::pin(async move {
                service::delete_label_definition(tx, tenant, &key, delete_related).await
            })
        })
        .await?;
        Ok(definition.into())
    }

    // --- labels ---

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn set_application_label(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        key: String,
        value: Any,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Application, &application_id)?;
        set_label(ctx, object, key, value).await
    }

    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn delete_application_label(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        key: String,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Application, &application_id)?;
        delete_label(ctx, object, key).await
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn set_runtime_label(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runtimeID")] runtime_id: ID,
        key: String,
        value: Any,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Runtime, &runtime_id)?;
        set_label(ctx, object, key, value).await
    }

    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn delete_runtime_label(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runtimeID")] runtime_id: ID,
        key: String,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Runtime, &runtime_id)?;
        delete_label(ctx, object, key).await
    }
}

async fn set_label(
    ctx: &Context<'_>,
    object: ObjectRef,
    key: String,
    value: Any,
) -> GqlResult<Label> {
    let tenant = consumer(ctx)?.tenant;
    let reach = reach(ctx)?;
    let label = write(ctx, move |tx| {
        Box::pin(async move {
            writable_object(tx, tenant, reach, object, &key).await?;
            service::set_label(tx, tenant, object, &key, &value.0).await?;
            Ok(Label { key, value })
        })
    })
    .await?;
    Ok(label)
}

async fn delete_label(ctx: &Context<'_>, object: ObjectRef, key: String) -> GqlResult<Label> {
    let tenant = consumer(ctx)?.tenant;
    let reach = reach(ctx)?;
    write(ctx, move |tx| {
        Box::pin(async move {
            writable_object(tx, tenant, reach, object, &key).await?;
            let value = service::delete_label(tx, tenant, object, &key).await?;
            Ok(Label {
                key,
                value: Any(value),
            })
        })
    })
    .await
}
