//! API definitions of applications: their rows, read with their spec's text (or its digest
//! only). They are inserted with event definitions and specs, set-wise
//! ([`DefinitionsTx`](crate::DefinitionsTx)).

use std::collections::HashMap;

use sextant_domain::{ApiDefinition, Page, PageRequest, TenantId};
use sextant_domain::{ApiDefinitionId, ApplicationId};

use crate::error::StoreError;

/// The API definition operations of a transaction.
#[async_trait::async_trait]
pub trait ApiDefinitionsTx: Send {
    /// Replaces every field but the application; false if the definition does not exist.
    async fn update_api_definition(&mut self, api: &ApiDefinition) -> Result<bool, StoreError>;
    async fn api_definition(
        &mut self,
        tenant: TenantId,
        id: ApiDefinitionId,
    ) -> Result<Option<ApiDefinition>, StoreError>;
    async fn delete_api_definition(
        &mut self,
        tenant: TenantId,
        id: ApiDefinitionId,
    ) -> Result<bool, StoreError>;
    /// One page per application (applications without definitions get an empty page), each
    /// spec with its text or, with [`SpecTexts::Omit`](crate::SpecTexts::Omit), with its
    /// digest only.
    async fn api_definitions(
        &mut self,
        tenant: TenantId,
        app_ids: &[ApplicationId],
        group: Option<&str>,
        page: &PageRequest,
        texts: crate::SpecTexts,
    ) -> Result<HashMap<ApplicationId, Page<ApiDefinition>>, StoreError>;
}

// Read columns: the spec's text comes from `specs` (by a correlated subquery, one index probe
// per row, so that the same lists serve single rows and pages); the `*_DIGEST_COLUMNS`
// variant leaves it out, for pages whose readers did not ask for texts.
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

macro_rules! apis_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn api_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::ApiDefinition, StoreError> {
                use $crate::tx::catalog::{StoredFetchRequest, StoredVersion, parse_enum};
                let format: Option<String> = row.try_get(8)?;
                let spec_type: Option<String> = row.try_get(9)?;
                let fetch: Option<Json<StoredFetchRequest>> = row.try_get(10)?;
                let spec = match (format, spec_type) {
                    (Some(format), Some(spec_type)) => Some(sextant_domain::ApiSpec {
                        data: row.try_get(7)?,
                        digest: $crate::tx::catalog::specs::digest_of(
                            row.try_get(14)?,
                            row.try_get(15)?,
                        ),
                        format: parse_enum(
                            "spec format",
                            &format,
                            sextant_domain::SpecFormat::parse,
                        )?,
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
                    id: sextant_domain::ApiDefinitionId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    application_id: sextant_domain::ApplicationId::from_untyped(row.try_get(2)?),
                    name: sextant_domain::Name::from_stored(row.try_get(3)?),
                    description: row.try_get(4)?,
                    group: row.try_get(5)?,
                    target_url: row.try_get(6)?,
                    spec,
                    version: version.map(|v| v.0.into_domain()),
                    default_auth: default_auth.map(|a| a.0),
                    created_at: from_micros(row.try_get(13)?)?,
                })
            }

            /// Inserts API definitions whose specs are stored (`stored`: each one's spec name
            /// and size).
            async fn insert_api_rows(
                &mut self,
                apis: &[sextant_domain::ApiDefinition],
                stored: &[Option<$crate::tx::catalog::specs::SpecName>],
            ) -> Result<(), StoreError> {
                let rows: Vec<_> = apis.iter().zip(stored).collect();
                for chunk in $crate::tx::chunks::statement_chunks(&rows, 15, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO api_definitions ({}) ",
                        $crate::tx::catalog::apis::api_insert_columns()
                    ));
                    qb.push_values(chunk, |mut row, (api, stored)| {
                        row.push_bind(api.id.into_untyped())
                            .push_bind(api.tenant.0)
                            .push_bind(api.application_id.into_untyped())
                            .push_bind(api.name.as_str())
                            .push_bind(api.description.as_deref())
                            .push_bind(api.group.as_deref())
                            .push_bind(api.target_url.as_str())
                            .push_bind(stored.as_ref().map(|s| s.sha256.as_str()))
                            .push_bind(api.spec.as_ref().map(|s| s.format.as_str()))
                            .push_bind(api.spec.as_ref().map(|s| s.spec_type.as_str()))
                            .push_bind(
                                api.spec
                                    .as_ref()
                                    .and_then(|s| s.fetch_request.as_ref())
                                    .map(|f| {
                                        Json($crate::tx::catalog::StoredFetchRequest::from_domain(
                                            f,
                                        ))
                                    }),
                            )
                            .push_bind(
                                api.version.as_ref().map(|v| {
                                    Json($crate::tx::catalog::StoredVersion::from_domain(v))
                                }),
                            )
                            .push_bind(api.default_auth.as_ref().map(Json))
                            .push_bind(to_micros(api.created_at))
                            .push_bind(stored.as_ref().map(|s| s.size));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::catalog::apis::ApiDefinitionsTx for $Tx {
            async fn update_api_definition(
                &mut self,
                api: &sextant_domain::ApiDefinition,
            ) -> Result<bool, StoreError> {
                let stored = match api.spec.as_ref() {
                    Some(spec) => {
                        self.put_spec(spec.data.as_deref(), spec.digest.as_ref())
                            .await?
                    }
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
                .bind(api.id.into_untyped())
                .bind(api.name.as_str())
                .bind(&api.description)
                .bind(&api.group)
                .bind(&api.target_url)
                .bind(stored.as_ref().map(|s| s.sha256.clone()))
                .bind(api.spec.as_ref().map(|s| s.format.as_str()))
                .bind(api.spec.as_ref().map(|s| s.spec_type.as_str()))
                .bind(
                    api.spec
                        .as_ref()
                        .and_then(|s| s.fetch_request.as_ref())
                        .map(|f| Json($crate::tx::catalog::StoredFetchRequest::from_domain(f))),
                )
                .bind(
                    api.version
                        .as_ref()
                        .map(|v| Json($crate::tx::catalog::StoredVersion::from_domain(v))),
                )
                .bind(api.default_auth.as_ref().map(Json))
                .bind(stored.as_ref().map(|s| s.size))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn api_definition(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::ApiDefinitionId,
            ) -> Result<Option<sextant_domain::ApiDefinition>, StoreError> {
                let row = self
                    .catalog_row(
                        "api_definitions",
                        $crate::tx::catalog::apis::api_columns(true),
                        tenant,
                        id,
                    )
                    .await?;
                row.as_ref().map(Self::api_from_row).transpose()
            }

            async fn delete_api_definition(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::ApiDefinitionId,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("api_definitions", tenant, id).await
            }

            async fn api_definitions(
                &mut self,
                tenant: TenantId,
                app_ids: &[sextant_domain::ApplicationId],
                group: Option<&str>,
                page: &PageRequest,
                texts: $crate::SpecTexts,
            ) -> Result<
                std::collections::HashMap<
                    sextant_domain::ApplicationId,
                    Page<sextant_domain::ApiDefinition>,
                >,
                StoreError,
            > {
                let (rows, counts) = self
                    .catalog_pages(
                        "api_definitions",
                        $crate::tx::catalog::apis::api_columns(texts == $crate::SpecTexts::Include),
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
                Ok($crate::tx::pages::pages_by_app(
                    app_ids, items, counts, page,
                ))
            }
        }
    };
}
