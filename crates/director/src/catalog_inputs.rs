//! Wire inputs of the catalog (API and event definitions, documents, webhooks, fetch
//! requests, `AuthInput`) and their validation into domain drafts. These inputs are also part
//! of an application template's JSON, hence serde.

use async_graphql::{Enum, InputObject};
use serde::{Deserialize, Serialize};
use sextant_domain::credentials::{AuthFieldError, CsrfTokenAuth, Multimap, RequestAuth};
use sextant_domain::validate::{self, LONG_STRING, SHORT_STRING};
use sextant_domain::{
    self as domain, ApiSpecType, DomainError, EventSpecType, FetchMode, FieldError, SpecFormat,
};

use crate::scalars::{Clob, HttpHeaders, QueryParams};

/// Longest group name.
pub const GROUP_MAX: usize = 36;
/// Longest fetch-request filter.
const FILTER_MAX: usize = 256;

macro_rules! mirror_enum {
    ($gql:literal $name:ident => $domain:ty { $($variant:ident),+ $(,)? }) => {
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Serialize, Deserialize)]
        #[graphql(name = $gql)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl From<$name> for $domain {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$domain>::$variant),+ }
            }
        }
        impl From<$domain> for $name {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => $name::$variant),+ }
            }
        }
    };
}

mirror_enum!(
    "SpecFormat" SpecFormatWire => SpecFormat { Yaml, Json, Xml }
);
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
mirror_enum!(
    "EventSpecType" EventSpecTypeWire => EventSpecType { AsyncApi }
);
mirror_enum!(
    "DocumentFormat" DocumentFormatWire => domain::DocumentFormat { Markdown }
);
mirror_enum!(
    "FetchMode" FetchModeWire => FetchMode { Single, Package, Index }
);
mirror_enum!(
    "FetchRequestStatusCondition" FetchStatusConditionWire => domain::FetchStatusCondition { Initial, Succeeded, Failed }
);
mirror_enum!(
    "ApplicationWebhookType" WebhookTypeWire => domain::WebhookType { ConfigurationChanged }
);

fn field_err(ty: &'static str, field: String, message: impl Into<String>) -> DomainError {
    FieldError::new(ty, field, message).into()
}

fn check(ty: &'static str, field: &str, r: Result<(), String>) -> Result<(), DomainError> {
    r.map_err(|m| field_err(ty, field.to_owned(), m))
}

fn check_opt(
    ty: &'static str,
    field: &str,
    value: Option<&str>,
    rule: impl Fn(&str) -> Result<(), String>,
) -> Result<(), DomainError> {
    value.map_or(Ok(()), |v| check(ty, field, rule(v)))
}

// --- Auth ---

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "BasicCredentialDataInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicCredentialDataInput {
    pub username: String,
    pub password: String,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "OAuthCredentialDataInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuthCredentialDataInput {
    pub client_id: String,
    pub client_secret: String,
    pub url: String,
}

