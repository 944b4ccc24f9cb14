//! How a mutation writes: in one transaction that commits only if the mutation succeeded, so
//! that on any error nothing changes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_graphql::Context;
use sextant_domain::DomainError;
use sextant_store::{Store, Tx};

use crate::context::consumer;
use crate::error::{GqlResult, IntoGql};

/// What a mutation's operation over the transaction returns.
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 't>>;

/// Runs `op` in a write transaction and commits only if it succeeded. The mutation raises
/// the tenant's configuration epoch in the same transaction: runtimes' configuration
/// documents are rebuilt (and compared) after the change, never served stale.
pub async fn write<T, F>(ctx: &Context<'_>, op: F) -> GqlResult<T>
where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> TxFuture<'t, T>,
{
    write_with(ctx, true, op).await
}

/// [`write`] for the few mutations that change nothing a runtime's configuration document
/// holds and revoke no certificate (a runtime's status, new one-time tokens and client
/// credentials): they leave the epoch alone, so they wake no waiting agent. Every agent
/// reports its status once configured; with the epoch raised, a fleet starting up would
/// rebuild every waiting agent's document once per agent.
pub async fn write_outside_configuration<T, F>(ctx: &Context<'_>, op: F) -> GqlResult<T>
where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> TxFuture<'t, T>,
{
    write_with(ctx, false, op).await
}

async fn write_with<T, F>(ctx: &Context<'_>, raise_epoch: bool, op: F) -> GqlResult<T>
where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> TxFuture<'t, T>,
{
    let tenant = consumer(ctx)?.tenant;
    let mut tx = ctx.data::<Arc<dyn Store>>()?.write().await.gql()?;
    let value = op(&mut *tx).await.gql()?;
    if raise_epoch {
        tx.bump_config_epoch(tenant).await.gql()?;
    }
    tx.commit().await.gql()?;
    Ok(value)
}
