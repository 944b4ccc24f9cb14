//! `IntegrationSystemInput` and its check.

use async_graphql::InputObject;
use sextant_domain::validate::{self, SHORT_STRING};
use sextant_domain::{DomainError, FieldErrors, Name};

use crate::validation::{Present, check_opt, typed};

#[derive(InputObject)]
pub struct IntegrationSystemInput {
    pub name: String,
    pub description: Option<String>,
}

/// An integration system's fields, checked.
pub struct ValidIntegrationSystem {
    pub name: Name,
    pub description: Option<String>,
}

impl IntegrationSystemInput {
    pub fn validate(self) -> Result<ValidIntegrationSystem, DomainError> {
        let mut errors = FieldErrors::new();
        let name = errors.parse("name", Name::parse(self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        typed(
            "IntegrationSystemInput",
            errors.finish().and_then(|()| {
                Ok(ValidIntegrationSystem {
                    name: name.present()?,
                    description: self.description,
                })
            }),
        )
    }
}
