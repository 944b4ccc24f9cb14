//! The schema's roots: [`Query`] and [`Mutation`] merge the resources' own, in the order
//! their fields take in the SDL (the committed snapshot), and [`Pageable`] names every page
//! type.

use async_graphql::{Interface, MergedObject};

use crate::applications::mutation::ApplicationMutation;
use crate::applications::query::ApplicationQuery;
use crate::applications::wire::ApplicationPage;
use crate::catalog::apis::mutation::ApiMutation;
use crate::catalog::apis::wire::ApiDefinitionPage;
use crate::catalog::documents::mutation::DocumentMutation;
use crate::catalog::documents::wire::DocumentPage;
use crate::catalog::eventing::mutation::EventingMutation;
use crate::catalog::events::mutation::EventMutation;
use crate::catalog::events::wire::EventDefinitionPage;
use crate::catalog::webhooks::mutation::WebhookMutation;
use crate::health::{HealthCheckPage, HealthQuery};
use crate::integration_systems::mutation::IntegrationSystemMutation;
use crate::integration_systems::query::IntegrationSystemQuery;
use crate::integration_systems::wire::IntegrationSystemPage;
use crate::labels::mutation::LabelMutation;
use crate::labels::query::LabelQuery;
use crate::overview::query::OverviewQuery;
use crate::page::PageInfo;
use crate::runtimes::mutation::RuntimeMutation;
use crate::runtimes::query::RuntimeQuery;
use crate::runtimes::wire::RuntimePage;
use crate::system_auths::mutation::SystemAuthMutation;
use crate::system_auths::query::SystemAuthQuery;
use crate::templates::mutation::TemplateMutation;
use crate::templates::query::TemplateQuery;
use crate::templates::wire::ApplicationTemplatePage;

// No doc comment: it would be the type's description in the SDL, which has none.
#[derive(MergedObject, Default)]
pub struct Query(
    ApplicationQuery,
    TemplateQuery,
    RuntimeQuery,
    LabelQuery,
    IntegrationSystemQuery,
    HealthQuery,
    SystemAuthQuery,
    OverviewQuery,
);

// The doc comment is the type's description in the SDL.
/// The Director's mutations: the core ones and the catalog's.
#[derive(MergedObject, Default)]
pub struct Mutation(
    ApplicationMutation,
    TemplateMutation,
    RuntimeMutation,
    IntegrationSystemMutation,
    LabelMutation,
    WebhookMutation,
    ApiMutation,
    EventMutation,
    DocumentMutation,
    EventingMutation,
    SystemAuthMutation,
);

/// A page of a list.
// The variants are named after the GraphQL types they stand for.
#[allow(clippy::enum_variant_names)]
#[derive(Interface)]
#[graphql(
    field(name = "page_info", ty = "&PageInfo"),
    field(name = "total_count", ty = "&i32")
)]
pub enum Pageable {
    ApplicationPage(ApplicationPage),
    RuntimePage(RuntimePage),
    IntegrationSystemPage(IntegrationSystemPage),
    ApplicationTemplatePage(ApplicationTemplatePage),
    #[graphql(name = "APIDefinitionPage")]
    ApiDefinitionPage(ApiDefinitionPage),
    EventDefinitionPage(EventDefinitionPage),
    DocumentPage(DocumentPage),
    HealthCheckPage(HealthCheckPage),
}
