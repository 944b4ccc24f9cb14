//! Wire inputs of the catalog (API and event definitions, documents, webhooks, fetch
//! requests, `AuthInput`) and their validation into domain drafts. These inputs are also part
//! of an application template's JSON, hence serde.

use async_graphql::{Enum, InputObject};
use serde::{Deserialize, Serialize};
use sextant_domain::credentials::{self, CsrfTokenAuth, Multimap, RequestAuth};
use sextant_domain::validate::{self, LONG_STRING, SHORT_STRING};
use sextant_domain::{
    self as domain, ApiSpecType, DomainError, EventSpecType, FetchMode, FieldError, FieldErrors,
    SpecFormat,
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

/// An input's own errors: ozzo-validation's `Errors` of its fields.
pub type Checked<T> = Result<T, FieldErrors>;

/// Records an optional string field's rule.
fn check_opt(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    rule: impl Fn(&str) -> Result<(), String>,
) {
    if let Some(v) = value {
        errors.check(field, rule(v));
    }
}

/// Turns an input's errors into the validation error of its type.
pub fn typed<T>(ty: &'static str, checked: Checked<T>) -> Result<T, DomainError> {
    checked.map_err(|errors| FieldError::from_errors(ty, errors).into())
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

/// Compass's `CredentialDataInput` rule: exactly one credential, then its own fields.
fn credential(c: CredentialDataInput) -> Checked<domain::Credential> {
    let credential = match (c.basic, c.oauth) {
        (Some(b), None) => domain::Credential::Basic {
            username: b.username,
            password: b.password,
        },
        (None, Some(o)) => domain::Credential::OAuth {
            client_id: o.client_id,
            client_secret: o.client_secret,
            url: o.url,
        },
        _ => {
            return Err(FieldErrors::single(
                "rule.ExactlyOneNotNil",
                "exactly one credential input has to be specified",
            ));
        }
    };
    credentials::credential_errors(&credential).finish()?;
    Ok(credential)
}

fn map(m: Option<impl Into<Multimap>>) -> Option<Multimap> {
    m.map(Into::into)
}

impl CsrfTokenCredentialRequestAuthInput {
    fn check(self) -> Checked<CsrfTokenAuth> {
        let mut errors = FieldErrors::new();
        errors.check(
            "tokenEndpointURL",
            validate::required_url(&self.token_endpoint_url),
        );
        let credential = errors.take("credential", credential(self.credential));
        let headers = map(self.additional_headers);
        let params = map(self.additional_query_params);
        credentials::check_headers(&mut errors, "additionalHeaders", headers.as_ref());
        credentials::check_query_params(&mut errors, "additionalQueryParams", params.as_ref());
        errors.finish()?;
        Ok(CsrfTokenAuth {
            token_endpoint_url: self.token_endpoint_url,
            credential: credential.present()?,
            additional_headers: headers,
            additional_query_params: params,
        })
    }
}

/// A checked part's value: present whenever no error was recorded, which `finish` has
/// established before it is taken.
trait Present<T> {
    fn present(self) -> Checked<T>;
}

impl<T> Present<T> for Option<T> {
    fn present(self) -> Checked<T> {
        self.ok_or_else(|| FieldErrors::single("input", "is invalid"))
    }
}

impl AuthInput {
    /// The auth, or the errors of every invalid field (Compass's keys: `credential`,
    /// `additionalHeaders`, `additionalQueryParams`, `requestAuth: (csrf: (...))`).
    pub fn check(self) -> Checked<domain::Auth> {
        let mut errors = FieldErrors::new();
        let credential = errors.take("credential", credential(self.credential));
        let headers = map(self.additional_headers);
        let params = map(self.additional_query_params);
        credentials::check_headers(&mut errors, "additionalHeaders", headers.as_ref());
        credentials::check_query_params(&mut errors, "additionalQueryParams", params.as_ref());
        let request_auth = match self.request_auth {
            Some(request_auth) => {
                let mut inner = FieldErrors::new();
                let csrf = match request_auth.csrf {
                    Some(csrf) => inner.take("csrf", csrf.check()),
                    None => {
                        inner.add("csrf", validate::BLANK);
                        None
                    }
                };
                errors.inner("requestAuth", inner);
                csrf.map(|csrf| RequestAuth { csrf: Some(csrf) })
            }
            None => None,
        };
        errors.finish()?;
        Ok(domain::Auth {
            credential: credential.present()?,
            additional_headers: headers,
            additional_query_params: params,
            request_auth,
        })
    }

    /// Validates `setAPIAuth`'s input.
    pub fn validate(self) -> Result<domain::Auth, DomainError> {
        typed("AuthInput", self.check())
    }
}

/// Checks an optional `AuthInput`.
fn auth(input: Option<AuthInput>) -> Checked<Option<domain::Auth>> {
    input.map(AuthInput::check).transpose()
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
    fn check(self) -> Checked<FetchRequestDraft> {
        let mut errors = FieldErrors::new();
        errors.check("url", validate::required_url_between(&self.url));
        let auth = errors.take("auth", auth(self.auth));
        check_opt(&mut errors, "filter", self.filter.as_deref(), |v| {
            validate::not_empty_between(v, FILTER_MAX)
        });
        errors.finish()?;
        Ok(FetchRequestDraft {
            auth: auth.present()?,
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
    fn check(self) -> Checked<domain::Version> {
        let mut errors = FieldErrors::new();
        errors.check(
            "value",
            validate::required_between(&self.value, LONG_STRING),
        );
        check_opt(
            &mut errors,
            "deprecatedSince",
            self.deprecated_since.as_deref(),
            |v| validate::at_most(v, LONG_STRING),
        );
        errors.finish()?;
        Ok(domain::Version {
            value: self.value,
            deprecated: self.deprecated.unwrap_or(false),
            deprecated_since: self.deprecated_since,
            for_removal: self.for_removal.unwrap_or(false),
        })
    }
}

/// Checks an optional version.
fn version(input: Option<VersionInput>) -> Checked<Option<domain::Version>> {
    input.map(VersionInput::check).transpose()
}

/// Inline data or a fetch request: exactly one.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    Inline(String),
    Fetch(Box<FetchRequestDraft>),
}

/// Compass's `APISpecInput` and `EventSpecInput` rules, under Compass's keys
/// (`Rule.MatchingTypeAndFormat`, `Rule.FetchRequest`, `Rule.DataOrFetchRequest`), and the
/// spec check Sextant adds (`data`: the inline spec must be a document of its type).
fn spec_content(
    kind: sextant_spec::SpecKind,
    format: SpecFormat,
    data: Option<Clob>,
    fetch: Option<FetchRequestInput>,
) -> Checked<Content> {
    let mut errors = FieldErrors::new();
    if sextant_spec::check_format_allowed(kind, format).is_err() {
        let message = match kind {
            // Compass's two wordings, its API and its event rule.
            sextant_spec::SpecKind::AsyncApi => format!(
                "format {} is not a valid spec format for spec type {}",
                format.as_str(),
                kind.as_str()
            ),
            _ => format!(
                "{} is not a valid spec format for spec type {}",
                format.as_str(),
                kind.as_str()
            ),
        };
        errors.add("Rule.MatchingTypeAndFormat", message);
    }
    let content = match (data, fetch) {
        (Some(Clob(data)), None) => Some(Content::Inline(data)),
        (None, Some(fetch)) => errors
            .take("Rule.FetchRequest", fetch.check())
            .map(|f| Content::Fetch(Box::new(f))),
        (Some(_), Some(fetch)) => {
            errors.inner("Rule.FetchRequest", fetch.check().err().unwrap_or_default());
            errors.add("Rule.DataOrFetchRequest", DATA_OR_FETCH_REQUEST);
            None
        }
        (None, None) => {
            errors.add("Rule.DataOrFetchRequest", DATA_OR_FETCH_REQUEST);
            None
        }
    };
    if errors.is_empty()
        && let Some(Content::Inline(data)) = &content
        && let Err(e) = sextant_spec::validate(kind, format, data)
    {
        errors.add("data", e.to_string());
    }
    errors.finish()?;
    content.present()
}

/// Compass's message when a spec has both or neither of data and a fetch request.
const DATA_OR_FETCH_REQUEST: &str = "Only one of Data or Fetch Request must be passed";

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
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<ApiDraft> {
        let mut errors = FieldErrors::new();
        errors.check("name", validate::name(&self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        errors.check(
            "targetURL",
            validate::required_url_between(&self.target_url),
        );
        check_opt(&mut errors, "group", self.group.as_deref(), |v| {
            validate::at_most(v, GROUP_MAX)
        });
        let spec = match self.spec {
            Some(spec) => {
                let spec_type: ApiSpecType = spec.spec_type.into();
                let format: SpecFormat = spec.format.into();
                errors
                    .take(
                        "spec",
                        spec_content(spec_type.into(), format, spec.data, spec.fetch_request),
                    )
                    .map(|content| Some((spec_type, format, content)))
            }
            None => Some(None),
        };
        let version = errors.take("version", version(self.version));
        let default_auth = errors.take("defaultAuth", auth(self.default_auth));
        errors.finish()?;
        Ok(ApiDraft {
            version: version.present()?,
            default_auth: default_auth.present()?,
            spec: spec.present()?,
            name: self.name,
            description: self.description,
            target_url: self.target_url,
            group: self.group,
        })
    }

    pub fn validate(self) -> Result<ApiDraft, DomainError> {
        typed("APIDefinitionInput", self.check())
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
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<EventDraft> {
        let mut errors = FieldErrors::new();
        errors.check("name", validate::name(&self.name));
        check_opt(
            &mut errors,
            "description",
            self.description.as_deref(),
            |v| validate::at_most(v, SHORT_STRING),
        );
        check_opt(&mut errors, "group", self.group.as_deref(), |v| {
            validate::at_most(v, GROUP_MAX)
        });
        // Compass declares the spec optional but answers `EventDefinition.spec: EventSpec!`;
        // its validation required it too.
        let spec = match self.spec {
            Some(spec) => {
                let spec_type: EventSpecType = spec.spec_type.into();
                let format: SpecFormat = spec.format.into();
                errors
                    .take(
                        "spec",
                        spec_content(spec_type.into(), format, spec.data, spec.fetch_request),
                    )
                    .map(|content| (spec_type, format, content))
            }
            None => {
                errors.add("spec", validate::BLANK);
                None
            }
        };
        let version = errors.take("version", version(self.version));
        errors.finish()?;
        Ok(EventDraft {
            version: version.present()?,
            spec: spec.present()?,
            name: self.name,
            description: self.description,
            group: self.group,
        })
    }

    pub fn validate(self) -> Result<EventDraft, DomainError> {
        typed("EventDefinitionInput", self.check())
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
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<DocumentDraft> {
        let mut errors = FieldErrors::new();
        errors.check(
            "title",
            validate::required_between(&self.title, SHORT_STRING),
        );
        errors.check(
            "displayName",
            validate::required_between(&self.display_name, SHORT_STRING),
        );
        errors.check(
            "description",
            validate::required_between(&self.description, SHORT_STRING),
        );
        check_opt(&mut errors, "kind", self.kind.as_deref(), |v| {
            validate::at_most(v, LONG_STRING)
        });
        let content = match (self.data, self.fetch_request) {
            (Some(Clob(data)), None) => {
                if data.len() > domain::MAX_SPEC_BYTES {
                    errors.add(
                        "data",
                        format!("must be at most {} bytes", domain::MAX_SPEC_BYTES),
                    );
                }
                Some(Some(Content::Inline(data)))
            }
            (None, Some(fetch)) => errors
                .take("fetchRequest", fetch.check())
                .map(|f| Some(Content::Fetch(Box::new(f)))),
            (Some(_), Some(fetch)) => {
                errors.inner("fetchRequest", fetch.check().err().unwrap_or_default());
                errors.add("data", "only one of data or fetchRequest may be given");
                None
            }
            (None, None) => Some(None),
        };
        errors.finish()?;
        Ok(DocumentDraft {
            content: content.present()?,
            title: self.title,
            display_name: self.display_name,
            description: self.description,
            format: self.format.into(),
            kind: self.kind,
        })
    }

    pub fn validate(self) -> Result<DocumentDraft, DomainError> {
        typed("DocumentInput", self.check())
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
    /// The draft, or the errors of every invalid field.
    pub fn check(self) -> Checked<WebhookDraft> {
        let mut errors = FieldErrors::new();
        errors.check("url", validate::required_url(&self.url));
        let auth = errors.take("auth", auth(self.auth));
        errors.finish()?;
        Ok(WebhookDraft {
            webhook_type: self.webhook_type.into(),
            auth: auth.present()?,
            url: self.url,
        })
    }

    pub fn validate(self) -> Result<WebhookDraft, DomainError> {
        typed("WebhookInput", self.check())
    }
}

/// Checks a list of inner inputs: at most the per-input bound, then each item, its errors
/// under its index (ozzo-validation's `Each`).
pub fn check_list<I, D>(
    errors: &mut FieldErrors,
    field: &str,
    list: Option<Vec<I>>,
    check: impl Fn(I) -> Checked<D>,
) -> Vec<D> {
    let list = list.unwrap_or_default();
    if list.len() > domain::MAX_CHILDREN_PER_INPUT {
        errors.add(
            field,
            format!(
                "at most {} items are allowed",
                domain::MAX_CHILDREN_PER_INPUT
            ),
        );
        return Vec::new();
    }
    let mut items = FieldErrors::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        if let Some(draft) = items.take(i.to_string(), check(item)) {
            out.push(draft);
        }
    }
    errors.inner(field, items);
    out
}
