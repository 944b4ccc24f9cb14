//! `APIDefinitionInput` and its spec, and their checks into an [`ApiDraft`].

use async_graphql::InputObject;
use serde::{Deserialize, Serialize};
use sextant_domain::validate::{self, SHORT_STRING};
use sextant_domain::{self as domain, ApiSpecType, DomainError, FieldErrors, Name, SpecFormat};

use crate::catalog::apis::wire::ApiSpecTypeWire;
use crate::catalog::content::inputs::{
    Content, FetchRequestInput, VersionInput, spec_content, version,
};
use crate::catalog::content::wire::SpecFormatWire;
use crate::catalog::credentials::inputs::{AuthInput, auth};
use crate::catalog::limits::GROUP_MAX;
use crate::scalars::Clob;
use crate::validation::{Checked, Present, check_opt, typed};

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "APISpecInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiSpecInput {
    pub data: Option<Clob>,
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub spec_type: ApiSpecTypeWire,
    pub format: SpecFormatWire,
    pub fetch_request: Option<FetchRequestInput>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "APIDefinitionInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiDefinitionInput {
    pub name: String,
    pub description: Option<String>,
    #[graphql(name = "targetURL")]
    #[serde(rename = "targetURL")]
    pub target_url: String,
    pub group: Option<String>,
    pub spec: Option<ApiSpecInput>,
    pub version: Option<VersionInput>,
    pub default_auth: Option<AuthInput>,
}

/// A validated API definition without identity.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiDraft {
    pub name: Name,
    pub description: Option<String>,
    pub target_url: String,
    pub group: Option<String>,
    pub spec: Option<(ApiSpecType, SpecFormat, Content)>,
    pub version: Option<domain::Version>,
    pub default_auth: Option<domain::Auth>,
}

impl ApiDefinitionInput {
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<ApiDraft> {
        let mut errors = FieldErrors::new();
        let name = errors.parse("name", Name::parse(self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        errors.check(
            "targetURL",
            validate::required_url_between(&self.target_url),
        );
        check_opt(&mut errors, "group", self.group.as_deref(), |v| {
            validate::at_most(v, GROUP_MAX)
        });
        let spec = match self.spec {
            Some(spec) => {
                let spec_type: ApiSpecType = spec.spec_type.into();
                let format: SpecFormat = spec.format.into();
                errors
                    .take(
                        "spec",
                        spec_content(spec_type.into(), format, spec.data, spec.fetch_request),
                    )
                    .map(|content| Some((spec_type, format, content)))
            }
            None => Some(None),
        };
        let version = errors.take("version", version(self.version));
        let default_auth = errors.take("defaultAuth", auth(self.default_auth));
        errors.finish()?;
        Ok(ApiDraft {
            version: version.present()?,
            default_auth: default_auth.present()?,
            spec: spec.present()?,
            name: name.present()?,
            description: self.description,
            target_url: self.target_url,
            group: self.group,
        })
    }

    pub fn validate(self) -> Result<ApiDraft, DomainError> {
        typed("APIDefinitionInput", self.check())
    }
}
