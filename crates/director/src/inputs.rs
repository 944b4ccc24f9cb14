//! Wire input types and their validation into domain values. Every failure names the input
//! type and field (`validation error for type RuntimeInput: name: ...`).

use std::collections::BTreeMap;

use async_graphql::{ID, InputObject};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sextant_domain::label::{
    LabelFilter as DomainLabelFilter, validate_key, validate_value as validate_label_value,
};
use sextant_domain::validate::{self, LONG_STRING, SHORT_STRING};
use sextant_domain::{DomainError, FieldError, FieldErrors, Placeholder};
use uuid::Uuid;

use crate::catalog_inputs::{
    ApiDefinitionInput, Checked, DocumentInput, EventDefinitionInput, WebhookInput, check_list,
    typed,
};
use crate::scalars::{JsonSchema, Labels};
use crate::service;

fn check_opt(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    rule: impl Fn(&str) -> Result<(), String>,
) {
    if let Some(v) = value {
        errors.check(field, rule(v));
    }
}

/// Checks labels: at most [`MAX_LABELS`], printable keys (a key that is not printable is not
/// repeated: its error is the field's), and each value under its key.
fn labels(errors: &mut FieldErrors, labels: Option<Labels>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let labels = labels.map(|l| l.0).unwrap_or_default();
    if labels.len() > MAX_LABELS {
        errors.add("labels", format!("at most {MAX_LABELS} labels are allowed"));
        return out;
    }
    let mut by_key = FieldErrors::new();
    for (key, value) in labels {
        if let Err(m) = validate_key(&key) {
            errors.add("labels", m);
            continue;
        }
        if value.is_null() {
            by_key.add(key, validate::BLANK);
            continue;
        }
        if let Err(m) = validate_label_value(&value) {
            by_key.add(key, m);
            continue;
        }
        out.insert(key, value);
    }
    errors.inner("labels", by_key);
    out
}

fn id_field(errors: &mut FieldErrors, field: &str, id: Option<&ID>) -> Option<Uuid> {
    let id = id?;
    match Uuid::parse_str(id) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.add(field, "must be a valid UUID");
            None
        }
    }
}

/// Parses an object id argument. A malformed id names no object, so it is reported as one
/// that does not exist.
pub fn parse_id(id: &ID, what: &str) -> Result<Uuid, DomainError> {
    Uuid::parse_str(id).map_err(|_| DomainError::not_found(what, id.as_str()))
}

/// `ApplicationRegisterInput`. Also the JSON shape of an application template's input.
#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationRegisterInput {
    pub name: String,
    pub provider_name: String,
    pub description: Option<String>,
    pub labels: Option<Labels>,
    #[graphql(name = "healthCheckURL")]
    #[serde(rename = "healthCheckURL")]
    pub health_check_url: Option<String>,
    #[graphql(name = "integrationSystemID")]
    #[serde(rename = "integrationSystemID")]
    pub integration_system_id: Option<ID>,
    pub webhooks: Option<Vec<WebhookInput>>,
    pub api_definitions: Option<Vec<ApiDefinitionInput>>,
    pub event_definitions: Option<Vec<EventDefinitionInput>>,
    pub documents: Option<Vec<DocumentInput>>,
}

impl ApplicationRegisterInput {
    /// The registration, or the errors of every invalid field, inner inputs included
    /// (`webhooks: (0: (url: must be a valid URL.).)`).
    pub fn check(self) -> Checked<service::NewApplication> {
        let mut errors = FieldErrors::new();
        let fields = application_fields(
            &mut errors,
            self.name,
            self.provider_name,
            self.description,
            self.health_check_url,
            self.integration_system_id,
        );
        let labels = labels(&mut errors, self.labels);
        let apis = check_list(
            &mut errors,
            "apiDefinitions",
            self.api_definitions,
            ApiDefinitionInput::check,
        );
        let events = check_list(
            &mut errors,
            "eventDefinitions",
            self.event_definitions,
            EventDefinitionInput::check,
        );
        let documents = check_list(
            &mut errors,
            "documents",
            self.documents,
            DocumentInput::check,
        );
        let webhooks = check_list(&mut errors, "webhooks", self.webhooks, WebhookInput::check);
        errors.finish()?;
        Ok(service::NewApplication {
            apis,
            events,
            documents,
            webhooks,
            labels,
            name: fields.name,
            provider_name: fields.provider_name,
            description: fields.description,
            health_check_url: fields.health_check_url,
            integration_system_id: fields.integration_system_id,
        })
    }

