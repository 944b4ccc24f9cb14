//! The catalog part of a transaction: API and event definitions, documents, webhooks,
//! per-runtime API credentials and default eventing. [`CatalogTx`] is a supertrait of
//! [`crate::Tx`]; `catalog_tx!` implements it once for both backends, like `common_tx!`.
//!
//! Lists of children are loaded for many applications at once (one statement for the rows,
//! one for the counts), so a page of applications with their APIs costs the same number of
//! statements whatever its size.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sextant_domain::{
    ApiDefinition, ApiRuntimeAuth, Auth, Document, EventDefinition, FetchMode, FetchRequest,
    FetchStatus, FetchStatusCondition, Page, PageRequest, TenantId, Version, Webhook,
};
use uuid::Uuid;

use crate::error::StoreError;
use crate::tx::values::{from_micros, to_micros};

/// The catalog operations of a transaction.
#[async_trait::async_trait]
pub trait CatalogTx: Send {
    // --- API and event definitions ---
    /// Inserts API and event definitions (of any applications) with their specs, set-wise:
    /// every distinct spec text in one statement (more only when the texts exceed
    /// [`MAX_STATEMENT_BYTES`] together), the APIs in one and the events in one (more only
    /// beyond [`MAX_BIND_PARAMETERS`]), so the number of statements does not grow with the
    /// definitions'. [`StoreError::ForeignKey`] if an application is missing.
    async fn insert_definitions(
        &mut self,
        apis: &[ApiDefinition],
        events: &[EventDefinition],
    ) -> Result<(), StoreError>;
    /// Inserts an API definition; [`StoreError::ForeignKey`] if its application is missing.
    async fn insert_api_definition(&mut self, api: &ApiDefinition) -> Result<(), StoreError> {
        self.insert_definitions(std::slice::from_ref(api), &[])
            .await
    }
    /// Replaces every field but the application; false if the definition does not exist.
    async fn update_api_definition(&mut self, api: &ApiDefinition) -> Result<bool, StoreError>;
    async fn api_definition(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<ApiDefinition>, StoreError>;
    async fn delete_api_definition(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    /// One page per application (applications without definitions get an empty page).
    async fn api_definitions(
        &mut self,
        tenant: TenantId,
        app_ids: &[Uuid],
        group: Option<&str>,
        page: &PageRequest,
    ) -> Result<HashMap<Uuid, Page<ApiDefinition>>, StoreError>;

    /// Like [`CatalogTx::api_definitions`] and [`CatalogTx::event_definitions`] together,
    /// without the specs' texts: each spec carries its digest only (for runtime
    /// configuration documents, which name specs by hash).
    async fn definitions_without_spec_data(
        &mut self,
        tenant: TenantId,
        app_ids: &[Uuid],
        page: &PageRequest,
    ) -> Result<
        (
            HashMap<Uuid, Page<ApiDefinition>>,
            HashMap<Uuid, Page<EventDefinition>>,
        ),
        StoreError,
    >;

    // --- specs ---
    /// A stored spec's text by its SHA-256 (lowercase hex). Specs are shared by content
    /// across tenants: the caller decides who may read which hash.
    async fn spec(&mut self, sha256: &str) -> Result<Option<String>, StoreError>;
    /// The spec bytes of an application's definitions and of its tenant's. In a write
    /// transaction on PostgreSQL it first takes the tenant's quota lock (held to the end of
    /// the transaction), so that concurrent writers of a tenant check their quota one after
    /// another and each sees what the others committed.
    async fn spec_usage(
        &mut self,
        tenant: TenantId,
        app_id: Uuid,
    ) -> Result<crate::catalog::SpecUsage, StoreError>;
    /// Moves spec texts that an older version kept in the definitions' rows into `specs`;
    /// answers how many definitions it moved. Run once when the store opens.
    async fn move_inline_specs(&mut self) -> Result<u64, StoreError>;

    /// How many children of one kind an application has (`table`: one of the catalog's).
    async fn count_children(
        &mut self,
        tenant: TenantId,
        kind: ChildKind,
        app_id: Uuid,
    ) -> Result<i64, StoreError>;

    // --- event definitions ---
    async fn insert_event_definition(&mut self, event: &EventDefinition) -> Result<(), StoreError> {
        self.insert_definitions(&[], std::slice::from_ref(event))
            .await
    }
    async fn update_event_definition(
        &mut self,
        event: &EventDefinition,
    ) -> Result<bool, StoreError>;
    async fn event_definition(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<EventDefinition>, StoreError>;
    async fn delete_event_definition(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    async fn event_definitions(
        &mut self,
        tenant: TenantId,
        app_ids: &[Uuid],
        group: Option<&str>,
        page: &PageRequest,
    ) -> Result<HashMap<Uuid, Page<EventDefinition>>, StoreError>;

    // --- documents ---
    /// Inserts documents in one statement (more only when their texts exceed
    /// [`MAX_STATEMENT_BYTES`] together, or beyond [`MAX_BIND_PARAMETERS`]).
    async fn insert_documents(&mut self, documents: &[Document]) -> Result<(), StoreError>;
    async fn insert_document(&mut self, document: &Document) -> Result<(), StoreError> {
        self.insert_documents(std::slice::from_ref(document)).await
    }
    async fn document(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<Document>, StoreError>;
    async fn delete_document(&mut self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    async fn documents(
        &mut self,
        tenant: TenantId,
        app_ids: &[Uuid],
        page: &PageRequest,
    ) -> Result<HashMap<Uuid, Page<Document>>, StoreError>;

    // --- webhooks ---
    /// Inserts webhooks in one statement (more only beyond [`MAX_BIND_PARAMETERS`]).
    async fn insert_webhooks(&mut self, webhooks: &[Webhook]) -> Result<(), StoreError>;
    async fn insert_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError> {
        self.insert_webhooks(std::slice::from_ref(webhook)).await
    }
    async fn update_webhook(&mut self, webhook: &Webhook) -> Result<bool, StoreError>;
    async fn webhook(&mut self, tenant: TenantId, id: Uuid) -> Result<Option<Webhook>, StoreError>;
    async fn delete_webhook(&mut self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// The webhooks of several applications, ordered by application and id.
    async fn webhooks(
        &mut self,
        tenant: TenantId,
        app_ids: &[Uuid],
    ) -> Result<Vec<Webhook>, StoreError>;

    // --- per-runtime API credentials ---
    /// Inserts or replaces; [`StoreError::ForeignKey`] if the API or runtime is missing.
    async fn set_api_runtime_auth(
        &mut self,
        tenant: TenantId,
        auth: &ApiRuntimeAuth,
    ) -> Result<(), StoreError>;
    async fn delete_api_runtime_auth(
        &mut self,
        tenant: TenantId,
        api_id: Uuid,
        runtime_id: Uuid,
    ) -> Result<Option<Auth>, StoreError>;
    /// The credentials set for these APIs (for these runtimes only, if given).
    async fn api_runtime_auths(
        &mut self,
        tenant: TenantId,
        api_ids: &[Uuid],
        runtime_ids: Option<&[Uuid]>,
    ) -> Result<Vec<ApiRuntimeAuth>, StoreError>;
    /// Which of these runtimes exist (every runtime of the tenant if `None`), ordered by
    /// creation.
    async fn runtime_ids(
        &mut self,
        tenant: TenantId,
        among: Option<&[Uuid]>,
    ) -> Result<Vec<Uuid>, StoreError>;

    // --- default eventing ---
    /// Records the application's chosen eventing runtime (replacing an earlier choice).
    async fn set_default_eventing(
        &mut self,
        tenant: TenantId,
        app_id: Uuid,
        runtime_id: Uuid,
    ) -> Result<(), StoreError>;
    async fn delete_default_eventing(
        &mut self,
        tenant: TenantId,
        app_id: Uuid,
    ) -> Result<Option<Uuid>, StoreError>;
    /// The chosen default eventing runtimes of several applications: (application, runtime).
    async fn default_eventing_many(
        &mut self,
        tenant: TenantId,
        app_ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError>;
    /// The oldest runtime whose `scenarios` label holds any of these scenarios.
    async fn oldest_runtime_in_scenarios(
        &mut self,
        tenant: TenantId,
        scenarios: &[String],
    ) -> Result<Option<Uuid>, StoreError>;
}

/// The most bind parameters one statement of a set-wise write takes: SQLite's limit (32,766
/// since 3.32; PostgreSQL's is 65,535).
pub const MAX_BIND_PARAMETERS: usize = 32_766;

/// The most text (spec or document bytes) one statement of a set-wise write carries, unless a
/// single row is larger: a registration of many large specs is written in a few statements,
/// never in one message of gigabytes (PostgreSQL refuses messages over 1 GB).
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024 * 1024;

/// Splits `items` into consecutive runs for one statement each: at most
/// [`MAX_BIND_PARAMETERS`] parameters (`binds` per row) and [`MAX_STATEMENT_BYTES`] of text
/// (`bytes` of a row), a row larger than that alone.
pub(crate) fn statement_chunks<T>(
    items: &[T],
    binds: usize,
    bytes: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let max_rows = (MAX_BIND_PARAMETERS / binds.max(1)).max(1);
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, 0usize);
    for (i, item) in items.iter().enumerate() {
        let len = bytes(item);
        if i > start && (i - start >= max_rows || size.saturating_add(len) > MAX_STATEMENT_BYTES) {
            chunks.push(&items[start..i]);
            start = i;
            size = 0;
        }
        size = size.saturating_add(len);
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}

/// A definition's spec as given: its text, or the digest of one stored earlier.
pub(crate) type GivenSpec<'a> = (Option<&'a str>, Option<&'a sextant_domain::SpecDigest>);
/// The name (SHA-256) and size of a definition's spec, as its row keeps them.
pub(crate) type SpecName = (String, i64);
/// A spec text to store: its name, size and text.
pub(crate) type SpecText<'a> = (String, i64, &'a str);

/// The name and size of each definition's spec (`None` without a spec) and the distinct
/// texts to store, ordered by name (writers of shared specs then lock their rows in the same
/// order). A spec without text names, by the digest read earlier, one already stored.
pub(crate) fn spec_rows<'a>(
    specs: impl Iterator<Item = Option<GivenSpec<'a>>>,
) -> (Vec<Option<SpecName>>, Vec<SpecText<'a>>) {
    let mut texts = std::collections::BTreeMap::new();
    let named = specs
        .map(|spec| match spec? {
            (Some(data), _) => {
                let sha256 = spec_sha256(data);
                let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
                texts.entry(sha256.clone()).or_insert((size, data));
                Some((sha256, size))
            }
            (None, digest) => {
                digest.map(|d| (d.sha256.clone(), i64::try_from(d.size).unwrap_or(i64::MAX)))
            }
        })
        .collect();
    let texts = texts
        .into_iter()
        .map(|(sha256, (size, data))| (sha256, size, data))
        .collect();
    (named, texts)
}

/// The kinds of an application's children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    ApiDefinition,
    EventDefinition,
    Document,
    Webhook,
}

impl ChildKind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            ChildKind::ApiDefinition => "api_definitions",
            ChildKind::EventDefinition => "event_definitions",
            ChildKind::Document => "documents",
            ChildKind::Webhook => "webhooks",
        }
    }
}

/// How a fetch request is stored (JSON in its owner's row).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredFetchRequest {
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth: Option<Auth>,
    mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<String>,
    condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// Microseconds since the epoch.
    timestamp: i64,
}

impl StoredFetchRequest {
    pub(crate) fn from_domain(f: &FetchRequest) -> Self {
        StoredFetchRequest {
            url: f.url.clone(),
            auth: f.auth.clone(),
            mode: f.mode.as_str().to_owned(),
            filter: f.filter.clone(),
            condition: f.status.condition.as_str().to_owned(),
            message: f.status.message.clone(),
            timestamp: to_micros(f.status.timestamp),
        }
    }

