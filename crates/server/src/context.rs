//! What every handler shares: [`AppState`], built once by `start`. Handlers import it; it
//! imports no handler.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use sextant_auth::{TokenIssuer, TokenVerifier};
use sextant_director::DirectorSchema;
use sextant_store::Store;

use crate::agent_sightings::AgentSightings;
use crate::answer_cache::AnswerCache;
use crate::config_cache::ConfigCache;

/// What every handler shares. Built once by `start`.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) issuer: Arc<TokenIssuer>,
    pub(crate) connector: sextant_connector::ConnectorSchema,
    pub(crate) ca: Arc<sextant_pki::CertificateAuthority>,
    /// During a CA rotation, the previous CA (its CRL is served too).
    pub(crate) previous_ca: Option<Arc<sextant_pki::CertificateAuthority>>,
    /// Runtimes' certificates and configuration documents, remembered between requests.
    pub(crate) config_cache: Arc<ConfigCache>,
    /// The Director's answers kept while the configuration epoch covers them.
    pub(crate) answers: Arc<AnswerCache>,
    /// What the configuration endpoint saw of runtimes' agents, until it is written.
    pub(crate) agents: Arc<AgentSightings>,
    /// The runtime serving CA (event gateways' certificates).
    pub(crate) runtime_serving: Arc<RuntimeServing>,
    pub(crate) verifier: Arc<TokenVerifier>,
    pub(crate) schema: DirectorSchema,
    pub(crate) provisioner: sextant_provisioner::ProvisionerSchema,
    pub(crate) metrics: Option<PrometheusHandle>,
}

impl AppState {
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }
}

/// The runtime serving CA and the validity of what it signs.
pub struct RuntimeServing {
    pub(crate) ca: sextant_pki::CertificateAuthority,
    pub(crate) validity: Duration,
    pub(crate) names: sextant_pki::ServingNamePolicy,
}

impl RuntimeServing {
    /// `validity`: as long as client certificates (the agent renews both together); `names`:
    /// which names are bound to a runtime.
    pub fn new(
        ca: sextant_pki::CertificateAuthority,
        validity: Duration,
        names: sextant_pki::ServingNamePolicy,
    ) -> RuntimeServing {
        RuntimeServing {
            ca,
            validity,
            names,
        }
    }
}
