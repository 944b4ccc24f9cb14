//! An application's catalog: its API and event definitions with their specs (`apis.rs`,
//! `events.rs`, `definitions.rs` for both together, `specs.rs`), documents, webhooks,
//! per-runtime API credentials and default eventing. Here, what they share: the kinds of
//! children ([`CatalogTx::count_children`]), how value objects such as a fetch request or a
//! version are stored (JSON in their owner's row), and reads and deletes of one row.
//!
//! Lists of children are loaded for many applications at once (one statement for the rows,
//! one for the counts; `tx/pages.rs`), so a page of applications with their APIs costs the
//! same number of statements whatever its size.

use serde::{Deserialize, Serialize};
use sextant_domain::ApplicationId;
use sextant_domain::{
    Auth, FetchMode, FetchRequest, FetchStatus, FetchStatusCondition, TenantId, Version,
};

use crate::error::StoreError;
use crate::tx::values::{from_micros, to_micros};

#[macro_use]
pub(crate) mod specs;
#[macro_use]
pub(crate) mod apis;
#[macro_use]
pub(crate) mod events;
#[macro_use]
pub(crate) mod definitions;
#[macro_use]
pub(crate) mod documents;
#[macro_use]
pub(crate) mod webhooks;
#[macro_use]
pub(crate) mod credentials;
#[macro_use]
pub(crate) mod default_eventing;

/// The operations of a transaction on an application's catalog as a whole.
#[async_trait::async_trait]
pub trait CatalogTx: Send {
    /// How many children of one kind an application has (`table`: one of the catalog's).
    async fn count_children(
        &mut self,
        tenant: TenantId,
        kind: ChildKind,
        app_id: ApplicationId,
    ) -> Result<i64, StoreError>;
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

macro_rules! catalog_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            /// One row by tenant and id.
            async fn catalog_row(
                &mut self,
                table: &str,
                columns: &str,
                tenant: TenantId,
                id: impl Into<Uuid> + Send,
            ) -> Result<Option<<$Db as sqlx::Database>::Row>, StoreError> {
                let id: Uuid = id.into();
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
                id: impl Into<Uuid> + Send,
            ) -> Result<bool, StoreError> {
                let id: Uuid = id.into();
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
        }

        #[async_trait::async_trait]
        impl $crate::tx::catalog::CatalogTx for $Tx {
            async fn count_children(
                &mut self,
                tenant: TenantId,
                kind: $crate::tx::catalog::ChildKind,
                app_id: sextant_domain::ApplicationId,
            ) -> Result<i64, StoreError> {
                self.counter().inc();
                Ok(sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {} WHERE tenant_id = $1 AND app_id = $2",
                    kind.table()
                )))
                .bind(tenant.0)
                .bind(app_id.into_untyped())
                .fetch_one(self.conn())
                .await?)
            }
        }
    };
}
