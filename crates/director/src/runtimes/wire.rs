//! Runtimes as answered: their labels, status, credentials and eventing configuration.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use serde_json::Value;
use sextant_domain::label::EVENT_SERVICE_URL_KEY;
use sextant_domain::{self as domain, ObjectRef, Page, PageRequest, Scope, SystemAuthOwner};

use crate::catalog::eventing::wire::RuntimeEventingConfiguration;
use crate::confine;
use crate::context::{Scopes, loader, reach};
use crate::error::GqlResult;
use crate::labels::wire::{LabelsById, Preloaded, resolve_labels};
use crate::loaders::{RuntimeAgentKey, RuntimeCertificateKey, load_error};
use crate::page::{PageInfo, page_info, total};
use crate::scalars::{Labels, Timestamp};
use crate::system_auths::wire::{ClientCertificate, SystemAuth, auths_of};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "RuntimeStatusCondition")]
pub enum RuntimeStatusCondition {
    Initial,
    Ready,
    Failed,
}

impl From<RuntimeStatusCondition> for domain::RuntimeStatusCondition {
    fn from(c: RuntimeStatusCondition) -> Self {
        match c {
            RuntimeStatusCondition::Initial => Self::Initial,
            RuntimeStatusCondition::Ready => Self::Ready,
            RuntimeStatusCondition::Failed => Self::Failed,
        }
    }
}

impl From<domain::RuntimeStatusCondition> for RuntimeStatusCondition {
    fn from(c: domain::RuntimeStatusCondition) -> Self {
        match c {
            domain::RuntimeStatusCondition::Initial => Self::Initial,
            domain::RuntimeStatusCondition::Ready => Self::Ready,
            domain::RuntimeStatusCondition::Failed => Self::Failed,
        }
    }
}

#[derive(SimpleObject)]
pub struct RuntimeStatus {
    pub condition: RuntimeStatusCondition,
    pub timestamp: Timestamp,
    /// Why the runtime is in this status, as its agent reported it (a Sextant extension).
    pub message: Option<String>,
}

/// Sextant: what the management plane knows of a runtime's agent from its requests for
/// its configuration (`GET /runtime/configuration`). Each server keeps it in memory and
/// writes it every few seconds, so it may lag that much.
#[derive(SimpleObject)]
pub struct RuntimeAgent {
    /// When the agent last asked for its configuration (a long poll that is waiting counts
    /// when it began, and again whenever the document is rebuilt while it waits).
    pub last_seen_at: Timestamp,
    /// Whether the agent holds the configuration of its tenant's current configuration
    /// epoch: the document it was last sent or confirmed (with its ETag) was built at the
    /// epoch the tenant is at now. Every change in the tenant that could alter a runtime's
    /// configuration raises the epoch, so after such a change this is false until the agent
    /// asks again (an agent in a long poll is answered or confirmed at once), even when its
    /// own document turned out unchanged: false means "not confirmed since the last change",
    /// never a guess that it is current.
    pub configuration_current: bool,
}

#[derive(SimpleObject)]
pub struct RuntimeMetadata {
    pub creation_timestamp: Timestamp,
}

pub struct Runtime {
    runtime: domain::Runtime,
    preloaded: Preloaded,
    /// What a list read for its whole page of the agents and certificates, when asked.
    fleet: Option<Arc<PageFleet>>,
}

/// The agents and newest valid certificates of a page of runtimes, read by the list in one
/// statement each (a DataLoader's batch can split when its rows resolve slowly, and a
/// page's statements must not grow with its size). `None`: not asked for.
#[derive(Default)]
pub struct PageFleet {
    pub agents: Option<HashMap<domain::RuntimeId, sextant_store::RecordedAgent>>,
    pub certificates: Option<HashMap<domain::RuntimeId, sextant_store::RuntimeCertificate>>,
}

impl Runtime {
    pub fn new(runtime: domain::Runtime) -> Self {
        Self {
            runtime,
            preloaded: None,
            fleet: None,
        }
    }
    pub fn with_labels(runtime: domain::Runtime, labels: BTreeMap<String, Value>) -> Self {
        Self {
            runtime,
            preloaded: Some(Arc::new(labels)),
            fleet: None,
        }
    }
}

