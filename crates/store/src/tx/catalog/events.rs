//! Event definitions of applications: their rows, read with their spec's text (or its
//! digest only). They are inserted with API definitions and specs, set-wise
//! ([`DefinitionsTx`](crate::DefinitionsTx)).

use std::collections::HashMap;

use sextant_domain::{ApplicationId, EventDefinitionId};
use sextant_domain::{EventDefinition, Page, PageRequest, TenantId};

use crate::error::StoreError;

/// The event definition operations of a transaction.
#[async_trait::async_trait]
pub trait EventDefinitionsTx: Send {
    async fn update_event_definition(
        &mut self,
        event: &EventDefinition,
    ) -> Result<bool, StoreError>;
    async fn event_definition(
        &mut self,
        tenant: TenantId,
        id: EventDefinitionId,
    ) -> Result<Option<EventDefinition>, StoreError>;
    async fn delete_event_definition(
        &mut self,
        tenant: TenantId,
        id: EventDefinitionId,
    ) -> Result<bool, StoreError>;
    /// One page per application (applications without definitions get an empty page), each
    /// spec with its text or, with [`SpecTexts::Omit`](crate::SpecTexts::Omit), with its
    /// digest only.
    async fn event_definitions(
        &mut self,
        tenant: TenantId,
        app_ids: &[ApplicationId],
        group: Option<&str>,
        page: &PageRequest,
        texts: crate::SpecTexts,
    ) -> Result<HashMap<ApplicationId, Page<EventDefinition>>, StoreError>;
}

// Read columns: the spec's text comes from `specs` (by a correlated subquery, one index probe
// per row, so that the same lists serve single rows and pages); the `*_DIGEST_COLUMNS`
// variant leaves it out, for pages whose readers did not ask for texts.
// The name and size of the spec are the last two columns.
const EVENT_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     (SELECT specs.data FROM specs WHERE specs.sha256 = spec_sha256), spec_format, spec_type, \
     spec_fetch_request, version, created_at, spec_sha256, spec_size";
const EVENT_DIGEST_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     CAST(NULL AS TEXT), spec_format, spec_type, spec_fetch_request, version, created_at, \
     spec_sha256, spec_size";
const EVENT_INSERT_COLUMNS: &str = "id, tenant_id, app_id, name, description, group_name, \
     spec_sha256, spec_format, spec_type, spec_fetch_request, version, created_at, spec_size";

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

macro_rules! events_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn event_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::EventDefinition, StoreError> {
                use $crate::tx::catalog::{StoredFetchRequest, StoredVersion, parse_enum};
                let format: String = row.try_get(7)?;
                let spec_type: String = row.try_get(8)?;
                let fetch: Option<Json<StoredFetchRequest>> = row.try_get(9)?;
                let version: Option<Json<StoredVersion>> = row.try_get(10)?;
                Ok(sextant_domain::EventDefinition {
                    id: sextant_domain::EventDefinitionId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    application_id: sextant_domain::ApplicationId::from_untyped(row.try_get(2)?),
                    name: sextant_domain::Name::from_stored(row.try_get(3)?),
                    description: row.try_get(4)?,
                    group: row.try_get(5)?,
                    spec: sextant_domain::EventSpec {
                        data: row.try_get(6)?,
                        digest: $crate::tx::catalog::specs::digest_of(row.try_get(12)?, row.try_get(13)?),
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

            /// Inserts event definitions whose specs are stored (`stored`: each one's spec
            /// name and size).
            async fn insert_event_rows(
                &mut self,
                events: &[sextant_domain::EventDefinition],
                stored: &[Option<$crate::tx::catalog::specs::SpecName>],
            ) -> Result<(), StoreError> {
                let rows: Vec<_> = events.iter().zip(stored).collect();
                for chunk in $crate::tx::chunks::statement_chunks(&rows, 13, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO event_definitions ({}) ",
                        $crate::tx::catalog::events::event_insert_columns()
                    ));
                    qb.push_values(chunk, |mut row, (event, stored)| {
                        row.push_bind(event.id.into_untyped())
                            .push_bind(event.tenant.0)
                            .push_bind(event.application_id.into_untyped())
                            .push_bind(event.name.as_str())
                            .push_bind(event.description.as_deref())
                            .push_bind(event.group.as_deref())
                            .push_bind(stored.as_ref().map(|s| s.sha256.as_str()))
                            .push_bind(event.spec.format.as_str())
                            .push_bind(event.spec.spec_type.as_str())
                            .push_bind(
                                event
                                    .spec
                                    .fetch_request
                                    .as_ref()
                                    .map(|f| Json($crate::tx::catalog::StoredFetchRequest::from_domain(f))),
                            )
                            .push_bind(
                                event
                                    .version
                                    .as_ref()
                                    .map(|v| Json($crate::tx::catalog::StoredVersion::from_domain(v))),
                            )
                            .push_bind(to_micros(event.created_at))
                            .push_bind(stored.as_ref().map(|s| s.size));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::catalog::events::EventDefinitionsTx for $Tx {
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
                .bind(event.id.into_untyped())
                .bind(event.name.as_str())
                .bind(&event.description)
                .bind(&event.group)
                .bind(stored.as_ref().map(|s| s.sha256.clone()))
                .bind(event.spec.format.as_str())
                .bind(event.spec.spec_type.as_str())
                .bind(
                    event
                        .spec
                        .fetch_request
                        .as_ref()
                        .map(|f| Json($crate::tx::catalog::StoredFetchRequest::from_domain(f))),
                )
                .bind(
                    event
                        .version
                        .as_ref()
                        .map(|v| Json($crate::tx::catalog::StoredVersion::from_domain(v))),
                )
                .bind(stored.as_ref().map(|s| s.size))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn event_definition(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::EventDefinitionId,
            ) -> Result<Option<sextant_domain::EventDefinition>, StoreError> {
                let row = self
                    .catalog_row("event_definitions", $crate::tx::catalog::events::event_columns(true), tenant, id)
                    .await?;
                row.as_ref().map(Self::event_from_row).transpose()
            }

            async fn delete_event_definition(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::EventDefinitionId,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("event_definitions", tenant, id).await
            }

            async fn event_definitions(
                &mut self,
                tenant: TenantId,
                app_ids: &[sextant_domain::ApplicationId],
                group: Option<&str>,
                page: &PageRequest,
                texts: $crate::SpecTexts,
            ) -> Result<std::collections::HashMap<sextant_domain::ApplicationId, Page<sextant_domain::EventDefinition>>, StoreError>
            {
                let (rows, counts) = self
                    .catalog_pages(
                        "event_definitions",
                        $crate::tx::catalog::events::event_columns(
                            texts == $crate::SpecTexts::Include,
                        ),
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
                Ok($crate::tx::pages::pages_by_app(app_ids, items, counts, page))
            }
        }
    };
}