/// Exactly one of `basic` or `oauth`.
#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialDataInput {
    pub basic: Option<BasicCredentialDataInput>,
    pub oauth: Option<OAuthCredentialDataInput>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "CSRFTokenCredentialRequestAuthInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsrfTokenCredentialRequestAuthInput {
    #[graphql(name = "tokenEndpointURL")]
    #[serde(rename = "tokenEndpointURL")]
    pub token_endpoint_url: String,
    pub credential: CredentialDataInput,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialRequestAuthInput {
    pub csrf: Option<CsrfTokenCredentialRequestAuthInput>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthInput {
    pub credential: CredentialDataInput,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
    pub request_auth: Option<CredentialRequestAuthInput>,
}

fn credential(
    ty: &'static str,
    field: &str,
    c: CredentialDataInput,
) -> Result<domain::Credential, DomainError> {
    match (c.basic, c.oauth) {
        (Some(b), None) => Ok(domain::Credential::Basic {
            username: b.username,
            password: b.password,
        }),
        (None, Some(o)) => Ok(domain::Credential::OAuth {
            client_id: o.client_id,
            client_secret: o.client_secret,
            url: o.url,
        }),
        _ => Err(field_err(
            ty,
            field.to_owned(),
            "exactly one of basic or oauth must be given",
        )),
    }
}

fn map(m: Option<impl Into<Multimap>>) -> Option<Multimap> {
    m.map(Into::into)
}

impl AuthInput {
    /// Validates into an `Auth`; errors name `ty` and the field path under `field`.
    pub fn validate(self, ty: &'static str, field: &str) -> Result<domain::Auth, DomainError> {
        let request_auth = match self.request_auth.and_then(|r| r.csrf) {
            Some(csrf) => Some(RequestAuth {
                csrf: Some(CsrfTokenAuth {
                    token_endpoint_url: csrf.token_endpoint_url,
                    credential: credential(
                        ty,
                        &format!("{field}.requestAuth.csrf.credential"),
                        csrf.credential,
                    )?,
                    additional_headers: map(csrf.additional_headers),
                    additional_query_params: map(csrf.additional_query_params),
                }),
            }),
            None => None,
        };
        let auth = domain::Auth {
            credential: credential(ty, &format!("{field}.credential"), self.credential)?,
            additional_headers: map(self.additional_headers),
            additional_query_params: map(self.additional_query_params),
            request_auth,
        };
        auth.validate()
            .map_err(|AuthFieldError { field: f, message }| {
                field_err(ty, format!("{field}.{f}"), message)
            })?;
        Ok(auth)
    }
}

/// Validates an optional `AuthInput`.
pub fn auth(
    ty: &'static str,
    field: &str,
    input: Option<AuthInput>,
) -> Result<Option<domain::Auth>, DomainError> {
    input.map(|a| a.validate(ty, field)).transpose()
}

// --- fetch requests and versions ---

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FetchRequestInput {
    pub url: String,
    pub auth: Option<AuthInput>,
    #[graphql(default_with = "Some(FetchModeWire::Single)")]
    pub mode: Option<FetchModeWire>,
    pub filter: Option<String>,
}

/// A fetch request before its first fetch.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchRequestDraft {
    pub url: String,
    pub auth: Option<domain::Auth>,
    pub mode: FetchMode,
    pub filter: Option<String>,
}

impl FetchRequestInput {
    fn validate(self, ty: &'static str, field: &str) -> Result<FetchRequestDraft, DomainError> {
        check(
            ty,
            &format!("{field}.url"),
            validate::required_url_between(&self.url),
        )?;
        check_opt(
            ty,
            &format!("{field}.filter"),
            self.filter.as_deref(),
            |v| validate::not_empty_between(v, FILTER_MAX),
        )?;
        Ok(FetchRequestDraft {
            auth: auth(ty, &format!("{field}.auth"), self.auth)?,
            url: self.url,
            mode: self.mode.unwrap_or(FetchModeWire::Single).into(),
            filter: self.filter,
        })
    }
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionInput {
    pub value: String,
    #[graphql(default_with = "Some(false)")]
    pub deprecated: Option<bool>,
    pub deprecated_since: Option<String>,
    #[graphql(default_with = "Some(false)")]
    pub for_removal: Option<bool>,
}

impl VersionInput {
    fn validate(self, ty: &'static str) -> Result<domain::Version, DomainError> {
        check(
            ty,
            "version.value",
            validate::required_between(&self.value, LONG_STRING),
        )?;
        check_opt(
            ty,
            "version.deprecatedSince",
            self.deprecated_since.as_deref(),
            |v| validate::at_most(v, LONG_STRING),
        )?;
        Ok(domain::Version {
            value: self.value,
            deprecated: self.deprecated.unwrap_or(false),
            deprecated_since: self.deprecated_since,
            for_removal: self.for_removal.unwrap_or(false),
        })
    }
}

/// Inline data or a fetch request: exactly one.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    Inline(String),
    Fetch(Box<FetchRequestDraft>),
}

