//! The catalog's rules: adding, updating and deleting an application's API and event
//! definitions, documents and webhooks; fetching specs; per-runtime API credentials; default
//! eventing.
//!
//! Fetching happens before the write transaction ([`prepare_apis`] and friends turn drafts
//! into ready objects, fetching what has a fetch request), so a slow endpoint never holds the
//! store's write lock. A failed fetch does not fail the mutation: the fetch request records
//! FAILED with the reason.

use serde_json::Value;
use sextant_domain::label::SCENARIOS_KEY;
use sextant_domain::{
    ApiDefinition, ApiRuntimeAuth, ApiSpec, Auth, Document, DomainError, EventDefinition,
    EventSpec, FetchMode, FetchRequest, FetchStatus, FetchStatusCondition,
    MAX_DEFINITIONS_PER_APPLICATION, MAX_SPEC_BYTES, MAX_WEBHOOKS_PER_APPLICATION, ObjectKind,
    ObjectRef, SpecFormat, SpecLimits, TenantId, Webhook,
};
use sextant_fetch::Fetcher;
use sextant_spec::SpecKind;
use sextant_store::{ChildKind, Tx};
use uuid::Uuid;

use crate::catalog_inputs::{ApiDraft, Content, DocumentDraft, EventDraft, WebhookDraft};
use crate::error::internal;
use crate::service::{labels_of, now_micros};

type Result<T> = std::result::Result<T, DomainError>;

/// The runtime label that holds a runtime's eventing URL.
pub const EVENT_SERVICE_URL_KEY: &str = "runtime/event_service_url";
/// At most this many fetches of one list of a mutation run at once (a registration fetches
/// its API specs, event specs and documents side by side); the fetcher caps all fetches of
/// the server.
const FETCH_CONCURRENCY: usize = 8;
/// At most this many fetched specs are parsed at once in the whole server. A check holds its
/// spec (up to the fetched-spec limit) and the top levels of its tree, and is CPU work: this
/// bounds both the memory and the cores it takes, whatever the number of mutations.
const SPEC_CHECKS_AT_ONCE: usize = 2;
static SPEC_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(SPEC_CHECKS_AT_ONCE);

/// Data and fetch request of a spec or document after fetching.
struct Fetched {
    data: Option<String>,
    fetch_request: Option<FetchRequest>,
}

/// Fetches a fetch request's URL and validates what arrives as the declared spec.
async fn fetch_content(
    fetcher: &Fetcher,
    draft: crate::catalog_inputs::FetchRequestDraft,
    spec: Option<(SpecKind, SpecFormat)>,
) -> Fetched {
    let (condition, message, data) = if draft.mode != FetchMode::Single {
        (
            FetchStatusCondition::Failed,
            format!(
                "fetch mode {} is not supported: only SINGLE is",
                draft.mode.as_str()
            ),
            None,
        )
    } else {
        match fetcher.fetch(&draft.url, draft.auth.as_ref()).await {
            Err(e) => (FetchStatusCondition::Failed, e.to_string(), None),
            // Documents keep the inline limit; only specs may be as large as the fetcher reads.
            Ok(fetched) if spec.is_none() && fetched.body.len() > MAX_SPEC_BYTES => (
                FetchStatusCondition::Failed,
                format!(
                    "the fetched document was refused: it has {} bytes, at most {MAX_SPEC_BYTES} are allowed",
                    fetched.body.len()
                ),
                None,
            ),
            Ok(fetched) => {
                match check_fetched(spec, fetched.body, fetcher.policy().max_bytes).await {
                    (body, Some(refused)) => {
                        drop(body);
                        (
                            FetchStatusCondition::Failed,
                            format!("the fetched document was refused: {refused}"),
                            None,
                        )
                    }
                    (body, None) => (
                        FetchStatusCondition::Succeeded,
                        format!("fetched {} bytes", body.len()),
                        Some(body),
                    ),
                }
            }
        }
    };
    Fetched {
        data,
        fetch_request: Some(FetchRequest {
            url: draft.url,
            auth: draft.auth,
            mode: draft.mode,
            filter: draft.filter,
            status: FetchStatus {
                condition,
                message: Some(message),
                timestamp: now_micros(),
            },
        }),
    }
}

