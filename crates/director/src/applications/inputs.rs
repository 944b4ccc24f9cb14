//! `ApplicationRegisterInput` and `ApplicationUpdateInput`, and their checks into
//! [`NewApplication`] and [`ApplicationUpdate`]. Every failure names the input type and field
//! (`validation error for type ApplicationRegisterInput: name: ...`).

use async_graphql::{ID, InputObject};
use serde::{Deserialize, Serialize};
use sextant_domain::validate::{self, LONG_STRING, SHORT_STRING};
use sextant_domain::{DomainError, FieldErrors, Name, TypedUuid};
use uuid::Uuid;

use crate::applications::rules::{ApplicationUpdate, NewApplication};
use crate::catalog::apis::inputs::ApiDefinitionInput;
use crate::catalog::documents::inputs::DocumentInput;
use crate::catalog::events::inputs::EventDefinitionInput;
use crate::catalog::webhooks::inputs::WebhookInput;
use crate::labels::inputs::check_labels;
use crate::scalars::Labels;
use crate::validation::{Checked, Present, check_list, check_opt, typed};

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
    pub fn check(self) -> Checked<NewApplication> {
        let mut errors = FieldErrors::new();
        let fields = application_fields(
            &mut errors,
            self.name,
            self.provider_name,
            self.description,
            self.health_check_url,
            self.integration_system_id,
        );
        let labels = check_labels(&mut errors, self.labels);
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
        let fields = fields.present()?;
        Ok(NewApplication {
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

    pub fn validate(self) -> Result<NewApplication, DomainError> {
        typed("ApplicationRegisterInput", self.check())
    }
}

/// The rules shared by registering and updating an application; errors go to `errors`, and
/// there is an update only when the name parsed.
fn application_fields(
    errors: &mut FieldErrors,
    name: String,
    provider_name: String,
    description: Option<String>,
    health_check_url: Option<String>,
    integration_system_id: Option<ID>,
) -> Option<ApplicationUpdate> {
    let name = errors.parse("name", Name::parse(name));
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
    let integration_system_id = id_field(
        errors,
        "integrationSystemID",
        integration_system_id.as_ref(),
    );
    Some(ApplicationUpdate {
        integration_system_id,
        name: name?,
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
    pub fn validate(self) -> Result<ApplicationUpdate, DomainError> {
        let mut errors = FieldErrors::new();
        let update = application_fields(
            &mut errors,
            self.name,
            self.provider_name,
            self.description,
            self.health_check_url,
            self.integration_system_id,
        );
        typed(
            "ApplicationUpdateInput",
            errors.finish().and_then(|()| update.present()),
        )
    }
}

/// An optional id field; a malformed id is the field's error.
fn id_field<T: TypedUuid>(errors: &mut FieldErrors, field: &str, id: Option<&ID>) -> Option<T> {
    let id = id?;
    match Uuid::parse_str(id) {
        Ok(id) => Some(T::from_untyped(id)),
        Err(_) => {
            errors.add(field, "must be a valid UUID");
            None
        }
    }
}
