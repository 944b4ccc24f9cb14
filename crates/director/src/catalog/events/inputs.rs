//! `EventDefinitionInput` and its spec, and their checks into an [`EventDraft`].

use async_graphql::InputObject;
use serde::{Deserialize, Serialize};
use sextant_domain::validate::{self, SHORT_STRING};
use sextant_domain::{self as domain, DomainError, EventSpecType, FieldErrors, Name, SpecFormat};

use crate::catalog::content::inputs::{
    Content, FetchRequestInput, VersionInput, spec_content, version,
};
use crate::catalog::content::wire::SpecFormatWire;
use crate::catalog::events::wire::EventSpecTypeWire;
use crate::catalog::limits::GROUP_MAX;
use crate::scalars::Clob;
use crate::validation::{Checked, Present, check_opt, typed};

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSpecInput {
    pub data: Option<Clob>,
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub spec_type: EventSpecTypeWire,
    pub format: SpecFormatWire,
    pub fetch_request: Option<FetchRequestInput>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventDefinitionInput {
    pub name: String,
    pub description: Option<String>,
    pub spec: Option<EventSpecInput>,
    pub group: Option<String>,
    pub version: Option<VersionInput>,
}

/// A validated event definition without identity.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    pub name: Name,
    pub description: Option<String>,
    pub group: Option<String>,
    pub spec: (EventSpecType, SpecFormat, Content),
    pub version: Option<domain::Version>,
}

impl EventDefinitionInput {
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<EventDraft> {
        let mut errors = FieldErrors::new();
        let name = errors.parse("name", Name::parse(self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        check_opt(&mut errors, "group", self.group.as_deref(), |v| {
            validate::at_most(v, GROUP_MAX)
        });
        // Compass declares the spec optional but answers `EventDefinition.spec: EventSpec!`;
        // its validation required it too.
        let spec = match self.spec {
            Some(spec) => {
                let spec_type: EventSpecType = spec.spec_type.into();
                let format: SpecFormat = spec.format.into();
                errors
                    .take(
                        "spec",
                        spec_content(spec_type.into(), format, spec.data, spec.fetch_request),
                    )
                    .map(|content| (spec_type, format, content))
            }
            None => {
                errors.add("spec", validate::BLANK);
                None
            }
        };
        let version = errors.take("version", version(self.version));
        errors.finish()?;
        Ok(EventDraft {
            version: version.present()?,
            spec: spec.present()?,
            name: name.present()?,
            description: self.description,
            group: self.group,
        })
    }

    pub fn validate(self) -> Result<EventDraft, DomainError> {
        typed("EventDefinitionInput", self.check())
    }
}
