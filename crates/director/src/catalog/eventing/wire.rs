//! Eventing configurations as answered.

use async_graphql::SimpleObject;

#[derive(SimpleObject)]
pub struct ApplicationEventingConfiguration {
    #[graphql(name = "defaultURL")]
    pub default_url: String,
}

#[derive(SimpleObject)]
pub struct RuntimeEventingConfiguration {
    #[graphql(name = "defaultURL")]
    pub default_url: String,
}
