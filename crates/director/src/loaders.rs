//! Batch loading of an application's children and an API's credentials: every resolver of one
//! level of a query asks the per-request [`CatalogLoader`], which answers all of them with a
//! bounded number of statements (the `DataLoader` pattern). A page of 100 applications with
//! their API definitions and each API's `auth(runtimeID)` costs the same number of statements
//! as a page of one. So do the webhook log (a level of webhooks' deliveries, a level of
//! their attempts: one statement each) and applications' client certificates.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use sextant_domain::delivery::{Delivery, DeliveryAttempt};
use sextant_domain::label::EVENT_SERVICE_URL_KEY;
use sextant_domain::{
    ApiDefinition, ApiDefinitionId, ApplicationId, Auth, Cursor, DeliveryId, Document, DomainError,
    EventDefinition, Page, PageRequest, RuntimeId, SystemAuthOwner, TenantId, Webhook, WebhookId,
};
use sextant_store::{SpecTexts, Store, StoreError, StoredLabel};
use uuid::Uuid;

use crate::error::to_graphql;
use crate::scenarios::scenario_list;

/// The per-request loader: one tenant, one store.
pub struct CatalogLoader {
    store: Arc<dyn Store>,
    tenant: TenantId,
}

/// The loader a request's resolvers share.
pub type Catalog = DataLoader<CatalogLoader>;

/// Creates the loader for one request of a tenant.
pub fn catalog(store: Arc<dyn Store>, tenant: TenantId) -> Catalog {
    DataLoader::new(CatalogLoader { store, tenant }, tokio::spawn)
}

/// A store error shared by every key of a failed batch.
pub type LoadError = Arc<StoreError>;

/// A loader failure as a GraphQL error (logged, reported as internal).
pub fn load_error(e: LoadError) -> async_graphql::Error {
    to_graphql(DomainError::Internal(Box::new(e)))
}

/// The position of a page, hashable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub first: u32,
    pub after: Option<Uuid>,
}

impl PageKey {
    pub fn new(page: &PageRequest) -> Self {
        PageKey {
            first: page.first,
            after: page.after.map(|c| c.0),
        }
    }
    fn request(self) -> PageRequest {
        PageRequest {
            first: self.first,
            after: self.after.map(Cursor),
        }
    }
}

/// A page of an application's API definitions (optionally of one group).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApiPageKey {
    pub app: ApplicationId,
    pub group: Option<String>,
    pub page: PageKey,
    pub texts: SpecTexts,
}

/// A page of an application's event definitions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventPageKey {
    pub app: ApplicationId,
    pub group: Option<String>,
    pub page: PageKey,
    pub texts: SpecTexts,
}

/// A page of an application's documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DocumentPageKey {
    pub app: ApplicationId,
    pub page: PageKey,
}

/// All webhooks of an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WebhooksKey(pub ApplicationId);

/// The credentials one runtime holds for one API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuntimeAuthKey {
    pub api: ApiDefinitionId,
    pub runtime: RuntimeId,
}

/// What [`RuntimeAuthKey`] loads: whether the runtime exists, and its credentials if set.
#[derive(Clone, Debug)]
pub struct RuntimeAuth {
    pub runtime_exists: bool,
    pub auth: Option<Auth>,
}

/// Every runtime of the tenant with the credentials it holds for one API (if any).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllRuntimeAuthsKey(pub ApiDefinitionId);

/// What [`AllRuntimeAuthsKey`] loads for each runtime: its credentials for the API, if set.
#[derive(Clone, Debug)]
pub struct RuntimeApiAuth {
    pub runtime: RuntimeId,
    pub auth: Option<Auth>,
}

/// Groups keys that share everything but the application, so each group is one batch.
fn group_by<K, G: std::hash::Hash + Eq>(
    keys: &[K],
    group: impl Fn(&K) -> G,
) -> HashMap<G, Vec<&K>> {
    let mut groups: HashMap<G, Vec<&K>> = HashMap::new();
    for key in keys {
        groups.entry(group(key)).or_default().push(key);
    }
    groups
}

impl Loader<ApiPageKey> for CatalogLoader {
    type Value = Page<ApiDefinition>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ApiPageKey],
    ) -> Result<HashMap<ApiPageKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let mut out = HashMap::with_capacity(keys.len());
        for ((group, page, texts), keys) in group_by(keys, |k| (k.group.clone(), k.page, k.texts)) {
            let apps: Vec<ApplicationId> = keys.iter().map(|k| k.app).collect();
            let mut pages = tx
                .api_definitions(self.tenant, &apps, group.as_deref(), &page.request(), texts)
                .await?;
            for key in keys {
                if let Some(page) = pages.remove(&key.app) {
                    out.insert((*key).clone(), page);
                }
            }
        }
        Ok(out)
    }
}

