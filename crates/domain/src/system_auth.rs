//! System auths: how an application, runtime or integration system authenticates. The id is
//! the OAuth2 client id; the client secret exists only as a hash.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    ApplicationId, ConsumerKind, IntegrationSystemId, RuntimeId, Scope, SystemAuthId, TenantId,
};

/// What a system auth belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SystemAuthOwner {
    Application(ApplicationId),
    Runtime(RuntimeId),
    IntegrationSystem(IntegrationSystemId),
}

impl SystemAuthOwner {
    pub fn id(self) -> Uuid {
        match self {
            Self::Application(id) => id.into_untyped(),
            Self::Runtime(id) => id.into_untyped(),
            Self::IntegrationSystem(id) => id.into_untyped(),
        }
    }

    /// The consumer kind a credential of this owner authenticates as.
    pub fn consumer_kind(self) -> ConsumerKind {
        match self {
            Self::Application(_) => ConsumerKind::Application,
            Self::Runtime(_) => ConsumerKind::Runtime,
            Self::IntegrationSystem(_) => ConsumerKind::IntegrationSystem,
        }
    }

    /// The name used in messages.
    pub fn kind_name(self) -> &'static str {
        match self {
            Self::Application(_) => "application",
            Self::Runtime(_) => "runtime",
            Self::IntegrationSystem(_) => "integration system",
        }
    }
}

/// A credential of an application, runtime or integration system.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemAuth {
    /// The OAuth2 client id.
    pub id: SystemAuthId,
    /// The owner's tenant; `None` for an integration system (global, it picks a tenant per
    /// request).
    pub tenant: Option<TenantId>,
    pub owner: SystemAuthOwner,
    /// SHA-256 of the client secret; `None` for an auth without a secret (a one-time-token
    /// pairing).
    pub secret_hash: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
}

/// The scopes an OAuth2 client of each kind gets (Compass's
/// `clientCredentialsRegistrationScopes`).
pub fn client_scopes(kind: ConsumerKind) -> &'static [Scope] {
    match kind {
        ConsumerKind::Application => &[Scope::ApplicationRead, Scope::ApplicationWrite],
        ConsumerKind::Runtime => &[
            Scope::RuntimeRead,
            Scope::RuntimeWrite,
            Scope::ApplicationRead,
        ],
        ConsumerKind::IntegrationSystem => &[
            Scope::ApplicationRead,
            Scope::ApplicationWrite,
            Scope::ApplicationTemplateRead,
            Scope::ApplicationTemplateWrite,
            Scope::IntegrationSystemRead,
        ],
        ConsumerKind::User => &[],
    }
}

/// What a one-time token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OneTimeTokenKind {
    /// Pairs an application (`requestOneTimeTokenForApplication`).
    Application,
    /// Pairs a runtime (`requestOneTimeTokenForRuntime`).
    Runtime,
    /// Lets the holder of a redeemed pairing token send its CSR (`configuration` hands it out).
    Csr,
}

impl OneTimeTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Runtime => "runtime",
            Self::Csr => "csr",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Application, Self::Runtime, Self::Csr]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A stored one-time token: only its hash is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct OneTimeToken {
    /// SHA-256 of the token.
    pub hash: Vec<u8>,
    pub kind: OneTimeTokenKind,
    /// The system auth the token pairs (its id becomes the certificate's CN).
    pub client_id: SystemAuthId,
    pub tenant: TenantId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// For a CSR token handed out to a certificate (renewal): that certificate's serial,
    /// which the certificate it buys records as its parent.
    pub parent_serial: Option<Vec<u8>>,
}

/// A client certificate the CA issued.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedCertificateRecord {
    /// The serial, big-endian, as in the certificate.
    pub serial: Vec<u8>,
    /// The system auth (client id, the certificate's CN).
    pub client_id: SystemAuthId,
    pub tenant: TenantId,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub issued_at: OffsetDateTime,
    /// The issuing CA: SHA-256 of its certificate (DER).
    pub issuer: Vec<u8>,
    /// The certificate this one renewed (revoking that one revokes this one).
    pub parent_serial: Option<Vec<u8>>,
}
