//! `WebhookInput` and its check into a [`WebhookDraft`].

use async_graphql::InputObject;
use serde::{Deserialize, Serialize};
use sextant_domain::validate;
use sextant_domain::{self as domain, DomainError, FieldErrors};

use crate::catalog::credentials::inputs::{AuthInput, auth};
use crate::catalog::webhooks::wire::WebhookTypeWire;
use crate::validation::{Checked, Present, typed};

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookInput {
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub webhook_type: WebhookTypeWire,
    pub url: String,
    pub auth: Option<AuthInput>,
}

/// A validated webhook without identity.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookDraft {
    pub webhook_type: domain::WebhookType,
    pub url: String,
    pub auth: Option<domain::Auth>,
}

impl WebhookInput {
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<WebhookDraft> {
        let mut errors = FieldErrors::new();
        errors.check("url", validate::required_url(&self.url));
        let auth = errors.take("auth", auth(self.auth));
        errors.finish()?;
        Ok(WebhookDraft {
            webhook_type: self.webhook_type.into(),
            auth: auth.present()?,
            url: self.url,
        })
    }

    pub fn validate(self) -> Result<WebhookDraft, DomainError> {
        typed("WebhookInput", self.check())
    }
}
