//! The rules of API definitions: preparing them (fetching their specs), adding, updating and
//! deleting them, fetching a spec again, and the credentials a runtime uses for an API.

use sextant_domain::{
    ApiDefinition, ApiRuntimeAuth, ApiSpec, Auth, DomainError, SpecLimits, TenantId,
};
use sextant_domain::{ApiDefinitionId, ApplicationId, RuntimeId};
use sextant_fetch::Fetcher;
use sextant_store::{ChildKind, Store, Tx};
use uuid::Uuid;

use crate::catalog::apis::inputs::ApiDraft;
use crate::catalog::content::fetch::{for_each_bounded, materialize, refetch, same_source};
use crate::catalog::limits::{require_app, spec_bytes, within_bound, within_spec_quota};
use crate::clock::now_micros;
use crate::error::internal;
use crate::notify;

type Result<T> = std::result::Result<T, DomainError>;

/// Turns API drafts into definitions (for application `Uuid::nil()`, set on insert),
/// fetching specs that have a fetch request.
pub async fn prepare_apis(
    fetcher: &Fetcher,
    tenant: TenantId,
    drafts: Vec<ApiDraft>,
) -> Vec<ApiDefinition> {
    let fetcher = fetcher.clone();
    for_each_bounded(drafts, move |draft| {
        let fetcher = fetcher.clone();
        async move {
            let spec = match draft.spec {
                Some((spec_type, format, content)) => {
                    let fetched =
                        materialize(&fetcher, Some(content), Some((spec_type.into(), format)))
                            .await;
                    Some(ApiSpec {
                        data: fetched.data,
                        digest: None,
                        format,
                        spec_type,
                        fetch_request: fetched.fetch_request,
                    })
                }
                None => None,
            };
            ApiDefinition {
                id: ApiDefinitionId::new_v4(),
                tenant,
                application_id: ApplicationId::from_untyped(Uuid::nil()),
                name: draft.name,
                description: draft.description,
                target_url: draft.target_url,
                group: draft.group,
                spec,
                version: draft.version,
                default_auth: draft.default_auth,
                created_at: now_micros(),
            }
        }
    })
    .await
}

pub async fn add_api(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    mut api: ApiDefinition,
    limits: &SpecLimits,
) -> Result<ApiDefinition> {
    require_app(tx, tenant, app_id, "API").await?;
    within_bound(tx, tenant, app_id, ChildKind::ApiDefinition, 1).await?;
    notify::settle_for_application(tx, tenant, app_id, None).await?;
    api.application_id = app_id;
    tx.insert_api_definition(&api).await.map_err(internal)?;
    let added = spec_bytes(api.spec.as_ref().and_then(|s| s.data.as_deref()));
    within_spec_quota(tx, tenant, app_id, added, limits).await?;
    notify::apis_added(tx, tenant, app_id, std::slice::from_ref(&api)).await?;
    Ok(api)
}

async fn existing_api(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: ApiDefinitionId,
) -> Result<ApiDefinition> {
    tx.api_definition(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("API definition", id))
}

/// Replaces an API definition's fields (its id, application and per-runtime credentials stay).
pub async fn update_api(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: ApiDefinitionId,
    mut api: ApiDefinition,
    limits: &SpecLimits,
) -> Result<ApiDefinition> {
    let old = existing_api(tx, tenant, id).await?;
    notify::settle_for_application(tx, tenant, old.application_id, None).await?;
    api.id = id;
    api.application_id = old.application_id;
    api.created_at = old.created_at;
    tx.update_api_definition(&api).await.map_err(internal)?;
    let added = spec_bytes(api.spec.as_ref().and_then(|s| s.data.as_deref())).saturating_sub(
        old.spec
            .as_ref()
            .and_then(|s| s.digest.as_ref())
            .map_or(0, |d| d.size),
    );
    within_spec_quota(tx, tenant, old.application_id, added, limits).await?;
    Ok(api)
}