impl Loader<EventPageKey> for CatalogLoader {
    type Value = Page<EventDefinition>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[EventPageKey],
    ) -> Result<HashMap<EventPageKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let mut out = HashMap::with_capacity(keys.len());
        for ((group, page, texts), keys) in group_by(keys, |k| (k.group.clone(), k.page, k.texts)) {
            let apps: Vec<ApplicationId> = keys.iter().map(|k| k.app).collect();
            let mut pages = tx
                .event_definitions(self.tenant, &apps, group.as_deref(), &page.request(), texts)
                .await?;
            for key in keys {
                if let Some(page) = pages.remove(&key.app) {
                    out.insert((*key).clone(), page);
                }
            }
        }
        Ok(out)
    }
}

impl Loader<DocumentPageKey> for CatalogLoader {
    type Value = Page<Document>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[DocumentPageKey],
    ) -> Result<HashMap<DocumentPageKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let mut out = HashMap::with_capacity(keys.len());
        for (page, keys) in group_by(keys, |k| k.page) {
            let apps: Vec<ApplicationId> = keys.iter().map(|k| k.app).collect();
            let mut pages = tx.documents(self.tenant, &apps, &page.request()).await?;
            for key in keys {
                if let Some(page) = pages.remove(&key.app) {
                    out.insert(*key, page);
                }
            }
        }
        Ok(out)
    }
}

impl Loader<WebhooksKey> for CatalogLoader {
    type Value = Vec<Webhook>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[WebhooksKey],
    ) -> Result<HashMap<WebhooksKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let apps: Vec<ApplicationId> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<WebhooksKey, Vec<Webhook>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for webhook in tx.webhooks(self.tenant, &apps).await? {
            if let Some(list) = out.get_mut(&WebhooksKey(webhook.application_id)) {
                list.push(webhook);
            }
        }
        Ok(out)
    }
}

impl Loader<RuntimeAuthKey> for CatalogLoader {
    type Value = RuntimeAuth;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[RuntimeAuthKey],
    ) -> Result<HashMap<RuntimeAuthKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let mut apis: Vec<ApiDefinitionId> = keys.iter().map(|k| k.api).collect();
        apis.sort_unstable();
        apis.dedup();
        let mut runtimes: Vec<RuntimeId> = keys.iter().map(|k| k.runtime).collect();
        runtimes.sort_unstable();
        runtimes.dedup();
        let existing: std::collections::HashSet<RuntimeId> = tx
            .runtime_ids(self.tenant, Some(&runtimes))
            .await?
            .into_iter()
            .collect();
        let mut auths: HashMap<RuntimeAuthKey, Auth> = tx
            .api_runtime_auths(self.tenant, &apis, Some(&runtimes))
            .await?
            .into_iter()
            .map(|a| {
                let key = RuntimeAuthKey {
                    api: a.api_id,
                    runtime: a.runtime_id,
                };
                (key, a.auth)
            })
            .collect();
        Ok(keys
            .iter()
            .map(|k| {
                (
                    *k,
                    RuntimeAuth {
                        runtime_exists: existing.contains(&k.runtime),
                        auth: auths.remove(k),
                    },
                )
            })
            .collect())
    }
}

impl Loader<AllRuntimeAuthsKey> for CatalogLoader {
    type Value = Vec<RuntimeApiAuth>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[AllRuntimeAuthsKey],
    ) -> Result<HashMap<AllRuntimeAuthsKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let apis: Vec<ApiDefinitionId> = keys.iter().map(|k| k.0).collect();
        let runtimes = tx.runtime_ids(self.tenant, None).await?;
        let mut auths: HashMap<RuntimeAuthKey, Auth> = tx
            .api_runtime_auths(self.tenant, &apis, None)
            .await?
            .into_iter()
            .map(|a| {
                let key = RuntimeAuthKey {
                    api: a.api_id,
                    runtime: a.runtime_id,
                };
                (key, a.auth)
            })
            .collect();
        Ok(keys
            .iter()
            .map(|k| {
                let list = runtimes
                    .iter()
                    .map(|r| {
                        let key = RuntimeAuthKey {
                            api: k.0,
                            runtime: *r,
                        };
                        RuntimeApiAuth {
                            runtime: *r,
                            auth: auths.remove(&key),
                        }
                    })
                    .collect();
                (*k, list)
            })
            .collect())
    }
}

/// The eventing URL of an application (`Application.eventingConfiguration.defaultURL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventingKey(pub ApplicationId);

