//! The Director's rules, over one store transaction. Resolvers validate wire input into the
//! types here, open a transaction, call one of these functions and commit: a failure anywhere
//! leaves the store unchanged.

use std::collections::BTreeMap;

use serde_json::Value;
use sextant_domain::label::{
    DEFAULT_SCENARIO, INTEGRATION_SYSTEM_KEY, LabelFilter, LabelQuery, LabelSchema, SCENARIOS_KEY,
    default_scenarios_schema, validate_key, validate_value as validate_label_value,
};
use sextant_domain::{
    Application, ApplicationStatusCondition, ApplicationTemplate, Consumer, DomainError,
    FieldError, IntegrationSystem, LabelDefinition, ObjectKind, ObjectRef, Page, PageRequest,
    Placeholder, Runtime, RuntimeStatusCondition, Scope, TenantId,
};
use sextant_store::{StoreError, Tx};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

/// Largest label value, as JSON text.
pub const MAX_LABEL_VALUE_BYTES: usize = 16 * 1024;

/// A validated application registration.
#[derive(Clone, Debug)]
pub struct NewApplication {
    pub name: String,
    pub provider_name: String,
    pub description: Option<String>,
    pub health_check_url: Option<String>,
    pub integration_system_id: Option<Uuid>,
    pub labels: BTreeMap<String, Value>,
    pub apis: Vec<crate::catalog_inputs::ApiDraft>,
    pub events: Vec<crate::catalog_inputs::EventDraft>,
    pub documents: Vec<crate::catalog_inputs::DocumentDraft>,
    pub webhooks: Vec<crate::catalog_inputs::WebhookDraft>,
}

/// A validated application update (scalar fields only, as in Compass).
#[derive(Clone, Debug)]
pub struct ApplicationUpdate {
    pub name: String,
    pub provider_name: String,
    pub description: Option<String>,
    pub health_check_url: Option<String>,
    pub integration_system_id: Option<Uuid>,
}

/// A validated runtime registration or update.
#[derive(Clone, Debug)]
pub struct RuntimeInput {
    pub name: String,
    pub description: Option<String>,
    pub labels: BTreeMap<String, Value>,
}

/// The current time at the precision the store keeps (microseconds), so that what a mutation
/// returns equals what a later query reads.
pub(crate) fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

fn object_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Application => "application",
        ObjectKind::Runtime => "runtime",
    }
}

// --- labels and label definitions ---

/// Creates the tenant's `scenarios` definition with the default schema if it is missing.
pub async fn ensure_scenarios_definition(tx: &mut dyn Tx, tenant: TenantId) -> Result<()> {
    tx.ensure_label_definition(
        tenant,
        &LabelDefinition {
            key: SCENARIOS_KEY.to_owned(),
            schema: Some(default_scenarios_schema()),
        },
    )
    .await
    .map_err(internal)?;
    Ok(())
}

/// Checks that an object exists in the tenant.
async fn require_object(tx: &mut dyn Tx, tenant: TenantId, object: ObjectRef) -> Result<()> {
    let exists = match object.kind {
        ObjectKind::Application => tx
            .application(tenant, object.id)
            .await
            .map_err(internal)?
            .is_some(),
        ObjectKind::Runtime => tx
            .runtime(tenant, object.id)
            .await
            .map_err(internal)?
            .is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(DomainError::not_found(object_name(object.kind), object.id))
    }
}

/// Sets a label on an object that is known to exist: creates a schema-less definition for a
/// new key (the default one for `scenarios`), else validates the value against the definition.
async fn put_label(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
    key: &str,
    value: &Value,
) -> Result<()> {
    put_labels(tx, tenant, object, [(key, value)]).await
}

/// Why a label cannot be set, before any definition is read: its key or value is malformed.
fn malformed_label(key: &str, value: &Value) -> Option<DomainError> {
    let label_error =
        |field: &str, m: String| DomainError::from(FieldError::new("LabelInput", field, m));
    if let Err(m) = validate_key(key) {
        return Some(label_error("key", format!("label key {key:?} {m}")));
    }
    if value.is_null() {
        return Some(label_error(
            "value",
            format!("value of label {key:?} cannot be blank"),
        ));
    }
    if let Err(m) = validate_label_value(value) {
        return Some(label_error("value", format!("value of label {key:?} {m}")));
    }
    if value.to_string().len() > MAX_LABEL_VALUE_BYTES {
        return Some(label_error(
            "value",
            format!("value of label {key:?} is larger than {MAX_LABEL_VALUE_BYTES} bytes of JSON"),
        ));
    }
    None
}

