//! `IntegrationSystemInput` and its check.

use async_graphql::InputObject;
use sextant_domain::validate::{self, SHORT_STRING};
use sextant_domain::{DomainError, FieldErrors};

use crate::validation::{check_opt, typed};

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