impl Loader<EventingKey> for CatalogLoader {
    type Value = String;
    type Error = LoadError;

    /// The runtime an application's events go to: the one chosen with
    /// `setDefaultEventingForApplication` while it still shares a scenario with the
    /// application, else the oldest runtime that does. Reads only; for many applications at
    /// once (the oldest runtime is looked up once per distinct set of scenarios).
    async fn load(
        &self,
        keys: &[EventingKey],
    ) -> Result<HashMap<EventingKey, Self::Value>, Self::Error> {
        use sextant_domain::ObjectKind;
        use std::collections::BTreeMap;
        let mut tx = self.store.read().await?;
        let apps: Vec<ApplicationId> = keys.iter().map(|k| k.0).collect();
        let untyped_apps: Vec<Uuid> = apps.iter().map(|a| a.into_untyped()).collect();
        let mut app_labels: HashMap<ApplicationId, BTreeMap<String, serde_json::Value>> =
            HashMap::new();
        for StoredLabel {
            object: id,
            key,
            value,
        } in tx
            .labels(self.tenant, ObjectKind::Application, &untyped_apps)
            .await?
        {
            app_labels
                .entry(ApplicationId::from_untyped(id))
                .or_default()
                .insert(key, value);
        }
        let chosen: HashMap<ApplicationId, RuntimeId> = tx
            .default_eventing_many(self.tenant, &apps)
            .await?
            .into_iter()
            .map(|chosen| (chosen.application, chosen.runtime))
            .collect();
        let mut runtime_labels: HashMap<RuntimeId, BTreeMap<String, serde_json::Value>> =
            HashMap::new();
        let chosen_runtimes: Vec<Uuid> = chosen.values().map(|r| r.into_untyped()).collect();
        for StoredLabel {
            object: id,
            key,
            value,
        } in tx
            .labels(self.tenant, ObjectKind::Runtime, &chosen_runtimes)
            .await?
        {
            runtime_labels
                .entry(RuntimeId::from_untyped(id))
                .or_default()
                .insert(key, value);
        }
        let mut runtime_of: HashMap<ApplicationId, Option<RuntimeId>> = HashMap::new();
        let mut oldest: HashMap<Vec<String>, Option<RuntimeId>> = HashMap::new();
        for app in &apps {
            let mut scenarios = app_labels.get(app).map(scenario_list).unwrap_or_default();
            scenarios.sort();
            let kept = chosen.get(app).copied().filter(|rt| {
                runtime_labels
                    .get(rt)
                    .map(scenario_list)
                    .unwrap_or_default()
                    .iter()
                    .any(|s| scenarios.contains(s))
            });
            let runtime = match kept {
                Some(rt) => Some(rt),
                None => match oldest.get(&scenarios) {
                    Some(found) => *found,
                    None => {
                        let found = tx
                            .oldest_runtime_in_scenarios(self.tenant, &scenarios)
                            .await?;
                        oldest.insert(scenarios.clone(), found);
                        found
                    }
                },
            };
            runtime_of.insert(*app, runtime);
        }
        let missing: Vec<Uuid> = runtime_of
            .values()
            .flatten()
            .filter(|rt| !runtime_labels.contains_key(rt))
            .map(|rt| rt.into_untyped())
            .collect();
        for StoredLabel {
            object: id,
            key,
            value,
        } in tx
            .labels(self.tenant, ObjectKind::Runtime, &missing)
            .await?
        {
            runtime_labels
                .entry(RuntimeId::from_untyped(id))
                .or_default()
                .insert(key, value);
        }
        Ok(keys
            .iter()
            .map(|k| {
                let url = runtime_of
                    .get(&k.0)
                    .copied()
                    .flatten()
                    .and_then(|rt| runtime_labels.get(&rt))
                    .and_then(|l| l.get(EVENT_SERVICE_URL_KEY))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (*k, url)
            })
            .collect())
    }
}

/// The system auths of an application, runtime or integration system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SystemAuthsKey(pub SystemAuthOwner);

impl Loader<SystemAuthsKey> for CatalogLoader {
    type Value = Vec<sextant_domain::SystemAuth>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[SystemAuthsKey],
    ) -> Result<HashMap<SystemAuthsKey, Self::Value>, Self::Error> {
        use sextant_store::OwnerKind;
        let mut tx = self.store.read().await?;
        let mut out: HashMap<SystemAuthsKey, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for kind in [
            OwnerKind::Application,
            OwnerKind::Runtime,
            OwnerKind::IntegrationSystem,
        ] {
            let owners: Vec<Uuid> = keys
                .iter()
                .filter(|k| OwnerKind::of(k.0) == kind)
                .map(|k| k.0.id())
                .collect();
            if owners.is_empty() {
                continue;
            }
            // Integration systems are global: their auths have no tenant.
            let tenant = (kind != OwnerKind::IntegrationSystem).then_some(self.tenant);
            for auth in tx.system_auths_of(tenant, kind, &owners).await? {
                if let Some(list) = out.get_mut(&SystemAuthsKey(auth.owner)) {
                    list.push(auth);
                }
            }
        }
        Ok(out)
    }
}