    pub fn validate(self) -> Result<service::NewApplication, DomainError> {
        typed("ApplicationRegisterInput", self.check())
    }
}

/// The rules shared by registering and updating an application; errors go to `errors`.
fn application_fields(
    errors: &mut FieldErrors,
    name: String,
    provider_name: String,
    description: Option<String>,
    health_check_url: Option<String>,
    integration_system_id: Option<ID>,
) -> service::ApplicationUpdate {
    errors.check("name", validate::name(&name));
    errors.check(
        "providerName",
        validate::required(&provider_name, LONG_STRING),
    );
    check_opt(errors, "description", description.as_deref(), |v| {
        validate::at_most(v, SHORT_STRING)
    });
    check_opt(
        errors,
        "healthCheckURL",
        health_check_url.as_deref(),
        validate::optional_url,
    );
    service::ApplicationUpdate {
        integration_system_id: id_field(
            errors,
            "integrationSystemID",
            integration_system_id.as_ref(),
        ),
        name,
        provider_name,
        description,
        health_check_url,
    }
}

#[derive(InputObject)]
pub struct ApplicationUpdateInput {
    pub name: String,
    pub provider_name: String,
    pub description: Option<String>,
    #[graphql(name = "healthCheckURL")]
    pub health_check_url: Option<String>,
    #[graphql(name = "integrationSystemID")]
    pub integration_system_id: Option<ID>,
}

impl ApplicationUpdateInput {
    pub fn validate(self) -> Result<service::ApplicationUpdate, DomainError> {
        let mut errors = FieldErrors::new();
        let update = application_fields(
            &mut errors,
            self.name,
            self.provider_name,
            self.description,
            self.health_check_url,
            self.integration_system_id,
        );
        typed("ApplicationUpdateInput", errors.finish().map(|()| update))
    }
}

#[derive(InputObject)]
pub struct RuntimeInput {
    pub name: String,
    pub description: Option<String>,
    pub labels: Option<Labels>,
}

