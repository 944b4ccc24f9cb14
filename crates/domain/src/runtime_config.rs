//! The runtime configuration document: what a runtime is configured with, served to the
//! runtime itself (`GET /runtime/configuration` on the mTLS listener) and applied by its
//! agent. A Sextant extension beside Compass's `applicationsForRuntime` query.
//!
//! It holds the applications the runtime sees through its scenarios, their API definitions
//! with the credentials this runtime holds for each (its own, else the API's default), their
//! event definitions, and the runtime's eventing URL. Specs are not inlined: each is named by
//! the SHA-256 of its text and fetched from `GET /runtime/specs/{sha256}`, so an agent fetches
//! a spec once and a change elsewhere does not resend it. The document's version (the HTTP
//! `ETag`) is a hash of its JSON: it changes exactly when something in it changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Auth, Name};

/// Where a spec named in a document is served, relative to the mTLS listener.
pub const SPECS_PATH: &str = "/runtime/specs";
/// Where the document is served, relative to the mTLS listener.
pub const CONFIGURATION_PATH: &str = "/runtime/configuration";
/// The longest long poll (`?wait=` seconds) the server holds.
pub const MAX_WAIT_SECONDS: u64 = 60;

/// A runtime's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfiguration {
    #[serde(rename = "runtimeID")]
    pub runtime_id: Uuid,
    pub tenant: Uuid,
    /// Read back without the Name rule, as the store reads it ([`Name::from_stored`]): the
    /// Director wrote it from a stored name, and an agent must not drop a document for it.
    #[serde(deserialize_with = "Name::deserialize_stored")]
    pub runtime_name: Name,
    /// The runtime's `runtime/event_service_url` label, if set.
    #[serde(rename = "eventServiceURL")]
    pub event_service_url: Option<String>,
    /// The runtime's scenarios.
    pub scenarios: Vec<String>,
    /// In id order.
    pub applications: Vec<ConfiguredApplication>,
}

/// An application the runtime sees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredApplication {
    pub id: Uuid,
    /// Read back without the Name rule, as `runtime_name` is.
    #[serde(deserialize_with = "Name::deserialize_stored")]
    pub name: Name,
    pub description: Option<String>,
    pub labels: BTreeMap<String, serde_json::Value>,
    /// In id order.
    pub apis: Vec<ConfiguredApi>,
    /// In id order.
    pub events: Vec<ConfiguredEvent>,
}

/// Whose credentials an API entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CredentialsSource {
    /// Set for this runtime (`setAPIAuth`).
    Runtime,
    /// The API's `defaultAuth`.
    Default,
    /// None: the API is called without credentials.
    None,
}

/// An API definition, with what this runtime calls it with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredApi {
    pub id: Uuid,
    #[serde(deserialize_with = "Name::deserialize_stored")]
    pub name: Name,
    pub description: Option<String>,
    #[serde(rename = "targetURL")]
    pub target_url: String,
    pub group: Option<String>,
    pub version: Option<String>,
    pub spec: Option<SpecRef>,
    pub credentials: Option<Auth>,
    pub credentials_source: CredentialsSource,
}

/// An event definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredEvent {
    pub id: Uuid,
    #[serde(deserialize_with = "Name::deserialize_stored")]
    pub name: Name,
    pub description: Option<String>,
    pub group: Option<String>,
    pub version: Option<String>,
    pub spec: Option<SpecRef>,
}

/// A spec, by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecRef {
    /// `OPEN_API`, `ODATA` or `ASYNC_API`.
    #[serde(rename = "type")]
    pub spec_type: String,
    /// `YAML`, `JSON` or `XML`.
    pub format: String,
    /// SHA-256 of the spec's text, lowercase hex: its name under [`SPECS_PATH`].
    pub sha256: String,
    pub size: u64,
}
