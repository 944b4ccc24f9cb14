//! Fetch requests and versions as answered, and the enums of specs and fetch requests.

use async_graphql::{Context, Object, SimpleObject};
use sextant_domain::{self as domain, FetchMode, SpecFormat};

use crate::catalog::credentials::wire::Auth;
use crate::context::sees_application_secrets;
use crate::error::GqlResult;
use crate::scalars::Timestamp;

mirror_enum!(
    "SpecFormat" SpecFormatWire => SpecFormat { Yaml, Json, Xml }
);
mirror_enum!(
    "FetchMode" FetchModeWire => FetchMode { Single, Package, Index }
);
mirror_enum!(
    "FetchRequestStatusCondition" FetchStatusConditionWire => domain::FetchStatusCondition { Initial, Succeeded, Failed }
);

#[derive(SimpleObject)]
pub struct FetchRequestStatus {
    pub condition: FetchStatusConditionWire,
    pub timestamp: Timestamp,
    /// Why the last fetch failed, or what it fetched (a Sextant addition, as in Compass 2020).
    pub message: Option<String>,
}

pub struct FetchRequest(domain::FetchRequest);

impl From<domain::FetchRequest> for FetchRequest {
    fn from(f: domain::FetchRequest) -> Self {
        FetchRequest(f)
    }
}

#[Object]
impl FetchRequest {
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The credentials used to fetch (hidden from runtimes).
    async fn auth(&self, ctx: &Context<'_>) -> GqlResult<Option<Auth>> {
        if !sees_application_secrets(ctx)? {
            return Ok(None);
        }
        Ok(self.0.auth.clone().map(Into::into))
    }
    async fn mode(&self) -> FetchModeWire {
        self.0.mode.into()
    }
    async fn filter(&self) -> Option<&str> {
        self.0.filter.as_deref()
    }
    async fn status(&self) -> FetchRequestStatus {
        FetchRequestStatus {
            condition: self.0.status.condition.into(),
            timestamp: Timestamp(self.0.status.timestamp),
            message: self.0.status.message.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct Version {
    pub value: String,
    pub deprecated: Option<bool>,
    pub deprecated_since: Option<String>,
    pub for_removal: Option<bool>,
}

impl From<domain::Version> for Version {
    fn from(v: domain::Version) -> Self {
        Version {
            value: v.value,
            deprecated: Some(v.deprecated),
            deprecated_since: v.deprecated_since,
            for_removal: Some(v.for_removal),
        }
    }
}