#[Object]
impl Runtime {
    async fn id(&self) -> ID {
        ID(self.runtime.id.to_string())
    }
    async fn name(&self) -> &str {
        self.runtime.name.as_str()
    }
    async fn description(&self) -> Option<&str> {
        self.runtime.description.as_deref()
    }
    async fn labels(&self, ctx: &Context<'_>, key: Option<String>) -> GqlResult<Option<Labels>> {
        resolve_labels(
            ctx,
            ObjectRef::Runtime(self.runtime.id),
            &self.preloaded,
            key,
        )
        .await
    }
    async fn status(&self) -> RuntimeStatus {
        RuntimeStatus {
            condition: self.runtime.status_condition.into(),
            timestamp: Timestamp(self.runtime.status_timestamp),
            message: self.runtime.status_message.clone(),
        }
    }
    async fn metadata(&self) -> RuntimeMetadata {
        RuntimeMetadata {
            creation_timestamp: Timestamp(self.runtime.created_at),
        }
    }
    /// The runtime's credentials (OAuth2 clients; the secret is shown only when made).
    async fn auths(&self, ctx: &Context<'_>) -> GqlResult<Vec<SystemAuth>> {
        let reach = reach(ctx)?;
        if !confine::can_read_runtime(reach, self.runtime.id) {
            return Ok(Vec::new());
        }
        auths_of(ctx, SystemAuthOwner::Runtime(self.runtime.id)).await
    }
    /// The runtime's eventing URL: its `runtime/event_service_url` label, else "".
    async fn eventing_configuration(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<RuntimeEventingConfiguration> {
        let key = EVENT_SERVICE_URL_KEY;
        let labels = resolve_labels(
            ctx,
            ObjectRef::Runtime(self.runtime.id),
            &self.preloaded,
            Some(key.to_owned()),
        )
        .await?;
        let default_url = labels
            .as_ref()
            .and_then(|l| l.0.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(RuntimeEventingConfiguration { default_url })
    }
    /// Sextant: what is known of the runtime's agent; null until it asked for its
    /// configuration (needs runtime:read).
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<RuntimeAgent>> {
        if !confine::can_read_runtime(reach(ctx)?, self.runtime.id) {
            return Ok(None);
        }
        let preloaded = self.fleet.as_ref().and_then(|f| f.agents.as_ref());
        let recorded = match preloaded {
            Some(agents) => agents.get(&self.runtime.id).copied(),
            None => loader(ctx)?
                .load_one(RuntimeAgentKey(self.runtime.id))
                .await
                .map_err(load_error)?,
        };
        Ok(recorded.map(|agent| RuntimeAgent {
            last_seen_at: Timestamp(agent.last_seen),
            configuration_current: agent.configuration_epoch >= agent.tenant_epoch,
        }))
    }
    /// Sextant: the runtime's newest client certificate that is neither revoked nor expired;
    /// null when it holds none (needs runtime:read).
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn client_certificate(&self, ctx: &Context<'_>) -> GqlResult<Option<ClientCertificate>> {
        if !confine::can_read_runtime(reach(ctx)?, self.runtime.id) {
            return Ok(None);
        }
        let preloaded = self.fleet.as_ref().and_then(|f| f.certificates.as_ref());
        let found = match preloaded {
            Some(certificates) => certificates.get(&self.runtime.id).cloned(),
            None => loader(ctx)?
                .load_one(RuntimeCertificateKey(self.runtime.id))
                .await
                .map_err(load_error)?,
        };
        Ok(found.map(|cert| ClientCertificate {
            serial: ClientCertificate::hex(&cert.serial),
            client_id: ID(cert.client.to_string()),
            not_before: Timestamp(cert.not_before),
            expires_at: Timestamp(cert.not_after),
            revoked_at: None,
        }))
    }
}

#[derive(SimpleObject)]
pub struct RuntimePage {
    pub data: Vec<Runtime>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl RuntimePage {
    pub fn new(
        page: Page<domain::Runtime>,
        request: &PageRequest,
        mut labels: Option<LabelsById<domain::RuntimeId>>,
        fleet: Option<PageFleet>,
    ) -> Self {
        let fleet = fleet.map(Arc::new);
        let page_info = page_info(&page, request, |r| r.id);
        RuntimePage {
            total_count: total(page.total_count),
            data: page
                .items
                .into_iter()
                .map(|runtime| {
                    let mut runtime = match labels.as_mut() {
                        Some(labels) => {
                            let own = labels.remove(&runtime.id).unwrap_or_default();
                            Runtime::with_labels(runtime, own)
                        }
                        None => Runtime::new(runtime),
                    };
                    runtime.fleet = fleet.clone();
                    runtime
                })
                .collect(),
            page_info,
        }
    }
}
