//! Specs, stored once by content (migration 0014): `specs` is keyed by the SHA-256 of the
//! text; API and event definitions name their spec by hash and keep its size.

use sextant_domain::ApplicationId;
use sextant_domain::TenantId;

use crate::error::StoreError;

/// The spec operations of a transaction.
#[async_trait::async_trait]
pub trait SpecsTx: Send {
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
        app_id: ApplicationId,
    ) -> Result<SpecUsage, StoreError>;
    /// Moves spec texts that an older version kept in the definitions' rows into `specs`;
    /// answers how many definitions it moved. Run once when the store opens.
    async fn move_inline_specs(&mut self) -> Result<u64, StoreError>;
}

/// Whether a page of definitions carries its specs' texts or only their digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecTexts {
    /// Each spec with its text.
    Include,
    /// Each spec with its digest only.
    Omit,
}

/// A definition's spec as given: its text, or the digest of one stored earlier.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GivenSpec<'a> {
    pub(crate) text: Option<&'a str>,
    pub(crate) digest: Option<&'a sextant_domain::SpecDigest>,
}

/// The name and size of a definition's spec, as its row keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpecName {
    pub(crate) sha256: String,
    pub(crate) size: i64,
}

/// A spec text to store under its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpecText<'a> {
    pub(crate) sha256: String,
    pub(crate) size: i64,
    pub(crate) data: &'a str,
}

/// The name and size of each definition's spec (`None` without a spec) and the distinct
/// texts to store, ordered by name (writers of shared specs then lock their rows in the same
/// order). A spec without text names, by the digest read earlier, one already stored.
pub(crate) fn spec_rows<'a>(
    specs: impl Iterator<Item = Option<GivenSpec<'a>>>,
) -> (Vec<Option<SpecName>>, Vec<SpecText<'a>>) {
    let mut texts = std::collections::BTreeMap::new();
    let named = specs
        .map(|spec| match spec? {
            GivenSpec {
                text: Some(data), ..
            } => {
                let sha256 = spec_sha256(data);
                let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
                texts.entry(sha256.clone()).or_insert((size, data));
                Some(SpecName { sha256, size })
            }
            GivenSpec { text: None, digest } => digest.map(|d| SpecName {
                sha256: d.sha256.clone(),
                size: i64::try_from(d.size).unwrap_or(i64::MAX),
            }),
        })
        .collect();
    let texts = texts
        .into_iter()
        .map(|(sha256, (size, data))| SpecText { sha256, size, data })
        .collect();
    (named, texts)
}

/// Pushes `VALUES (sha256, size, data), …` for spec texts to store.
pub(crate) fn push_spec_values<'s, 'a: 's, Db>(
    qb: &mut sqlx::QueryBuilder<Db>,
    texts: impl IntoIterator<Item = &'s SpecText<'a>>,
) where
    Db: sqlx::Database,
    for<'e> &'e str: sqlx::Encode<'e, Db> + sqlx::Type<Db>,
    for<'e> i64: sqlx::Encode<'e, Db> + sqlx::Type<Db>,
{
    qb.push_values(texts, |mut row, text| {
        row.push_bind(text.sha256.as_str())
            .push_bind(text.size)
            .push_bind(text.data);
    });
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

macro_rules! specs_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            /// Stores a spec's text once (by its SHA-256) and answers its name and size. With
            /// no text, a digest read earlier names a spec that is already stored.
            async fn put_spec(
                &mut self,
                data: Option<&str>,
                digest: Option<&sextant_domain::SpecDigest>,
            ) -> Result<Option<$crate::tx::catalog::specs::SpecName>, StoreError> {
                let (mut named, texts) = $crate::tx::catalog::specs::spec_rows(std::iter::once(
                    Some($crate::tx::catalog::specs::GivenSpec { text: data, digest }),
                ));
                self.put_specs(&texts).await?;
                Ok(named.pop().flatten())
            }

            /// Stores spec texts (distinct names, in the order of their names), as few at a
            /// time as `statement_chunks` allows; each adapter's `put_spec_chunk` makes sure
            /// a concurrent removal of a spec's last other reference cannot delete a spec
            /// this transaction names (see migration 0014).
            async fn put_specs(
                &mut self,
                texts: &[$crate::tx::catalog::specs::SpecText<'_>],
            ) -> Result<(), StoreError> {
                for chunk in $crate::tx::chunks::statement_chunks(texts, 3, |text| text.data.len())
                {
                    self.put_spec_chunk(chunk).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::catalog::specs::SpecsTx for $Tx {
            async fn spec(&mut self, sha256: &str) -> Result<Option<String>, StoreError> {
                self.counter().inc();
                Ok(
                    sqlx::query_scalar("SELECT data FROM specs WHERE sha256 = $1")
                        .bind(sha256)
                        .fetch_optional(self.conn())
                        .await?,
                )
            }

            async fn spec_usage(
                &mut self,
                tenant: TenantId,
                app_id: sextant_domain::ApplicationId,
            ) -> Result<$crate::tx::catalog::specs::SpecUsage, StoreError> {
                self.lock_spec_quota(tenant).await?;
                self.counter().inc();
                // A tenant's usage is the sum of its counter's shards (one row on SQLite;
                // PostgreSQL's migration 0020).
                let (application, total): (i64, i64) = sqlx::query_as(
                    "SELECT \
                     CAST((SELECT COALESCE(SUM(spec_size), 0) FROM api_definitions \
                           WHERE tenant_id = $1 AND app_id = $2) AS BIGINT) + \
                     CAST((SELECT COALESCE(SUM(spec_size), 0) FROM event_definitions \
                           WHERE tenant_id = $1 AND app_id = $2) AS BIGINT), \
                     CAST(COALESCE((SELECT SUM(bytes) FROM tenant_spec_usage \
                           WHERE tenant_id = $1), 0) AS BIGINT)",
                )
                .bind(tenant.0)
                .bind(app_id.into_untyped())
                .fetch_one(self.conn())
                .await?;
                Ok($crate::tx::catalog::specs::SpecUsage {
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
                            .bind(stored.as_ref().map(|s| s.sha256.clone()))
                            .bind(stored.as_ref().map(|s| s.size))
                            .execute(self.conn())
                            .await?;
                            moved += 1;
                        }
                    }
                }
                Ok(moved)
            }
        }
    };
}
