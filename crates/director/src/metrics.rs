//! Per-operation request counts and latencies for `/metrics`. The operation label is the
//! first root field (`query.applications`, `mutation.registerApplication`), which the schema
//! bounds, rather than the client-chosen operation name, which it does not.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use async_graphql::{Request, Response, ServerResult, Variables};

/// Registers [`OperationMetrics`] per request.
pub struct MetricsExtension;

impl ExtensionFactory for MetricsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationMetrics::default())
    }
}

#[derive(Default)]
struct OperationMetrics {
    /// The operation the client named, to pick it out of a document with several.
    requested: Mutex<Option<String>>,
    operation: Mutex<Option<String>>,
}

fn first_root_field(doc: &ExecutableDocument, name: Option<&str>) -> Option<String> {
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) => match name {
            Some(name) => ops.iter().find(|(n, _)| n.as_str() == name)?.1,
            None => ops.values().next()?,
        },
    };
    let kind = match op.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    op.node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(format!("{kind}.{}", field.node.name.node)),
            _ => None,
        })
}

#[async_trait::async_trait]
impl Extension for OperationMetrics {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut requested) = self.requested.lock() {
            requested.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let requested = self.requested.lock().ok().and_then(|r| r.clone());
        if let Ok(mut op) = self.operation.lock() {
            *op = first_root_field(&doc, requested.as_deref());
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let start = Instant::now();
        let response = next.run(ctx, operation_name).await;
        let operation = self
            .operation
            .lock()
            .ok()
            .and_then(|op| op.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let outcome = if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        metrics::counter!(
            "sextant_graphql_requests_total",
            "operation" => operation.clone(),
            "outcome" => outcome
        )
        .increment(1);
        metrics::histogram!("sextant_graphql_request_duration_seconds", "operation" => operation)
            .record(start.elapsed().as_secs_f64());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_operation_labels_the_request() {
        let doc = async_graphql::parser::parse_query(
            "query A { runtimes { totalCount } } mutation B { registerRuntime(in: {name: \"x\"}) { id } }",
        )
        .unwrap();
        assert_eq!(
            first_root_field(&doc, Some("A")).as_deref(),
            Some("query.runtimes")
        );
        assert_eq!(
            first_root_field(&doc, Some("B")).as_deref(),
            Some("mutation.registerRuntime")
        );
        assert_eq!(first_root_field(&doc, Some("C")), None);
        let single = async_graphql::parser::parse_query("{ applications { totalCount } }").unwrap();
        assert_eq!(
            first_root_field(&single, None).as_deref(),
            Some("query.applications")
        );
    }
}
