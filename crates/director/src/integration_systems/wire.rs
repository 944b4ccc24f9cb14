//! Integration systems as answered, with their credentials.

use async_graphql::{Context, ID, Object, SimpleObject};
use sextant_domain::{self as domain, Page, PageRequest, SystemAuthOwner};

use crate::confine::{self, Reach};
use crate::context::consumer;
use crate::error::GqlResult;
use crate::page::{PageInfo, page_info, total};
use crate::system_auths::wire::{SystemAuth, auths_of};

pub struct IntegrationSystem(domain::IntegrationSystem);

impl From<domain::IntegrationSystem> for IntegrationSystem {
    fn from(s: domain::IntegrationSystem) -> Self {
        IntegrationSystem(s)
    }
}

#[Object]
impl IntegrationSystem {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The integration system's credentials (OAuth2 clients; the secret is shown only when
    /// made).
    async fn auths(&self, ctx: &Context<'_>) -> GqlResult<Vec<SystemAuth>> {
        let consumer = consumer(ctx)?;
        let reach = Reach::of(consumer);
        if !confine::can_read_integration_system_auths(consumer.tenant, reach, &self.0) {
            return Ok(Vec::new());
        }
        auths_of(ctx, SystemAuthOwner::IntegrationSystem(self.0.id)).await
    }
}

#[derive(SimpleObject)]
pub struct IntegrationSystemPage {
    pub data: Vec<IntegrationSystem>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl IntegrationSystemPage {
    pub fn new(page: Page<domain::IntegrationSystem>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |s| s.id);
        IntegrationSystemPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}
