//! The consumer: who is calling, for which tenant, with which scopes. Every authentication
//! method (a user's JWT, an OAuth2 client's token, a client certificate) resolves a request
//! into this one type, and authorization looks only at it.

use crate::{
    ApplicationId, DomainError, IntegrationSystemId, RuntimeId, Scope, SystemAuthOwner, TenantId,
};

/// The kind of caller, as in Compass's `consumerType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerKind {
    User,
    Application,
    Runtime,
    IntegrationSystem,
}

/// Who the caller is: a user by its subject, or a system by its typed id. A kind with an id
/// of another kind cannot be written down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerId {
    /// The user's subject (`sub` of its token).
    User(String),
    Application(ApplicationId),
    Runtime(RuntimeId),
    IntegrationSystem(IntegrationSystemId),
}

impl ConsumerId {
    pub fn kind(&self) -> ConsumerKind {
        match self {
            ConsumerId::User(_) => ConsumerKind::User,
            ConsumerId::Application(_) => ConsumerKind::Application,
            ConsumerId::Runtime(_) => ConsumerKind::Runtime,
            ConsumerId::IntegrationSystem(_) => ConsumerKind::IntegrationSystem,
        }
    }
}

impl From<SystemAuthOwner> for ConsumerId {
    /// A credential of a system authenticates as its owner.
    fn from(owner: SystemAuthOwner) -> Self {
        match owner {
            SystemAuthOwner::Application(id) => ConsumerId::Application(id),
            SystemAuthOwner::Runtime(id) => ConsumerId::Runtime(id),
            SystemAuthOwner::IntegrationSystem(id) => ConsumerId::IntegrationSystem(id),
        }
    }
}

impl std::fmt::Display for ConsumerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsumerId::User(subject) => subject.fmt(f),
            ConsumerId::Application(id) => id.fmt(f),
            ConsumerId::Runtime(id) => id.fmt(f),
            ConsumerId::IntegrationSystem(id) => id.fmt(f),
        }
    }
}

/// An authenticated caller acting in exactly one tenant.
#[derive(Clone, Debug)]
pub struct Consumer {
    pub tenant: TenantId,
    /// The scopes as the credential states them, in order; unknown ones grant nothing.
    pub scopes: Vec<String>,
    pub id: ConsumerId,
}

impl Consumer {
    /// The kind of caller (Compass's `consumerType`).
    pub fn kind(&self) -> ConsumerKind {
        self.id.kind()
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.as_str())
    }

    /// Succeeds when the consumer holds every scope in `required`, else fails with Compass's
    /// `insufficient scopes provided` error.
    pub fn require(&self, required: &[Scope]) -> Result<(), DomainError> {
        if required.iter().all(|scope| self.has(*scope)) {
            return Ok(());
        }
        Err(DomainError::InsufficientScopes {
            required: required.iter().map(|s| s.as_str().to_owned()).collect(),
            actual: self.scopes.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(scopes: &[&str]) -> Consumer {
        Consumer {
            tenant: TenantId::DEFAULT,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            id: ConsumerId::User("admin".into()),
        }
    }

    #[test]
    fn all_required_scopes_must_be_held() {
        let c = user(&["application:read", "runtime:read"]);
        assert!(c.require(&[Scope::ApplicationRead]).is_ok());
        assert!(
            c.require(&[Scope::ApplicationRead, Scope::RuntimeRead])
                .is_ok()
        );
        let err = c.require(&[Scope::ApplicationWrite]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "insufficient scopes provided, required: [application:write], actual: [application:read runtime:read]"
        );
    }

    #[test]
    fn unknown_scopes_grant_nothing() {
        let c = user(&["foo", "bar"]);
        let err = c.require(&[Scope::ApplicationRead]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "insufficient scopes provided, required: [application:read], actual: [foo bar]"
        );
        assert!(user(&[]).require(&[Scope::ApplicationRead]).is_err());
    }
}
