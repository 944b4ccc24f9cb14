//! The rules of event definitions: preparing them (fetching their specs), adding, updating
//! and deleting them, and fetching a spec again.

use sextant_domain::{ApplicationId, EventDefinitionId};
use sextant_domain::{DomainError, EventDefinition, EventSpec, SpecLimits, TenantId};
use sextant_fetch::Fetcher;
use sextant_store::{ChildKind, Store, Tx};
use uuid::Uuid;

use crate::catalog::content::fetch::{for_each_bounded, materialize, refetch, same_source};
use crate::catalog::events::inputs::EventDraft;
use crate::catalog::limits::{require_app, spec_bytes, within_bound, within_spec_quota};
use crate::clock::now_micros;
use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

/// Turns event drafts into definitions, fetching specs that have a fetch request.
pub async fn prepare_events(
    fetcher: &Fetcher,
    tenant: TenantId,
    drafts: Vec<EventDraft>,
) -> Vec<EventDefinition> {
    let fetcher = fetcher.clone();
    for_each_bounded(drafts, move |draft| {
        let fetcher = fetcher.clone();
        async move {
            let (spec_type, format, content) = draft.spec;
            let fetched =
                materialize(&fetcher, Some(content), Some((spec_type.into(), format))).await;
            EventDefinition {
                id: EventDefinitionId::new_v4(),
                tenant,
                application_id: ApplicationId::from_untyped(Uuid::nil()),
                name: draft.name,
                description: draft.description,
                group: draft.group,
                spec: EventSpec {
                    data: fetched.data,
                    digest: None,
                    format,
                    spec_type,
                    fetch_request: fetched.fetch_request,
                },
                version: draft.version,
                created_at: now_micros(),
            }
        }
    })
    .await
}

pub async fn add_event(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    mut event: EventDefinition,
    limits: &SpecLimits,
) -> Result<EventDefinition> {
    require_app(tx, tenant, app_id, "Event Definition").await?;
    within_bound(tx, tenant, app_id, ChildKind::EventDefinition, 1).await?;
    event.application_id = app_id;
    tx.insert_event_definition(&event).await.map_err(internal)?;
    let added = spec_bytes(event.spec.data.as_deref());
    within_spec_quota(tx, tenant, app_id, added, limits).await?;
    Ok(event)
}

async fn existing_event(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: EventDefinitionId,
) -> Result<EventDefinition> {
    tx.event_definition(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("event definition", id))
}

pub async fn update_event(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: EventDefinitionId,
    mut event: EventDefinition,
    limits: &SpecLimits,
) -> Result<EventDefinition> {
    let old = existing_event(tx, tenant, id).await?;
    event.id = id;
    event.application_id = old.application_id;
    event.created_at = old.created_at;
    tx.update_event_definition(&event).await.map_err(internal)?;
    let added = spec_bytes(event.spec.data.as_deref())
        .saturating_sub(old.spec.digest.as_ref().map_or(0, |d| d.size));
    within_spec_quota(tx, tenant, old.application_id, added, limits).await?;
    Ok(event)
}

pub async fn delete_event(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: EventDefinitionId,
) -> Result<EventDefinition> {
    let event = existing_event(tx, tenant, id).await?;
    tx.delete_event_definition(tenant, id)
        .await
        .map_err(internal)?;
    Ok(event)
}

/// Fetches an event spec again (see [`refetch_api_spec`]).
pub async fn refetch_event_spec(
    store: &dyn Store,
    fetcher: &Fetcher,
    tenant: TenantId,
    id: EventDefinitionId,
    limits: &SpecLimits,
) -> Result<EventSpec> {
    let event = {
        let mut tx = store.read().await.map_err(internal)?;
        existing_event(&mut *tx, tenant, id).await?
    };
    let Some(fetch_request) = event.spec.fetch_request.clone() else {
        return Ok(event.spec);
    };
    let fetched = refetch(
        fetcher,
        fetch_request.clone(),
        (event.spec.spec_type.into(), event.spec.format),
    )
    .await;
    let mut tx = store.write().await.map_err(internal)?;
    let mut current = existing_event(&mut *tx, tenant, id).await?;
    if !same_source(current.spec.fetch_request.as_ref(), &fetch_request)
        || current.spec.format != event.spec.format
        || current.spec.spec_type != event.spec.spec_type
    {
        return Ok(current.spec);
    }
    let old_size = current.spec.digest.as_ref().map_or(0, |d| d.size);
    let added = spec_bytes(fetched.data.as_deref()).saturating_sub(old_size);
    if let Some(data) = fetched.data {
        current.spec.data = Some(data);
    }
    current.spec.fetch_request = fetched.fetch_request;
    tx.update_event_definition(&current)
        .await
        .map_err(internal)?;
    within_spec_quota(&mut *tx, tenant, current.application_id, added, limits).await?;
    tx.bump_config_epoch(tenant).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(current.spec)
}
