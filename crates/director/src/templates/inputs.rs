//! `ApplicationTemplateInput` and `ApplicationFromTemplateInput`, and their checks; a filled
//! template parsed into a registration.

use std::collections::BTreeMap;

use async_graphql::InputObject;
use sextant_domain::validate::{self, LONG_STRING, SHORT_STRING};
use sextant_domain::{
    ApplicationTemplate, DomainError, FieldError, FieldErrors, Placeholder, TenantId,
};
use sextant_domain::{Name, TemplateId};
use uuid::Uuid;

use crate::applications::inputs::ApplicationRegisterInput;
use crate::applications::rules::NewApplication;
use crate::templates::rules::check_placeholders;
use crate::templates::wire::ApplicationTemplateAccessLevel;
use crate::validation::{Present, check_opt, typed};

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
    pub access_level: ApplicationTemplateAccessLevel,
}

impl ApplicationTemplateInput {
    /// Validates into a template (id nil, to be set by the caller) of `tenant`, or global for
    /// access level `GLOBAL`. The application input is checked fully when an application is
    /// registered from it, because placeholders stand where values go.
    pub fn validate(self, tenant: TenantId) -> Result<ApplicationTemplate, DomainError> {
        // Compass's keys for this input were its Go field names.
        let mut errors = FieldErrors::new();
        let name = errors.parse("Name", Name::parse(self.name));
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
                check_placeholders(&application_input, &placeholders),
            );
        }
        typed("ApplicationTemplateInput", errors.finish())?;
        Ok(ApplicationTemplate {
            id: TemplateId::from_untyped(Uuid::nil()),
            tenant: match self.access_level {
                ApplicationTemplateAccessLevel::Global => None,
                ApplicationTemplateAccessLevel::Tenant => Some(tenant),
            },
            name: typed("ApplicationTemplateInput", name.present())?,
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

/// A registration from a template, checked: the template's name and each placeholder's value.
pub struct TemplateChoice {
    pub template_name: String,
    pub values: BTreeMap<String, String>,
}

impl ApplicationFromTemplateInput {
    pub fn validate(self) -> Result<TemplateChoice, DomainError> {
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
        Ok(TemplateChoice {
            template_name: self.template_name,
            values,
        })
    }
}

/// Parses the filled-in JSON of a template into a registration, reporting problems as
/// validation errors of `ApplicationFromTemplateInput`.
pub fn application_from_template_json(text: &str) -> Result<NewApplication, DomainError> {
    let input: ApplicationRegisterInput = serde_json::from_str(text).map_err(|e| {
        DomainError::from(FieldError::new(
            "ApplicationFromTemplateInput",
            "Values",
            format!("the filled-in template is not a valid ApplicationRegisterInput: {e}"),
        ))
    })?;
    input.validate()
}