/// The definition of `key` (of those read in advance), made with the default schema (the
/// `scenarios` one for that key, none for others) if the key has none yet.
async fn definition_for(
    tx: &mut dyn Tx,
    tenant: TenantId,
    key: &str,
    read: &mut Vec<LabelDefinition>,
) -> Result<LabelDefinition> {
    if let Some(at) = read.iter().position(|d| d.key == key) {
        return Ok(read.swap_remove(at));
    }
    let definition = LabelDefinition {
        key: key.to_owned(),
        schema: (key == SCENARIOS_KEY).then(default_scenarios_schema),
    };
    if tx
        .ensure_label_definition(tenant, &definition)
        .await
        .map_err(internal)?
    {
        return Ok(definition);
    }
    // Someone else created the definition meanwhile (perhaps with a schema): validate against
    // theirs.
    tx.label_definition(tenant, key)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            DomainError::Invalid(format!(
                "label definition {key:?} changed concurrently; retry"
            ))
        })
}

/// Sets labels of an object (distinct keys, in order), each validated against its key's
/// definition (made if missing), in a number of statements that does not grow with the
/// labels': their definitions read in one, the labels written in one. The first label in
/// order that is refused is the error, as if they were set one after another; nothing is
/// written then.
async fn put_labels<'a>(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
    labels: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<()> {
    // Malformed keys never reach the store (PostgreSQL refuses a NUL in text).
    let mut wellformed = Vec::new();
    let mut malformed = None;
    for (key, value) in labels {
        if let Some(e) = malformed_label(key, value) {
            malformed = Some(e);
            break;
        }
        wellformed.push((key, value));
    }
    if !wellformed.is_empty() {
        let keys: Vec<&str> = wellformed.iter().map(|(key, _)| *key).collect();
        let mut read = tx
            .label_definitions_of(tenant, &keys)
            .await
            .map_err(internal)?;
        for (key, value) in &wellformed {
            let definition = definition_for(tx, tenant, key, &mut read).await?;
            if let Some(schema) = &definition.schema {
                let compiled = LabelSchema::compile(key, schema).map_err(|e| {
                    DomainError::Invalid(format!(
                        "stored schema of label {key:?} is not usable: {e}"
                    ))
                })?;
                compiled.check(value).map_err(|e| {
                    DomainError::from(FieldError::new(
                        "LabelInput",
                        "value",
                        format!(
                            "while validating Label value for '{key}': the value does not match the JSON schema of label definition \"{key}\" ({schema}): {e}"
                        ),
                    ))
                })?;
            }
        }
    }
    if let Some(e) = malformed {
        return Err(e);
    }
    tx.set_labels(tenant, object, &wellformed)
        .await
        .map_err(|e| match e {
            StoreError::ForeignKey => DomainError::not_found(object_name(object.kind), object.id),
            other => internal(other),
        })
}

/// `setApplicationLabel` / `setRuntimeLabel`.
pub async fn set_label(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
    key: &str,
    value: &Value,
) -> Result<()> {
    require_object(tx, tenant, object).await?;
    let before = Watched::before(tx, tenant, object, key, Some(value)).await?;
    put_label(tx, tenant, object, key, value).await?;
    before.after(tx, tenant, object).await
}

/// What a label change may tell applications (see [`crate::notify`]): a runtime's scenarios
/// or eventing URL, an application's scenarios.
enum Watched {
    Nothing,
    Runtime(Option<crate::notify::RuntimeFacts>),
    AppScenarios(std::collections::BTreeSet<String>),
}

