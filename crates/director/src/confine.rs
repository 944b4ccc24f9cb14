//! Confinement: which objects a consumer may see and change, beyond its scopes. Compass
//! documented these rules and never enforced them; here every resolver that touches an
//! application or runtime asks this module.
//!
//! - A user acts on everything in its tenant.
//! - An application reads and changes only itself and its children.
//! - A runtime reads only the applications that share a scenario with it (and itself), and
//!   changes only its own labels. It sees only its own per-runtime API credentials.
//! - An integration system manages only the applications whose `integrationSystemID` is its
//!   own, and acts only in tenants that granted it access (checked when its client
//!   authenticates). Only the users of the tenant that owns it change it, delete it and make
//!   its credentials; tenants that neither own nor granted it do not see it.
//!
//! Objects out of reach are reported exactly like objects that do not exist, so a consumer
//! learns nothing about what it may not see.

use sextant_domain::label::{LabelFilter, LabelQuery, SCENARIOS_KEY};
use sextant_domain::{
    ApplicationId, Consumer, ConsumerId, DomainError, IntegrationSystem, IntegrationSystemId,
    ObjectRef, RuntimeId, TenantId,
};
use sextant_store::Tx;

use crate::error::internal;
use crate::objects::labels_of;
use crate::scenarios::scenario_list;

type Result<T> = std::result::Result<T, DomainError>;

/// What a consumer can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Tenant,
    Application(ApplicationId),
    Runtime(RuntimeId),
    IntegrationSystem(IntegrationSystemId),
}

impl Reach {
    pub fn of(consumer: &Consumer) -> Reach {
        match consumer.id {
            ConsumerId::User(_) => Reach::Tenant,
            ConsumerId::Application(id) => Reach::Application(id),
            ConsumerId::Runtime(id) => Reach::Runtime(id),
            ConsumerId::IntegrationSystem(id) => Reach::IntegrationSystem(id),
        }
    }
}

fn forbidden(what: &str) -> DomainError {
    DomainError::Forbidden(what.to_owned())
}

async fn object_scenarios(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
) -> Result<Vec<String>> {
    Ok(scenario_list(&labels_of(tx, tenant, object).await?))
}

/// How a list of applications is narrowed for the consumer.
pub enum AppListing {
    All,
    Among(Vec<ApplicationId>),
    /// An extra label filter (a runtime's scenarios).
    Filter(LabelFilter),
    Nothing,
}

pub async fn app_listing(tx: &mut dyn Tx, tenant: TenantId, reach: Reach) -> Result<AppListing> {
    Ok(match reach {
        Reach::Tenant => AppListing::All,
        Reach::Application(id) => AppListing::Among(vec![id]),
        // The column, not the `integration-system-id` label: the column is what every other
        // check of an integration system's reach reads.
        Reach::IntegrationSystem(id) => AppListing::Among(
            tx.application_ids_of_integration_system(tenant, id)
                .await
                .map_err(internal)?,
        ),
        Reach::Runtime(id) => {
            let scenarios = object_scenarios(tx, tenant, ObjectRef::Runtime(id)).await?;
            if scenarios.is_empty() {
                AppListing::Nothing
            } else {
                AppListing::Filter(LabelFilter {
                    key: SCENARIOS_KEY.to_owned(),
                    query: LabelQuery::AnyOf(scenarios),
                })
            }
        }
    })
}

/// Whether the consumer may read this application (which exists in the tenant).
pub async fn can_read_app(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    app: &sextant_domain::Application,
) -> Result<bool> {
    Ok(match reach {
        Reach::Tenant => true,
        Reach::Application(id) => app.id == id,
        Reach::IntegrationSystem(id) => app.integration_system_id == Some(id),
        Reach::Runtime(runtime) => {
            let theirs = object_scenarios(tx, tenant, ObjectRef::Runtime(runtime)).await?;
            let ours = object_scenarios(tx, tenant, ObjectRef::Application(app.id)).await?;
            ours.iter().any(|s| theirs.contains(s))
        }
    })
}

/// Requires that the consumer may change the application (and its children); an application
/// out of reach is reported as missing.
pub async fn writable_app(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    app: ApplicationId,
) -> Result<()> {
    let allowed = match reach {
        Reach::Tenant => true,
        Reach::Application(id) => id == app,
        Reach::Runtime(_) => false,
        Reach::IntegrationSystem(id) => tx
            .application(tenant, app)
            .await
            .map_err(internal)?
            .is_some_and(|a| a.integration_system_id == Some(id)),
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::not_found("application", app))
    }
}

/// Requires that the consumer may create applications, and fixes the integration system of
/// one an integration system creates (its own; naming another one is refused).
pub fn registering_app(
    reach: Reach,
    integration_system_id: &mut Option<IntegrationSystemId>,
) -> Result<()> {
    match reach {
        Reach::Tenant => Ok(()),
        Reach::Application(_) => Err(forbidden("an application cannot register applications")),
        Reach::Runtime(_) => Err(forbidden("a runtime cannot register applications")),
        Reach::IntegrationSystem(id) => match integration_system_id {
            None => {
                *integration_system_id = Some(id);
                Ok(())
            }
            Some(named) if *named == id => Ok(()),
            Some(_) => Err(forbidden(
                "an integration system can manage only its own applications: integrationSystemID must be its own ID",
            )),
        },
    }
}

