//! Validation of API and event specs as they arrive in the Director.
//!
//! [`validate`] accepts a spec only if all of these hold, checked in this order:
//!
//! 1. **Size:** at most [`MAX_SPEC_BYTES`] bytes ([`validate_up_to`]: a given size), checked
//!    before anything is parsed.
//! 2. **Format:** the declared format is allowed for the kind ([`check_format_allowed`]):
//!    OpenAPI and AsyncAPI in YAML or JSON, OData in XML or JSON.
//! 3. **Not blank.**
//! 4. **Syntax:** the data parses in its declared format. JSON (`serde_json`) and YAML
//!    (`serde-saphyr`, a single document) are read into one tree shape so that the structure
//!    checks are shared; XML (`quick-xml`) is checked for well-formedness by streaming its
//!    events, and a DOCTYPE is refused outright (no entity expansion, internal or external).
//! 5. **Structure:** the fields the kind requires (see [`validate`]).
//!
//! Hostile input is bounded, so validation never panics and never stalls: nesting is limited
//! to [`MAX_DEPTH`] levels and a document to [`MAX_NODES`] values (after YAML alias expansion;
//! XML elements plus attributes), YAML alias replay to [`MAX_YAML_ALIAS_EVENTS`] events, and
//! text to [`MAX_TEXT_BYTES`] bytes after alias expansion. A larger size limit
//! ([`validate_up_to`]) scales the value and text limits in proportion ([`Limits`]). Every walker is iterative or stops
//! at [`MAX_DEPTH`] before recursing further, so the limits hold on a 2 MiB thread stack.
//! Only the top three levels of a JSON or YAML tree, which the structure checks read, are kept
//! in memory; deeper values are walked and counted but dropped.
//!
//! The checks are structural on a generic tree, not a full schema validation of OpenAPI,
//! AsyncAPI or CSDL: a spec that passes names its kind and version and has the top-level
//! parts every tool needs.
//!
//! Must not know: where a spec came from (inline or fetched) or where it is stored; it is a
//! pure function of the text and its declared type, and does no I/O.

#![forbid(unsafe_code)]

mod error;
mod outline;
mod structure;
mod tree;
mod xml;

use std::fmt;

pub use error::SpecError;
pub use outline::{Channel, Operation, Outline, Outlined, outline};
pub use sextant_domain::MAX_SPEC_BYTES;
use sextant_domain::{ApiSpecType, EventSpecType, SpecFormat};

/// The deepest nesting accepted: arrays and objects in JSON and YAML, elements in XML.
pub const MAX_DEPTH: usize = 64;
/// The most values in one document (scalars, arrays and objects, counting every YAML alias
/// expansion; for XML, elements and attributes).
pub const MAX_NODES: usize = 1_000_000;
/// The most text (strings and keys) in one JSON or YAML document after YAML aliases are
/// expanded. Without aliases the size limit binds first.
pub const MAX_TEXT_BYTES: usize = 8 * MAX_SPEC_BYTES;
/// The most parser events YAML aliases may replay in one document; stops alias bombs
/// ("billion laughs") long before they expand.
pub const MAX_YAML_ALIAS_EVENTS: usize = 100_000;

/// The bounds one validation runs within, derived from the size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_nodes: usize,
    pub max_text_bytes: usize,
}

impl Limits {
    /// The limits for specs of at most `max_bytes`: [`MAX_NODES`] and [`MAX_TEXT_BYTES`]
    /// per [`MAX_SPEC_BYTES`] of size (never less than those), so a large real spec has the
    /// same room per byte as a small one.
    pub fn for_size(max_bytes: usize) -> Limits {
        let factor = max_bytes.div_ceil(MAX_SPEC_BYTES).max(1);
        Limits {
            max_bytes,
            max_nodes: MAX_NODES.saturating_mul(factor),
            max_text_bytes: MAX_TEXT_BYTES.saturating_mul(factor),
        }
    }
}

/// What a spec describes; decides the allowed formats and the structure checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecKind {
    /// OpenAPI 3.x or Swagger 2.0.
    OpenApi,
    /// OData: an EDMX document (XML) or CSDL JSON.
    OData,
    /// AsyncAPI 1.x, 2.x or 3.x.
    AsyncApi,
}

