//! `FetchRequestInput` and `VersionInput`, and the rules of a spec's content: inline data or
//! a fetch request, exactly one.

use async_graphql::InputObject;
use serde::{Deserialize, Serialize};
use sextant_domain::validate::{self, LONG_STRING};
use sextant_domain::{self as domain, FetchMode, FieldErrors, SpecFormat};

use crate::catalog::content::wire::FetchModeWire;
use crate::catalog::credentials::inputs::{AuthInput, auth};
use crate::scalars::Clob;
use crate::validation::{Checked, Present, check_opt};

/// Longest fetch-request filter.
const FILTER_MAX: usize = 256;

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FetchRequestInput {
    pub url: String,
    pub auth: Option<AuthInput>,
    #[graphql(default_with = "Some(FetchModeWire::Single)")]
    pub mode: Option<FetchModeWire>,
    pub filter: Option<String>,
}

/// A fetch request before its first fetch.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchRequestDraft {
    pub url: String,
    pub auth: Option<domain::Auth>,
    pub mode: FetchMode,
    pub filter: Option<String>,
}

impl FetchRequestInput {
    pub fn check(self) -> Checked<FetchRequestDraft> {
        let mut errors = FieldErrors::new();
        errors.check("url", validate::required_url_between(&self.url));
        let auth = errors.take("auth", auth(self.auth));
        check_opt(&mut errors, "filter", self.filter.as_deref(), |v| {
            validate::not_empty_between(v, FILTER_MAX)
        });
        errors.finish()?;
        Ok(FetchRequestDraft {
            auth: auth.present()?,
            url: self.url,
            mode: self.mode.unwrap_or(FetchModeWire::Single).into(),
            filter: self.filter,
        })
    }
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionInput {
    pub value: String,
    #[graphql(default_with = "Some(false)")]
    pub deprecated: Option<bool>,
    pub deprecated_since: Option<String>,
    #[graphql(default_with = "Some(false)")]
    pub for_removal: Option<bool>,
}

impl VersionInput {
    fn check(self) -> Checked<domain::Version> {
        let mut errors = FieldErrors::new();
        errors.check(
            "value",
            validate::required_between(&self.value, LONG_STRING),
        );
        check_opt(
            &mut errors,
            "deprecatedSince",
            self.deprecated_since.as_deref(),
            |v| validate::at_most(v, LONG_STRING),
        );
        errors.finish()?;
        Ok(domain::Version {
            value: self.value,
            deprecated: self.deprecated.unwrap_or(false),
            deprecated_since: self.deprecated_since,
            for_removal: self.for_removal.unwrap_or(false),
        })
    }
}

/// Checks an optional version.
pub fn version(input: Option<VersionInput>) -> Checked<Option<domain::Version>> {
    input.map(VersionInput::check).transpose()
}

/// Inline data or a fetch request: exactly one.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    Inline(String),
    Fetch(Box<FetchRequestDraft>),
}

/// Compass's `APISpecInput` and `EventSpecInput` rules, under Compass's keys
/// (`Rule.MatchingTypeAndFormat`, `Rule.FetchRequest`, `Rule.DataOrFetchRequest`), and the
/// spec check Sextant adds (`data`: the inline spec must be a document of its type).
pub fn spec_content(
    kind: sextant_spec::SpecKind,
    format: SpecFormat,
    data: Option<Clob>,
    fetch: Option<FetchRequestInput>,
) -> Checked<Content> {
    let mut errors = FieldErrors::new();
    if sextant_spec::check_format_allowed(kind, format).is_err() {
        let message = match kind {
            // Compass's two wordings, its API and its event rule.
            sextant_spec::SpecKind::AsyncApi => format!(
                "format {} is not a valid spec format for spec type {}",
                format.as_str(),
                kind.as_str()
            ),
            _ => format!(
                "{} is not a valid spec format for spec type {}",
                format.as_str(),
                kind.as_str()
            ),
        };
        errors.add("Rule.MatchingTypeAndFormat", message);
    }
    let content = match (data, fetch) {
        (Some(Clob(data)), None) => Some(Content::Inline(data)),
        (None, Some(fetch)) => errors
            .take("Rule.FetchRequest", fetch.check())
            .map(|f| Content::Fetch(Box::new(f))),
        (Some(_), Some(fetch)) => {
            errors.inner("Rule.FetchRequest", fetch.check().err().unwrap_or_default());
            errors.add("Rule.DataOrFetchRequest", DATA_OR_FETCH_REQUEST);
            None
        }
        (None, None) => {
            errors.add("Rule.DataOrFetchRequest", DATA_OR_FETCH_REQUEST);
            None
        }
    };
    if errors.is_empty()
        && let Some(Content::Inline(data)) = &content
        && let Err(e) = sextant_spec::validate(kind, format, data)
    {
        errors.add("data", e.to_string());
    }
    errors.finish()?;
    content.present()
}

/// Compass's message when a spec has both or neither of data and a fetch request.
const DATA_OR_FETCH_REQUEST: &str = "Only one of Data or Fetch Request must be passed";