pub async fn delete_api(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: ApiDefinitionId,
) -> Result<ApiDefinition> {
    let api = existing_api(tx, tenant, id).await?;
    notify::settle_for_application(tx, tenant, api.application_id, None).await?;
    tx.delete_api_definition(tenant, id)
        .await
        .map_err(internal)?;
    Ok(api)
}

/// Fetches a spec again with its fetch request. Without one, the stored spec is the answer.
/// A failed fetch keeps the previous data and records FAILED.
pub async fn refetch_api_spec(
    store: &dyn Store,
    fetcher: &Fetcher,
    tenant: TenantId,
    id: ApiDefinitionId,
    limits: &SpecLimits,
) -> Result<ApiSpec> {
    let api = {
        let mut tx = store.read().await.map_err(internal)?;
        existing_api(&mut *tx, tenant, id).await?
    };
    let Some(spec) = api.spec else {
        return Err(DomainError::Invalid(format!(
            "API definition with ID \"{id}\" has no spec"
        )));
    };
    let Some(fetch_request) = spec.fetch_request.clone() else {
        return Ok(spec);
    };
    let fetched = refetch(
        fetcher,
        fetch_request.clone(),
        (spec.spec_type.into(), spec.format),
    )
    .await;
    let mut tx = store.write().await.map_err(internal)?;
    let mut current = existing_api(&mut *tx, tenant, id).await?;
    let Some(current_spec) = current.spec.as_mut() else {
        return Err(DomainError::Invalid(format!(
            "API definition with ID \"{id}\" has no spec"
        )));
    };
    // The definition was updated while its spec was being fetched: what was fetched belongs
    // to the old version and must not undo the update.
    if !same_source(current_spec.fetch_request.as_ref(), &fetch_request)
        || current_spec.format != spec.format
        || current_spec.spec_type != spec.spec_type
    {
        return Ok(current_spec.clone());
    }
    let old_size = current_spec.digest.as_ref().map_or(0, |d| d.size);
    let added = spec_bytes(fetched.data.as_deref()).saturating_sub(old_size);
    if let Some(data) = fetched.data {
        current_spec.data = Some(data);
    }
    current_spec.fetch_request = fetched.fetch_request;
    let answer = current_spec.clone();
    tx.update_api_definition(&current).await.map_err(internal)?;
    within_spec_quota(&mut *tx, tenant, current.application_id, added, limits).await?;
    tx.bump_config_epoch(tenant).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(answer)
}

async fn require_runtime(tx: &mut dyn Tx, tenant: TenantId, id: RuntimeId) -> Result<()> {
    match tx.runtime(tenant, id).await.map_err(internal)? {
        Some(_) => Ok(()),
        None => Err(DomainError::not_found("runtime", id)),
    }
}

/// `setAPIAuth`: the credentials `runtime_id` uses for the API (inserted or replaced).
pub async fn set_api_auth(
    tx: &mut dyn Tx,
    tenant: TenantId,
    api_id: ApiDefinitionId,
    runtime_id: RuntimeId,
    auth: Auth,
) -> Result<ApiRuntimeAuth> {
    let api = existing_api(tx, tenant, api_id).await?;
    require_runtime(tx, tenant, runtime_id).await?;
    notify::settle_for_application(tx, tenant, api.application_id, None).await?;
    let value = ApiRuntimeAuth {
        api_id,
        runtime_id,
        auth,
    };
    tx.set_api_runtime_auth(tenant, &value)
        .await
        .map_err(internal)?;
    Ok(value)
}

/// `deleteAPIAuth`: removes the runtime's own credentials; answers what they were (or the
/// API's default credentials, which now apply, as Compass does).
pub async fn delete_api_auth(
    tx: &mut dyn Tx,
    tenant: TenantId,
    api_id: ApiDefinitionId,
    runtime_id: RuntimeId,
) -> Result<Option<Auth>> {
    let api = existing_api(tx, tenant, api_id).await?;
    require_runtime(tx, tenant, runtime_id).await?;
    notify::settle_for_application(tx, tenant, api.application_id, None).await?;
    let deleted = tx
        .delete_api_runtime_auth(tenant, api_id, runtime_id)
        .await
        .map_err(internal)?;
    Ok(deleted.or(api.default_auth))
}