    pub(crate) fn into_domain(self) -> Result<FetchRequest, StoreError> {
        Ok(FetchRequest {
            url: self.url,
            auth: self.auth,
            mode: FetchMode::parse(&self.mode)
                .ok_or_else(|| StoreError::Corrupt(format!("fetch mode {:?}", self.mode)))?,
            filter: self.filter,
            status: FetchStatus {
                condition: FetchStatusCondition::parse(&self.condition).ok_or_else(|| {
                    StoreError::Corrupt(format!("fetch status {:?}", self.condition))
                })?,
                message: self.message,
                timestamp: from_micros(self.timestamp)?,
            },
        })
    }
}

/// How a version is stored.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredVersion {
    value: String,
    deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deprecated_since: Option<String>,
    for_removal: bool,
}

impl StoredVersion {
    pub(crate) fn from_domain(v: &Version) -> Self {
        StoredVersion {
            value: v.value.clone(),
            deprecated: v.deprecated,
            deprecated_since: v.deprecated_since.clone(),
            for_removal: v.for_removal,
        }
    }
    pub(crate) fn into_domain(self) -> Version {
        Version {
            value: self.value,
            deprecated: self.deprecated,
            deprecated_since: self.deprecated_since,
            for_removal: self.for_removal,
        }
    }
}

