//! `RuntimeInput` and its check into a [`rules::RuntimeInput`].

use async_graphql::InputObject;
use sextant_domain::validate::{self, SHORT_STRING};
use sextant_domain::{DomainError, FieldErrors};

use crate::labels::inputs::check_labels;
use crate::runtimes::rules;
use crate::scalars::Labels;
use crate::validation::{check_opt, typed};

#[derive(InputObject)]
pub struct RuntimeInput {
    pub name: String,
    pub description: Option<String>,
    pub labels: Option<Labels>,
}

impl RuntimeInput {
    pub fn validate(self) -> Result<rules::RuntimeInput, DomainError> {
        let mut errors = FieldErrors::new();
        errors.check("name", validate::name(&self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        let labels = check_labels(&mut errors, self.labels);
        typed(
            "RuntimeInput",
            errors.finish().map(|()| rules::RuntimeInput {
                labels,
                name: self.name,
                description: self.description,
            }),
        )
    }
}