impl Watched {
    /// What the object is before the label `key` is set to `value` (None: deleted); a
    /// change of scenarios first settles the waiting fan-outs it concerns.
    async fn before(
        tx: &mut dyn Tx,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
        value: Option<&Value>,
    ) -> Result<Watched> {
        let changing = |before: &std::collections::BTreeSet<String>| {
            let mut all = before.clone();
            all.extend(value.map(crate::notify::scenarios_in).unwrap_or_default());
            all
        };
        Ok(match object.kind {
            ObjectKind::Runtime
                if key == SCENARIOS_KEY || key == crate::catalog::EVENT_SERVICE_URL_KEY =>
            {
                let facts = crate::notify::runtime_facts(tx, tenant, object.id).await?;
                if key == SCENARIOS_KEY {
                    let before = facts
                        .as_ref()
                        .map(|f| f.scenarios.clone())
                        .unwrap_or_default();
                    crate::notify::settle_for_runtime(
                        tx,
                        tenant,
                        object.id,
                        &changing(&before),
                        false,
                    )
                    .await?;
                }
                Watched::Runtime(facts)
            }
            ObjectKind::Application if key == SCENARIOS_KEY => {
                let before = crate::notify::app_scenarios(tx, tenant, object.id).await?;
                crate::notify::settle_for_application(
                    tx,
                    tenant,
                    object.id,
                    Some(&changing(&before)),
                )
                .await?;
                Watched::AppScenarios(before)
            }
            _ => Watched::Nothing,
        })
    }

    async fn after(self, tx: &mut dyn Tx, tenant: TenantId, object: ObjectRef) -> Result<()> {
        match self {
            Watched::Nothing => Ok(()),
            Watched::Runtime(before) => {
                let after = crate::notify::runtime_facts(tx, tenant, object.id).await?;
                crate::notify::runtime_changed(tx, tenant, object.id, before, after).await
            }
            Watched::AppScenarios(before) => {
                let after = crate::notify::app_scenarios(tx, tenant, object.id).await?;
                crate::notify::app_scenarios_changed(tx, tenant, object.id, &before, &after).await
            }
        }
    }
}

/// `deleteApplicationLabel` / `deleteRuntimeLabel`: returns the removed value.
pub async fn delete_label(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
    key: &str,
) -> Result<Value> {
    require_object(tx, tenant, object).await?;
    if object.kind == ObjectKind::Application && key == SCENARIOS_KEY {
        return Err(DomainError::Invalid(
            "scenarios label can not be deleted from application".to_owned(),
        ));
    }
    let before = Watched::before(tx, tenant, object, key, None).await?;
    let removed = tx
        .delete_label(tenant, object, key)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            DomainError::NotFound(format!(
                "label with key \"{key}\" does not exist on {} with ID \"{}\"",
                object_name(object.kind),
                object.id
            ))
        })?;
    before.after(tx, tenant, object).await?;
    Ok(removed)
}

fn parse_schema_text(key: &str, schema: Option<&str>) -> Result<Option<Value>> {
    let Some(text) = schema else { return Ok(None) };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        DomainError::Validation(sextant_domain::FieldError::new(
            "LabelDefinitionInput",
            "schema",
            format!("is not valid JSON: {e}"),
        ))
    })?;
    LabelSchema::compile(key, &value).map_err(|e| {
        DomainError::Validation(sextant_domain::FieldError::new(
            "LabelDefinitionInput",
            "schema",
            e,
        ))
    })?;
    Ok(Some(value))
}

fn validate_definition_key(key: &str) -> Result<()> {
    validate_key(key).map_err(|m| {
        DomainError::Validation(sextant_domain::FieldError::new(
            "LabelDefinitionInput",
            "key",
            m,
        ))
    })
}

/// `createLabelDefinition`.
pub async fn create_label_definition(
    tx: &mut dyn Tx,
    tenant: TenantId,
    key: &str,
    schema: Option<&str>,
) -> Result<LabelDefinition> {
    validate_definition_key(key)?;
    let schema = parse_schema_text(key, schema)?;
    if key == SCENARIOS_KEY && schema.is_none() {
        return Err(DomainError::Invalid(
            "label definition \"scenarios\" requires a schema".to_owned(),
        ));
    }
    let definition = LabelDefinition {
        key: key.to_owned(),
        schema,
    };
    tx.insert_label_definition(tenant, &definition)
        .await
        .map_err(|e| match e {
            StoreError::NotUnique => {
                DomainError::NotUnique(format!("label definition with key \"{key}\" is not unique"))
            }
            other => internal(other),
        })?;
    Ok(definition)
}