pub(crate) fn parse_enum<T>(
    what: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| StoreError::Corrupt(format!("{what} {value:?}")))
}

/// Groups rows into one page per application, in application order.
pub(crate) fn pages_by_app<T>(
    app_ids: &[Uuid],
    rows: Vec<(Uuid, T)>,
    counts: Vec<(Uuid, i64)>,
    page: &PageRequest,
) -> HashMap<Uuid, Page<T>> {
    let mut grouped: HashMap<Uuid, Vec<T>> = HashMap::with_capacity(app_ids.len());
    for (app, item) in rows {
        grouped.entry(app).or_default().push(item);
    }
    let counts: HashMap<Uuid, i64> = counts.into_iter().collect();
    app_ids
        .iter()
        .map(|app| {
            let items = grouped.remove(app).unwrap_or_default();
            let total = counts.get(app).copied().unwrap_or(0);
            (*app, Page::from_rows(items, page, total))
        })
        .collect()
}

// Read columns: the spec's text comes from `specs` (by a correlated subquery, so that the
// same lists serve single rows and pages); the `*_DIGEST_COLUMNS` variants leave it out.
// The name and size of the spec are the last two columns.
const API_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, target_url, \
     (SELECT specs.data FROM specs WHERE specs.sha256 = spec_sha256), spec_format, spec_type, \
     spec_fetch_request, version, default_auth, created_at, spec_sha256, spec_size";
const API_DIGEST_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     target_url, CAST(NULL AS TEXT), spec_format, spec_type, spec_fetch_request, version, \
     default_auth, created_at, spec_sha256, spec_size";
const API_INSERT_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     target_url, spec_sha256, spec_format, spec_type, spec_fetch_request, version, default_auth, \
     created_at, spec_size";
const EVENT_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     (SELECT specs.data FROM specs WHERE specs.sha256 = spec_sha256), spec_format, spec_type, \
     spec_fetch_request, version, created_at, spec_sha256, spec_size";
const EVENT_DIGEST_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     CAST(NULL AS TEXT), spec_format, spec_type, spec_fetch_request, version, created_at, \
     spec_sha256, spec_size";
const EVENT_INSERT_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     spec_sha256, spec_format, spec_type, spec_fetch_request, version, created_at, spec_size";
const DOCUMENT_COLUMNS: &str = "id, tenant_id, app_id, title, display_name, description, format, \
     kind, data, fetch_request, created_at";
const WEBHOOK_COLUMNS: &str =
    "id, tenant_id, app_id, type, url, auth, created_at, secret, failing_since";

pub(crate) fn api_columns(with_spec_data: bool) -> &'static str {
    if with_spec_data {
        API_COLUMNS
    } else {
        API_DIGEST_COLUMNS
    }
}
pub(crate) fn api_insert_columns() -> &'static str {
    API_INSERT_COLUMNS
}
pub(crate) fn event_columns(with_spec_data: bool) -> &'static str {
    if with_spec_data {
        EVENT_COLUMNS
    } else {
        EVENT_DIGEST_COLUMNS
    }
}
pub(crate) fn event_insert_columns() -> &'static str {
    EVENT_INSERT_COLUMNS
}
pub(crate) fn document_columns() -> &'static str {
    DOCUMENT_COLUMNS
}
pub(crate) fn webhook_columns() -> &'static str {
    WEBHOOK_COLUMNS
}

/// SHA-256 of a spec's text, lowercase hex: its name in the `specs` table.
pub fn spec_sha256(data: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest a spec row names, from its last two columns.
pub(crate) fn digest_of(
    sha256: Option<String>,
    size: Option<i64>,
) -> Option<sextant_domain::SpecDigest> {
    sha256.map(|sha256| sextant_domain::SpecDigest {
        sha256,
        size: u64::try_from(size.unwrap_or(0)).unwrap_or(0),
    })
}

/// Spec bytes stored by an application's definitions and by its tenant's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecUsage {
    pub application: u64,
    pub tenant: u64,
}

