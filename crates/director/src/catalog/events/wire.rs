//! Event definitions as answered.

use async_graphql::{ID, SimpleObject};
use sextant_domain::{self as domain, EventSpecType, PageRequest};

use crate::catalog::content::wire::{FetchRequest, SpecFormatWire, Version};
use crate::page::{PageInfo, page_info, total};
use crate::scalars::{Clob, id};

mirror_enum!(
    "EventSpecType" EventSpecTypeWire => EventSpecType { AsyncApi }
);

#[derive(SimpleObject)]
pub struct EventSpec {
    pub data: Option<Clob>,
    #[graphql(name = "type")]
    pub spec_type: EventSpecTypeWire,
    pub format: SpecFormatWire,
    pub fetch_request: Option<FetchRequest>,
}

impl From<domain::EventSpec> for EventSpec {
    fn from(s: domain::EventSpec) -> Self {
        EventSpec {
            data: s.data.map(Clob),
            spec_type: s.spec_type.into(),
            format: s.format.into(),
            fetch_request: s.fetch_request.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct EventDefinition {
    pub id: ID,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    pub name: String,
    pub description: Option<String>,
    pub group: Option<String>,
    pub spec: EventSpec,
    pub version: Option<Version>,
}

impl From<domain::EventDefinition> for EventDefinition {
    fn from(e: domain::EventDefinition) -> Self {
        EventDefinition {
            id: id(e.id),
            application_id: id(e.application_id),
            name: e.name.into_string(),
            description: e.description,
            group: e.group,
            spec: e.spec.into(),
            version: e.version.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct EventDefinitionPage {
    pub data: Vec<EventDefinition>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl EventDefinitionPage {
    pub fn new(page: domain::Page<domain::EventDefinition>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |e| e.id);
        EventDefinitionPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}
