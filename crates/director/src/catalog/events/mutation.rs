//! The mutations of event definitions. Fetching happens before the write transaction.

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, Scope};

use crate::catalog::access::{Child, check_app, check_child, check_existing, writable_child};
use crate::catalog::events::inputs::EventDefinitionInput;
use crate::catalog::events::rules;
use crate::catalog::events::wire::{EventDefinition, EventSpec};
use crate::confine;
use crate::context::{Scopes, consumer, fetcher, reach, spec_limits, store};
use crate::error::{GqlResult, IntoGql};
use crate::transaction::write;
use crate::validation::parse_id;

#[derive(Default)]
pub struct EventMutation;

#[Object]
impl EventMutation {
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
        let events = rules::prepare_events(fetcher(ctx)?, tenant, vec![draft]).await;
        let event = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(event) = events.into_iter().next() else {
                    return Err(DomainError::Invalid("no event".into()));
                };
                confine::writable_app(tx, tenant, reach, app).await?;
                rules::add_event(tx, tenant, app, event, &limits).await
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
        let events = rules::prepare_events(fetcher(ctx)?, tenant, vec![draft]).await;
        let event = write(ctx, move |tx| {
            Box::pin(async move {
                let Some(event) = events.into_iter().next() else {
                    return Err(DomainError::Invalid("no event".into()));
                };
                writable_child(tx, tenant, reach, Child::Event(id)).await?;
                rules::update_event(tx, tenant, id, event, &limits).await
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
                rules::delete_event(tx, tenant, id).await
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
        let spec = rules::refetch_event_spec(
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
}