macro_rules! catalog_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn api_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::ApiDefinition, StoreError> {
                use $crate::catalog::{StoredFetchRequest, StoredVersion, parse_enum};
                let format: Option<String> = row.try_get(8)?;
                let spec_type: Option<String> = row.try_get(9)?;
                let fetch: Option<Json<StoredFetchRequest>> = row.try_get(10)?;
                let spec = match (format, spec_type) {
                    (Some(format), Some(spec_type)) => Some(sextant_domain::ApiSpec {
                        data: row.try_get(7)?,
                        digest: $crate::catalog::digest_of(row.try_get(14)?, row.try_get(15)?),
                        format: parse_enum("spec format", &format, sextant_domain::SpecFormat::parse)?,
                        spec_type: parse_enum(
                            "API spec type",
                            &spec_type,
                            sextant_domain::ApiSpecType::parse,
                        )?,
                        fetch_request: fetch.map(|f| f.0.into_domain()).transpose()?,
                    }),
                    _ => None,
                };
                let version: Option<Json<StoredVersion>> = row.try_get(11)?;
                let default_auth: Option<Json<sextant_domain::Auth>> = row.try_get(12)?;
                Ok(sextant_domain::ApiDefinition {
                    id: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    application_id: row.try_get(2)?,
                    name: row.try_get(3)?,
                    description: row.try_get(4)?,
                    group: row.try_get(5)?,
                    target_url: row.try_get(6)?,
                    spec,
                    version: version.map(|v| v.0.into_domain()),
                    default_auth: default_auth.map(|a| a.0),
                    created_at: from_micros(row.try_get(13)?)?,
                })
            }

            fn event_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::EventDefinition, StoreError> {
                use $crate::catalog::{StoredFetchRequest, StoredVersion, parse_enum};
                let format: String = row.try_get(7)?;
                let spec_type: String = row.try_get(8)?;
                let fetch: Option<Json<StoredFetchRequest>> = row.try_get(9)?;
                let version: Option<Json<StoredVersion>> = row.try_get(10)?;
                Ok(sextant_domain::EventDefinition {
                    id: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    application_id: row.try_get(2)?,
                    name: row.try_get(3)?,
                    description: row.try_get(4)?,
                    group: row.try_get(5)?,
                    spec: sextant_domain::EventSpec {
                        data: row.try_get(6)?,
                        digest: $crate::catalog::digest_of(row.try_get(12)?, row.try_get(13)?),
                        format: parse_enum("spec format", &format, sextant_domain::SpecFormat::parse)?,
                        spec_type: parse_enum(
                            "event spec type",
                            &spec_type,
                            sextant_domain::EventSpecType::parse,
                        )?,
                        fetch_request: fetch.map(|f| f.0.into_domain()).transpose()?,
                    },
                    version: version.map(|v| v.0.into_domain()),
                    created_at: from_micros(row.try_get(11)?)?,
                })
            }

            fn document_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::Document, StoreError> {
                use $crate::catalog::{StoredFetchRequest, parse_enum};
                let format: String = row.try_get(6)?;
                let fetch: Option<Json<StoredFetchRequest>> = row.try_get(9)?;
                Ok(sextant_domain::Document {
                    id: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    application_id: row.try_get(2)?,
                    title: row.try_get(3)?,
                    display_name: row.try_get(4)?,
                    description: row.try_get(5)?,
                    format: parse_enum(
                        "document format",
                        &format,
                        sextant_domain::DocumentFormat::parse,
                    )?,
                    kind: row.try_get(7)?,
                    data: row.try_get(8)?,
                    fetch_request: fetch.map(|f| f.0.into_domain()).transpose()?,
                    created_at: from_micros(row.try_get(10)?)?,
                })
            }

            fn webhook_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::Webhook, StoreError> {
                use $crate::catalog::parse_enum;
                let ty: String = row.try_get(3)?;
                let auth: Option<Json<sextant_domain::Auth>> = row.try_get(5)?;
                Ok(sextant_domain::Webhook {
                    id: row.try_get(0)?,
                    tenant: TenantId(row.try_get(1)?),
                    application_id: row.try_get(2)?,
                    webhook_type: parse_enum("webhook type", &ty, sextant_domain::WebhookType::parse)?,
                    url: row.try_get(4)?,
                    auth: auth.map(|a| a.0),
                    created_at: from_micros(row.try_get(6)?)?,
                    secret: row.try_get(7)?,
                    failing_since: row
                        .try_get::<Option<i64>, _>(8)?
                        .map(from_micros)
                        .transpose()?,
                })
            }

            /// Stores a spec's text once (by its SHA-256) and answers its name and size. With
            /// no text, a digest read earlier names a spec that is already stored.
            async fn put_spec(
                &mut self,
                data: Option<&str>,
                digest: Option<&sextant_domain::SpecDigest>,
            ) -> Result<Option<$crate::catalog::SpecName>, StoreError> {
                let (mut named, texts) =
                    $crate::catalog::spec_rows(std::iter::once(Some((data, digest))));
                self.put_specs(&texts).await?;
                Ok(named.pop().flatten())
            }

            /// Stores spec texts (distinct names, in the order of their names), as few at a
            /// time as `statement_chunks` allows.
            ///
            /// A text already stored is not written again, but its row is locked (`DO UPDATE`
            /// whose `WHERE` never holds, as a spec's size follows from its name): a concurrent
            /// removal of its last reference then cannot delete it under this transaction (see
            /// migration 0014). Rows are locked in the order of their names, the same in every
            /// writer.
            async fn put_specs(
                &mut self,
                texts: &[$crate::catalog::SpecText<'_>],
            ) -> Result<(), StoreError> {
                for chunk in $crate::catalog::statement_chunks(texts, 3, |(_, _, data)| data.len()) {
                    let mut qb =
                        sqlx::QueryBuilder::<$Db>::new("INSERT INTO specs (sha256, size, data) ");
                    qb.push_values(chunk, |mut row, (sha256, size, data)| {
                        row.push_bind(sha256.as_str())
                            .push_bind(*size)
                            .push_bind(*data);
                    });
                    qb.push(
                        " ON CONFLICT (sha256) DO UPDATE SET size = excluded.size \
                         WHERE specs.size <> excluded.size",
                    );
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            /// Inserts API definitions whose specs are stored (`stored`: each one's spec name
            /// and size).
            async fn insert_api_rows(
                &mut self,
                apis: &[sextant_domain::ApiDefinition],
                stored: &[Option<$crate::catalog::SpecName>],
            ) -> Result<(), StoreError> {
                let rows: Vec<_> = apis.iter().zip(stored).collect();
                for chunk in $crate::catalog::statement_chunks(&rows, 15, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO api_definitions ({}) ",
                        $crate::catalog::api_insert_columns()
                    ));
                    qb.push_values(chunk, |mut row, (api, stored)| {
                        row.push_bind(api.id)
                            .push_bind(api.tenant.0)
                            .push_bind(api.application_id)
                            .push_bind(api.name.as_str())
                            .push_bind(api.description.as_deref())
                            .push_bind(api.group.as_deref())
                            .push_bind(api.target_url.as_str())
                            .push_bind(stored.as_ref().map(|(sha256, _)| sha256.as_str()))
                            .push_bind(api.spec.as_ref().map(|s| s.format.as_str()))
                            .push_bind(api.spec.as_ref().map(|s| s.spec_type.as_str()))
                            .push_bind(
                                api.spec
                                    .as_ref()
                                    .and_then(|s| s.fetch_request.as_ref())
                                    .map(|f| Json($crate::catalog::StoredFetchRequest::from_domain(f))),
                            )
                            .push_bind(
                                api.version
                                    .as_ref()
                                    .map(|v| Json($crate::catalog::StoredVersion::from_domain(v))),
                            )
                            .push_bind(api.default_auth.as_ref().map(Json))
                            .push_bind(to_micros(api.created_at))
                            .push_bind(stored.as_ref().map(|(_, size)| *size));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            /// Inserts event definitions whose specs are stored (`stored`: each one's spec
            /// name and size).
            async fn insert_event_rows(
                &mut self,
                events: &[sextant_domain::EventDefinition],
                stored: &[Option<$crate::catalog::SpecName>],
            ) -> Result<(), StoreError> {
                let rows: Vec<_> = events.iter().zip(stored).collect();
                for chunk in $crate::catalog::statement_chunks(&rows, 13, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO event_definitions ({}) ",
                        $crate::catalog::event_insert_columns()
                    ));
                    qb.push_values(chunk, |mut row, (event, stored)| {
                        row.push_bind(event.id)
                            .push_bind(event.tenant.0)
                            .push_bind(event.application_id)
                            .push_bind(event.name.as_str())
                            .push_bind(event.description.as_deref())
                            .push_bind(event.group.as_deref())
                            .push_bind(stored.as_ref().map(|(sha256, _)| sha256.as_str()))
                            .push_bind(event.spec.format.as_str())
                            .push_bind(event.spec.spec_type.as_str())
                            .push_bind(
                                event
                                    .spec
                                    .fetch_request
                                    .as_ref()
                                    .map(|f| Json($crate::catalog::StoredFetchRequest::from_domain(f))),
                            )
                            .push_bind(
                                event
                                    .version
                                    .as_ref()
                                    .map(|v| Json($crate::catalog::StoredVersion::from_domain(v))),
                            )
                            .push_bind(to_micros(event.created_at))
                            .push_bind(stored.as_ref().map(|(_, size)| *size));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            /// One row by tenant and id.
            async fn catalog_row(
                &mut self,
                table: &str,
                columns: &str,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<Option<<$Db as sqlx::Database>::Row>, StoreError> {
                self.counter().inc();
                Ok(sqlx::query(AssertSqlSafe(format!(
                    "SELECT {columns} FROM {table} WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(self.conn())
                .await?)
            }

            async fn catalog_delete(
                &mut self,
                table: &str,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(tenant.0)
                .bind(id)
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// The first `page.first + 1` children of each application (after the cursor),
            /// and each application's total, in two statements.
            async fn catalog_pages(
                &mut self,
                table: &str,
                columns: &str,
                tenant: TenantId,
                app_ids: &[Uuid],
                group: Option<&str>,
                page: &PageRequest,
            ) -> Result<(Vec<<$Db as sqlx::Database>::Row>, Vec<(Uuid, i64)>), StoreError> {
                if app_ids.is_empty() {
                    return Ok((Vec::new(), Vec::new()));
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {columns} FROM (SELECT *, ROW_NUMBER() OVER \
                     (PARTITION BY app_id ORDER BY id) AS rn FROM {table} WHERE tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND app_id IN ");
                Self::push_id_list(&mut qb, app_ids);
                if let Some(group) = group {
                    qb.push(" AND group_name = ");
                    qb.push_bind(group.to_owned());
                }
                if let Some(after) = page.after {
                    qb.push(" AND id > ");
                    qb.push_bind(after.0);
                }
                qb.push(") t WHERE t.rn <= ");
                qb.push_bind(i64::from(page.first) + 1);
                qb.push(" ORDER BY t.app_id, t.id");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;

                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT app_id, COUNT(*) FROM {table} WHERE tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND app_id IN ");
                Self::push_id_list(&mut qb, app_ids);
                if let Some(group) = group {
                    qb.push(" AND group_name = ");
                    qb.push_bind(group.to_owned());
                }
                qb.push(" GROUP BY app_id");
                self.counter().inc();
                let counts = qb
                    .build()
                    .fetch_all(self.conn())
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get::<Uuid, _>(0)?, r.try_get::<i64, _>(1)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok((rows, counts))
            }
        }

        #[async_trait::async_trait]
        impl $crate::catalog::CatalogTx for $Tx {
            async fn insert_definitions(
                &mut self,
                apis: &[sextant_domain::ApiDefinition],
                events: &[sextant_domain::EventDefinition],
            ) -> Result<(), StoreError> {
                let (stored, texts) = $crate::catalog::spec_rows(
                    apis.iter()
                        .map(|a| a.spec.as_ref().map(|s| (s.data.as_deref(), s.digest.as_ref())))
                        .chain(
                            events
                                .iter()
                                .map(|e| Some((e.spec.data.as_deref(), e.spec.digest.as_ref()))),
                        ),
                );
                self.put_specs(&texts).await?;
                let (api_specs, event_specs) = stored.split_at(apis.len());
                self.insert_api_rows(apis, api_specs).await?;
                self.insert_event_rows(events, event_specs).await
            }

            async fn update_api_definition(
                &mut self,
                api: &sextant_domain::ApiDefinition,
            ) -> Result<bool, StoreError> {
                let stored = match api.spec.as_ref() {
                    Some(spec) => self.put_spec(spec.data.as_deref(), spec.digest.as_ref()).await?,
                    None => None,
                };
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE api_definitions SET name = $3, description = $4, group_name = $5, \
                     target_url = $6, spec_sha256 = $7, spec_format = $8, spec_type = $9, \
                     spec_fetch_request = $10, version = $11, default_auth = $12, \
                     spec_size = $13, spec_data = NULL WHERE tenant_id = $1 AND id = $2",
                )
                .bind(api.tenant.0)
                .bind(api.id)
                .bind(&api.name)
                .bind(&api.description)
                .bind(&api.group)
                .bind(&api.target_url)
                .bind(stored.as_ref().map(|(sha256, _)| sha256.clone()))
                .bind(api.spec.as_ref().map(|s| s.format.as_str()))
                .bind(api.spec.as_ref().map(|s| s.spec_type.as_str()))
                .bind(
                    api.spec
                        .as_ref()
                        .and_then(|s| s.fetch_request.as_ref())
                        .map(|f| Json($crate::catalog::StoredFetchRequest::from_domain(f))),
                )
                .bind(
                    api.version
                        .as_ref()
                        .map(|v| Json($crate::catalog::StoredVersion::from_domain(v))),
                )
                .bind(api.default_auth.as_ref().map(Json))
                .bind(stored.as_ref().map(|(_, size)| *size))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn api_definition(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<Option<sextant_domain::ApiDefinition>, StoreError> {
                let row = self
                    .catalog_row("api_definitions", $crate::catalog::api_columns(true), tenant, id)
                    .await?;
                row.as_ref().map(Self::api_from_row).transpose()
            }

            async fn delete_api_definition(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("api_definitions", tenant, id).await
            }

            async fn api_definitions(
                &mut self,
                tenant: TenantId,
                app_ids: &[Uuid],
                group: Option<&str>,
                page: &PageRequest,
            ) -> Result<std::collections::HashMap<Uuid, Page<sextant_domain::ApiDefinition>>, StoreError>
            {
                let (rows, counts) = self
                    .catalog_pages(
                        "api_definitions",
                        $crate::catalog::api_columns(true),
                        tenant,
                        app_ids,
                        group,
                        page,
                    )
                    .await?;
                let items = rows
                    .iter()
                    .map(|r| Self::api_from_row(r).map(|a| (a.application_id, a)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok($crate::catalog::pages_by_app(app_ids, items, counts, page))
            }

            async fn definitions_without_spec_data(
                &mut self,
                tenant: TenantId,
                app_ids: &[Uuid],
                page: &PageRequest,
            ) -> Result<
                (
                    std::collections::HashMap<Uuid, Page<sextant_domain::ApiDefinition>>,
                    std::collections::HashMap<Uuid, Page<sextant_domain::EventDefinition>>,
                ),
                StoreError,
            > {
                let (rows, counts) = self
                    .catalog_pages(
                        "api_definitions",
                        $crate::catalog::api_columns(false),
                        tenant,
                        app_ids,
                        None,
                        page,
                    )
                    .await?;
                let items = rows
                    .iter()
                    .map(|r| Self::api_from_row(r).map(|a| (a.application_id, a)))
                    .collect::<Result<Vec<_>, _>>()?;
                let apis = $crate::catalog::pages_by_app(app_ids, items, counts, page);
                let (rows, counts) = self
                    .catalog_pages(
                        "event_definitions",
                        $crate::catalog::event_columns(false),
                        tenant,
                        app_ids,
                        None,
                        page,
                    )
                    .await?;
                let items = rows
                    .iter()
                    .map(|r| Self::event_from_row(r).map(|e| (e.application_id, e)))
                    .collect::<Result<Vec<_>, _>>()?;
                let events = $crate::catalog::pages_by_app(app_ids, items, counts, page);
                Ok((apis, events))
            }

            async fn spec(&mut self, sha256: &str) -> Result<Option<String>, StoreError> {
                self.counter().inc();
                Ok(sqlx::query_scalar("SELECT data FROM specs WHERE sha256 = $1")
                    .bind(sha256)
                    .fetch_optional(self.conn())
                    .await?)
            }

            async fn spec_usage(
                &mut self,
                tenant: TenantId,
                app_id: Uuid,
            ) -> Result<$crate::catalog::SpecUsage, StoreError> {
                self.lock_spec_quota(tenant).await?;
                self.counter().inc();
                let (application, total): (i64, i64) = sqlx::query_as(
                    "SELECT \
                     CAST((SELECT COALESCE(SUM(spec_size), 0) FROM api_definitions \
                           WHERE tenant_id = $1 AND app_id = $2) AS BIGINT) + \
                     CAST((SELECT COALESCE(SUM(spec_size), 0) FROM event_definitions \
                           WHERE tenant_id = $1 AND app_id = $2) AS BIGINT), \
                     CAST(COALESCE((SELECT bytes FROM tenant_spec_usage \
                           WHERE tenant_id = $1), 0) AS BIGINT)",
                )
                .bind(tenant.0)
                .bind(app_id)
                .fetch_one(self.conn())
                .await?;
                Ok($crate::catalog::SpecUsage {
                    application: u64::try_from(application).unwrap_or(0),
                    tenant: u64::try_from(total).unwrap_or(0),
                })
            }

            async fn move_inline_specs(&mut self) -> Result<u64, StoreError> {
                let mut moved = 0;
                for table in ["api_definitions", "event_definitions"] {
                    loop {
                        // A few rows at a time: each may hold megabytes.
                        self.counter().inc();
                        let rows: Vec<(Uuid, String)> = sqlx::query_as(AssertSqlSafe(format!(
                            "SELECT id, spec_data FROM {table} WHERE spec_data IS NOT NULL LIMIT 16"
                        )))
                        .fetch_all(self.conn())
                        .await?;
                        if rows.is_empty() {
                            break;
                        }
                        for (id, data) in rows {
                            let stored = self.put_spec(Some(&data), None).await?;
                            self.counter().inc();
                            sqlx::query(AssertSqlSafe(format!(
                                "UPDATE {table} SET spec_sha256 = $2, spec_size = $3, \
                                 spec_data = NULL WHERE id = $1"
                            )))
                            .bind(id)
                            .bind(stored.as_ref().map(|(sha256, _)| sha256.clone()))
                            .bind(stored.as_ref().map(|(_, size)| *size))
                            .execute(self.conn())
                            .await?;
                            moved += 1;
                        }
                    }
                }
                Ok(moved)
            }

            async fn count_children(
                &mut self,
                tenant: TenantId,
                kind: $crate::catalog::ChildKind,
                app_id: Uuid,
            ) -> Result<i64, StoreError> {
                self.counter().inc();
                Ok(sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {} WHERE tenant_id = $1 AND app_id = $2",
                    kind.table()
                )))
                .bind(tenant.0)
                .bind(app_id)
                .fetch_one(self.conn())
                .await?)
            }

            async fn update_event_definition(
                &mut self,
                event: &sextant_domain::EventDefinition,
            ) -> Result<bool, StoreError> {
                let stored = self
                    .put_spec(event.spec.data.as_deref(), event.spec.digest.as_ref())
                    .await?;
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE event_definitions SET name = $3, description = $4, group_name = $5, \
                     spec_sha256 = $6, spec_format = $7, spec_type = $8, spec_fetch_request = $9, \
                     version = $10, spec_size = $11, spec_data = NULL \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(event.tenant.0)
                .bind(event.id)
                .bind(&event.name)
                .bind(&event.description)
                .bind(&event.group)
                .bind(stored.as_ref().map(|(sha256, _)| sha256.clone()))
                .bind(event.spec.format.as_str())
                .bind(event.spec.spec_type.as_str())
                .bind(
                    event
                        .spec
                        .fetch_request
                        .as_ref()
                        .map(|f| Json($crate::catalog::StoredFetchRequest::from_domain(f))),
                )
                .bind(
                    event
                        .version
                        .as_ref()
                        .map(|v| Json($crate::catalog::StoredVersion::from_domain(v))),
                )
                .bind(stored.as_ref().map(|(_, size)| *size))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn event_definition(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<Option<sextant_domain::EventDefinition>, StoreError> {
                let row = self
                    .catalog_row("event_definitions", $crate::catalog::event_columns(true), tenant, id)
                    .await?;
                row.as_ref().map(Self::event_from_row).transpose()
            }

            async fn delete_event_definition(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("event_definitions", tenant, id).await
            }

            async fn event_definitions(
                &mut self,
                tenant: TenantId,
                app_ids: &[Uuid],
                group: Option<&str>,
                page: &PageRequest,
            ) -> Result<std::collections::HashMap<Uuid, Page<sextant_domain::EventDefinition>>, StoreError>
            {
                let (rows, counts) = self
                    .catalog_pages(
                        "event_definitions",
                        $crate::catalog::event_columns(true),
                        tenant,
                        app_ids,
                        group,
                        page,
                    )
                    .await?;
                let items = rows
                    .iter()
                    .map(|r| Self::event_from_row(r).map(|e| (e.application_id, e)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok($crate::catalog::pages_by_app(app_ids, items, counts, page))
            }

            async fn insert_documents(
                &mut self,
                documents: &[sextant_domain::Document],
            ) -> Result<(), StoreError> {
                let chunks = $crate::catalog::statement_chunks(documents, 11, |d| {
                    d.data.as_ref().map_or(0, String::len)
                });
                for chunk in chunks {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO documents ({}) ",
                        $crate::catalog::document_columns()
                    ));
                    qb.push_values(chunk, |mut row, document| {
                        row.push_bind(document.id)
                            .push_bind(document.tenant.0)
                            .push_bind(document.application_id)
                            .push_bind(document.title.as_str())
                            .push_bind(document.display_name.as_str())
                            .push_bind(document.description.as_str())
                            .push_bind(document.format.as_str())
                            .push_bind(document.kind.as_deref())
                            .push_bind(document.data.as_deref())
                            .push_bind(
                                document
                                    .fetch_request
                                    .as_ref()
                                    .map(|f| Json($crate::catalog::StoredFetchRequest::from_domain(f))),
                            )
                            .push_bind(to_micros(document.created_at));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            async fn document(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<Option<sextant_domain::Document>, StoreError> {
                let row = self
                    .catalog_row("documents", $crate::catalog::document_columns(), tenant, id)
                    .await?;
                row.as_ref().map(Self::document_from_row).transpose()
            }

            async fn delete_document(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("documents", tenant, id).await
            }

            async fn documents(
                &mut self,
                tenant: TenantId,
                app_ids: &[Uuid],
                page: &PageRequest,
            ) -> Result<std::collections::HashMap<Uuid, Page<sextant_domain::Document>>, StoreError>
            {
                let (rows, counts) = self
                    .catalog_pages(
                        "documents",
                        $crate::catalog::document_columns(),
                        tenant,
                        app_ids,
                        None,
                        page,
                    )
                    .await?;
                let items = rows
                    .iter()
                    .map(|r| Self::document_from_row(r).map(|d| (d.application_id, d)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok($crate::catalog::pages_by_app(app_ids, items, counts, page))
            }

            async fn insert_webhooks(
                &mut self,
                webhooks: &[sextant_domain::Webhook],
            ) -> Result<(), StoreError> {
                for chunk in $crate::catalog::statement_chunks(webhooks, 9, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO webhooks ({}) ",
                        $crate::catalog::webhook_columns()
                    ));
                    qb.push_values(chunk, |mut row, webhook| {
                        row.push_bind(webhook.id)
                            .push_bind(webhook.tenant.0)
                            .push_bind(webhook.application_id)
                            .push_bind(webhook.webhook_type.as_str())
                            .push_bind(webhook.url.as_str())
                            .push_bind(webhook.auth.as_ref().map(Json))
                            .push_bind(to_micros(webhook.created_at))
                            .push_bind(webhook.secret.as_deref())
                            .push_bind(webhook.failing_since.map(to_micros));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            async fn update_webhook(
                &mut self,
                webhook: &sextant_domain::Webhook,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE webhooks SET type = $3, url = $4, auth = $5 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(webhook.tenant.0)
                .bind(webhook.id)
                .bind(webhook.webhook_type.as_str())
                .bind(&webhook.url)
                .bind(webhook.auth.as_ref().map(Json))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn webhook(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<Option<sextant_domain::Webhook>, StoreError> {
                let row = self
                    .catalog_row("webhooks", $crate::catalog::webhook_columns(), tenant, id)
                    .await?;
                row.as_ref().map(Self::webhook_from_row).transpose()
            }

            async fn delete_webhook(
                &mut self,
                tenant: TenantId,
                id: Uuid,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("webhooks", tenant, id).await
            }

            async fn webhooks(
                &mut self,
                tenant: TenantId,
                app_ids: &[Uuid],
            ) -> Result<Vec<sextant_domain::Webhook>, StoreError> {
                if app_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {} FROM webhooks WHERE tenant_id = ",
                    $crate::catalog::webhook_columns()
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND app_id IN ");
                Self::push_id_list(&mut qb, app_ids);
                qb.push(" ORDER BY app_id, id");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::webhook_from_row).collect()
            }

            async fn set_api_runtime_auth(
                &mut self,
                tenant: TenantId,
                auth: &sextant_domain::ApiRuntimeAuth,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO api_runtime_auths (tenant_id, api_id, runtime_id, auth) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, api_id, runtime_id) \
                     DO UPDATE SET auth = excluded.auth",
                )
                .bind(tenant.0)
                .bind(auth.api_id)
                .bind(auth.runtime_id)
                .bind(Json(&auth.auth))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn delete_api_runtime_auth(
                &mut self,
                tenant: TenantId,
                api_id: Uuid,
                runtime_id: Uuid,
            ) -> Result<Option<sextant_domain::Auth>, StoreError> {
                self.counter().inc();
                let auth: Option<Json<sextant_domain::Auth>> = sqlx::query_scalar(
                    "DELETE FROM api_runtime_auths WHERE tenant_id = $1 AND api_id = $2 \
                     AND runtime_id = $3 RETURNING auth",
                )
                .bind(tenant.0)
                .bind(api_id)
                .bind(runtime_id)
                .fetch_optional(self.conn())
                .await?;
                Ok(auth.map(|a| a.0))
            }

            async fn api_runtime_auths(
                &mut self,
                tenant: TenantId,
                api_ids: &[Uuid],
                runtime_ids: Option<&[Uuid]>,
            ) -> Result<Vec<sextant_domain::ApiRuntimeAuth>, StoreError> {
                if api_ids.is_empty() || runtime_ids.is_some_and(|r| r.is_empty()) {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT api_id, runtime_id, auth FROM api_runtime_auths WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND api_id IN ");
                Self::push_id_list(&mut qb, api_ids);
                if let Some(runtime_ids) = runtime_ids {
                    qb.push(" AND runtime_id IN ");
                    Self::push_id_list(&mut qb, runtime_ids);
                }
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|r| {
                        let auth: Json<sextant_domain::Auth> = r.try_get(2)?;
                        Ok(sextant_domain::ApiRuntimeAuth {
                            api_id: r.try_get(0)?,
                            runtime_id: r.try_get(1)?,
                            auth: auth.0,
                        })
                    })
                    .collect()
            }

            async fn runtime_ids(
                &mut self,
                tenant: TenantId,
                among: Option<&[Uuid]>,
            ) -> Result<Vec<Uuid>, StoreError> {
                if among.is_some_and(|r| r.is_empty()) {
                    return Ok(Vec::new());
                }
                let mut qb =
                    sqlx::QueryBuilder::<$Db>::new("SELECT id FROM runtimes WHERE tenant_id = ");
                qb.push_bind(tenant.0);
                if let Some(among) = among {
                    qb.push(" AND id IN ");
                    Self::push_id_list(&mut qb, among);
                }
                qb.push(" ORDER BY created_at, id");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|r| r.try_get::<Uuid, _>(0).map_err(StoreError::from))
                    .collect()
            }

            async fn set_default_eventing(
                &mut self,
                tenant: TenantId,
                app_id: Uuid,
                runtime_id: Uuid,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO default_eventing (tenant_id, app_id, runtime_id) \
                     VALUES ($1, $2, $3) ON CONFLICT (tenant_id, app_id) \
                     DO UPDATE SET runtime_id = excluded.runtime_id",
                )
                .bind(tenant.0)
                .bind(app_id)
                .bind(runtime_id)
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn delete_default_eventing(
                &mut self,
                tenant: TenantId,
                app_id: Uuid,
            ) -> Result<Option<Uuid>, StoreError> {
                self.counter().inc();
                Ok(sqlx::query_scalar(
                    "DELETE FROM default_eventing WHERE tenant_id = $1 AND app_id = $2 \
                     RETURNING runtime_id",
                )
                .bind(tenant.0)
                .bind(app_id)
                .fetch_optional(self.conn())
                .await?)
            }


            async fn default_eventing_many(
                &mut self,
                tenant: TenantId,
                app_ids: &[Uuid],
            ) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
                if app_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT app_id, runtime_id FROM default_eventing WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND app_id IN ");
                Self::push_id_list(&mut qb, app_ids);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<Uuid, _>(0)?, r.try_get::<Uuid, _>(1)?)))
                    .collect()
            }

            async fn oldest_runtime_in_scenarios(
                &mut self,
                tenant: TenantId,
                scenarios: &[String],
            ) -> Result<Option<Uuid>, StoreError> {
                if scenarios.is_empty() {
                    return Ok(None);
                }
                let filter = ResolvedFilter::AnyOf(
                    sextant_domain::label::SCENARIOS_KEY.to_owned(),
                    scenarios.to_vec(),
                );
                let mut qb =
                    sqlx::QueryBuilder::<$Db>::new("SELECT r.id FROM runtimes r WHERE r.tenant_id = ");
                qb.push_bind(tenant.0);
                Self::push_filters(
                    &mut qb,
                    "r",
                    sextant_domain::ObjectKind::Runtime,
                    tenant,
                    std::slice::from_ref(&filter),
                );
                qb.push(" ORDER BY r.created_at, r.id LIMIT 1");
                self.counter().inc();
                let row = qb.build().fetch_optional(self.conn()).await?;
                row.map(|r| r.try_get::<Uuid, _>(0).map_err(StoreError::from))
                    .transpose()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::{MAX_BIND_PARAMETERS, MAX_STATEMENT_BYTES, statement_chunks};

    fn lengths<T>(chunks: &[&[T]]) -> Vec<usize> {
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn chunks_stay_under_the_bind_limit() {
        let rows = vec![0u8; 2 * (MAX_BIND_PARAMETERS / 15) + 1];
        let chunks = statement_chunks(&rows, 15, |_| 0);
        let most = MAX_BIND_PARAMETERS / 15;
        assert_eq!(lengths(&chunks), vec![most, most, 1]);
        assert!(statement_chunks(&[] as &[u8], 15, |_| 0).is_empty());
        assert_eq!(lengths(&statement_chunks(&[1u8, 2, 3], 3, |_| 0)), vec![3]);
    }

    #[test]
    fn chunks_stay_under_the_byte_limit_but_a_larger_row_goes_alone() {
        let quarter = MAX_STATEMENT_BYTES / 4;
        let sizes = [
            quarter,
            quarter,
            quarter,
            quarter,
            1,
            MAX_STATEMENT_BYTES + 1,
            quarter,
        ];
        let chunks = statement_chunks(&sizes, 3, |size| *size);
        assert_eq!(lengths(&chunks), vec![4, 1, 1, 1]);
        for chunk in &chunks {
            let bytes: usize = chunk.iter().sum();
            assert!(chunk.len() == 1 || bytes <= MAX_STATEMENT_BYTES);
        }
    }
}
