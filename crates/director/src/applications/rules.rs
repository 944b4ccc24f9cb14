//! The rules of applications: registering one (with its labels and its catalog, prepared
//! beforehand), updating its scalar fields, and unregistering it.

use std::collections::BTreeMap;

use serde_json::Value;
use sextant_domain::Name;
use sextant_domain::label::{DEFAULT_SCENARIO, INTEGRATION_SYSTEM_KEY, SCENARIOS_KEY};
use sextant_domain::{
    Application, ApplicationId, ApplicationStatusCondition, DomainError, IntegrationSystemId,
    ObjectRef, SystemAuthOwner, TenantId,
};
use sextant_store::{CertificatesOf, StoreError, Tx};

use crate::catalog::apis::inputs::ApiDraft;
use crate::catalog::children::{Children, insert_children};
use crate::catalog::documents::inputs::DocumentDraft;
use crate::catalog::events::inputs::EventDraft;
use crate::catalog::webhooks::inputs::WebhookDraft;
use crate::clock::now_micros;
use crate::error::internal;
use crate::labels::rules::{put_label, put_labels};
use crate::notify;
use crate::objects::labels_of;
use crate::scenarios::scenarios_of;

type Result<T> = std::result::Result<T, DomainError>;

/// A validated application registration.
#[derive(Clone, Debug)]
pub struct NewApplication {
    pub name: Name,
    pub provider_name: String,
    pub description: Option<String>,
    pub health_check_url: Option<String>,
    pub integration_system_id: Option<IntegrationSystemId>,
    pub labels: BTreeMap<String, Value>,
    pub apis: Vec<ApiDraft>,
    pub events: Vec<EventDraft>,
    pub documents: Vec<DocumentDraft>,
    pub webhooks: Vec<WebhookDraft>,
}

/// A validated application update (scalar fields only, as in Compass).
#[derive(Clone, Debug)]
pub struct ApplicationUpdate {
    pub name: Name,
    pub provider_name: String,
    pub description: Option<String>,
    pub health_check_url: Option<String>,
    pub integration_system_id: Option<IntegrationSystemId>,
}

/// Requires that an application may name the integration system: one the tenant owns or
/// granted access (any other looks like a missing one).
async fn require_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Option<IntegrationSystemId>,
) -> Result<()> {
    if let Some(id) = id
        && tx
            .visible_integration_system(tenant, id)
            .await
            .map_err(internal)?
            .is_none()
    {
        return Err(DomainError::not_found("integration system", id));
    }
    Ok(())
}

fn app_not_unique(name: &Name) -> impl FnOnce(StoreError) -> DomainError + '_ {
    move |e| match e {
        StoreError::NotUnique => DomainError::NotUnique(format!(
            "application name \"{name}\" is not unique in the tenant"
        )),
        other => internal(other),
    }
}

/// `registerApplication`: the application, its labels (`scenarios` defaults to `DEFAULT`),
/// the `integration-system-id` label, and its children (prepared, and fetched, beforehand by
/// `catalog::children::prepare_children`).
pub async fn register_application(
    tx: &mut dyn Tx,
    tenant: TenantId,
    input: NewApplication,
    children: Children,
) -> Result<Application> {
    require_integration_system(tx, tenant, input.integration_system_id).await?;
    // No `ensure_scenarios_definition`: the labels always hold `scenarios`, whose definition
    // setting them makes if it is missing.
    let mut labels = input.labels;
    labels
        .entry(SCENARIOS_KEY.to_owned())
        .or_insert_with(|| Value::from(vec![DEFAULT_SCENARIO]));
    let id = ApplicationId::new_v4();
    // Fan-outs concern only applications with a webhook.
    if !children.webhooks.is_empty() {
        notify::settle_for_application(tx, tenant, id, Some(&scenarios_of(&labels))).await?;
    }
    let now = now_micros();
    let app = Application {
        id,
        tenant,
        name: input.name,
        provider_name: input.provider_name,
        description: input.description,
        health_check_url: input.health_check_url,
        integration_system_id: input.integration_system_id,
        status_condition: ApplicationStatusCondition::Initial,
        status_timestamp: now,
        created_at: now,
    };
    tx.insert_application(&app)
        .await
        .map_err(app_not_unique(&app.name))?;
    let object = ObjectRef::Application(app.id);
    labels.insert(
        INTEGRATION_SYSTEM_KEY.to_owned(),
        Value::from(
            app.integration_system_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        ),
    );
    put_labels(
        tx,
        tenant,
        object,
        labels.iter().map(|(key, value)| (key.as_str(), value)),
    )
    .await?;
    let mut children = children;
    insert_children(tx, app.id, &mut children).await?;
    // A new application's only webhooks are those just registered: without any, no runtime
    // has anyone to ask for credentials.
    if !children.webhooks.is_empty() {
        let scenarios: Vec<String> = scenarios_of(&labels).into_iter().collect();
        notify::apis_added_in(tx, tenant, app.id, &children.apis, &scenarios).await?;
    }
    Ok(app)
}

/// `updateApplication`: scalar fields only; re-sets the `integration-system-id` label.
pub async fn update_application(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: ApplicationId,
    input: ApplicationUpdate,
) -> Result<Application> {
    let mut app = tx
        .application(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("application", id))?;
    require_integration_system(tx, tenant, input.integration_system_id).await?;
    app.name = input.name;
    app.provider_name = input.provider_name;
    app.description = input.description;
    app.health_check_url = input.health_check_url;
    app.integration_system_id = input.integration_system_id;
    tx.update_application(&app)
        .await
        .map_err(app_not_unique(&app.name))?;
    let object = ObjectRef::Application(id);
    let is_label = Value::from(id_or_empty(app.integration_system_id));
    put_label(tx, tenant, object, INTEGRATION_SYSTEM_KEY, &is_label).await?;
    Ok(app)
}

fn id_or_empty(id: Option<IntegrationSystemId>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

/// `unregisterApplication`: returns the application and the labels it had.
pub async fn unregister_application(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: ApplicationId,
) -> Result<(Application, BTreeMap<String, Value>)> {
    let app = tx
        .application(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("application", id))?;
    let labels = labels_of(tx, tenant, ObjectRef::Application(id)).await?;
    notify::settle_for_application(tx, tenant, id, Some(&scenarios_of(&labels))).await?;
    tx.revoke_certificates_of(
        tenant,
        CertificatesOf::Owner(SystemAuthOwner::Application(id)),
        now_micros(),
    )
    .await
    .map_err(internal)?;
    tx.delete_application(tenant, id).await.map_err(internal)?;
    Ok((app, labels))
}
