//! What one GraphQL request may cost, for every schema the server serves (Director,
//! Connector, Provisioner). A static estimate of a query's cost either refuses ordinary
//! clients or lets expensive queries through, so the limits measure what a request really
//! costs:
//!
//! - **Selections**, before validation: the document's size after fragment expansion,
//!   counted with one count per fragment (see [`count`]), so fragment, alias, inline-fragment
//!   and directive bombs are refused in time linear in the document's length, before
//!   async-graphql's validation and its depth check walk the expanded document.
//! - **Resolved values**, while executing: every field and every list item resolved; the
//!   work of a request grows with this, whatever its page sizes say.
//! - **Response size**, while executing: the approximate JSON size of what was resolved, so
//!   an oversized answer is stopped while it is built rather than after.
//! - **Time**: the execution of one operation.
//!
//! A request over a limit gets one GraphQL error with an `extensions.code` and no data.
//!
//! Must not know: any schema's types or the store; it sees documents, resolved values and
//! time, and is shared by every schema the server serves.
#![forbid(unsafe_code)]

pub mod count;
mod size;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextResolve,
    ResolveInfo,
};
use async_graphql::{ErrorExtensionValues, Request, Response, ServerError, ServerResult, Value};

/// The limits of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Selections, directives, arguments and variable definitions after fragment expansion.
    pub max_selections: usize,
    /// Fields and list items resolved.
    pub max_resolved: usize,
    /// Approximate size of the response's JSON, in bytes.
    pub max_response_bytes: usize,
    /// How long one operation may execute.
    pub timeout: Duration,
}

impl Limits {
    /// The defaults: far above what Compass's clients send and receive (its full application
    /// query is a few hundred selections), far below what hurts the server.
    pub const DEFAULT: Limits = Limits {
        max_selections: 5_000,
        max_resolved: 200_000,
        max_response_bytes: 32 * 1024 * 1024,
        timeout: Duration::from_secs(60),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// `extensions.code` of a document over [`Limits::max_selections`] or nested too deep.
pub const CODE_QUERY_TOO_LARGE: &str = "QUERY_TOO_LARGE";
/// `extensions.code` of a document whose fragments spread themselves.
pub const CODE_INVALID_QUERY: &str = "INVALID_QUERY";
/// `extensions.code` of a request over [`Limits::max_resolved`].
pub const CODE_TOO_MANY_VALUES: &str = "TOO_MANY_VALUES";
/// `extensions.code` of a request over [`Limits::max_response_bytes`].
pub const CODE_RESPONSE_TOO_LARGE: &str = "RESPONSE_TOO_LARGE";
/// `extensions.code` of a request over [`Limits::timeout`].
pub const CODE_TIMEOUT: &str = "TIMEOUT";

fn error(code: &str, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// The extension to register on a schema (`SchemaBuilder::extension`); it keeps one count
/// per request.
pub struct Cost(pub Limits);

impl ExtensionFactory for Cost {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestCost {
            limits: self.0,
            resolved: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            breach: OnceLock::new(),
        })
    }
}

#[derive(Clone, Copy, Debug)]
enum Breach {
    Resolved,
    ResponseSize,
}

struct RequestCost {
    limits: Limits,
    resolved: AtomicUsize,
    bytes: AtomicUsize,
    /// The first budget the request ran out of; from then on every field fails at once.
    breach: OnceLock<Breach>,
}

impl RequestCost {
    fn refusal(&self, refusal: count::Refusal) -> ServerError {
        match refusal {
            count::Refusal::TooMany => error(
                CODE_QUERY_TOO_LARGE,
                format!(
                    "the query is too large: more than {} fields, fragment spreads, directives and arguments once its fragments are expanded",
                    self.limits.max_selections
                ),
            ),
            count::Refusal::TooDeep => error(
                CODE_QUERY_TOO_LARGE,
                format!(
                    "the query nests selections and fragment spreads more than {} levels deep",
                    count::MAX_NESTING
                ),
            ),
            count::Refusal::Cycle(name) => error(
                CODE_INVALID_QUERY,
                format!("Cannot spread fragment \"{name}\" within itself."),
            ),
        }
    }

    fn breach_error(&self, breach: Breach) -> ServerError {
        match breach {
            Breach::Resolved => error(
                CODE_TOO_MANY_VALUES,
                format!(
                    "the answer would hold more than {} values: ask for fewer fields or smaller pages",
                    self.limits.max_resolved
                ),
            ),
            Breach::ResponseSize => error(
                CODE_RESPONSE_TOO_LARGE,
                format!(
                    "the answer would be larger than {} bytes: ask for fewer fields or smaller pages",
                    self.limits.max_response_bytes
                ),
            ),
        }
    }

    fn breached(&self, breach: Breach) -> ServerError {
        let first = *self.breach.get_or_init(|| breach);
        self.breach_error(first)
    }
}

#[async_trait::async_trait]
impl Extension for RequestCost {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Parsed here (and kept for execution) so the count runs before async-graphql's own
        // checks, which walk the expanded document.
        let document = request.parsed_query()?;
        count::selections(document, self.limits.max_selections)
            .map_err(|refusal| self.refusal(refusal))?;
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let Ok(response) =
            tokio::time::timeout(self.limits.timeout, next.run(ctx, operation_name)).await
        else {
            return Response::from_errors(vec![error(
                CODE_TIMEOUT,
                format!(
                    "the request took longer than {} ms and was stopped",
                    self.limits.timeout.as_millis()
                ),
            )]);
        };
        // A partial answer with fields nulled by the budget would read as data; one error
        // says what happened.
        match self.breach.get() {
            Some(breach) => Response::from_errors(vec![self.breach_error(*breach)]),
            None => response,
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if let Some(breach) = self.breach.get() {
            return Err(self.breach_error(*breach));
        }
        if self.resolved.fetch_add(1, Ordering::Relaxed) >= self.limits.max_resolved {
            return Err(self.breached(Breach::Resolved));
        }
        // A list item is resolved with the list's field; its list counts its bytes.
        let item = info.parent_type.starts_with('[');
        let field = info.field;
        let value = next.run(ctx, info).await?;
        let bytes = if item {
            1
        } else {
            let own = field.response_key().node.len().saturating_add(4);
            match &value {
                // Objects' fields count for themselves; a leaf (scalar, enum, JSON) counts
                // whole.
                Some(value) if field.selection_set.node.items.is_empty() => {
                    own.saturating_add(size::json_size(value))
                }
                _ => own,
            }
        };
        let total = self
            .bytes
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        if total > self.limits.max_response_bytes {
            return Err(self.breached(Breach::ResponseSize));
        }
        Ok(value)
    }
}