/// `updateLabelDefinition`: every existing label with the key must satisfy the new schema.
pub async fn update_label_definition(
    tx: &mut dyn Tx,
    tenant: TenantId,
    key: &str,
    schema: Option<&str>,
) -> Result<LabelDefinition> {
    validate_definition_key(key)?;
    let schema = parse_schema_text(key, schema)?;
    if key == SCENARIOS_KEY && schema.is_none() {
        return Err(DomainError::Invalid(
            "label definition \"scenarios\" requires a schema".to_owned(),
        ));
    }
    let definition = LabelDefinition {
        key: key.to_owned(),
        schema,
    };
    // Update first: on PostgreSQL this takes the row lock that label writers share-lock, so
    // the labels read below include every label validated against the old schema.
    if !tx
        .update_label_definition(tenant, &definition)
        .await
        .map_err(internal)?
    {
        return Err(DomainError::NotFound(format!(
            "label definition with key \"{key}\" does not exist"
        )));
    }
    if let Some(schema) = &definition.schema {
        let compiled = LabelSchema::compile(key, schema).map_err(DomainError::Invalid)?;
        for (object, value) in tx.labels_with_key(tenant, key).await.map_err(internal)? {
            compiled.check(&value).map_err(|e| {
                DomainError::Invalid(format!(
                    "label with key \"{key}\" is not valid against new schema for {} with ID \"{}\": {e}",
                    object.kind.as_str(),
                    object.id
                ))
            })?;
        }
    }
    Ok(definition)
}

/// `deleteLabelDefinition`.
pub async fn delete_label_definition(
    tx: &mut dyn Tx,
    tenant: TenantId,
    key: &str,
    delete_related_labels: bool,
) -> Result<LabelDefinition> {
    if key == SCENARIOS_KEY {
        return Err(DomainError::Invalid(
            "label definition with key \"scenarios\" can not be deleted".to_owned(),
        ));
    }
    // Delete first: on PostgreSQL this takes the row lock that label writers share-lock, so
    // no label can be added under the old definition after the check below. If the check
    // fails, the transaction rolls the deletion back.
    let definition = tx
        .delete_label_definition(tenant, key)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            DomainError::NotFound(format!(
                "label definition with key \"{key}\" does not exist"
            ))
        })?;
    if delete_related_labels {
        tx.delete_labels_with_key(tenant, key)
            .await
            .map_err(internal)?;
    } else if !tx
        .labels_with_key(tenant, key)
        .await
        .map_err(internal)?
        .is_empty()
    {
        return Err(DomainError::InUse(
            "could not delete label definition, it is already used by at least one label"
                .to_owned(),
        ));
    }
    Ok(definition)
}

// --- applications ---

/// Requires that an application may name the integration system: one the tenant owns or
/// granted access (any other looks like a missing one).
async fn require_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Option<Uuid>,
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

fn app_not_unique(name: &str) -> impl FnOnce(StoreError) -> DomainError + '_ {
    move |e| match e {
        StoreError::NotUnique => DomainError::NotUnique(format!(
            "application name \"{name}\" is not unique in the tenant"
        )),
        other => internal(other),
    }
}