/// Checks a fetched spec (of at most `max_bytes`) off the async workers, at most
/// [`SPEC_CHECKS_AT_ONCE`] at a time (parsing megabytes of YAML is CPU work); answers the body
/// and, if it was refused, why.
async fn check_fetched(
    spec: Option<(SpecKind, SpecFormat)>,
    body: String,
    max_bytes: usize,
) -> (String, Option<String>) {
    let Some((kind, format)) = spec else {
        return (body, None);
    };
    // The semaphore is never closed; were it, the check would run unthrottled.
    let _slot = SPEC_CHECKS.acquire().await.ok();
    match tokio::task::spawn_blocking(move || {
        let verdict = sextant_spec::validate_up_to(kind, format, &body, max_bytes).err();
        (body, verdict.map(|e| e.to_string()))
    })
    .await
    {
        Ok(checked) => checked,
        Err(e) => (
            String::new(),
            Some(format!("the check of the document failed: {e}")),
        ),
    }
}

async fn materialize(
    fetcher: &Fetcher,
    content: Option<Content>,
    spec: Option<(SpecKind, SpecFormat)>,
) -> Fetched {
    match content {
        None => Fetched {
            data: None,
            fetch_request: None,
        },
        Some(Content::Inline(data)) => Fetched {
            data: Some(data),
            fetch_request: None,
        },
        Some(Content::Fetch(draft)) => fetch_content(fetcher, *draft, spec).await,
    }
}

/// Runs `f` over every item with bounded concurrency, keeping the order.
async fn for_each_bounded<I, O, F, Fut>(items: Vec<I>, f: F) -> Vec<O>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = O>,
{
    use async_graphql::futures_util::StreamExt;
    async_graphql::futures_util::stream::iter(items.into_iter().map(f))
        .buffered(FETCH_CONCURRENCY)
        .collect()
        .await
}

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
                id: Uuid::new_v4(),
                tenant,
                application_id: Uuid::nil(),
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
                id: Uuid::new_v4(),
                tenant,
                application_id: Uuid::nil(),
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

/// Turns document drafts into documents, fetching those that have a fetch request.
pub async fn prepare_documents(
    fetcher: &Fetcher,
    tenant: TenantId,
    drafts: Vec<DocumentDraft>,
) -> Vec<Document> {
    let fetcher = fetcher.clone();
    for_each_bounded(drafts, move |draft| {
        let fetcher = fetcher.clone();
        async move {
            let fetched = materialize(&fetcher, draft.content, None).await;
            Document {
                id: Uuid::new_v4(),
                tenant,
                application_id: Uuid::nil(),
                title: draft.title,
                display_name: draft.display_name,
                description: draft.description,
                format: draft.format,
                kind: draft.kind,
                data: fetched.data,
                fetch_request: fetched.fetch_request,
                created_at: now_micros(),
            }
        }
    })
    .await
}

/// Turns webhook drafts into webhooks.
pub fn prepare_webhooks(tenant: TenantId, drafts: Vec<WebhookDraft>) -> Vec<Webhook> {
    drafts
        .into_iter()
        .map(|d| Webhook {
            id: Uuid::new_v4(),
            tenant,
            application_id: Uuid::nil(),
            webhook_type: d.webhook_type,
            url: d.url,
            auth: d.auth,
            created_at: now_micros(),
            secret: Some(new_webhook_secret()),
            failing_since: None,
        })
        .collect()
}

