//! What every console handler shares: [`ConsoleState`], built once by the server.

use std::sync::Arc;

use sextant_auth::TokenVerifier;
use sextant_director::DirectorSchema;
use sextant_provisioner::ProvisionerSchema;
use sextant_store::Store;

/// What the console needs of the server it runs in.
#[derive(Clone, Debug)]
pub struct ConsoleSettings {
    /// The main listener's public URL (login links point there).
    pub public_url: url::Url,
}

/// The console's shared state: the Director's and the Provisioner's schemas (pages run their
/// GraphQL against them), the store (sessions and login links), the verifier of pasted API
/// tokens.
#[derive(Clone)]
pub struct ConsoleState {
    inner: Arc<Inner>,
}

struct Inner {
    schema: DirectorSchema,
    provisioner: ProvisionerSchema,
    store: Arc<dyn Store>,
    verifier: Arc<TokenVerifier>,
    settings: ConsoleSettings,
}

impl ConsoleState {
    pub fn new(
        schema: DirectorSchema,
        provisioner: ProvisionerSchema,
        store: Arc<dyn Store>,
        verifier: Arc<TokenVerifier>,
        settings: ConsoleSettings,
    ) -> ConsoleState {
        ConsoleState {
            inner: Arc::new(Inner {
                schema,
                provisioner,
                store,
                verifier,
                settings,
            }),
        }
    }

    pub(crate) fn schema(&self) -> &DirectorSchema {
        &self.inner.schema
    }

    pub(crate) fn provisioner(&self) -> &ProvisionerSchema {
        &self.inner.provisioner
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn verifier(&self) -> &TokenVerifier {
        &self.inner.verifier
    }

    pub fn settings(&self) -> &ConsoleSettings {
        &self.inner.settings
    }
}