impl RuntimeInput {
    pub fn validate(self) -> Result<service::RuntimeInput, DomainError> {
        let mut errors = FieldErrors::new();
        errors.check("name", validate::name(&self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        let labels = labels(&mut errors, self.labels);
        typed(
            "RuntimeInput",
            errors.finish().map(|()| service::RuntimeInput {
                labels,
                name: self.name,
                description: self.description,
            }),
        )
    }
}

#[derive(InputObject)]
pub struct LabelDefinitionInput {
    pub key: String,
    pub schema: Option<JsonSchema>,
}

/// A label key and value (declared by Compass's schema; no mutation takes it).
#[derive(InputObject)]
pub struct LabelInput {
    pub key: String,
    pub value: crate::scalars::Any,
}

#[derive(InputObject)]
pub struct LabelFilter {
    pub key: String,
    pub query: Option<String>,
}

/// Most label filters one list query may carry.
pub const MAX_FILTERS: usize = 16;
/// Most labels one input may carry.
pub const MAX_LABELS: usize = 64;

/// Parses filters; an invalid one is a validation error of `LabelFilter`.
pub fn filters(filters: Option<Vec<LabelFilter>>) -> Result<Vec<DomainLabelFilter>, DomainError> {
    let filters = filters.unwrap_or_default();
    if filters.len() > MAX_FILTERS {
        return Err(FieldError::new(
            "LabelFilter",
            "filter",
            format!("at most {MAX_FILTERS} filters are allowed"),
        )
        .into());
    }
    filters
        .into_iter()
        .map(|f| {
            DomainLabelFilter::parse(&f.key, f.query.as_deref())
                .map_err(|m| FieldError::new("LabelFilter", "query", m).into())
        })
        .collect()
}

#[derive(InputObject)]
pub struct IntegrationSystemInput {
    pub name: String,
    pub description: Option<String>,
}

impl IntegrationSystemInput {
    pub fn validate(self) -> Result<(String, Option<String>), DomainError> {
        let mut errors = FieldErrors::new();
        errors.check("name", validate::name(&self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        typed(
            "IntegrationSystemInput",
            errors.finish().map(|()| (self.name, self.description)),
        )
    }
}

#[derive(InputObject)]
pub struct PlaceholderDefinitionInput {
    pub name: String,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct ApplicationTemplateInput {
    pub name: String,
    pub description: Option<String>,
    pub application_input: ApplicationRegisterInput,
    pub placeholders: Option<Vec<PlaceholderDefinitionInput>>,
    pub access_level: crate::types::ApplicationTemplateAccessLevel,
}

impl ApplicationTemplateInput {
    /// Validates into a template (id nil, to be set by the caller) of `tenant`, or global for
    /// access level `GLOBAL`. The application input is checked fully when an application is
    /// registered from it, because placeholders stand where values go.
    pub fn validate(
        self,
        tenant: sextant_domain::TenantId,
    ) -> Result<sextant_domain::ApplicationTemplate, DomainError> {
        // Compass's keys for this input were its Go field names.
        let mut errors = FieldErrors::new();
        errors.check("Name", validate::name(&self.name));
        check_opt(
            &mut errors,
            "Description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        let application_input = match serde_json::to_string(&self.application_input) {
            Ok(text) => text,
            Err(e) => {
                errors.add("ApplicationInput", e.to_string());
                String::new()
            }
        };
        let placeholders: Vec<Placeholder> = self
            .placeholders
            .unwrap_or_default()
            .into_iter()
            .map(|p| Placeholder {
                name: p.name,
                description: p.description,
            })
            .collect();
        let mut each = FieldErrors::new();
        for (i, p) in placeholders.iter().enumerate() {
            let mut inner = FieldErrors::new();
            inner.check("name", validate::required(p.name.trim(), LONG_STRING));
            check_opt(&mut inner, "description", p.description.as_deref(), |v| {
                validate::at_most(v, SHORT_STRING)
            });
            each.inner(i.to_string(), inner);
        }
        let blank_names = !each.is_empty();
        errors.inner("Placeholders", each);
        if !blank_names {
            errors.check(
                "rule.ValidPlaceholders",
                service::check_placeholders(&application_input, &placeholders),
            );
        }
        typed("ApplicationTemplateInput", errors.finish())?;
        Ok(sextant_domain::ApplicationTemplate {
            id: Uuid::nil(),
            tenant: match self.access_level {
                crate::types::ApplicationTemplateAccessLevel::Global => None,
                crate::types::ApplicationTemplateAccessLevel::Tenant => Some(tenant),
            },
            name: self.name,
            description: self.description,
            application_input,
            placeholders,
        })
    }
}

#[derive(InputObject)]
pub struct TemplateValueInput {
    pub placeholder: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct ApplicationFromTemplateInput {
    pub template_name: String,
    pub values: Option<Vec<TemplateValueInput>>,
}

impl ApplicationFromTemplateInput {
    pub fn validate(self) -> Result<(String, BTreeMap<String, String>), DomainError> {
        // Compass's keys for this input were its Go field names.
        let mut errors = FieldErrors::new();
        errors.check(
            "TemplateName",
            validate::required(&self.template_name, LONG_STRING),
        );
        let mut values = BTreeMap::new();
        let mut each = FieldErrors::new();
        let mut duplicate = None;
        for (i, v) in self.values.unwrap_or_default().into_iter().enumerate() {
            if let Err(m) = validate::required(&v.placeholder, LONG_STRING) {
                each.inner(i.to_string(), FieldErrors::single("placeholder", m));
                continue;
            }
            let name = v.placeholder.clone();
            if values.insert(v.placeholder, v.value).is_some() && duplicate.is_none() {
                duplicate = Some(name);
            }
        }
        errors.inner("Values", each);
        if let Some(name) = duplicate {
            errors.add(
                "rule.UniquePlaceholders",
                format!("placeholder [name={name}] not unique"),
            );
        }
        typed("ApplicationFromTemplateInput", errors.finish())?;
        Ok((self.template_name, values))
    }
}

/// Parses the filled-in JSON of a template into a registration, reporting problems as
/// validation errors of `ApplicationFromTemplateInput`.
pub fn application_from_template_json(text: &str) -> Result<service::NewApplication, DomainError> {
    let input: ApplicationRegisterInput = serde_json::from_str(text).map_err(|e| {
        DomainError::from(FieldError::new(
            "ApplicationFromTemplateInput",
            "Values",
            format!("the filled-in template is not a valid ApplicationRegisterInput: {e}"),
        ))
    })?;
    input.validate()
}
