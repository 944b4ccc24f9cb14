//! Which queries read only what the tenant's configuration epoch covers, so that an answer
//! may be kept until the epoch moves: Kyma's runtime agent asks `applicationsForRuntime` with
//! the same query every few seconds, and an unchanged answer should cost no statement.
//!
//! A field is covered when every write that can change it raises the epoch of the tenant it
//! belongs to (every mutation does, except the few `write_outside_configuration` ones: a
//! runtime's status, one-time tokens and client credentials, webhook secrets and test or
//! repeated deliveries, an integration system's access), and nothing but a mutation writes
//! it (not the notifier, not the Connector, not agents' sightings). The one exception allowed
//! is `Application.auths`, whose set changes when system auths are made or deleted: the store
//! announces those (`SystemAuths`), and the server keys its answers on that generation too.
//!
//! The rule is a list of the fields allowed, per type, reached from `applicationsForRuntime`;
//! anything else (statuses, webhooks and their deliveries, certificates, timestamps of
//! fetches, introspection) makes the query uncovered. `tests` checks the list against the SDL.

use std::collections::HashSet;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

/// A field allowed on a type, and the type it leads to (`None`: a leaf).
type Allowed = (&'static str, Option<&'static str>);

const PAGE_INFO: &[Allowed] = &[
    ("startCursor", None),
    ("endCursor", None),
    ("hasNextPage", None),
];

/// The fields allowed on a type, or `None` if the type is not covered at all.
fn allowed(type_name: &str) -> Option<&'static [Allowed]> {
    Some(match type_name {
        "Query" => &[("applicationsForRuntime", Some("ApplicationPage"))],
        "ApplicationPage" => &[
            ("data", Some("Application")),
            ("pageInfo", Some("PageInfo")),
            ("totalCount", None),
        ],
        "APIDefinitionPage" => &[
            ("data", Some("APIDefinition")),
            ("pageInfo", Some("PageInfo")),
            ("totalCount", None),
        ],
        "EventDefinitionPage" => &[
            ("data", Some("EventDefinition")),
            ("pageInfo", Some("PageInfo")),
            ("totalCount", None),
        ],
        "DocumentPage" => &[
            ("data", Some("Document")),
            ("pageInfo", Some("PageInfo")),
            ("totalCount", None),
        ],
        "PageInfo" => PAGE_INFO,
        "Application" => &[
            ("id", None),
            ("name", None),
            ("providerName", None),
            ("description", None),
            ("integrationSystemID", None),
            ("labels", None),
            ("healthCheckURL", None),
            ("apiDefinitions", Some("APIDefinitionPage")),
            ("eventDefinitions", Some("EventDefinitionPage")),
            ("documents", Some("DocumentPage")),
            ("apiDefinition", Some("APIDefinition")),
            ("eventDefinition", Some("EventDefinition")),
            ("auths", Some("SystemAuth")),
        ],
        "SystemAuth" => &[("id", None)],
        "APIDefinition" => &[
            ("id", None),
            ("applicationID", None),
            ("name", None),
            ("description", None),
            ("spec", Some("APISpec")),
            ("targetURL", None),
            ("group", None),
            ("auth", Some("APIRuntimeAuth")),
            ("auths", Some("APIRuntimeAuth")),
            ("defaultAuth", Some("Auth")),
            ("version", Some("Version")),
        ],
        "EventDefinition" => &[
            ("id", None),
            ("applicationID", None),
            ("name", None),
            ("description", None),
            ("group", None),
            ("spec", Some("EventSpec")),
            ("version", Some("Version")),
        ],
        "Document" => &[
            ("id", None),
            ("applicationID", None),
            ("title", None),
            ("displayName", None),
            ("description", None),
            ("format", None),
            ("kind", None),
            ("data", None),
            ("fetchRequest", Some("FetchRequest")),
        ],
        "APISpec" => &[
            ("data", None),
            ("format", None),
            ("type", None),
            ("fetchRequest", Some("FetchRequest")),
        ],
        "EventSpec" => &[
            ("data", None),
            ("format", None),
            ("type", None),
            ("fetchRequest", Some("FetchRequest")),
        ],
        // Not its status: when a fetch ran is no configuration.
        "FetchRequest" => &[
            ("url", None),
            ("auth", Some("Auth")),
            ("mode", None),
            ("filter", None),
        ],
        "Version" => &[
            ("value", None),
            ("deprecated", None),
            ("deprecatedSince", None),
            ("forRemoval", None),
        ],
        "APIRuntimeAuth" => &[("runtimeID", None), ("auth", Some("Auth"))],
        "Auth" => &[
            ("credential", Some("CredentialData")),
            ("additionalHeaders", None),
            ("additionalQueryParams", None),
            ("requestAuth", Some("CredentialRequestAuth")),
        ],
        "CredentialRequestAuth" => &[("csrf", Some("CSRFTokenCredentialRequestAuth"))],
        "CSRFTokenCredentialRequestAuth" => &[
            ("tokenEndpointURL", None),
            ("credential", Some("CredentialData")),
            ("additionalHeaders", None),
            ("additionalQueryParams", None),
        ],
        // A union: only `__typename` and fragments on its members.
        "CredentialData" => &[],
        "BasicCredentialData" => &[("username", None), ("password", None)],
        "OAuthCredentialData" => &[("clientId", None), ("clientSecret", None), ("url", None)],
        _ => return None,
    })
}