/// What the servers recorded of a runtime's agent (`Runtime.agent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuntimeAgentKey(pub RuntimeId);

impl Loader<RuntimeAgentKey> for CatalogLoader {
    type Value = sextant_store::RecordedAgent;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[RuntimeAgentKey],
    ) -> Result<HashMap<RuntimeAgentKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let runtimes: Vec<RuntimeId> = keys.iter().map(|k| k.0).collect();
        Ok(tx
            .recorded_agents(self.tenant, &runtimes)
            .await?
            .into_iter()
            .map(|agent| (RuntimeAgentKey(agent.runtime), agent))
            .collect())
    }
}

/// A runtime's newest valid client certificate (`Runtime.clientCertificate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuntimeCertificateKey(pub RuntimeId);

impl Loader<RuntimeCertificateKey> for CatalogLoader {
    type Value = sextant_store::RuntimeCertificate;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[RuntimeCertificateKey],
    ) -> Result<HashMap<RuntimeCertificateKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let runtimes: Vec<RuntimeId> = keys.iter().map(|k| k.0).collect();
        Ok(tx
            .runtime_certificates(self.tenant, &runtimes, crate::clock::now_micros())
            .await?
            .into_iter()
            .map(|cert| (RuntimeCertificateKey(cert.runtime), cert))
            .collect())
    }
}

/// The newest deliveries of a webhook (`Webhook.deliveries(first:)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WebhookDeliveriesKey {
    pub webhook: WebhookId,
    pub first: u32,
}

impl Loader<WebhookDeliveriesKey> for CatalogLoader {
    type Value = Vec<Delivery>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[WebhookDeliveriesKey],
    ) -> Result<HashMap<WebhookDeliveriesKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let mut out: HashMap<WebhookDeliveriesKey, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (first, keys) in group_by(keys, |k| k.first) {
            let webhooks: Vec<WebhookId> = keys.iter().map(|k| k.webhook).collect();
            for delivery in tx
                .deliveries_of_webhooks(self.tenant, &webhooks, i64::from(first))
                .await?
            {
                let key = WebhookDeliveriesKey {
                    webhook: delivery.webhook_id,
                    first,
                };
                if let Some(list) = out.get_mut(&key) {
                    list.push(delivery);
                }
            }
        }
        Ok(out)
    }
}

/// The logged attempts of a delivery (`WebhookDelivery.attemptLog`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeliveryAttemptsKey(pub DeliveryId);

impl Loader<DeliveryAttemptsKey> for CatalogLoader {
    type Value = Vec<DeliveryAttempt>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[DeliveryAttemptsKey],
    ) -> Result<HashMap<DeliveryAttemptsKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let deliveries: Vec<DeliveryId> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<DeliveryAttemptsKey, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for attempt in tx.delivery_attempts(self.tenant, &deliveries).await? {
            if let Some(list) = out.get_mut(&DeliveryAttemptsKey(attempt.delivery_id)) {
                list.push(attempt);
            }
        }
        Ok(out)
    }
}

/// The newest certificates issued to an application's clients
/// (`Application.clientCertificates(first:)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApplicationCertificatesKey {
    pub app: ApplicationId,
    pub first: u32,
}

impl Loader<ApplicationCertificatesKey> for CatalogLoader {
    type Value = Vec<sextant_store::ApplicationCertificate>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ApplicationCertificatesKey],
    ) -> Result<HashMap<ApplicationCertificatesKey, Self::Value>, Self::Error> {
        let mut tx = self.store.read().await?;
        let mut out: HashMap<ApplicationCertificatesKey, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (first, keys) in group_by(keys, |k| k.first) {
            let apps: Vec<ApplicationId> = keys.iter().map(|k| k.app).collect();
            for certificate in tx
                .application_certificates(self.tenant, &apps, i64::from(first))
                .await?
            {
                let key = ApplicationCertificatesKey {
                    app: certificate.application,
                    first,
                };
                if let Some(list) = out.get_mut(&key) {
                    list.push(certificate);
                }
            }
        }
        Ok(out)
    }
}