fn content(
    ty: &'static str,
    field: &str,
    data: Option<Clob>,
    fetch: Option<FetchRequestInput>,
    required: bool,
) -> Result<Option<Content>, DomainError> {
    match (data, fetch) {
        (Some(_), Some(_)) => Err(field_err(
            ty,
            field.to_owned(),
            "only one of data or fetchRequest may be given",
        )),
        (Some(Clob(data)), None) => Ok(Some(Content::Inline(data))),
        (None, Some(fetch)) => {
            // A document's fetch request is its own field, not part of `data`.
            let path = if field == "data" {
                "fetchRequest".to_owned()
            } else {
                format!("{field}.fetchRequest")
            };
            Ok(Some(Content::Fetch(Box::new(fetch.validate(ty, &path)?))))
        }
        (None, None) if required => Err(field_err(
            ty,
            field.to_owned(),
            "one of data or fetchRequest must be given",
        )),
        (None, None) => Ok(None),
    }
}

/// Checks a spec's declared format against its type and, for inline data, parses it.
fn spec_content(
    ty: &'static str,
    field: &str,
    kind: sextant_spec::SpecKind,
    format: SpecFormat,
    data: Option<Clob>,
    fetch: Option<FetchRequestInput>,
) -> Result<Content, DomainError> {
    sextant_spec::check_format_allowed(kind, format)
        .map_err(|e| field_err(ty, format!("{field}.format"), e.to_string()))?;
    let content = content(ty, field, data, fetch, true)?
        .ok_or_else(|| field_err(ty, field.to_owned(), "cannot be blank"))?;
    if let Content::Inline(data) = &content {
        sextant_spec::validate(kind, format, data)
            .map_err(|e| field_err(ty, format!("{field}.data"), e.to_string()))?;
    }
    Ok(content)
}

// --- API definitions ---

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "APISpecInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiSpecInput {
    pub data: Option<Clob>,
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub spec_type: ApiSpecTypeWire,
    pub format: SpecFormatWire,
    pub fetch_request: Option<FetchRequestInput>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "APIDefinitionInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiDefinitionInput {
    pub name: String,
    pub description: Option<String>,
    #[graphql(name = "targetURL")]
    #[serde(rename = "targetURL")]
    pub target_url: String,
    pub group: Option<String>,
    pub spec: Option<ApiSpecInput>,
    pub version: Option<VersionInput>,
    pub default_auth: Option<AuthInput>,
}

/// A validated API definition without identity.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiDraft {
    pub name: String,
    pub description: Option<String>,
    pub target_url: String,
    pub group: Option<String>,
    pub spec: Option<(ApiSpecType, SpecFormat, Content)>,
    pub version: Option<domain::Version>,
    pub default_auth: Option<domain::Auth>,
}

impl ApiDefinitionInput {
    pub fn validate(self) -> Result<ApiDraft, DomainError> {
        const T: &str = "APIDefinitionInput";
        check(T, "name", validate::name(&self.name))?;
        check_opt(T, "description", self.description.as_deref(), |v| {
            validate::at_most(v, SHORT_STRING)
        })?;
        check(
            T,
            "targetURL",
            validate::required_url_between(&self.target_url),
        )?;
        check_opt(T, "group", self.group.as_deref(), |v| {
            validate::at_most(v, GROUP_MAX)
        })?;
        let spec = match self.spec {
            Some(spec) => {
                let spec_type: ApiSpecType = spec.spec_type.into();
                let format: SpecFormat = spec.format.into();
                let content = spec_content(
                    T,
                    "spec",
                    spec_type.into(),
                    format,
                    spec.data,
                    spec.fetch_request,
                )?;
                Some((spec_type, format, content))
            }
            None => None,
        };
        Ok(ApiDraft {
            version: self.version.map(|v| v.validate(T)).transpose()?,
            default_auth: auth(T, "defaultAuth", self.default_auth)?,
            name: self.name,
            description: self.description,
            target_url: self.target_url,
            group: self.group,
            spec,
        })
    }
}

// --- event definitions ---

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
    pub name: String,
    pub description: Option<String>,
    pub group: Option<String>,
    pub spec: (EventSpecType, SpecFormat, Content),
    pub version: Option<domain::Version>,
}