/// The members of the one union reached, `CredentialData`.
const CREDENTIAL_DATA_MEMBERS: [&str; 2] = ["BasicCredentialData", "OAuthCredentialData"];

/// The types a fragment on `type_name` may name: itself, or a member of the union.
fn fragment_allowed(type_name: &str, condition: &str) -> bool {
    condition == type_name
        || (type_name == "CredentialData" && CREDENTIAL_DATA_MEMBERS.contains(&condition))
}

/// Whether the operation that `operation_name` selects (the only one, if `None`) of `query`
/// is a query reading only fields the configuration epoch covers. Anything that does not
/// parse, or is ambiguous, is not covered (it runs as usual and gets its own answer).
pub fn epoch_covered(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return false,
        },
        (DocumentOperations::Multiple(_), None) => return false,
    };
    let operation = &operation.node;
    if operation.ty != OperationType::Query || !operation.directives.is_empty() {
        return false;
    }
    let mut walk = Walk {
        document: &document,
        walked: HashSet::new(),
    };
    walk.selection_set(&operation.selection_set.node, "Query")
}

struct Walk<'d> {
    document: &'d ExecutableDocument,
    /// Fragments already walked (a fragment's type is its condition, so once is enough;
    /// this also ends cycles).
    walked: HashSet<&'d str>,
}

fn plain_directives(
    directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
) -> bool {
    directives
        .iter()
        .all(|d| matches!(d.node.name.node.as_str(), "include" | "skip"))
}

impl<'d> Walk<'d> {
    fn selection_set(&mut self, set: &'d SelectionSet, type_name: &str) -> bool {
        let Some(fields) = allowed(type_name) else {
            return false;
        };
        set.items.iter().all(|item| match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                if !plain_directives(&field.directives) {
                    return false;
                }
                let name = field.name.node.as_str();
                if name == "__typename" {
                    return true;
                }
                match fields.iter().find(|(allowed, _)| *allowed == name) {
                    Some((_, Some(next))) => self.selection_set(&field.selection_set.node, next),
                    Some((_, None)) => field.selection_set.node.items.is_empty(),
                    None => false,
                }
            }
            Selection::InlineFragment(fragment) => {
                let fragment = &fragment.node;
                if !plain_directives(&fragment.directives) {
                    return false;
                }
                match &fragment.type_condition {
                    None => self.selection_set(&fragment.selection_set.node, type_name),
                    Some(condition) => {
                        let on = condition.node.on.node.as_str();
                        fragment_allowed(type_name, on)
                            && self.selection_set(&fragment.selection_set.node, on)
                    }
                }
            }
            Selection::FragmentSpread(spread) => {
                let spread = &spread.node;
                if !plain_directives(&spread.directives) {
                    return false;
                }
                let Some((name, definition)) = self
                    .document
                    .fragments
                    .get_key_value(spread.fragment_name.node.as_str())
                else {
                    return false;
                };
                let definition = &definition.node;
                let on = definition.type_condition.node.on.node.as_str();
                if !fragment_allowed(type_name, on) || !plain_directives(&definition.directives) {
                    return false;
                }
                if !self.walked.insert(name.as_str()) {
                    return true;
                }
                self.selection_set(&definition.selection_set.node, on)
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Kyma's runtime agent's query, with the E19 field names.
    const KYMA_AGENT: &str = r#"query { result: applicationsForRuntime(runtimeID: "8f2d1a3c-0b2a-4c1e-9c55-0d3b1d5f3f10") {
      data { id name description labels
        apiDefinitions { data { id name description spec { data format type } targetURL group
            auth(runtimeID: "8f2d1a3c-0b2a-4c1e-9c55-0d3b1d5f3f10") { runtimeID auth { ...auth } }
            defaultAuth { ...auth } version { value deprecated deprecatedSince forRemoval } }
          pageInfo { startCursor endCursor hasNextPage } totalCount }
        eventDefinitions { data { id applicationID name description group spec { data type format } version { value } } totalCount }
        documents { data { id applicationID title displayName description format kind data } totalCount }
        auths { id } }
      pageInfo { startCursor endCursor hasNextPage } totalCount } }
    fragment auth on Auth {
      credential { ... on BasicCredentialData { username password } ... on OAuthCredentialData { clientId clientSecret url } }
      additionalHeaders additionalQueryParams
      requestAuth { csrf { tokenEndpointURL credential { __typename } additionalHeaders } } }"#;

