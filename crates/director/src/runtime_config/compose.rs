//! Documents built once and served many times: the applications of a set of scenarios are
//! serialised once into an [`ApplicationsPart`] that every runtime with those scenarios
//! shares; a runtime's [`ComposedDocument`] adds only what is its own (its head: id, name,
//! eventing URL, scenarios; and its own credentials, which replace the default entry of the
//! APIs they are for). Composing costs no read and no serialisation of what is shared, and
//! serving costs copying bytes, plain or gzip ([`super::pieces`]).
//!
//! The bytes are exactly those of the whole document serialised at once
//! ([`super::BuiltConfiguration`] of [`super::assemble::assemble`]'s document), so the
//! version is the same hash of the same JSON; the tests check it.

use std::collections::HashSet;
use std::sync::Arc;

use sextant_domain::runtime_config::{ConfiguredApi, CredentialsSource, RuntimeConfiguration};
use sextant_domain::{ApplicationId, DomainError, Name};

use super::assemble::{configured_application, event_service_url, scenarios};
use super::pieces::{self, Deflater, Part, Piece};
use super::read::{ApplicationReading, RuntimeFacts};

/// The applications of a set of scenarios as every runtime with those scenarios sees them,
/// serialised: shared pieces between the API entries, and each API entry with the API's
/// default credentials (replaced in the document of a runtime that has its own).
#[derive(Debug)]
pub struct ApplicationsPart {
    segments: Vec<Segment>,
    apis: Vec<ApiSlot>,
    applications: Vec<PartApplication>,
    specs: HashSet<String>,
}

#[derive(Debug)]
enum Segment {
    Shared(Piece),
    /// An API entry: index into `apis`.
    Api(usize),
}

#[derive(Debug)]
struct ApiSlot {
    /// The entry with the API's default credentials (or none).
    entry: ConfiguredApi,
    /// Whether a comma precedes it (not the application's first API).
    comma: bool,
    piece: Piece,
}

/// An application a part holds.
#[derive(Clone, Debug)]
pub struct PartApplication {
    pub id: ApplicationId,
    pub name: Name,
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> DomainError {
    DomainError::Internal(Box::new(e))
}

fn malformed(what: &str) -> DomainError {
    DomainError::Internal(format!("cannot split a document: {what}").into())
}

/// Where an application's JSON, serialised with no APIs, is split around its empty `apis`
/// list: the index of `],"events":`. The events come last, and no key inside them (an event
/// has no labels) can be `events`; labels, which could, come before `apis`.
fn apis_split(json: &[u8]) -> Result<usize, DomainError> {
    const MARK: &[u8] = b"],\"events\":";
    let at = json
        .windows(MARK.len())
        .rposition(|w| w == MARK)
        .ok_or_else(|| malformed("no events after the APIs"))?;
    if !json[..at].ends_with(b"\"apis\":[") {
        return Err(malformed("the APIs are not where expected"));
    }
    Ok(at)
}

impl ApplicationsPart {
    /// Serialises the applications (in the order given: id order, as read).
    pub fn build(applications: Vec<ApplicationReading>) -> Result<ApplicationsPart, DomainError> {
        let mut deflater = Deflater::default();
        let mut segments = Vec::new();
        let mut apis = Vec::new();
        let mut listed = Vec::with_capacity(applications.len());
        let mut specs = HashSet::new();
        // Shared bytes not yet made a piece: everything between two API entries is one.
        let mut pending: Vec<u8> = Vec::new();
        let mut no_auths = std::collections::HashMap::new();
        for (i, reading) in applications.into_iter().enumerate() {
            listed.push(PartApplication {
                id: reading.application.id,
                name: reading.application.name.clone(),
            });
            let mut app = configured_application(reading, &mut no_auths);
            let entries = std::mem::take(&mut app.apis);
            let named = entries.iter().filter_map(|api| api.spec.as_ref());
            let named = named.chain(app.events.iter().filter_map(|event| event.spec.as_ref()));
            specs.extend(named.map(|spec| spec.sha256.clone()));
            let json = serde_json::to_vec(&app).map_err(internal)?;
            let split = apis_split(&json)?;
            if i > 0 {
                pending.push(b',');
            }
            pending.extend_from_slice(&json[..split]);
            for (j, entry) in entries.into_iter().enumerate() {
                segments.push(Segment::Shared(
                    deflater.piece(std::mem::take(&mut pending))?,
                ));
                let mut bytes = Vec::new();
                if j > 0 {
                    bytes.push(b',');
                }
                serde_json::to_writer(&mut bytes, &entry).map_err(internal)?;
                apis.push(ApiSlot {
                    entry,
                    comma: j > 0,
                    piece: deflater.piece(bytes)?,
                });
                segments.push(Segment::Api(apis.len() - 1));
            }
            pending.extend_from_slice(&json[split..]);
        }
        pending.extend_from_slice(b"]}");
        segments.push(Segment::Shared(deflater.piece(pending)?));
        Ok(ApplicationsPart {
            segments,
            apis,
            applications: listed,
            specs,
        })
    }

