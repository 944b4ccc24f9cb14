//! The queries of label definitions, and the counts of the scenarios' members.

use std::collections::BTreeMap;

use async_graphql::{Context, Object};
use sextant_domain::label::SCENARIOS_KEY;
use sextant_domain::{ObjectKind, Scope};
use sextant_store::StringCount;

use crate::confine::Reach;
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql, to_graphql};
use crate::labels::wire::{LabelDefinition, ScenarioCount};
use crate::page::total;

#[derive(Default)]
pub struct LabelQuery;

#[Object]
impl LabelQuery {
    #[graphql(guard = "Scopes(&[Scope::LabelDefinitionRead])")]
    async fn label_definitions(&self, ctx: &Context<'_>) -> GqlResult<Vec<LabelDefinition>> {
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .label_definitions(tenant)
            .await
            .gql()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    #[graphql(guard = "Scopes(&[Scope::LabelDefinitionRead])")]
    async fn label_definition(
        &self,
        ctx: &Context<'_>,
        key: String,
    ) -> GqlResult<Option<LabelDefinition>> {
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        Ok(tx
            .label_definition(tenant, &key)
            .await
            .gql()?
            .map(Into::into))
    }

    /// Sextant: how many of the tenant's applications and runtimes each scenario holds
    /// (the strings of their `scenarios` labels), in one statement per kind however many
    /// objects and scenarios there are; a scenario that nothing holds is not listed. A
    /// count is null when the caller may not read that kind of object
    /// (`application:read`, `runtime:read`). Only users see counts (they count objects
    /// beyond an application's or a runtime's reach): for other consumers the list is empty.
    async fn scenario_counts(&self, ctx: &Context<'_>) -> GqlResult<Vec<ScenarioCount>> {
        let caller = consumer(ctx)?;
        let applications = caller.has(Scope::ApplicationRead);
        let runtimes = caller.has(Scope::RuntimeRead);
        if !applications && !runtimes {
            caller
                .require(&[Scope::ApplicationRead])
                .map_err(to_graphql)?;
        }
        if Reach::of(caller) != Reach::Tenant {
            return Ok(Vec::new());
        }
        let tenant = caller.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        let mut counts: BTreeMap<String, ScenarioCount> = BTreeMap::new();
        for (kind, allowed) in [
            (ObjectKind::Application, applications),
            (ObjectKind::Runtime, runtimes),
        ] {
            if !allowed {
                continue;
            }
            for StringCount {
                string: scenario,
                objects: n,
            } in tx
                .array_string_counts(tenant, kind, SCENARIOS_KEY)
                .await
                .gql()?
            {
                let count = counts
                    .entry(scenario.clone())
                    .or_insert_with(|| ScenarioCount {
                        scenario,
                        applications: None,
                        runtimes: None,
                    });
                match kind {
                    ObjectKind::Application => count.applications = Some(total(n)),
                    ObjectKind::Runtime => count.runtimes = Some(total(n)),
                }
            }
        }
        Ok(counts
            .into_values()
            .map(|mut count| {
                // Held by objects of one kind only: none of the other (if readable).
                if applications {
                    count.applications.get_or_insert(0);
                }
                if runtimes {
                    count.runtimes.get_or_insert(0);
                }
                count
            })
            .collect())
    }
}