/// `registerApplication`: the application, its labels (`scenarios` defaults to `DEFAULT`),
/// the `integration-system-id` label, and its children (prepared, and fetched, beforehand by
/// [`crate::catalog::prepare_children`]).
pub async fn register_application(
    tx: &mut dyn Tx,
    tenant: TenantId,
    input: NewApplication,
    children: crate::catalog::Children,
) -> Result<Application> {
    require_integration_system(tx, tenant, input.integration_system_id).await?;
    // No `ensure_scenarios_definition`: the labels always hold `scenarios`, whose definition
    // setting them makes if it is missing.
    let mut labels = input.labels;
    labels
        .entry(SCENARIOS_KEY.to_owned())
        .or_insert_with(|| Value::from(vec![DEFAULT_SCENARIO]));
    let id = Uuid::new_v4();
    // Fan-outs concern only applications with a webhook.
    if !children.webhooks.is_empty() {
        crate::notify::settle_for_application(
            tx,
            tenant,
            id,
            Some(&crate::notify::scenarios_of(&labels)),
        )
        .await?;
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
    let object = ObjectRef {
        kind: ObjectKind::Application,
        id: app.id,
    };
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
    crate::catalog::insert_children(tx, app.id, &mut children).await?;
    // A new application's only webhooks are those just registered: without any, no runtime
    // has anyone to ask for credentials.
    if !children.webhooks.is_empty() {
        let scenarios: Vec<String> = crate::notify::scenarios_of(&labels).into_iter().collect();
        crate::notify::apis_added_in(tx, tenant, app.id, &children.apis, &scenarios).await?;
    }
    Ok(app)
}

/// `updateApplication`: scalar fields only; re-sets the `integration-system-id` label.
pub async fn update_application(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
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
    let object = ObjectRef {
        kind: ObjectKind::Application,
        id,
    };
    let is_label = Value::from(id_or_empty(app.integration_system_id));
    put_label(tx, tenant, object, INTEGRATION_SYSTEM_KEY, &is_label).await?;
    Ok(app)
}

fn id_or_empty(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

/// The labels of one object as a map.
pub async fn labels_of(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
) -> Result<BTreeMap<String, Value>> {
    Ok(tx
        .labels(tenant, object.kind, &[object.id])
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(_, key, value)| (key, value))
        .collect())
}

/// `unregisterApplication`: returns the application and the labels it had.
pub async fn unregister_application(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
) -> Result<(Application, BTreeMap<String, Value>)> {
    let app = tx
        .application(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("application", id))?;
    let labels = labels_of(
        tx,
        tenant,
        ObjectRef {
            kind: ObjectKind::Application,
            id,
        },
    )
    .await?;
    crate::notify::settle_for_application(
        tx,
        tenant,
        id,
        Some(&crate::notify::scenarios_of(&labels)),
    )
    .await?;
    tx.revoke_certificates_of(
        tenant,
        sextant_store::CertificatesOf::Owner(sextant_store::OwnerKind::Application, id),
        now_micros(),
    )
    .await
    .map_err(internal)?;
    tx.delete_application(tenant, id).await.map_err(internal)?;
    Ok((app, labels))
}

/// `applicationsForRuntime`: the tenant's applications that share a scenario with the runtime.
pub async fn applications_for_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Application>> {
    if tx
        .runtime(tenant, runtime_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(DomainError::NotFound("runtime does not exist".to_owned()));
    }
    let scenarios = labels_of(
        tx,
        tenant,
        ObjectRef {
            kind: ObjectKind::Runtime,
            id: runtime_id,
        },
    )
    .await?
    .remove(SCENARIOS_KEY);
    let values: Vec<String> = match scenarios {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if values.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            total_count: 0,
            has_next_page: false,
        });
    }
    let filter = LabelFilter {
        key: SCENARIOS_KEY.to_owned(),
        query: LabelQuery::AnyOf(values),
    };
    tx.applications(tenant, &[filter], page)
        .await
        .map_err(internal)
}

// --- runtimes ---

fn runtime_not_unique(name: &str) -> impl FnOnce(StoreError) -> DomainError + '_ {
    move |e| match e {
        StoreError::NotUnique => DomainError::NotUnique(format!(
            "runtime name \"{name}\" is not unique in the tenant"
        )),
        other => internal(other),
    }
}

/// The longest status message a runtime may report.
pub const MAX_STATUS_MESSAGE: usize = 1024;

