//! Application templates as answered.

use async_graphql::{Enum, ID, SimpleObject};
use sextant_domain::{self as domain, Page, PageRequest};

use crate::page::{PageInfo, page_info, total};
use crate::templates::graphqlizer;

/// Who sees and writes a template.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ApplicationTemplateAccessLevel {
    /// Every tenant reads it; only operators (`application_template:global`) write it.
    Global,
    /// Sextant: the template belongs to the tenant that made it, which alone sees and writes it.
    Tenant,
}

#[derive(SimpleObject)]
pub struct PlaceholderDefinition {
    pub name: String,
    pub description: Option<String>,
}

#[derive(SimpleObject)]
pub struct ApplicationTemplate {
    pub id: ID,
    pub name: String,
    pub description: Option<String>,
    /// The application input with its `{{placeholder}}` markers, as a GraphQL input literal
    /// (Compass's graphqlizer rendering).
    pub application_input: String,
    pub placeholders: Vec<PlaceholderDefinition>,
    pub access_level: ApplicationTemplateAccessLevel,
}

impl From<domain::ApplicationTemplate> for ApplicationTemplate {
    fn from(t: domain::ApplicationTemplate) -> Self {
        ApplicationTemplate {
            id: ID(t.id.to_string()),
            name: t.name.into_string(),
            description: t.description,
            application_input: graphqlizer::application_input(&t.application_input),
            placeholders: t
                .placeholders
                .into_iter()
                .map(|p| PlaceholderDefinition {
                    name: p.name,
                    description: p.description,
                })
                .collect(),
            access_level: match t.tenant {
                None => ApplicationTemplateAccessLevel::Global,
                Some(_) => ApplicationTemplateAccessLevel::Tenant,
            },
        }
    }
}

#[derive(SimpleObject)]
pub struct ApplicationTemplatePage {
    pub data: Vec<ApplicationTemplate>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl ApplicationTemplatePage {
    pub fn new(page: Page<domain::ApplicationTemplate>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |t| t.id);
        ApplicationTemplatePage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}
