//! The rules of labels and label definitions: setting labels (each checked against its
//! key's definition, which is made if missing) and deleting them, telling [`notify`] what a
//! change concerns; creating, updating and deleting definitions.

use std::collections::BTreeSet;

use serde_json::Value;
use sextant_domain::label::{
    EVENT_SERVICE_URL_KEY, LabelSchema, SCENARIOS_KEY, default_scenarios_schema, validate_key,
    validate_value as validate_label_value,
};
use sextant_domain::{DomainError, FieldError, LabelDefinition, ObjectKind, ObjectRef, TenantId};
use sextant_store::{KeyedLabel, LockedLabel, StoreError, Tx};

use crate::error::internal;
use crate::notify;
use crate::objects::object_name;
use crate::scenarios::scenarios_in;

type Result<T> = std::result::Result<T, DomainError>;

/// Largest label value, as JSON text.
pub const MAX_LABEL_VALUE_BYTES: usize = 16 * 1024;

/// Checks that an object exists in the tenant.
async fn require_object(tx: &mut dyn Tx, tenant: TenantId, object: ObjectRef) -> Result<()> {
    let exists = match object {
        ObjectRef::Application(id) => tx
            .application(tenant, id)
            .await
            .map_err(internal)?
            .is_some(),
        ObjectRef::Runtime(id) => tx.runtime(tenant, id).await.map_err(internal)?.is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(DomainError::not_found(
            object_name(object.kind()),
            object.id(),
        ))
    }
}

/// Sets a label on an object that is known to exist: creates a schema-less definition for a
/// new key (the default one for `scenarios`), else validates the value against the definition.
pub async fn put_label(
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
pub async fn put_labels<'a>(
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
            StoreError::ForeignKey => {
                DomainError::not_found(object_name(object.kind()), object.id())
            }
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

/// What [`change_scenario`] does with its scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScenarioChange {
    Add,
    Remove,
}

/// `addApplicationScenario`, `removeApplicationScenario`, `addRuntimeScenario`,
/// `removeRuntimeScenario`: the object's `scenarios` label with one scenario added or removed,
/// read and written in one transaction that holds the object's row, so two administrators
/// changing one object's scenarios at once both land (setting the whole label from what a
/// page showed keeps only the last writer's list). The label is checked against its
/// definition like any label write. Answers the label's value afterwards (the list in its
/// order, a new scenario last); a runtime whose last scenario goes loses the label, while an
/// application stays in at least one scenario.
pub async fn change_scenario(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
    scenario: &str,
    change: ScenarioChange,
) -> Result<Value> {
    let current = match tx
        .label_of_locked_object(tenant, object, SCENARIOS_KEY)
        .await
        .map_err(internal)?
    {
        LockedLabel::NoObject => {
            return Err(DomainError::not_found(
                object_name(object.kind()),
                object.id(),
            ));
        }
        LockedLabel::NoLabel => Vec::new(),
        LockedLabel::Value(value) => match value {
            Value::Array(items) => items,
            other => vec![other],
        },
    };
    let present = current.iter().any(|s| s.as_str() == Some(scenario));
    let wanted: Vec<Value> = match change {
        ScenarioChange::Add if present => return Ok(Value::Array(current)),
        ScenarioChange::Remove if !present => return Ok(Value::Array(current)),
        ScenarioChange::Add => current.into_iter().chain([Value::from(scenario)]).collect(),
        ScenarioChange::Remove => current
            .into_iter()
            .filter(|s| s.as_str() != Some(scenario))
            .collect(),
    };
    if wanted.is_empty() {
        return match object {
            ObjectRef::Runtime(_) => {
                delete_label(tx, tenant, object, SCENARIOS_KEY).await?;
                Ok(Value::Array(wanted))
            }
            ObjectRef::Application(_) => Err(DomainError::Invalid(format!(
                "scenario {scenario:?} is the application's last: an application stays in at \
                 least one scenario, assign another first"
            ))),
        };
    }
    let value = Value::Array(wanted);
    set_label(tx, tenant, object, SCENARIOS_KEY, &value).await?;
    Ok(value)
}

/// What a label change may tell applications (see [`crate::notify`]): a runtime's scenarios
/// or eventing URL, an application's scenarios.
enum Watched {
    Nothing,
    Runtime(Option<notify::RuntimeFacts>),
    AppScenarios(BTreeSet<String>),
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
        let changing = |before: &BTreeSet<String>| {
            let mut all = before.clone();
            all.extend(value.map(scenarios_in).unwrap_or_default());
            all
        };
        Ok(match object {
            ObjectRef::Runtime(runtime) if key == SCENARIOS_KEY || key == EVENT_SERVICE_URL_KEY => {
                let facts = notify::runtime_facts(tx, tenant, runtime).await?;
                if key == SCENARIOS_KEY {
                    let before = facts
                        .as_ref()
                        .map(|f| f.scenarios.clone())
                        .unwrap_or_default();
                    notify::settle_for_runtime(tx, tenant, runtime, &changing(&before), false)
                        .await?;
                }
                Watched::Runtime(facts)
            }
            ObjectRef::Application(app) if key == SCENARIOS_KEY => {
                let before = notify::app_scenarios(tx, tenant, app).await?;
                notify::settle_for_application(tx, tenant, app, Some(&changing(&before))).await?;
                Watched::AppScenarios(before)
            }
            _ => Watched::Nothing,
        })
    }

    async fn after(self, tx: &mut dyn Tx, tenant: TenantId, object: ObjectRef) -> Result<()> {
        match (self, object) {
            (Watched::Runtime(before), ObjectRef::Runtime(runtime)) => {
                let after = notify::runtime_facts(tx, tenant, runtime).await?;
                notify::runtime_changed(tx, tenant, runtime, before, after).await
            }
            (Watched::AppScenarios(before), ObjectRef::Application(app)) => {
                let after = notify::app_scenarios(tx, tenant, app).await?;
                notify::app_scenarios_changed(tx, tenant, app, &before, &after).await
            }
            _ => Ok(()),
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
    if object.kind() == ObjectKind::Application && key == SCENARIOS_KEY {
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
                object_name(object.kind()),
                object.id()
            ))
        })?;
    before.after(tx, tenant, object).await?;
    Ok(removed)
}

fn parse_schema_text(key: &str, schema: Option<&str>) -> Result<Option<Value>> {
    let Some(text) = schema else { return Ok(None) };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        DomainError::Validation(FieldError::new(
            "LabelDefinitionInput",
            "schema",
            format!("is not valid JSON: {e}"),
        ))
    })?;
    LabelSchema::compile(key, &value).map_err(|e| {
        DomainError::Validation(FieldError::new("LabelDefinitionInput", "schema", e))
    })?;
    Ok(Some(value))
}

fn validate_definition_key(key: &str) -> Result<()> {
    validate_key(key)
        .map_err(|m| DomainError::Validation(FieldError::new("LabelDefinitionInput", "key", m)))
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
        for KeyedLabel { object, value } in
            tx.labels_with_key(tenant, key).await.map_err(internal)?
        {
            compiled.check(&value).map_err(|e| {
                DomainError::Invalid(format!(
                    "label with key \"{key}\" is not valid against new schema for {} with ID \"{}\": {e}",
                    object.kind().as_str(),
                    object.id()
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