/// `setRuntimeStatus`: the runtime's condition and why, stamped now.
pub async fn set_runtime_status(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
    condition: RuntimeStatusCondition,
    message: Option<String>,
) -> Result<Runtime> {
    if message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_STATUS_MESSAGE)
    {
        return Err(DomainError::Invalid(format!(
            "validation error for type setRuntimeStatus: message: at most {MAX_STATUS_MESSAGE} characters"
        )));
    }
    let mut runtime = tx
        .runtime(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("runtime", id))?;
    let object = ObjectRef {
        kind: ObjectKind::Runtime,
        id,
    };
    let before = crate::notify::RuntimeFacts::of(&runtime, &labels_of(tx, tenant, object).await?);
    runtime.status_condition = condition;
    runtime.status_timestamp = now_micros();
    runtime.status_message = message;
    tx.update_runtime(&runtime).await.map_err(internal)?;
    // Only the status changed: the labels are those just read.
    let after = crate::notify::RuntimeFacts {
        ready: condition == RuntimeStatusCondition::Ready,
        ..before.clone()
    };
    crate::notify::runtime_changed(tx, tenant, id, Some(before), Some(after)).await?;
    Ok(runtime)
}

/// `registerRuntime`. Runtimes have no default scenario.
pub async fn register_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    input: RuntimeInput,
) -> Result<Runtime> {
    ensure_scenarios_definition(tx, tenant).await?;
    let id = Uuid::new_v4();
    crate::notify::settle_for_runtime(
        tx,
        tenant,
        id,
        &crate::notify::scenarios_of(&input.labels),
        false,
    )
    .await?;
    let now = now_micros();
    let runtime = Runtime {
        id,
        tenant,
        name: input.name,
        description: input.description,
        status_condition: RuntimeStatusCondition::Initial,
        status_timestamp: now,
        status_message: None,
        created_at: now,
    };
    tx.insert_runtime(&runtime)
        .await
        .map_err(runtime_not_unique(&runtime.name))?;
    let object = ObjectRef {
        kind: ObjectKind::Runtime,
        id: runtime.id,
    };
    put_labels(
        tx,
        tenant,
        object,
        input
            .labels
            .iter()
            .map(|(key, value)| (key.as_str(), value)),
    )
    .await?;
    let after = crate::notify::runtime_facts(tx, tenant, runtime.id).await?;
    crate::notify::runtime_changed(tx, tenant, runtime.id, None, after).await?;
    Ok(runtime)
}

/// `updateRuntime`: as in Compass, the labels are replaced by the input's labels.
pub async fn update_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
    input: RuntimeInput,
) -> Result<Runtime> {
    let before = crate::notify::runtime_facts(tx, tenant, id).await?;
    let mut runtime = tx
        .runtime(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("runtime", id))?;
    let mut changing = crate::notify::scenarios_of(&input.labels);
    changing.extend(before.iter().flat_map(|f| f.scenarios.iter().cloned()));
    crate::notify::settle_for_runtime(tx, tenant, id, &changing, false).await?;
    runtime.name = input.name;
    runtime.description = input.description;
    tx.update_runtime(&runtime)
        .await
        .map_err(runtime_not_unique(&runtime.name))?;
    let object = ObjectRef {
        kind: ObjectKind::Runtime,
        id,
    };
    tx.delete_all_labels(tenant, object)
        .await
        .map_err(internal)?;
    put_labels(
        tx,
        tenant,
        object,
        input
            .labels
            .iter()
            .map(|(key, value)| (key.as_str(), value)),
    )
    .await?;
    let after = crate::notify::runtime_facts(tx, tenant, id).await?;
    crate::notify::runtime_changed(tx, tenant, id, before, after).await?;
    Ok(runtime)
}

/// `unregisterRuntime`: returns the runtime and the labels it had.
pub async fn unregister_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
) -> Result<(Runtime, BTreeMap<String, Value>)> {
    let runtime = tx
        .runtime(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("runtime", id))?;
    let labels = labels_of(
        tx,
        tenant,
        ObjectRef {
            kind: ObjectKind::Runtime,
            id,
        },
    )
    .await?;
    tx.revoke_certificates_of(
        tenant,
        sextant_store::CertificatesOf::Owner(sextant_store::OwnerKind::Runtime, id),
        now_micros(),
    )
    .await
    .map_err(internal)?;
    let before = crate::notify::RuntimeFacts::of(&runtime, &labels);
    crate::notify::settle_for_runtime(tx, tenant, id, &before.scenarios, true).await?;
    tx.delete_runtime(tenant, id).await.map_err(internal)?;
    crate::notify::runtime_changed(tx, tenant, id, Some(before), None).await?;
    Ok((runtime, labels))
}