impl SpecKind {
    /// The GraphQL spelling (`OPEN_API`, `ODATA`, `ASYNC_API`).
    pub fn as_str(self) -> &'static str {
        match self {
            SpecKind::OpenApi => ApiSpecType::OpenApi.as_str(),
            SpecKind::OData => ApiSpecType::OData.as_str(),
            SpecKind::AsyncApi => EventSpecType::AsyncApi.as_str(),
        }
    }

    /// The formats a spec of this kind may be written in.
    pub fn allowed_formats(self) -> &'static [SpecFormat] {
        match self {
            SpecKind::OpenApi | SpecKind::AsyncApi => &[SpecFormat::Yaml, SpecFormat::Json],
            SpecKind::OData => &[SpecFormat::Xml, SpecFormat::Json],
        }
    }

    /// The name users know the kind by, for messages.
    fn title(self) -> &'static str {
        match self {
            SpecKind::OpenApi => "OpenAPI",
            SpecKind::OData => "OData",
            SpecKind::AsyncApi => "AsyncAPI",
        }
    }
}

impl fmt::Display for SpecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ApiSpecType> for SpecKind {
    fn from(t: ApiSpecType) -> Self {
        match t {
            ApiSpecType::OpenApi => SpecKind::OpenApi,
            ApiSpecType::OData => SpecKind::OData,
        }
    }
}

impl From<EventSpecType> for SpecKind {
    fn from(t: EventSpecType) -> Self {
        match t {
            EventSpecType::AsyncApi => SpecKind::AsyncApi,
        }
    }
}

/// Whether a spec of `kind` may be written in `format`: OpenAPI and AsyncAPI in YAML or JSON,
/// OData in XML or JSON.
pub fn check_format_allowed(kind: SpecKind, format: SpecFormat) -> Result<(), SpecError> {
    if kind.allowed_formats().contains(&format) {
        Ok(())
    } else {
        Err(SpecError::FormatNotAllowed { kind, format })
    }
}

/// Checks that `data` is a spec of `kind` written in `format`; see the crate documentation for
/// the order of checks and the limits.
///
/// Structure required:
/// - **OpenAPI:** an object; `openapi` a string starting with `3.`, or `swagger` equal to
///   `"2.0"`; `info` an object with string `title` and `version`; for Swagger 2.0 and OpenAPI
///   3.0 a `paths` object, for later 3.x at least one of `paths`, `components`, `webhooks`
///   (each an object where present).
/// - **AsyncAPI:** an object; `asyncapi` a string starting with `1.`, `2.` or `3.`; `info` as
///   above; for 1.x a `topics` object (or `stream` or `events`, which 1.2 allows instead), for
///   2.x a `channels` object; for 3.x `channels`, if present, an object.
/// - **OData:** in XML, a root element named `Edmx` (any prefix) with a `DataServices` child;
///   in JSON (CSDL JSON), an object with a string `$Version`.
pub fn validate(kind: SpecKind, format: SpecFormat, data: &str) -> Result<(), SpecError> {
    validate_up_to(kind, format, data, MAX_SPEC_BYTES)
}

/// [`validate`] with a size limit of `max_bytes` (fetched specs) and the value and text limits
/// of [`Limits::for_size`].
pub fn validate_up_to(
    kind: SpecKind,
    format: SpecFormat,
    data: &str,
    max_bytes: usize,
) -> Result<(), SpecError> {
    let limits = Limits::for_size(max_bytes);
    if data.len() > limits.max_bytes {
        return Err(SpecError::TooLarge {
            size: data.len(),
            max: limits.max_bytes,
        });
    }
    check_format_allowed(kind, format)?;
    if data.trim().is_empty() {
        return Err(SpecError::Empty);
    }
    match format {
        SpecFormat::Json => structure::check_tree(kind, &tree::parse_json(data, limits)?),
        SpecFormat::Yaml => structure::check_tree(kind, &tree::parse_yaml(data, limits)?),
        SpecFormat::Xml => structure::check_xml(kind, &xml::parse(data, limits)?),
    }
}

#[cfg(test)]
mod tests;
