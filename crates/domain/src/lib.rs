//! Sextant's domain model: tenants, validated names, scopes and consumers, the objects the
//! Director stores, labels and scenarios, pagination.
//!
//! Invariant: this crate does no I/O. It knows nothing about SQL, HTTP or GraphQL; the store
//! and the Director convert to and from these types explicitly.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod consumer;
pub mod credentials;
pub mod delivery;
pub mod error;
pub mod error_chain;
pub mod ids;
pub mod label;
pub mod model;
pub mod name;
pub mod page;
pub mod provisioning;
pub mod runtime_config;
pub mod scope;
pub mod system_auth;
pub mod validate;

pub use catalog::*;
pub use consumer::{Consumer, ConsumerId, ConsumerKind};
pub use credentials::{Auth, Credential};
pub use error::{DomainError, FieldError, FieldErrorEntry, FieldErrors};
pub use error_chain::ErrorChain;
pub use ids::{
    ApiDefinitionId, ApplicationId, DeliveryId, DocumentId, EventDefinitionId, IntegrationSystemId,
    OperationId, RuntimeId, SystemAuthId, TemplateId, TypedUuid, WebhookEventId, WebhookId,
};
pub use model::*;
pub use name::Name;
pub use page::{Cursor, Page, PageRequest};
pub use scope::Scope;
pub use system_auth::{
    IssuedCertificateRecord, OneTimeToken, OneTimeTokenKind, SystemAuth, SystemAuthOwner,
    client_scopes,
};

/// A tenant: every tenant-scoped object carries one, and no request sees another's objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub uuid::Uuid);

impl TenantId {
    /// Compass's `default` tenant, the tenant of the administrator token a new server creates.
    pub const DEFAULT: TenantId = TenantId(uuid::uuid!("3e64ebae-38b5-46a0-b1ed-9ccee153a0ae"));
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