    /// The applications, in the document's order.
    pub fn applications(&self) -> &[PartApplication] {
        &self.applications
    }

    /// The bytes this part keeps (its pieces, plain and compressed).
    pub fn held_bytes(&self) -> usize {
        let shared = self.segments.iter().map(|segment| match segment {
            Segment::Shared(piece) => piece.held_bytes(),
            Segment::Api(_) => 0,
        });
        let apis = self.apis.iter().map(|slot| slot.piece.held_bytes());
        shared.chain(apis).sum::<usize>() + self.specs.iter().map(String::len).sum::<usize>()
    }
}

/// A runtime's document: its own head and credentials around a shared part.
#[derive(Debug)]
pub struct ComposedDocument {
    /// SHA-256 of the JSON, the first 16 bytes in lowercase hex: the `ETag`.
    version: String,
    /// `{"runtimeID":…,"applications":[`.
    head: Box<[u8]>,
    part: Arc<ApplicationsPart>,
    /// This runtime's own API entries, by index of the API slot they replace, in order.
    own: Vec<(usize, Box<[u8]>)>,
    /// The JSON's length and CRC-32 (for the gzip trailer).
    len: usize,
    crc: u32,
}

impl ComposedDocument {
    /// The document of the runtime whose facts these are, around `part`: the part of the
    /// runtime's scenarios ([`RuntimeFacts::scenario_set`]).
    pub fn compose(
        facts: &RuntimeFacts,
        part: Arc<ApplicationsPart>,
    ) -> Result<ComposedDocument, DomainError> {
        let head = RuntimeConfiguration {
            runtime_id: facts.runtime.id.into_untyped(),
            tenant: facts.runtime.tenant.0,
            runtime_name: facts.runtime.name.clone(),
            event_service_url: event_service_url(&facts.labels),
            scenarios: scenarios(&facts.labels),
            applications: Vec::new(),
        };
        let mut head = serde_json::to_vec(&head).map_err(internal)?;
        if !head.ends_with(b"[]}") {
            return Err(malformed("the applications are not last"));
        }
        head.truncate(head.len() - 2);
        let mut own = Vec::new();
        if !facts.auths.is_empty() {
            for (index, slot) in part.apis.iter().enumerate() {
                let id = sextant_domain::ApiDefinitionId::from_untyped(slot.entry.id);
                let Some(auth) = facts.auths.get(&id) else {
                    continue;
                };
                let entry = ConfiguredApi {
                    credentials: Some(auth.clone()),
                    credentials_source: CredentialsSource::Runtime,
                    ..slot.entry.clone()
                };
                let mut bytes = Vec::new();
                if slot.comma {
                    bytes.push(b',');
                }
                serde_json::to_writer(&mut bytes, &entry).map_err(internal)?;
                own.push((index, bytes.into_boxed_slice()));
            }
        }
        let mut doc = ComposedDocument {
            version: String::new(),
            head: head.into_boxed_slice(),
            part,
            own,
            len: 0,
            crc: 0,
        };
        let (sha, crc, len) = pieces::digests(doc.parts());
        doc.version = super::version_of(&sha);
        doc.crc = crc;
        doc.len = len;
        Ok(doc)
    }

    fn parts(&self) -> impl Iterator<Item = Part<'_>> + Clone {
        let segments = self.part.segments.iter().map(move |segment| match segment {
            Segment::Shared(piece) => Part::Shared(piece),
            Segment::Api(index) => match self.own.binary_search_by_key(index, |(slot, _)| *slot) {
                Ok(at) => Part::Own(&self.own[at].1),
                Err(_) => Part::Shared(&self.part.apis[*index].piece),
            },
        });
        std::iter::once(Part::Own(&self.head)).chain(segments)
    }

    /// The version: the first half of the JSON's SHA-256, in hex.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The JSON, as sent without encoding.
    pub fn json(&self) -> Vec<u8> {
        pieces::plain(self.parts(), self.len)
    }

    /// The JSON as one gzip member.
    pub fn gzip(&self) -> Vec<u8> {
        pieces::gzip(self.parts(), self.crc, self.len)
    }

    /// Whether the document names the spec with this SHA-256 (lowercase hex).
    pub fn names_spec(&self, sha256: &str) -> bool {
        self.part.specs.contains(sha256)
    }

    /// The applications the document lists.
    pub fn applications(&self) -> &[PartApplication] {
        self.part.applications()
    }

    /// The shared part.
    pub fn part(&self) -> &Arc<ApplicationsPart> {
        &self.part
    }

    /// The bytes this document keeps of its own (the shared part not counted).
    pub fn held_bytes(&self) -> usize {
        self.head.len()
            + self.version.len()
            + self.own.iter().map(|(_, bytes)| bytes.len()).sum::<usize>()
    }
}
