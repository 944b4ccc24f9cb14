//! API and event definitions together: inserted set-wise with their specs, and listed with
//! their specs' digests only (for runtime configuration documents, which name specs by hash).

use std::collections::HashMap;

use sextant_domain::ApplicationId;
use sextant_domain::{ApiDefinition, EventDefinition, Page, PageRequest, TenantId};

use crate::error::StoreError;

/// The operations of a transaction on API and event definitions together.
#[async_trait::async_trait]
pub trait DefinitionsTx: Send {
    /// Inserts API and event definitions (of any applications) with their specs, set-wise:
    /// every distinct spec text in one statement (more only when the texts exceed
    /// [`MAX_STATEMENT_BYTES`] together), the APIs in one and the events in one (more only
    /// beyond [`MAX_BIND_PARAMETERS`]), so the number of statements does not grow with the
    /// definitions'. [`StoreError::ForeignKey`] if an application is missing.
    ///
    /// [`MAX_STATEMENT_BYTES`]: crate::MAX_STATEMENT_BYTES
    /// [`MAX_BIND_PARAMETERS`]: crate::MAX_BIND_PARAMETERS
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
    async fn insert_event_definition(&mut self, event: &EventDefinition) -> Result<(), StoreError> {
        self.insert_definitions(&[], std::slice::from_ref(event))
            .await
    }
    /// Like [`ApiDefinitionsTx::api_definitions`] and
    /// [`EventDefinitionsTx::event_definitions`] together, without the specs' texts: each spec
    /// carries its digest only (for runtime configuration documents, which name specs by hash).
    ///
    /// [`ApiDefinitionsTx::api_definitions`]: crate::ApiDefinitionsTx::api_definitions
    /// [`EventDefinitionsTx::event_definitions`]: crate::EventDefinitionsTx::event_definitions
    async fn definitions_without_spec_data(
        &mut self,
        tenant: TenantId,
        app_ids: &[ApplicationId],
        page: &PageRequest,
    ) -> Result<
        (
            HashMap<ApplicationId, Page<ApiDefinition>>,
            HashMap<ApplicationId, Page<EventDefinition>>,
        ),
        StoreError,
    >;
}

macro_rules! definitions_tx {
    ($Tx:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl $crate::tx::catalog::definitions::DefinitionsTx for $Tx {
            async fn insert_definitions(
                &mut self,
                apis: &[sextant_domain::ApiDefinition],
                events: &[sextant_domain::EventDefinition],
            ) -> Result<(), StoreError> {
                let (stored, texts) = $crate::tx::catalog::specs::spec_rows(
                    apis.iter()
                        .map(|a| {
                            a.spec
                                .as_ref()
                                .map(|s| $crate::tx::catalog::specs::GivenSpec {
                                    text: s.data.as_deref(),
                                    digest: s.digest.as_ref(),
                                })
                        })
                        .chain(events.iter().map(|e| {
                            Some($crate::tx::catalog::specs::GivenSpec {
                                text: e.spec.data.as_deref(),
                                digest: e.spec.digest.as_ref(),
                            })
                        })),
                );
                self.put_specs(&texts).await?;
                let (api_specs, event_specs) = stored.split_at(apis.len());
                self.insert_api_rows(apis, api_specs).await?;
                self.insert_event_rows(events, event_specs).await
            }

            async fn definitions_without_spec_data(
                &mut self,
                tenant: TenantId,
                app_ids: &[sextant_domain::ApplicationId],
                page: &PageRequest,
            ) -> Result<
                (
                    std::collections::HashMap<
                        sextant_domain::ApplicationId,
                        Page<sextant_domain::ApiDefinition>,
                    >,
                    std::collections::HashMap<
                        sextant_domain::ApplicationId,
                        Page<sextant_domain::EventDefinition>,
                    >,
                ),
                StoreError,
            > {
                let (rows, counts) = self
                    .catalog_pages(
                        "api_definitions",
                        $crate::tx::catalog::apis::api_columns(false),
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
                let apis = $crate::tx::pages::pages_by_app(app_ids, items, counts, page);
                let (rows, counts) = self
                    .catalog_pages(
                        "event_definitions",
                        $crate::tx::catalog::events::event_columns(false),
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
                let events = $crate::tx::pages::pages_by_app(app_ids, items, counts, page);
                Ok((apis, events))
            }
        }
    };
}
