//! Builds runtimes' configuration documents ([`RuntimeConfiguration`]).
//!
//! What is read comes in two parts, each in a number of statements that does not grow with
//! what it reads: the runtimes' own facts, many runtimes at once ([`read::read_runtimes`]:
//! the runtimes, their labels, their credentials), and the applications of a set of
//! scenarios ([`read::read_applications`]: the applications (a page of 100 per statement),
//! their labels, their API and event definitions). Runtimes with the same scenarios share the
//! second: it is serialised once into an [`compose::ApplicationsPart`], and each runtime's
//! [`compose::ComposedDocument`] adds its own head and credentials without reading or
//! serialising the shared part again ([`pieces`]: plain and gzip forms assembled from
//! pre-serialised pieces).
//!
//! [`assemble::assemble`] builds the whole document of one runtime at once, with no I/O:
//! the reference the composed bytes are checked against ([`BuiltConfiguration`]).
//!
//! Specs are named by their digest only: their texts are not read, so what a document costs
//! (to build and to keep) does not grow with the size of the specs it names.

pub mod assemble;
pub mod compose;
pub mod pieces;
pub mod read;

use std::collections::HashSet;

use sextant_domain::DomainError;
use sextant_domain::runtime_config::RuntimeConfiguration;

/// A document built whole: the document, its JSON and version, and the hashes of the specs
/// it names (the reference for [`compose::ComposedDocument`]).
#[derive(Debug)]
pub struct BuiltConfiguration {
    pub document: RuntimeConfiguration,
    /// The document as served.
    pub json: Vec<u8>,
    /// SHA-256 of `json`, the first 16 bytes in lowercase hex: the `ETag`.
    pub version: String,
    /// The specs the document names, by SHA-256 (lowercase hex): the ones this runtime may
    /// read from `/runtime/specs/{sha256}`.
    pub specs: HashSet<String>,
}

impl BuiltConfiguration {
    /// The document with its JSON, version and the specs it names.
    pub fn new(document: RuntimeConfiguration) -> Result<Self, DomainError> {
        let json = serde_json::to_vec(&document).map_err(|e| DomainError::Internal(Box::new(e)))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &json);
        let version = version_of(digest.as_ref());
        let specs = document
            .applications
            .iter()
            .flat_map(|app| {
                let apis = app.apis.iter().filter_map(|api| api.spec.as_ref());
                let events = app.events.iter().filter_map(|event| event.spec.as_ref());
                apis.chain(events)
            })
            .map(|spec| spec.sha256.clone())
            .collect();
        Ok(BuiltConfiguration {
            document,
            json,
            version,
            specs,
        })
    }

    /// The bytes this document keeps in memory (its JSON and the hashes it names), without
    /// the parsed copy's overhead.
    pub fn held_bytes(&self) -> usize {
        self.json.len() + self.specs.iter().map(String::len).sum::<usize>()
    }
}

/// A document's version: the first 16 bytes of the SHA-256 of its JSON, in lowercase hex.
pub(crate) fn version_of(sha256: &[u8]) -> String {
    sha256[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod compose_tests;
#[cfg(test)]
mod tests;
