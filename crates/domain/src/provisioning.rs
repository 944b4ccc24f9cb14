//! The Provisioner's records: operations on runtimes (provision, upgrade, deprovision,
//! reconnect) and the runtimes it provisioned, with the provider that holds them.

use crate::{OperationId, RuntimeId, TenantId};
use time::OffsetDateTime;

/// What an operation does (Compass's `OperationType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperationKind {
    Provision,
    Upgrade,
    Deprovision,
    ReconnectRuntime,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Provision => "Provision",
            OperationKind::Upgrade => "Upgrade",
            OperationKind::Deprovision => "Deprovision",
            OperationKind::ReconnectRuntime => "ReconnectRuntime",
        }
    }

    pub fn parse(s: &str) -> Option<OperationKind> {
        Some(match s {
            "Provision" => OperationKind::Provision,
            "Upgrade" => OperationKind::Upgrade,
            "Deprovision" => OperationKind::Deprovision,
            "ReconnectRuntime" => OperationKind::ReconnectRuntime,
            _ => return None,
        })
    }
}

/// Where an operation is (Compass's `OperationState`; `Pending` is never produced, as in
/// Compass).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperationState {
    InProgress,
    Succeeded,
    Failed,
}

impl OperationState {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationState::InProgress => "InProgress",
            OperationState::Succeeded => "Succeeded",
            OperationState::Failed => "Failed",
        }
    }

    pub fn parse(s: &str) -> Option<OperationState> {
        Some(match s {
            "InProgress" => OperationState::InProgress,
            "Succeeded" => OperationState::Succeeded,
            "Failed" => OperationState::Failed,
            _ => return None,
        })
    }
}

/// One operation. At most one per runtime is `InProgress` (the store refuses a second).
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    pub id: OperationId,
    pub tenant: TenantId,
    pub runtime_id: RuntimeId,
    pub kind: OperationKind,
    pub state: OperationState,
    /// The step it is at (the runner resumes from it after a restart).
    pub stage: String,
    pub message: String,
    /// The operation's input, as JSON.
    pub input: serde_json::Value,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// A runtime the Provisioner created: its provider and the provider's configuration for it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvisionedRuntime {
    pub runtime_id: RuntimeId,
    pub tenant: TenantId,
    pub provider: String,
    /// The provider's configuration for the runtime, as JSON.
    pub config: serde_json::Value,
    pub created_at: OffsetDateTime,
}