    #[test]
    fn the_kyma_agents_query_is_covered() {
        assert!(epoch_covered(KYMA_AGENT, None));
        assert!(epoch_covered(
            "query A { applicationsForRuntime(runtimeID: \"x\") { totalCount } } mutation B { x }",
            Some("A")
        ));
    }

    #[test]
    fn anything_else_is_not() {
        for query in [
            // Not covered by the epoch.
            "{ applicationsForRuntime(runtimeID: \"x\") { data { status { condition } } } }",
            "{ applicationsForRuntime(runtimeID: \"x\") { data { webhooks { id } } } }",
            "{ applicationsForRuntime(runtimeID: \"x\") { data { clientCertificates { serial } } } }",
            "{ applicationsForRuntime(runtimeID: \"x\") { data { auths { id auth { additionalHeaders } } } } }",
            "{ applicationsForRuntime(runtimeID: \"x\") { data { apiDefinitions { data { spec { fetchRequest { status { timestamp } } } } } } } }",
            // Another root, introspection, mutations, subscriptions.
            "{ runtimes { totalCount } }",
            "{ __schema { types { name } } }",
            "mutation { applicationsForRuntime(runtimeID: \"x\") { totalCount } }",
            // Fragments on the wrong type, unknown fragments, other directives.
            "{ applicationsForRuntime(runtimeID: \"x\") { ... on Runtime { id } } }",
            "{ applicationsForRuntime(runtimeID: \"x\") { ...missing } }",
            "{ applicationsForRuntime(runtimeID: \"x\") @custom { totalCount } }",
            // Ambiguous or broken.
            "query A { applicationsForRuntime(runtimeID: \"x\") { totalCount } } query B { x }",
            "{ applicationsForRuntime(",
        ] {
            assert!(!epoch_covered(query, None), "{query}");
        }
        // A leaf with a selection is not a leaf.
        assert!(!epoch_covered(
            "{ applicationsForRuntime(runtimeID: \"x\") { totalCount { x } } }",
            None
        ));
    }

    #[test]
    fn cyclic_and_repeated_fragments_end() {
        let query = "{ applicationsForRuntime(runtimeID: \"x\") { ...p ...p } } \
                     fragment p on ApplicationPage { totalCount ...p data { id } }";
        assert!(epoch_covered(query, None));
    }

    /// Every type and field of the list exists in the schema, and leads to the type named.
    #[test]
    fn the_list_matches_the_schema() {
        let sdl = crate::sdl();
        let registry = async_graphql::parser::parse_schema(&sdl).unwrap();
        let mut types = std::collections::HashMap::new();
        for definition in &registry.definitions {
            if let async_graphql::parser::types::TypeSystemDefinition::Type(t) = definition {
                types.insert(t.node.name.node.to_string(), &t.node.kind);
            }
        }
        let mut pending = vec!["Query"];
        let mut seen = HashSet::new();
        while let Some(type_name) = pending.pop() {
            if !seen.insert(type_name) {
                continue;
            }
            let kind = types
                .get(type_name)
                .unwrap_or_else(|| panic!("no type {type_name}"));
            for (field, next) in allowed(type_name).unwrap() {
                let async_graphql::parser::types::TypeKind::Object(object) = kind else {
                    panic!("{type_name} has no fields");
                };
                let found = object
                    .fields
                    .iter()
                    .find(|f| f.node.name.node == *field)
                    .unwrap_or_else(|| panic!("no field {type_name}.{field}"));
                let mut ty = &found.node.ty.node.base;
                while let async_graphql::parser::types::BaseType::List(inner) = ty {
                    ty = &inner.base;
                }
                let async_graphql::parser::types::BaseType::Named(named) = ty else {
                    unreachable!()
                };
                match next {
                    Some(next) => {
                        assert_eq!(named.as_str(), *next, "{type_name}.{field}");
                        pending.push(next);
                    }
                    None => assert!(
                        allowed(named.as_str()).is_none(),
                        "{type_name}.{field} is not a leaf"
                    ),
                }
            }
            if let async_graphql::parser::types::TypeKind::Union(union) = kind {
                let members: Vec<&str> = union.members.iter().map(|m| m.node.as_str()).collect();
                assert_eq!(members, CREDENTIAL_DATA_MEMBERS, "{type_name}");
                pending.extend(CREDENTIAL_DATA_MEMBERS);
            }
        }
        assert!(seen.contains("OAuthCredentialData"));
    }
}
