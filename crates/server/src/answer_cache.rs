//! The Director's answers kept while the configuration epoch covers them: Kyma's runtime
//! agent asks `applicationsForRuntime` with the same query every few seconds, and while
//! nothing changed the same consumer gets the same answer without a statement.
//!
//! An answer is kept only for a query that reads nothing but covered fields
//! (`sextant_director::epoch_covered`), only if it has no error, and is served only while
//! the tenant's configuration epoch and the store's system auths generation are those read
//! before it was computed (a change committed meanwhile moves one of them, so an answer is
//! never newer-tagged than its data). The key is a SHA-256 of the consumer (tenant, kind and
//! id, scopes) and the request (query, operation name, variables): another consumer, or the
//! same one with other scopes, never gets it.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use sextant_domain::{Consumer, TenantId};
use sextant_store::ConfigEpochs;

use crate::locks::lock;

/// Answers larger than this are not kept.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// The most bytes of answers kept; beyond, all are forgotten (and made again as asked).
const MAX_HELD_BYTES: usize = 64 * 1024 * 1024;

/// What identifies an answer: a SHA-256 of the consumer and the request.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AnswerKey([u8; 32]);

impl AnswerKey {
    pub(crate) fn of(consumer: &Consumer, request: &async_graphql::Request) -> AnswerKey {
        let mut sha = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        // Each part length-prefixed, so no two different inputs give the same bytes.
        let mut part = |bytes: &[u8]| {
            sha.update(&(bytes.len() as u64).to_le_bytes());
            sha.update(bytes);
        };
        part(consumer.tenant.0.as_bytes());
        part(format!("{:?}", consumer.kind()).as_bytes());
        part(consumer.id.to_string().as_bytes());
        for scope in &consumer.scopes {
            part(scope.as_bytes());
        }
        part(b"--");
        part(request.query.as_bytes());
        part(
            request
                .operation_name
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
        part(&serde_json::to_vec(&request.variables).unwrap_or_default());
        let mut key = [0u8; 32];
        key.copy_from_slice(sha.finish().as_ref());
        AnswerKey(key)
    }
}

/// What an answer was computed under, read before computing it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generations {
    tenant: TenantId,
    epoch: u64,
    system_auths: u64,
}

impl Generations {
    pub(crate) fn now(epochs: &ConfigEpochs, tenant: TenantId) -> Generations {
        Generations {
            tenant,
            epoch: epochs.current(tenant),
            system_auths: epochs.system_auths(),
        }
    }
}

struct Answer {
    generations: Generations,
    body: Bytes,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<AnswerKey, Answer>,
    bytes: usize,
}

/// The answers kept.
#[derive(Default)]
pub(crate) struct AnswerCache {
    entries: Mutex<Entries>,
}

impl AnswerCache {
    /// The answer kept for `key`, if nothing it depends on moved since.
    pub(crate) fn get(&self, key: &AnswerKey, epochs: &ConfigEpochs) -> Option<Bytes> {
        let entries = lock(&self.entries);
        let answer = entries.by_key.get(key)?;
        (Generations::now(epochs, answer.generations.tenant) == answer.generations)
            .then(|| answer.body.clone())
    }

    /// Keeps an answer computed under `generations`.
    pub(crate) fn put(&self, key: AnswerKey, generations: Generations, body: Bytes) {
        if body.len() > MAX_ANSWER_BYTES {
            return;
        }
        let mut entries = lock(&self.entries);
        if entries.bytes + body.len() > MAX_HELD_BYTES {
            entries.by_key.clear();
            entries.bytes = 0;
        }
        entries.bytes += body.len();
        if let Some(old) = entries.by_key.insert(key, Answer { generations, body }) {
            entries.bytes -= old.body.len();
        }
    }
}