impl EventDefinitionInput {
    pub fn validate(self) -> Result<EventDraft, DomainError> {
        const T: &str = "EventDefinitionInput";
        check(T, "name", validate::name(&self.name))?;
        check_opt(T, "description", self.description.as_deref(), |v| {
            validate::at_most(v, SHORT_STRING)
        })?;
        check_opt(T, "group", self.group.as_deref(), |v| {
            validate::at_most(v, GROUP_MAX)
        })?;
        // Compass declares the spec optional but answers `EventDefinition.spec: EventSpec!`:
        // an event definition without a spec could not be read back, so it is required.
        let spec = self
            .spec
            .ok_or_else(|| field_err(T, "spec".to_owned(), "cannot be blank"))?;
        let spec_type: EventSpecType = spec.spec_type.into();
        let format: SpecFormat = spec.format.into();
        let content = spec_content(
            T,
            "spec",
            spec_type.into(),
            format,
            spec.data,
            spec.fetch_request,
        )?;
        Ok(EventDraft {
            version: self.version.map(|v| v.validate(T)).transpose()?,
            name: self.name,
            description: self.description,
            group: self.group,
            spec: (spec_type, format, content),
        })
    }
}

// --- documents ---

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentInput {
    pub title: String,
    pub display_name: String,
    pub description: String,
    pub format: DocumentFormatWire,
    pub kind: Option<String>,
    pub data: Option<Clob>,
    pub fetch_request: Option<FetchRequestInput>,
}

/// A validated document without identity.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentDraft {
    pub title: String,
    pub display_name: String,
    pub description: String,
    pub format: domain::DocumentFormat,
    pub kind: Option<String>,
    pub content: Option<Content>,
}

impl DocumentInput {
    pub fn validate(self) -> Result<DocumentDraft, DomainError> {
        const T: &str = "DocumentInput";
        check(
            T,
            "title",
            validate::required_between(&self.title, SHORT_STRING),
        )?;
        check(
            T,
            "displayName",
            validate::required_between(&self.display_name, SHORT_STRING),
        )?;
        check(
            T,
            "description",
            validate::required_between(&self.description, SHORT_STRING),
        )?;
        check_opt(T, "kind", self.kind.as_deref(), |v| {
            validate::at_most(v, LONG_STRING)
        })?;
        let content = content(T, "data", self.data, self.fetch_request, false)?;
        if let Some(Content::Inline(data)) = &content
            && data.len() > domain::MAX_SPEC_BYTES
        {
            return Err(field_err(
                T,
                "data".to_owned(),
                format!("must be at most {} bytes", domain::MAX_SPEC_BYTES),
            ));
        }
        Ok(DocumentDraft {
            title: self.title,
            display_name: self.display_name,
            description: self.description,
            format: self.format.into(),
            kind: self.kind,
            content,
        })
    }
}

// --- webhooks ---

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookInput {
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub webhook_type: WebhookTypeWire,
    pub url: String,
    pub auth: Option<AuthInput>,
}

/// A validated webhook without identity.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookDraft {
    pub webhook_type: domain::WebhookType,
    pub url: String,
    pub auth: Option<domain::Auth>,
}

impl WebhookInput {
    pub fn validate(self) -> Result<WebhookDraft, DomainError> {
        const T: &str = "WebhookInput";
        check(T, "url", validate::required_url(&self.url))?;
        Ok(WebhookDraft {
            webhook_type: self.webhook_type.into(),
            auth: auth(T, "auth", self.auth)?,
            url: self.url,
        })
    }
}

/// Checks that a list of children is within the per-input bound.
pub fn bounded_list<T>(
    ty: &'static str,
    field: &str,
    list: Option<Vec<T>>,
) -> Result<Vec<T>, DomainError> {
    let list = list.unwrap_or_default();
    if list.len() > domain::MAX_CHILDREN_PER_INPUT {
        return Err(field_err(
            ty,
            field.to_owned(),
            format!(
                "at most {} items are allowed",
                domain::MAX_CHILDREN_PER_INPUT
            ),
        ));
    }
    Ok(list)
}
