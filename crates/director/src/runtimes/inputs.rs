//! `RuntimeInput` and its check into a [`rules::RuntimeInput`].

use async_graphql::InputObject;
use sextant_domain::validate::{self, SHORT_STRING};
use sextant_domain::{DomainError, FieldErrors, Name};

use crate::labels::inputs::check_labels;
use crate::runtimes::rules;
use crate::scalars::Labels;
use crate::validation::{Present, check_opt, typed};

#[derive(InputObject)]
pub struct RuntimeInput {
    pub name: String,
    pub description: Option<String>,
    pub labels: Option<Labels>,
}

impl RuntimeInput {
    pub fn validate(self) -> Result<rules::RuntimeInput, DomainError> {
        let mut errors = FieldErrors::new();
        let name = errors.parse("name", Name::parse(self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        let labels = check_labels(&mut errors, self.labels);
        typed(
            "RuntimeInput",
            errors.finish().and_then(|()| {
                Ok(rules::RuntimeInput {
                    labels,
                    name: name.present()?,
                    description: self.description,
                })
            }),
        )
    }
}
