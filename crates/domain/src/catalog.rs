//! An application's catalog: API and event definitions with their specs, documents, webhooks,
//! fetch requests, and per-runtime API credentials.

use crate::credentials::Auth;
use crate::{
    ApiDefinitionId, ApplicationId, DocumentId, EventDefinitionId, Name, RuntimeId, TenantId,
    WebhookId,
};
use time::OffsetDateTime;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The GraphQL and storage spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

wire_enum!(
    /// The format a spec is written in.
    SpecFormat { Yaml = "YAML", Json = "JSON", Xml = "XML" }
);
wire_enum!(
    /// What an API spec describes.
    ApiSpecType { OData = "ODATA", OpenApi = "OPEN_API" }
);
wire_enum!(
    /// What an event spec describes.
    EventSpecType { AsyncApi = "ASYNC_API" }
);
wire_enum!(
    /// The format of a document.
    DocumentFormat { Markdown = "MARKDOWN" }
);
wire_enum!(
    /// How a fetch request's URL is to be read.
    FetchMode { Single = "SINGLE", Package = "PACKAGE", Index = "INDEX" }
);
wire_enum!(
    /// Where a fetch request stands.
    FetchStatusCondition { Initial = "INITIAL", Succeeded = "SUCCEEDED", Failed = "FAILED" }
);
wire_enum!(
    /// When a webhook is called.
    WebhookType { ConfigurationChanged = "CONFIGURATION_CHANGED" }
);

/// The most bytes a document, or a spec given inline in a GraphQL request, may have (a
/// request body holds inline specs, so they stay bounded by it).
pub const MAX_SPEC_BYTES: usize = 2 * 1024 * 1024;
/// The default for the most bytes a fetched spec may have ([`SpecLimits::max_fetched_spec`]):
/// real specs exceed the inline limit (GitHub's OpenAPI document is about 13 MB).
pub const DEFAULT_MAX_FETCHED_SPEC_BYTES: usize = 16 * 1024 * 1024;
/// The default spec quota of one application ([`SpecLimits::per_application`]).
pub const DEFAULT_SPEC_QUOTA_PER_APPLICATION: u64 = 64 * 1024 * 1024;
/// The default spec quota of one tenant ([`SpecLimits::per_tenant`]).
pub const DEFAULT_SPEC_QUOTA_PER_TENANT: u64 = 1024 * 1024 * 1024;

/// How large specs may be and how much of them an application and a tenant may store.
/// Quotas count every definition's spec at its full size, shared or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecLimits {
    /// The most bytes one fetched spec may have.
    pub max_fetched_spec: usize,
    /// The most spec bytes the API and event definitions of one application may have.
    pub per_application: u64,
    /// The most spec bytes the API and event definitions of one tenant may have.
    pub per_tenant: u64,
}

impl Default for SpecLimits {
    fn default() -> Self {
        SpecLimits {
            max_fetched_spec: DEFAULT_MAX_FETCHED_SPEC_BYTES,
            per_application: DEFAULT_SPEC_QUOTA_PER_APPLICATION,
            per_tenant: DEFAULT_SPEC_QUOTA_PER_TENANT,
        }
    }
}

/// A stored spec's name and size: the SHA-256 of its text (lowercase hex) and its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecDigest {
    pub sha256: String,
    pub size: u64,
}
/// The most API definitions, event definitions, documents or webhooks in one registration.
pub const MAX_CHILDREN_PER_INPUT: usize = 100;
/// The most API definitions, event definitions or documents one application may have.
pub const MAX_DEFINITIONS_PER_APPLICATION: i64 = 1_000;
/// The most webhooks one application may have (the `webhooks` list has no pages).
pub const MAX_WEBHOOKS_PER_APPLICATION: i64 = 100;

/// The outcome of the last fetch of a fetch request.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchStatus {
    pub condition: FetchStatusCondition,
    /// Why it failed (or what was fetched); `None` before the first fetch.
    pub message: Option<String>,
    pub timestamp: OffsetDateTime,
}

/// Where a spec or document is fetched from.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchRequest {
    pub url: String,
    pub auth: Option<Auth>,
    pub mode: FetchMode,
    pub filter: Option<String>,
    pub status: FetchStatus,
}

/// An API's or event API's version.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    pub value: String,
    pub deprecated: bool,
    pub deprecated_since: Option<String>,
    pub for_removal: bool,
}

/// The spec of an API definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiSpec {
    /// The text; `None` when there is none, or when it was not read (see `digest`).
    pub data: Option<String>,
    /// Set on specs read from the store that have a text; ignored when writing.
    pub digest: Option<SpecDigest>,
    pub format: SpecFormat,
    pub spec_type: ApiSpecType,
    pub fetch_request: Option<FetchRequest>,
}

/// An API an application exposes.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiDefinition {
    pub id: ApiDefinitionId,
    pub tenant: TenantId,
    pub application_id: ApplicationId,
    pub name: Name,
    pub description: Option<String>,
    pub target_url: String,
    pub group: Option<String>,
    pub spec: Option<ApiSpec>,
    pub version: Option<Version>,
    pub default_auth: Option<Auth>,
    pub created_at: OffsetDateTime,
}

/// The spec of an event definition.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSpec {
    /// The text; `None` when there is none, or when it was not read (see `digest`).
    pub data: Option<String>,
    /// Set on specs read from the store that have a text; ignored when writing.
    pub digest: Option<SpecDigest>,
    pub format: SpecFormat,
    pub spec_type: EventSpecType,
    pub fetch_request: Option<FetchRequest>,
}

/// An event API an application exposes.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDefinition {
    pub id: EventDefinitionId,
    pub tenant: TenantId,
    pub application_id: ApplicationId,
    pub name: Name,
    pub description: Option<String>,
    pub group: Option<String>,
    pub spec: EventSpec,
    pub version: Option<Version>,
    pub created_at: OffsetDateTime,
}

/// A document of an application (Markdown).
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub id: DocumentId,
    pub tenant: TenantId,
    pub application_id: ApplicationId,
    pub title: String,
    pub display_name: String,
    pub description: String,
    pub format: DocumentFormat,
    pub kind: Option<String>,
    pub data: Option<String>,
    pub fetch_request: Option<FetchRequest>,
    pub created_at: OffsetDateTime,
}

/// An endpoint of an application that Sextant calls.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant: TenantId,
    pub application_id: ApplicationId,
    pub webhook_type: WebhookType,
    pub url: String,
    pub auth: Option<Auth>,
    pub created_at: OffsetDateTime,
    /// The key deliveries are signed with (HMAC-SHA256), shown once when the webhook is made;
    /// None for webhooks made before secrets existed.
    pub secret: Option<String>,
    /// Since when deliveries to it give up (a delivery failed for its whole retry period);
    /// None once one succeeds again.
    pub failing_since: Option<OffsetDateTime>,
}

/// The credentials one runtime uses for one API definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiRuntimeAuth {
    pub api_id: ApiDefinitionId,
    pub runtime_id: RuntimeId,
    pub auth: Auth,
}

/// Which kind of fetchable object a fetch request belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchTarget {
    ApiSpec,
    EventSpec,
    Document,
}