// --- integration systems ---

fn system_not_unique(name: &str) -> impl FnOnce(StoreError) -> DomainError + '_ {
    move |e| match e {
        StoreError::NotUnique => {
            DomainError::NotUnique(format!("integration system name \"{name}\" is not unique"))
        }
        other => internal(other),
    }
}

/// `registerIntegrationSystem`: the caller's tenant owns the system and grants it access.
pub async fn register_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    name: String,
    description: Option<String>,
) -> Result<IntegrationSystem> {
    let system = IntegrationSystem {
        id: Uuid::new_v4(),
        name,
        description,
        owner: tenant,
    };
    tx.insert_integration_system(&system)
        .await
        .map_err(system_not_unique(&system.name))?;
    tx.grant_integration_system(tenant, system.id, now_micros())
        .await
        .map_err(internal)?;
    Ok(system)
}

/// A system the tenant owns: only its owner changes it, deletes it and makes its
/// credentials. One the tenant only granted access is forbidden; one it cannot see does not
/// exist.
pub async fn owned_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
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

/// `updateIntegrationSystem`: by its owner.
pub async fn update_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
    name: String,
    description: Option<String>,
) -> Result<IntegrationSystem> {
    let system = IntegrationSystem {
        name,
        description,
        ..owned_integration_system(tx, tenant, id).await?
    };
    if !tx
        .update_integration_system(&system)
        .await
        .map_err(system_not_unique(&system.name))?
    {
        return Err(DomainError::not_found("integration system", id));
    }
    Ok(system)
}

/// `unregisterIntegrationSystem`: by its owner; refused while any application (of any
/// tenant) names it.
pub async fn unregister_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
) -> Result<IntegrationSystem> {
    let system = owned_integration_system(tx, tenant, id).await?;
    let in_use = || {
        DomainError::InUse(format!(
            "integration system with ID \"{id}\" is still used by applications"
        ))
    };
    if tx
        .count_applications_of_integration_system(id)
        .await
        .map_err(internal)?
        > 0
    {
        return Err(in_use());
    }
    tx.delete_integration_system(id)
        .await
        .map_err(|e| match e {
            StoreError::ForeignKey => in_use(),
            other => internal(other),
        })?;
    Ok(system)
}

/// `grantIntegrationSystemAccess`: lets the system act in the caller's tenant (its owner
/// hands out the id). Granting again changes nothing.
pub async fn grant_integration_system_access(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
) -> Result<IntegrationSystem> {
    let system = tx
        .integration_system(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("integration system", id))?;
    tx.grant_integration_system(tenant, id, now_micros())
        .await
        .map_err(|e| match e {
            StoreError::ForeignKey => DomainError::not_found("integration system", id),
            other => internal(other),
        })?;
    Ok(system)
}

/// `revokeIntegrationSystemAccess`: the system no longer acts in the caller's tenant; its
/// clients are refused from their next request on. The applications it managed stay, with
/// their `integrationSystemID`, for the tenant's users to change.
pub async fn revoke_integration_system_access(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: Uuid,
) -> Result<IntegrationSystem> {
    let system = tx
        .visible_integration_system(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("integration system", id))?;
    if !tx
        .revoke_integration_system(tenant, id)
        .await
        .map_err(internal)?
    {
        return Err(DomainError::NotFound(format!(
            "integration system with ID \"{id}\" has no access to this tenant"
        )));
    }
    Ok(system)
}

// --- application templates ---

fn template_not_unique(name: &str) -> impl FnOnce(StoreError) -> DomainError + '_ {
    move |e| match e {
        StoreError::NotUnique => DomainError::NotUnique(format!(
            "application template name \"{name}\" is not unique"
        )),
        other => internal(other),
    }
}

/// Requires that the caller may write global templates: an operator's scope.
fn operator(caller: &Consumer) -> Result<()> {
    caller.require(&[Scope::ApplicationTemplateGlobal])
}