/// Whether the consumer may read this runtime.
pub fn can_read_runtime(reach: Reach, runtime: RuntimeId) -> bool {
    match reach {
        Reach::Tenant => true,
        Reach::Runtime(id) => id == runtime,
        Reach::Application(_) | Reach::IntegrationSystem(_) => false,
    }
}

/// Requires that the consumer may set or delete the runtime's labels.
pub fn writable_runtime_labels(reach: Reach, runtime: RuntimeId) -> Result<()> {
    if can_read_runtime(reach, runtime) {
        Ok(())
    } else {
        Err(DomainError::not_found("runtime", runtime))
    }
}

/// Requires that the consumer may register, update or unregister runtimes.
pub fn managing_runtimes(reach: Reach) -> Result<()> {
    match reach {
        Reach::Tenant => Ok(()),
        _ => Err(forbidden(
            "only users manage runtimes; a runtime may change only its own labels",
        )),
    }
}

/// Requires that the consumer may create credentials (OAuth2 clients, pairing tokens) for an
/// application or runtime. An application or runtime may not create any for itself: a
/// leaked credential could otherwise mint siblings that outlive its own revocation. Users
/// do, and integration systems for the applications they manage.
pub fn creating_credentials(reach: Reach) -> Result<()> {
    match reach {
        Reach::Tenant | Reach::IntegrationSystem(_) => Ok(()),
        Reach::Application(_) => Err(forbidden(
            "an application cannot create credentials: a user or its integration system does",
        )),
        Reach::Runtime(_) => Err(forbidden(
            "a runtime cannot create credentials: a user does",
        )),
    }
}

/// Requires that the consumer may read the state of one-time tokens (`oneTimeTokenStatus`):
/// users only. The state tells when a client paired, which is the business of whoever
/// hands tokens out, not of the clients themselves.
pub fn reading_token_status(reach: Reach) -> Result<()> {
    match reach {
        Reach::Tenant => Ok(()),
        _ => Err(forbidden("only users read the state of one-time tokens")),
    }
}

/// Requires that the consumer may read the tenant's overview (`fleetOverview`): users
/// only. It counts objects beyond an application's, a runtime's or an integration system's
/// reach.
pub fn reading_overview(reach: Reach) -> Result<()> {
    match reach {
        Reach::Tenant => Ok(()),
        _ => Err(forbidden("only users read the tenant's overview")),
    }
}

/// Requires that the consumer may send webhook deliveries again (`resendWebhookDelivery`):
/// users only. An application's own certificate could otherwise make the management plane
/// call any of its URLs at will.
pub fn resending_deliveries(reach: Reach) -> Result<()> {
    match reach {
        Reach::Tenant => Ok(()),
        _ => Err(forbidden("only users send webhook deliveries again")),
    }
}

/// Requires that the consumer may request or delete credentials of a runtime.
pub fn runtime_credentials(reach: Reach, runtime: RuntimeId) -> Result<()> {
    writable_runtime_labels(reach, runtime)
}

/// Requires that the consumer may register integration systems or manage them (change,
/// unregister, grant or revoke access): users only.
pub fn managing_integration_systems(reach: Reach) -> Result<()> {
    match reach {
        Reach::Tenant => Ok(()),
        _ => Err(forbidden("only users manage integration systems")),
    }
}

/// A system the tenant owns: only its owner changes it, deletes it and makes its
/// credentials. One the tenant only granted access is forbidden; one it cannot see does not
/// exist.
pub async fn owned_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: IntegrationSystemId,
) -> Result<IntegrationSystem> {
    let system = tx
        .visible_integration_system(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("integration system", id))?;
    if system.owner != tenant {
        return Err(DomainError::Forbidden(format!(
            "integration system with ID \"{id}\" belongs to another tenant: only its owner \
             changes it, deletes it or makes its credentials"
        )));
    }
    Ok(system)
}

/// Requires that the consumer may request or delete credentials of an integration system:
/// the users of the tenant that owns it, or the system itself. A credential of a system acts
/// in every tenant that granted it, so a tenant that only granted it cannot make one.
pub async fn integration_system_credentials(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    system: IntegrationSystemId,
) -> Result<()> {
    match reach {
        Reach::Tenant => owned_integration_system(tx, tenant, system)
            .await
            .map(|_| ()),
        Reach::IntegrationSystem(id) if id == system => Ok(()),
        _ => Err(DomainError::not_found("integration system", system)),
    }
}

/// Whether the consumer may see the system auths of an integration system: the users of its
/// owner, or the system itself.
pub fn can_read_integration_system_auths(
    tenant: TenantId,
    reach: Reach,
    system: &IntegrationSystem,
) -> bool {
    match reach {
        Reach::Tenant => system.owner == tenant,
        Reach::IntegrationSystem(id) => id == system.id,
        _ => false,
    }
}
