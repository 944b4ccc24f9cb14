//! Builds a runtime's configuration document ([`RuntimeConfiguration`]) in two phases: a
//! read ([`read::read`]) in one read transaction, with a number of statements that does not
//! grow with the applications or their definitions (the runtime and its labels, the
//! applications of its scenarios (a page of 100 per statement), their labels, their API and
//! event definitions, and this runtime's credentials for those APIs); then an assembly
//! ([`assemble::assemble`]) that does no I/O, and the document's JSON and version.
//!
//! Specs are named by their digest only: their texts are not read, so what a document costs
//! (to build and to keep) does not grow with the size of the specs it names.

pub mod assemble;
pub mod read;

use std::collections::HashSet;

use sextant_domain::runtime_config::RuntimeConfiguration;
use sextant_domain::{DomainError, RuntimeId, TenantId};
use sextant_store::Tx;

/// A built document: the document, its JSON and version, and the hashes of the specs it names.
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
        let mut version = sha256_hex(&json);
        version.truncate(32);
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

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The configuration of a runtime, or `None` if the runtime does not exist in the tenant.
pub async fn build(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime_id: RuntimeId,
) -> Result<Option<BuiltConfiguration>, DomainError> {
    match read::read(tx, tenant, runtime_id).await? {
        Some(reading) => BuiltConfiguration::new(assemble::assemble(reading)).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests;