/// `createApplicationTemplate`: in the caller's tenant (`template.tenant`), or global for an
/// operator.
pub async fn create_application_template(
    tx: &mut dyn Tx,
    caller: &Consumer,
    mut template: ApplicationTemplate,
) -> Result<ApplicationTemplate> {
    if template.tenant.is_none() {
        operator(caller)?;
    }
    template.id = Uuid::new_v4();
    tx.insert_application_template(&template)
        .await
        .map_err(template_not_unique(&template.name))?;
    Ok(template)
}

/// The template the caller may change or delete: its tenant's own, or a global one for an
/// operator. Another tenant's template does not exist for it.
async fn writable_template(
    tx: &mut dyn Tx,
    caller: &Consumer,
    id: Uuid,
) -> Result<ApplicationTemplate> {
    let current = tx
        .application_template(caller.tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("application template", id))?;
    if current.tenant.is_none() {
        operator(caller)?;
    }
    Ok(current)
}

/// `updateApplicationTemplate`: `template.tenant` is where it goes (the caller's tenant, or
/// global for an operator).
pub async fn update_application_template(
    tx: &mut dyn Tx,
    caller: &Consumer,
    template: ApplicationTemplate,
) -> Result<ApplicationTemplate> {
    writable_template(tx, caller, template.id).await?;
    if template.tenant.is_none() {
        operator(caller)?;
    }
    if !tx
        .update_application_template(&template)
        .await
        .map_err(template_not_unique(&template.name))?
    {
        return Err(DomainError::not_found("application template", template.id));
    }
    Ok(template)
}

/// `deleteApplicationTemplate`: the caller's tenant's template, or a global one for an
/// operator.
pub async fn delete_application_template(
    tx: &mut dyn Tx,
    caller: &Consumer,
    id: Uuid,
) -> Result<ApplicationTemplate> {
    let template = writable_template(tx, caller, id).await?;
    tx.delete_application_template(id).await.map_err(internal)?;
    Ok(template)
}

/// Checks a template's placeholders: unique names, each used as `{{name}}` in the input.
pub fn check_placeholders(
    application_input: &str,
    placeholders: &[Placeholder],
) -> std::result::Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for placeholder in placeholders {
        if placeholder.name.trim().is_empty() {
            return Err("placeholder name cannot be blank".to_owned());
        }
        // Compass's words (`ensurePlaceholdersUnique`, `ensurePlaceholdersUsed`).
        if !seen.insert(placeholder.name.as_str()) {
            return Err(format!(
                "placeholder [name={}] not unique",
                placeholder.name
            ));
        }
        if !application_input.contains(&format!("{{{{{}}}}}", placeholder.name)) {
            return Err(format!(
                "application input does not use provided placeholder [name={}]",
                placeholder.name
            ));
        }
    }
    Ok(())
}

/// Fills a template's placeholders and returns the JSON text of the application input. Values
/// are inserted JSON-escaped, so a value can never change the structure of the input.
pub async fn fill_template(
    tx: &mut dyn Tx,
    tenant: TenantId,
    template_name: &str,
    values: &BTreeMap<String, String>,
) -> Result<String> {
    // Only the tenant's own template or a global one: another tenant's choices never shape
    // this tenant's registrations.
    let template = tx
        .application_template_by_name(tenant, template_name)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            DomainError::NotFound(format!(
                "application template with name \"{template_name}\" does not exist"
            ))
        })?;
    let mut text = template.application_input;
    for placeholder in &template.placeholders {
        let value = values.get(&placeholder.name).ok_or_else(|| {
            DomainError::Invalid(format!(
                "required placeholder not provided: {}",
                placeholder.name
            ))
        })?;
        let quoted = Value::from(value.as_str()).to_string();
        let escaped = &quoted[1..quoted.len() - 1];
        text = text.replace(&format!("{{{{{}}}}}", placeholder.name), escaped);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_must_be_unique_and_used() {
        let p = |n: &str| Placeholder {
            name: n.into(),
            description: None,
        };
        let input = r#"{"name":"{{name}}","description":"x {{d}}"}"#;
        assert!(check_placeholders(input, &[p("name"), p("d")]).is_ok());
        assert!(check_placeholders(input, &[p("name"), p("name")]).is_err());
        assert!(check_placeholders(input, &[p("other")]).is_err());
        assert!(check_placeholders(input, &[p(" ")]).is_err());
    }
}
