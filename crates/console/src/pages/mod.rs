//! The console's pages, one module per area; each handler loads the session, runs its
//! GraphQL as the session's consumer and renders a template.

pub(crate) mod applications;
pub(crate) mod credentials;
pub(crate) mod dashboard;
pub(crate) mod integration_systems;
pub(crate) mod label_definitions;
pub(crate) mod login;
pub(crate) mod runtimes;
pub(crate) mod scenarios;
pub(crate) mod templates;
pub(crate) mod tenant;
