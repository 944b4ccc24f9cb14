//! The mutations of label definitions and of the labels of applications and runtimes.

use async_graphql::{Context, ID, Object};
use sextant_domain::label::SCENARIOS_KEY;
use sextant_domain::{DomainError, ObjectKind, ObjectRef, Scope, TenantId};
use sextant_store::Tx;

use crate::confine::{self, Reach};
use crate::context::{Scopes, consumer, reach};
use crate::error::{GqlResult, IntoGql};
use crate::labels::inputs::LabelDefinitionInput;
use crate::labels::rules;
use crate::labels::wire::{Label, LabelDefinition};
use crate::objects::object_name;
use crate::scalars::Any;
use crate::transaction::write;
use crate::validation::parse_id;

#[derive(Default)]
pub struct LabelMutation;

/// Requires that the consumer may change this label of the object. Scenarios decide what a
/// runtime sees and the integration-system label mirrors who manages an application: only
/// users set those, or a runtime or application could widen its own reach.
async fn writable_object(
    tx: &mut dyn Tx,
    tenant: TenantId,
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
    match object {
        ObjectRef::Application(id) => confine::writable_app(tx, tenant, reach, id).await,
        ObjectRef::Runtime(id) => confine::writable_runtime_labels(reach, id),
    }
}

fn object(kind: ObjectKind, id: &ID) -> GqlResult<ObjectRef> {
    let what = object_name(kind);
    Ok(match kind {
        ObjectKind::Application => ObjectRef::Application(parse_id(id, what).gql()?),
        ObjectKind::Runtime => ObjectRef::Runtime(parse_id(id, what).gql()?),
    })
}

#[Object]
impl LabelMutation {
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
                rules::create_label_definition(tx, tenant, &input.key, schema).await
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
                rules::update_label_definition(tx, tenant, &input.key, schema).await
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
                rules::delete_label_definition(tx, tenant, &key, delete_related).await
            })
        })
        .await?;
        Ok(definition.into())
    }

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

    /// Sextant: adds a scenario to the application's `scenarios` label in one transaction
    /// (no lost update when two users change the label at once; see `setApplicationLabel`
    /// for setting the whole list). Answers the label afterwards; adding a scenario the
    /// application is in changes nothing.
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn add_application_scenario(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        scenario: String,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Application, &application_id)?;
        change_scenario(ctx, object, scenario, rules::ScenarioChange::Add).await
    }

    /// Sextant: removes a scenario from the application's `scenarios` label in one
    /// transaction. An application stays in at least one scenario (its last one is refused).
    #[graphql(guard = "Scopes(&[Scope::ApplicationWrite])")]
    async fn remove_application_scenario(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "applicationID")] application_id: ID,
        scenario: String,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Application, &application_id)?;
        change_scenario(ctx, object, scenario, rules::ScenarioChange::Remove).await
    }

    /// Sextant: adds a scenario to the runtime's `scenarios` label in one transaction (see
    /// `addApplicationScenario`).
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn add_runtime_scenario(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runtimeID")] runtime_id: ID,
        scenario: String,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Runtime, &runtime_id)?;
        change_scenario(ctx, object, scenario, rules::ScenarioChange::Add).await
    }

    /// Sextant: removes a scenario from the runtime's `scenarios` label in one transaction;
    /// the label goes with the runtime's last scenario (the answer's value is then `[]`).
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn remove_runtime_scenario(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runtimeID")] runtime_id: ID,
        scenario: String,
    ) -> GqlResult<Label> {
        let object = object(ObjectKind::Runtime, &runtime_id)?;
        change_scenario(ctx, object, scenario, rules::ScenarioChange::Remove).await
    }
}

async fn change_scenario(
    ctx: &Context<'_>,
    object: ObjectRef,
    scenario: String,
    change: rules::ScenarioChange,
) -> GqlResult<Label> {
    let tenant = consumer(ctx)?.tenant;
    let reach = reach(ctx)?;
    write(ctx, move |tx| {
        Box::pin(async move {
            writable_object(tx, tenant, reach, object, SCENARIOS_KEY).await?;
            let value = rules::change_scenario(tx, tenant, object, &scenario, change).await?;
            Ok(Label {
                key: SCENARIOS_KEY.to_owned(),
                value: Any(value),
            })
        })
    })
    .await
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
            rules::set_label(tx, tenant, object, &key, &value.0).await?;
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
            let value = rules::delete_label(tx, tenant, object, &key).await?;
            Ok(Label {
                key,
                value: Any(value),
            })
        })
    })
    .await
}
