//! The rules of application templates: creating, updating and deleting one (a global one by
//! an operator only), checking its placeholders, and filling them in.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sextant_domain::Name;
use sextant_domain::TemplateId;
use sextant_domain::{ApplicationTemplate, Consumer, DomainError, Placeholder, Scope, TenantId};
use sextant_store::{StoreError, Tx};

use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

fn template_not_unique(name: &Name) -> impl FnOnce(StoreError) -> DomainError + '_ {
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
    template.id = TemplateId::new_v4();
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
    id: TemplateId,
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
    id: TemplateId,
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
    let mut seen = BTreeSet::new();
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
