//! The query of system auths: the state of a one-time token, by the id of the client it
//! pairs (never by the token).

use async_graphql::{Context, ID, Object};
use sextant_domain::{DomainError, Scope, SystemAuthOwner};

use crate::clock::now_micros;
use crate::confine;
use crate::context::{consumer, reach, store};
use crate::error::{GqlResult, IntoGql, internal};
use crate::system_auths::wire::OneTimeTokenStatus;
use crate::validation::parse_id;

#[derive(Default)]
pub struct SystemAuthQuery;

#[Object]
impl SystemAuthQuery {
    /// Sextant: whether the one-time token whose `OneTimeToken.id` is `id` was used, and
    /// when; it is looked up by that id, never by the token. Only users ask, in their tenant,
    /// with `application:read` for an application's token and `runtime:read` for a
    /// runtime's; another tenant's id, or one that is not a token's, is `NOT_FOUND`.
    async fn one_time_token_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<OneTimeTokenStatus> {
        let consumer = consumer(ctx)?;
        confine::reading_token_status(reach(ctx)?).gql()?;
        // Without either read scope nothing is looked up, so nothing is learnt about the id.
        if !consumer.has(Scope::ApplicationRead) && !consumer.has(Scope::RuntimeRead) {
            consumer.require(&[Scope::ApplicationRead]).gql()?;
        }
        let client = parse_id(&id, "one-time token").gql()?;
        let mut tx = store(ctx)?.read().await.map_err(internal).gql()?;
        let stored = tx
            .pairing_token_state(consumer.tenant, client)
            .await
            .map_err(internal)
            .gql()?
            .ok_or_else(|| DomainError::not_found("one-time token", client))
            .gql()?;
        let scope = match stored.owner {
            SystemAuthOwner::Runtime(_) => Scope::RuntimeRead,
            _ => Scope::ApplicationRead,
        };
        consumer.require(&[scope]).gql()?;
        Ok(OneTimeTokenStatus::of(stored, now_micros()))
    }
}
