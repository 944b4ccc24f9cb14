//! The objects the Director stores, as the rest of the system sees them.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ApplicationId, IntegrationSystemId, Name, RuntimeId, TemplateId, TenantId};

/// Condition of an application (`ApplicationStatusCondition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicationStatusCondition {
    Initial,
    Unknown,
    Ready,
    Failed,
}

impl ApplicationStatusCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "INITIAL",
            Self::Unknown => "UNKNOWN",
            Self::Ready => "READY",
            Self::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Initial, Self::Unknown, Self::Ready, Self::Failed]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Condition of a runtime (`RuntimeStatusCondition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeStatusCondition {
    Initial,
    Ready,
    Failed,
}

impl RuntimeStatusCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "INITIAL",
            Self::Ready => "READY",
            Self::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Initial, Self::Ready, Self::Failed]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// An application: an external system that registers its APIs and events.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub id: ApplicationId,
    pub tenant: TenantId,
    pub name: Name,
    pub provider_name: String,
    pub description: Option<String>,
    pub health_check_url: Option<String>,
    pub integration_system_id: Option<IntegrationSystemId>,
    pub status_condition: ApplicationStatusCondition,
    pub status_timestamp: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// A runtime: an environment that runs workloads and configures itself from the Director.
#[derive(Clone, Debug, PartialEq)]
pub struct Runtime {
    pub id: RuntimeId,
    pub tenant: TenantId,
    pub name: Name,
    pub description: Option<String>,
    pub status_condition: RuntimeStatusCondition,
    pub status_timestamp: OffsetDateTime,
    /// Why the runtime is in its status (set with `setRuntimeStatus`).
    pub status_message: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Which kind of object a label hangs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Application,
    Runtime,
}

impl ObjectKind {
    /// The name used in messages (`... for Application with ID "..."`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Application => "Application",
            ObjectKind::Runtime => "Runtime",
        }
    }
}

/// A labelled object of a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectRef {
    Application(ApplicationId),
    Runtime(RuntimeId),
}

impl ObjectRef {
    /// The object of this kind with this id, as the store reads it from a label table.
    pub fn from_untyped(kind: ObjectKind, id: Uuid) -> Self {
        match kind {
            ObjectKind::Application => ObjectRef::Application(ApplicationId::from_untyped(id)),
            ObjectKind::Runtime => ObjectRef::Runtime(RuntimeId::from_untyped(id)),
        }
    }

    pub fn kind(self) -> ObjectKind {
        match self {
            ObjectRef::Application(_) => ObjectKind::Application,
            ObjectRef::Runtime(_) => ObjectKind::Runtime,
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            ObjectRef::Application(id) => id.into_untyped(),
            ObjectRef::Runtime(id) => id.into_untyped(),
        }
    }
}

/// A label definition: the key and the JSON Schema its values must satisfy (none: any value).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelDefinition {
    pub key: String,
    pub schema: Option<serde_json::Value>,
}

/// An integration system: a system that manages applications. The tenant that registered it
/// owns it (changes it, deletes it, makes its credentials); it acts only in the tenants that
/// granted it access (see the store's grants), its owner included.
#[derive(Clone, Debug, PartialEq)]
pub struct IntegrationSystem {
    pub id: IntegrationSystemId,
    pub name: Name,
    pub description: Option<String>,
    pub owner: TenantId,
}

/// A placeholder of an application template.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Placeholder {
    pub name: String,
    pub description: Option<String>,
}

/// An application template: the JSON text of an `ApplicationRegisterInput` with
/// `{{placeholder}}` markers. It belongs to one tenant, or (`tenant: None`) is global: seen by
/// every tenant and written only by operators.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationTemplate {
    pub id: TemplateId,
    pub tenant: Option<TenantId>,
    pub name: Name,
    pub description: Option<String>,
    pub application_input: String,
    pub placeholders: Vec<Placeholder>,
}