/// A webhook's signing secret: 244 random bits (two version-4 UUIDs from the operating
/// system's generator), as text.
pub fn new_webhook_secret() -> String {
    format!(
        "whsec_{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

/// An application's children, ready to insert.
#[derive(Default)]
pub struct Children {
    pub apis: Vec<ApiDefinition>,
    pub events: Vec<EventDefinition>,
    pub documents: Vec<Document>,
    pub webhooks: Vec<Webhook>,
}

/// Prepares every child of a registration (fetching what must be fetched).
pub async fn prepare_children(
    fetcher: &Fetcher,
    tenant: TenantId,
    apis: Vec<ApiDraft>,
    events: Vec<EventDraft>,
    documents: Vec<DocumentDraft>,
    webhooks: Vec<WebhookDraft>,
) -> Children {
    let (apis, events, documents) = tokio::join!(
        prepare_apis(fetcher, tenant, apis),
        prepare_events(fetcher, tenant, events),
        prepare_documents(fetcher, tenant, documents),
    );
    Children {
        apis,
        events,
        documents,
        webhooks: prepare_webhooks(tenant, webhooks),
    }
}

/// Inserts the children of a newly inserted application, set-wise: their specs in one
/// statement, each kind of child in one, whatever their number.
pub async fn insert_children(tx: &mut dyn Tx, app_id: Uuid, children: &mut Children) -> Result<()> {
    children
        .apis
        .iter_mut()
        .for_each(|api| api.application_id = app_id);
    children
        .events
        .iter_mut()
        .for_each(|event| event.application_id = app_id);
    children
        .documents
        .iter_mut()
        .for_each(|document| document.application_id = app_id);
    children
        .webhooks
        .iter_mut()
        .for_each(|webhook| webhook.application_id = app_id);
    tx.insert_definitions(&children.apis, &children.events)
        .await
        .map_err(internal)?;
    tx.insert_documents(&children.documents)
        .await
        .map_err(internal)?;
    tx.insert_webhooks(&children.webhooks)
        .await
        .map_err(internal)?;
    Ok(())
}

async fn require_app(tx: &mut dyn Tx, tenant: TenantId, app_id: Uuid, what: &str) -> Result<()> {
    match tx.application(tenant, app_id).await.map_err(internal)? {
        Some(_) => Ok(()),
        None => Err(DomainError::NotFound(format!(
            "Cannot add {what} to not existing Application"
        ))),
    }
}

/// Refuses a child beyond the per-application bound.
async fn within_bound(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
    kind: ChildKind,
    adding: usize,
) -> Result<()> {
    let (max, what) = match kind {
        ChildKind::ApiDefinition => (MAX_DEFINITIONS_PER_APPLICATION, "API definitions"),
        ChildKind::EventDefinition => (MAX_DEFINITIONS_PER_APPLICATION, "event definitions"),
        ChildKind::Document => (MAX_DEFINITIONS_PER_APPLICATION, "documents"),
        ChildKind::Webhook => (MAX_WEBHOOKS_PER_APPLICATION, "webhooks"),
    };
    let present = tx
        .count_children(tenant, kind, app_id)
        .await
        .map_err(internal)?;
    if present.saturating_add(i64::try_from(adding).unwrap_or(i64::MAX)) > max {
        return Err(DomainError::Invalid(format!(
            "an application can have at most {max} {what}"
        )));
    }
    Ok(())
}

/// The spec bytes a definition's spec adds when written (its text, if it has one).
pub fn spec_bytes(data: Option<&str>) -> u64 {
    data.map_or(0, |d| u64::try_from(d.len()).unwrap_or(u64::MAX))
}

/// Refuses a write that added `added` spec bytes to an application if its specs, or its
/// tenant's, now exceed their quota. Call it after writing, in the same transaction, so that
/// a refusal rolls everything back; a write that added nothing is never refused (an
/// application over a lowered quota can still shrink).
pub async fn within_spec_quota(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
    added: u64,
    limits: &SpecLimits,
) -> Result<()> {
    if added == 0 {
        return Ok(());
    }
    let usage = tx.spec_usage(tenant, app_id).await.map_err(internal)?;
    if usage.application > limits.per_application {
        return Err(DomainError::QuotaExceeded(format!(
            "the specs of the application would take {} bytes; an application may store at most {} bytes of specs",
            usage.application, limits.per_application
        )));
    }
    if usage.tenant > limits.per_tenant {
        return Err(DomainError::QuotaExceeded(format!(
            "the specs of the tenant would take {} bytes; a tenant may store at most {} bytes of specs",
            usage.tenant, limits.per_tenant
        )));
    }
    Ok(())
}

// --- API definitions ---

pub async fn add_api(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
    mut api: ApiDefinition,
    limits: &SpecLimits,
) -> Result<ApiDefinition> {
    require_app(tx, tenant, app_id, "API").await?;
    within_bound(tx, tenant, app_id, ChildKind::ApiDefinition, 1).await?;
    crate::notify::settle_for_application(tx, tenant, app_id, None).await?;
    api.application_id = app_id;
    tx.insert_api_definition(&api).await.map_err(internal)?;
    let added = spec_bytes(api.spec.as_ref().and_then(|s| s.data.as_deref()));
    within_spec_quota(tx, tenant, app_id, added, limits).await?;
    crate::notify::apis_added(tx, tenant, app_id, std::slice::from_ref(&api)).await?;
    Ok(api)
}

async fn existing_api(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<ApiDefinition> {
    tx.api_definition(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("API definition", id))
}

/// Replaces an API definition's fields (its id, application and per-runtime credentials stay).
pub async fn update_api(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
    mut api: ApiDefinition,
    limits: &SpecLimits,
) -> Result<ApiDefinition> {
    let old = existing_api(tx, tenant, id).await?;
    crate::notify::settle_for_application(tx, tenant, old.application_id, None).await?;
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

pub async fn delete_api(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<ApiDefinition> {
    let api = existing_api(tx, tenant, id).await?;
    crate::notify::settle_for_application(tx, tenant, api.application_id, None).await?;
    tx.delete_api_definition(tenant, id)
        .await
        .map_err(internal)?;
    Ok(api)
}

/// Fetches a spec again with its fetch request. Without one, the stored spec is the answer.
/// A failed fetch keeps the previous data and records FAILED.
pub async fn refetch_api_spec(
    store: &dyn sextant_store::Store,
    fetcher: &Fetcher,
    tenant: TenantId,
    id: Uuid,
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

/// Whether a stored fetch request still points where `fetched` did (same URL, credentials,
/// mode and filter; the status may differ).
fn same_source(current: Option<&FetchRequest>, fetched: &FetchRequest) -> bool {
    current.is_some_and(|c| {
        c.url == fetched.url
            && c.auth == fetched.auth
            && c.mode == fetched.mode
            && c.filter == fetched.filter
    })
}

async fn refetch(
    fetcher: &Fetcher,
    request: FetchRequest,
    spec: (SpecKind, SpecFormat),
) -> Fetched {
    let draft = crate::catalog_inputs::FetchRequestDraft {
        url: request.url,
        auth: request.auth,
        mode: request.mode,
        filter: request.filter,
    };
    fetch_content(fetcher, draft, Some(spec)).await
}

// --- event definitions ---

pub async fn add_event(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
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

async fn existing_event(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<EventDefinition> {
    tx.event_definition(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("event definition", id))
}

pub async fn update_event(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
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

pub async fn delete_event(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<EventDefinition> {
    let event = existing_event(tx, tenant, id).await?;
    tx.delete_event_definition(tenant, id)
        .await
        .map_err(internal)?;
    Ok(event)
}

/// Fetches an event spec again (see [`refetch_api_spec`]).
pub async fn refetch_event_spec(
    store: &dyn sextant_store::Store,
    fetcher: &Fetcher,
    tenant: TenantId,
    id: Uuid,
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

// --- documents ---

pub async fn add_document(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
    mut document: Document,
) -> Result<Document> {
    require_app(tx, tenant, app_id, "Document").await?;
    within_bound(tx, tenant, app_id, ChildKind::Document, 1).await?;
    document.application_id = app_id;
    tx.insert_document(&document).await.map_err(internal)?;
    Ok(document)
}

pub async fn delete_document(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<Document> {
    let document = tx
        .document(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("document", id))?;
    tx.delete_document(tenant, id).await.map_err(internal)?;
    Ok(document)
}

// --- webhooks ---

pub async fn add_webhook(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
    mut webhook: Webhook,
) -> Result<Webhook> {
    require_app(tx, tenant, app_id, "Webhook").await?;
    within_bound(tx, tenant, app_id, ChildKind::Webhook, 1).await?;
    crate::notify::settle_for_application(tx, tenant, app_id, None).await?;
    webhook.application_id = app_id;
    tx.insert_webhook(&webhook).await.map_err(internal)?;
    Ok(webhook)
}

async fn existing_webhook(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<Webhook> {
    tx.webhook(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("webhook", id))
}

pub async fn update_webhook(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
    draft: WebhookDraft,
) -> Result<Webhook> {
    let mut webhook = existing_webhook(tx, tenant, id).await?;
    webhook.webhook_type = draft.webhook_type;
    webhook.url = draft.url;
    webhook.auth = draft.auth;
    tx.update_webhook(&webhook).await.map_err(internal)?;
    Ok(webhook)
}

pub async fn delete_webhook(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<Webhook> {
    let webhook = existing_webhook(tx, tenant, id).await?;
    crate::notify::settle_for_application(tx, tenant, webhook.application_id, None).await?;
    tx.delete_webhook(tenant, id).await.map_err(internal)?;
    Ok(webhook)
}

// --- per-runtime API credentials ---

async fn require_runtime(tx: &mut dyn Tx, tenant: TenantId, id: Uuid) -> Result<()> {
    match tx.runtime(tenant, id).await.map_err(internal)? {
        Some(_) => Ok(()),
        None => Err(DomainError::not_found("runtime", id)),
    }
}

/// `setAPIAuth`: the credentials `runtime_id` uses for the API (inserted or replaced).
pub async fn set_api_auth(
    tx: &mut dyn Tx,
    tenant: TenantId,
    api_id: Uuid,
    runtime_id: Uuid,
    auth: Auth,
) -> Result<ApiRuntimeAuth> {
    let api = existing_api(tx, tenant, api_id).await?;
    require_runtime(tx, tenant, runtime_id).await?;
    crate::notify::settle_for_application(tx, tenant, api.application_id, None).await?;
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
    api_id: Uuid,
    runtime_id: Uuid,
) -> Result<Option<Auth>> {
    let api = existing_api(tx, tenant, api_id).await?;
    require_runtime(tx, tenant, runtime_id).await?;
    crate::notify::settle_for_application(tx, tenant, api.application_id, None).await?;
    let deleted = tx
        .delete_api_runtime_auth(tenant, api_id, runtime_id)
        .await
        .map_err(internal)?;
    Ok(deleted.or(api.default_auth))
}

// --- eventing ---

fn scenarios(labels: &std::collections::BTreeMap<String, Value>) -> Vec<String> {
    labels
        .get(SCENARIOS_KEY)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn object_labels(
    tx: &mut dyn Tx,
    tenant: TenantId,
    kind: ObjectKind,
    id: Uuid,
) -> Result<std::collections::BTreeMap<String, Value>> {
    labels_of(tx, tenant, ObjectRef { kind, id }).await
}

/// A runtime's eventing URL: its `runtime/event_service_url` label, else "".
pub async fn runtime_eventing_url(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: Uuid,
) -> Result<String> {
    let labels = object_labels(tx, tenant, ObjectKind::Runtime, runtime).await?;
    Ok(labels
        .get(EVENT_SERVICE_URL_KEY)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

async fn shares_scenario(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_scenarios: &[String],
    runtime: Uuid,
) -> Result<bool> {
    let labels = object_labels(tx, tenant, ObjectKind::Runtime, runtime).await?;
    Ok(scenarios(&labels).iter().any(|s| app_scenarios.contains(s)))
}

/// `setDefaultEventingForApplication`: the runtime must share a scenario with the application.
pub async fn set_default_eventing(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
    runtime_id: Uuid,
) -> Result<String> {
    if tx
        .application(tenant, app_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(DomainError::not_found("application", app_id));
    }
    let app_scenarios =
        scenarios(&object_labels(tx, tenant, ObjectKind::Application, app_id).await?);
    if tx
        .runtime(tenant, runtime_id)
        .await
        .map_err(internal)?
        .is_none()
        || !shares_scenario(tx, tenant, &app_scenarios, runtime_id).await?
    {
        return Err(DomainError::Invalid(format!(
            "does not find the given runtime [ID={runtime_id}] assigned to the application scenarios"
        )));
    }
    tx.set_default_eventing(tenant, app_id, runtime_id)
        .await
        .map_err(internal)?;
    runtime_eventing_url(tx, tenant, runtime_id).await
}

/// `deleteDefaultEventingForApplication`: forgets the choice; answers the URL of the runtime
/// that was chosen (or "" if none was).
pub async fn delete_default_eventing(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: Uuid,
) -> Result<String> {
    if tx
        .application(tenant, app_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(DomainError::not_found("application", app_id));
    }
    match tx
        .delete_default_eventing(tenant, app_id)
        .await
        .map_err(internal)?
    {
        Some(runtime) => runtime_eventing_url(tx, tenant, runtime).await,
        None => Ok(String::new()),
    }
}
