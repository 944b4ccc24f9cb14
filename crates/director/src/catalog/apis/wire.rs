//! API definitions as answered, with each runtime's credentials for them.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use serde::{Deserialize, Serialize};
use sextant_domain::{self as domain, ApiSpecType, PageRequest};
use uuid::Uuid;

use crate::catalog::content::wire::{FetchRequest, SpecFormatWire, Version};
use crate::catalog::credentials::wire::Auth;
use crate::confine::Reach;
use crate::context::{loader, reach};
use crate::error::{GqlResult, to_graphql};
use crate::loaders::{AllRuntimeAuthsKey, RuntimeApiAuth, RuntimeAuthKey, load_error};
use crate::page::{PageInfo, page_info, total};
use crate::scalars::{Clob, id};

// Written by hand: `ODATA` is one word on the wire.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Serialize, Deserialize)]
#[graphql(name = "APISpecType")]
pub enum ApiSpecTypeWire {
    #[graphql(name = "ODATA")]
    #[serde(rename = "ODATA")]
    OData,
    #[serde(rename = "OPEN_API")]
    OpenApi,
}

impl From<ApiSpecTypeWire> for ApiSpecType {
    fn from(v: ApiSpecTypeWire) -> Self {
        match v {
            ApiSpecTypeWire::OData => ApiSpecType::OData,
            ApiSpecTypeWire::OpenApi => ApiSpecType::OpenApi,
        }
    }
}

impl From<ApiSpecType> for ApiSpecTypeWire {
    fn from(v: ApiSpecType) -> Self {
        match v {
            ApiSpecType::OData => ApiSpecTypeWire::OData,
            ApiSpecType::OpenApi => ApiSpecTypeWire::OpenApi,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "APISpec")]
pub struct ApiSpec {
    pub data: Option<Clob>,
    pub format: SpecFormatWire,
    #[graphql(name = "type")]
    pub spec_type: ApiSpecTypeWire,
    pub fetch_request: Option<FetchRequest>,
}

impl From<domain::ApiSpec> for ApiSpec {
    fn from(s: domain::ApiSpec) -> Self {
        ApiSpec {
            data: s.data.map(Clob),
            format: s.format.into(),
            spec_type: s.spec_type.into(),
            fetch_request: s.fetch_request.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "APIRuntimeAuth")]
pub struct ApiRuntimeAuth {
    #[graphql(name = "runtimeID")]
    pub runtime_id: ID,
    pub auth: Option<Auth>,
}

pub struct ApiDefinition(pub domain::ApiDefinition);

#[Object(name = "APIDefinition")]
impl ApiDefinition {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    #[graphql(name = "applicationID")]
    async fn application_id(&self) -> ID {
        id(self.0.application_id)
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn spec(&self) -> Option<ApiSpec> {
        self.0.spec.clone().map(Into::into)
    }
    #[graphql(name = "targetURL")]
    async fn target_url(&self) -> &str {
        &self.0.target_url
    }
    async fn group(&self) -> Option<&str> {
        self.0.group.as_deref()
    }
    /// The credentials the runtime uses for this API: its own if set, else `defaultAuth`.
    async fn auth(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runtimeID")] runtime_id: ID,
    ) -> GqlResult<Option<ApiRuntimeAuth>> {
        let not_found = || {
            to_graphql(domain::DomainError::not_found(
                "runtime",
                runtime_id.as_str(),
            ))
        };
        let runtime = Uuid::parse_str(&runtime_id)
            .map(domain::RuntimeId::from_untyped)
            .map_err(|_| not_found())?;
        // A runtime sees only the credentials it holds itself.
        let reach = reach(ctx)?;
        if let Reach::Runtime(own) = reach
            && own != runtime
        {
            return Err(not_found());
        }
        let loaded = loader(ctx)?
            .load_one(RuntimeAuthKey {
                api: self.0.id,
                runtime,
            })
            .await
            .map_err(load_error)?;
        match loaded {
            Some(l) if l.runtime_exists => Ok(Some(ApiRuntimeAuth {
                runtime_id: id(runtime),
                auth: l
                    .auth
                    .or_else(|| self.0.default_auth.clone())
                    .map(Into::into),
            })),
            _ => Err(not_found()),
        }
    }
    /// One entry per runtime of the tenant: its credentials, else `defaultAuth` (a runtime
    /// sees only its own entry).
    async fn auths(&self, ctx: &Context<'_>) -> GqlResult<Vec<ApiRuntimeAuth>> {
        let reach = reach(ctx)?;
        let list = match reach {
            Reach::Runtime(own) => {
                let loaded = loader(ctx)?
                    .load_one(RuntimeAuthKey {
                        api: self.0.id,
                        runtime: own,
                    })
                    .await
                    .map_err(load_error)?;
                match loaded {
                    Some(l) if l.runtime_exists => vec![RuntimeApiAuth {
                        runtime: own,
                        auth: l.auth,
                    }],
                    _ => Vec::new(),
                }
            }
            _ => loader(ctx)?
                .load_one(AllRuntimeAuthsKey(self.0.id))
                .await
                .map_err(load_error)?
                .unwrap_or_default(),
        };
        Ok(list
            .into_iter()
            .map(|RuntimeApiAuth { runtime, auth }| ApiRuntimeAuth {
                runtime_id: id(runtime),
                auth: auth.or_else(|| self.0.default_auth.clone()).map(Into::into),
            })
            .collect())
    }
    async fn default_auth(&self) -> Option<Auth> {
        self.0.default_auth.clone().map(Into::into)
    }
    async fn version(&self) -> Option<Version> {
        self.0.version.clone().map(Into::into)
    }
}

#[derive(SimpleObject)]
#[graphql(name = "APIDefinitionPage")]
pub struct ApiDefinitionPage {
    pub data: Vec<ApiDefinition>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl ApiDefinitionPage {
    pub fn new(page: domain::Page<domain::ApiDefinition>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |a| a.id);
        ApiDefinitionPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(ApiDefinition).collect(),
            page_info,
        }
    }
}
