//! `DocumentInput` and its check into a [`DocumentDraft`].

use async_graphql::InputObject;
use serde::{Deserialize, Serialize};
use sextant_domain::validate::{self, LONG_STRING, SHORT_STRING};
use sextant_domain::{self as domain, DomainError, FieldErrors};

use crate::catalog::content::inputs::{Content, FetchRequestInput};
use crate::catalog::documents::wire::DocumentFormatWire;
use crate::scalars::Clob;
use crate::validation::{Checked, Present, check_opt, typed};

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentInput {
    pub title: String,
    pub display_name: String,
    pub description: String,
    pub format: DocumentFormatWire,
    pub kind: Option<String>,
    pub data: Option<Clob>,
    pub fetch_request: Option<FetchRequestInput>,
}

/// A validated document without identity.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentDraft {
    pub title: String,
    pub display_name: String,
    pub description: String,
    pub format: domain::DocumentFormat,
    pub kind: Option<String>,
    pub content: Option<Content>,
}

impl DocumentInput {
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<DocumentDraft> {
        let mut errors = FieldErrors::new();
        errors.check(
            "title",
            validate::required_between(&self.title, SHORT_STRING),
        );
        errors.check(
            "displayName",
            validate::required_between(&self.display_name, SHORT_STRING),
        );
        errors.check(
            "description",
            validate::required_between(&self.description, SHORT_STRING),
        );
        check_opt(&mut errors, "kind", self.kind.as_deref(), |v| {
            validate::at_most(v, LONG_STRING)
        });
        let content = match (self.data, self.fetch_request) {
            (Some(Clob(data)), None) => {
                if data.len() > domain::MAX_SPEC_BYTES {
                    errors.add(
                        "data",
                        format!("must be at most {} bytes", domain::MAX_SPEC_BYTES),
                    );
                }
                Some(Some(Content::Inline(data)))
            }
            (None, Some(fetch)) => errors
                .take("fetchRequest", fetch.check())
                .map(|f| Some(Content::Fetch(Box::new(f)))),
            (Some(_), Some(fetch)) => {
                errors.inner("fetchRequest", fetch.check().err().unwrap_or_default());
                errors.add("data", "only one of data or fetchRequest may be given");
                None
            }
            (None, None) => Some(None),
        };
        errors.finish()?;
        Ok(DocumentDraft {
            content: content.present()?,
            title: self.title,
            display_name: self.display_name,
            description: self.description,
            format: self.format.into(),
            kind: self.kind,
        })
    }

    pub fn validate(self) -> Result<DocumentDraft, DomainError> {
        typed("DocumentInput", self.check())
    }
}
