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
use sextant_domain::{DomainError, FieldError, Placeholder};
use uuid::Uuid;

use crate::catalog_inputs::{
    ApiDefinitionInput, DocumentInput, EventDefinitionInput, WebhookInput, bounded_list,
};
use crate::scalars::{JsonSchema, Labels};
use crate::service;

fn check(ty: &'static str, field: &str, result: Result<(), String>) -> Result<(), DomainError> {
    result.map_err(|m| FieldError::new(ty, field, m).into())
}

fn check_opt(
    ty: &'static str,
    field: &str,
    value: Option<&str>,
    rule: impl Fn(&str) -> Result<(), String>,
) -> Result<(), DomainError> {
    match value {
        Some(v) => check(ty, field, rule(v)),
        None => Ok(()),
    }
}

fn labels(
    ty: &'static str,
    labels: Option<Labels>,
) -> Result<BTreeMap<String, Value>, DomainError> {
    let mut out = BTreeMap::new();
    let labels = labels.map(|l| l.0).unwrap_or_default();
    if labels.len() > MAX_LABELS {
        return Err(FieldError::new(
            ty,
            "labels",
            format!("at most {MAX_LABELS} labels are allowed"),
        )
        .into());
    }
    for (key, value) in labels {
        // A key that is not printable is not repeated in the field name.
        check(ty, "labels", validate_key(&key))?;
        if value.is_null() {
            return Err(FieldError::new(ty, format!("labels.{key}"), validate::BLANK).into());
        }
        check(ty, &format!("labels.{key}"), validate_label_value(&value))?;
        out.insert(key, value);
    }
    Ok(out)
}

fn id_field(ty: &'static str, field: &str, id: Option<&ID>) -> Result<Option<Uuid>, DomainError> {
    id.map(|id| {
        Uuid::parse_str(id).map_err(|_| FieldError::new(ty, field, "must be a valid UUID").into())
    })
    .transpose()
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
    pub fn validate(self) -> Result<service::NewApplication, DomainError> {
        const T: &str = "ApplicationRegisterInput";
        let fields = application_fields(
            T,
            self.name,
            self.provider_name,
            self.description,
            self.health_check_url,
            self.integration_system_id,
        )?;
        let apis = bounded_list(T, "apiDefinitions", self.api_definitions)?
            .into_iter()
            .map(ApiDefinitionInput::validate)
            .collect::<Result<_, _>>()?;
        let events = bounded_list(T, "eventDefinitions", self.event_definitions)?
            .into_iter()
            .map(EventDefinitionInput::validate)
            .collect::<Result<_, _>>()?;
        let documents = bounded_list(T, "documents", self.documents)?
            .into_iter()
            .map(DocumentInput::validate)
            .collect::<Result<_, _>>()?;
        let webhooks = bounded_list(T, "webhooks", self.webhooks)?
            .into_iter()
            .map(WebhookInput::validate)
            .collect::<Result<_, _>>()?;
        Ok(service::NewApplication {
            apis,
            events,
            documents,
            webhooks,
            labels: labels(T, self.labels)?,
            name: fields.name,
            provider_name: fields.provider_name,
            description: fields.description,
            health_check_url: fields.health_check_url,
            integration_system_id: fields.integration_system_id,
        })
    }
}

/// The rules shared by registering and updating an application.
fn application_fields(
    ty: &'static str,
    name: String,
    provider_name: String,
    description: Option<String>,
    health_check_url: Option<String>,
    integration_system_id: Option<ID>,
) -> Result<service::ApplicationUpdate, DomainError> {
    check(ty, "name", validate::name(&name))?;
    check(
        ty,
        "providerName",
        validate::required(&provider_name, LONG_STRING),
    )?;
    check_opt(ty, "description", description.as_deref(), |v| {
        validate::at_most(v, SHORT_STRING)
    })?;
    check_opt(
        ty,
        "healthCheckURL",
        health_check_url.as_deref(),
        validate::optional_url,
    )?;
    Ok(service::ApplicationUpdate {
        integration_system_id: id_field(ty, "integrationSystemID", integration_system_id.as_ref())?,
        name,
        provider_name,
        description,
        health_check_url,
    })
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
        application_fields(
            "ApplicationUpdateInput",
            self.name,
            self.provider_name,
            self.description,
            self.health_check_url,
            self.integration_system_id,
        )
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
        const T: &str = "RuntimeInput";
        check(T, "name", validate::name(&self.name))?;
        check_opt(T, "description", self.description.as_deref(), |v| {
            validate::at_most(v, SHORT_STRING)
        })?;
        Ok(service::RuntimeInput {
            labels: labels(T, self.labels)?,
            name: self.name,
            description: self.description,
        })
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
        const T: &str = "IntegrationSystemInput";
        check(T, "name", validate::name(&self.name))?;
        check_opt(T, "description", self.description.as_deref(), |v| {
            validate::at_most(v, SHORT_STRING)
        })?;
        Ok((self.name, self.description))
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
        const T: &str = "ApplicationTemplateInput";
        check(T, "name", validate::name(&self.name))?;
        check_opt(T, "description", self.description.as_deref(), |v| {
            validate::at_most(v, SHORT_STRING)
        })?;
        let application_input = serde_json::to_string(&self.application_input).map_err(|e| {
            DomainError::from(FieldError::new(T, "applicationInput", e.to_string()))
        })?;
        let placeholders: Vec<Placeholder> = self
            .placeholders
            .unwrap_or_default()
            .into_iter()
            .map(|p| Placeholder {
                name: p.name,
                description: p.description,
            })
            .collect();
        for p in &placeholders {
            check_opt(
                T,
                "placeholders.description",
                p.description.as_deref(),
                |v| validate::at_most(v, SHORT_STRING),
            )?;
        }
        check(
            T,
            "placeholders",
            service::check_placeholders(&application_input, &placeholders),
        )?;
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
        const T: &str = "ApplicationFromTemplateInput";
        check(
            T,
            "templateName",
            validate::required(&self.template_name, LONG_STRING),
        )?;
        let mut values = BTreeMap::new();
        for v in self.values.unwrap_or_default() {
            check(
                T,
                "values.placeholder",
                validate::required(&v.placeholder, LONG_STRING),
            )?;
            if values.insert(v.placeholder.clone(), v.value).is_some() {
                return Err(FieldError::new(
                    T,
                    "values",
                    format!("placeholder {:?} is given more than once", v.placeholder),
                )
                .into());
            }
        }
        Ok((self.template_name, values))
    }
}

/// Parses the filled-in JSON of a template into a registration, reporting problems as
/// validation errors of `ApplicationFromTemplateInput`.
pub fn application_from_template_json(text: &str) -> Result<service::NewApplication, DomainError> {
    let input: ApplicationRegisterInput = serde_json::from_str(text).map_err(|e| {
        DomainError::from(FieldError::new(
            "ApplicationFromTemplateInput",
            "values",
            format!("the filled-in template is not a valid ApplicationRegisterInput: {e}"),
        ))
    })?;
    input.validate()
}
