//! A readable outline of a spec, for people (the console's spec view): an OpenAPI
//! document's operations, an AsyncAPI document's channels, an OData service's entity sets.
//!
//! Parsing runs within the same bounds as validation (size, depth, values, text, YAML
//! aliases; XML without DOCTYPE), keeping only the levels the outline reads, and the outline
//! lists at most `max_rows` entries while counting them all.

use serde_json::{Map, Value};
use sextant_domain::SpecFormat;

use crate::{Limits, SpecError, SpecKind, check_format_allowed, tree, xml};

/// The levels an outline reads: `channels.<name>.publish.message.oneOf.<n>.name` is seven
/// down. Deeper values (schemas, mostly) are counted but not kept.
const OUTLINE_LEVELS: usize = 7;

/// The HTTP methods of an OpenAPI path item, in the order the outline lists them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of an OpenAPI (or Swagger 2.0) document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Upper case (`GET`).
    pub method: String,
    pub path: String,
    /// The operation's `summary`, else its `operationId`, else "".
    pub summary: String,
}

/// One operation on a channel of an AsyncAPI document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    /// `publish` or `subscribe` (1.x, 2.x); `send` or `receive` (3.x); "" when the channel
    /// names no operation.
    pub operation: String,
    /// The message's `name`, else its `title`, else the last part of its `$ref`; several
    /// (`oneOf`, or the messages of a 3.x channel) joined by ", ".
    pub message: String,
}

/// What a spec offers, as far as its outline lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outline {
    Operations(Vec<Operation>),
    Channels(Vec<Channel>),
    /// The entity sets' names.
    EntitySets(Vec<String>),
}

/// An outline and how many entries the spec has in all (more than listed when it was cut at
/// `max_rows`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outlined {
    pub outline: Outline,
    pub total: usize,
}

/// The outline of a spec of `kind` in `format`, listing at most `max_rows` entries; the
/// limits are those of [`crate::validate_up_to`] with `max_bytes`.
pub fn outline(
    kind: SpecKind,
    format: SpecFormat,
    data: &str,
    max_bytes: usize,
    max_rows: usize,
) -> Result<Outlined, SpecError> {
    let limits = Limits::for_size(max_bytes);
    if data.len() > limits.max_bytes {
        return Err(SpecError::TooLarge {
            size: data.len(),
            max: limits.max_bytes,
        });
    }
    check_format_allowed(kind, format)?;
    if data.trim().is_empty() {
        return Err(SpecError::Empty);
    }
    if format == SpecFormat::Xml {
        let (names, total) = xml::entity_sets(data, limits, max_rows)?;
        return Ok(Outlined {
            outline: Outline::EntitySets(names),
            total,
        });
    }
    let document = match format {
        SpecFormat::Json => tree::parse_json_keeping(data, limits, OUTLINE_LEVELS)?,
        _ => tree::parse_yaml_keeping(data, limits, OUTLINE_LEVELS)?,
    };
    Ok(match kind {
        SpecKind::OpenApi => operations(&document, max_rows),
        SpecKind::AsyncApi => channels(&document, max_rows),
        SpecKind::OData => csdl_entity_sets(&document, max_rows),
    })
}

fn object(value: Option<&Value>) -> Option<&Map<String, Value>> {
    value.and_then(Value::as_object)
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Keeps at most `max` entries of an iterator, counting them all.
fn bounded<T>(items: impl Iterator<Item = T>, max: usize) -> (Vec<T>, usize) {
    let mut kept = Vec::new();
    let mut total = 0;
    for item in items {
        if kept.len() < max {
            kept.push(item);
        }
        total += 1;
    }
    (kept, total)
}

fn operations(document: &Value, max_rows: usize) -> Outlined {
    let paths = object(document.get("paths"));
    let all = paths.into_iter().flatten().flat_map(|(path, item)| {
        METHODS.iter().filter_map(move |method| {
            let operation = item.get(*method)?;
            let summary = text(operation.get("summary"))
                .or_else(|| text(operation.get("operationId")))
                .unwrap_or_default();
            Some(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: summary.to_owned(),
            })
        })
    });
    let (rows, total) = bounded(all, max_rows);
    Outlined {
        outline: Outline::Operations(rows),
        total,
    }
}

/// A message's name as people know it.
fn message_name(message: &Value) -> Option<String> {
    if let Some(one_of) = message.get("oneOf").and_then(Value::as_array) {
        let names: Vec<String> = one_of.iter().filter_map(message_name).collect();
        return (!names.is_empty()).then(|| names.join(", "));
    }
    text(message.get("name"))
        .or_else(|| text(message.get("title")))
        .or_else(|| text(message.get("$ref")).map(|r| r.rsplit('/').next().unwrap_or(r)))
        .map(str::to_owned)
}

fn channels(document: &Value, max_rows: usize) -> Outlined {
    // 1.x names them `topics`; 2.x and 3.x `channels`.
    let channels = object(document.get("channels")).or_else(|| object(document.get("topics")));
    let v3 = text(document.get("asyncapi")).is_some_and(|v| v.starts_with('3'));
    let all = channels.into_iter().flatten().flat_map(|(name, channel)| {
        let mut rows = Vec::new();
        if v3 {
            // 3.x: a channel's messages by key; operations live elsewhere.
            let messages: Vec<String> = object(channel.get("messages"))
                .into_iter()
                .flatten()
                .map(|(key, message)| message_name(message).unwrap_or_else(|| key.clone()))
                .collect();
            rows.push(Channel {
                name: name.clone(),
                operation: String::new(),
                message: messages.join(", "),
            });
        } else {
            for operation in ["publish", "subscribe"] {
                if let Some(op) = channel.get(operation) {
                    rows.push(Channel {
                        name: name.clone(),
                        operation: operation.to_owned(),
                        message: op.get("message").and_then(message_name).unwrap_or_default(),
                    });
                }
            }
            if rows.is_empty() {
                rows.push(Channel {
                    name: name.clone(),
                    operation: String::new(),
                    message: String::new(),
                });
            }
        }
        rows
    });
    let (mut rows, total) = bounded(all, max_rows);
    if v3 {
        // 3.x operations name their channel by `$ref` (`#/channels/<key>`) and their
        // action; each is shown on its channel's row.
        let operations = object(document.get("operations")).into_iter().flatten();
        for (_, op) in operations {
            let action = text(op.get("action")).unwrap_or_default();
            let channel = op
                .get("channel")
                .and_then(|c| text(c.get("$ref")))
                .and_then(|r| r.strip_prefix("#/channels/"));
            if let Some(row) = rows.iter_mut().find(|r| Some(r.name.as_str()) == channel)
                && !row.operation.split(", ").any(|a| a == action)
            {
                if !row.operation.is_empty() {
                    row.operation.push_str(", ");
                }
                row.operation.push_str(action);
            }
        }
    }
    Outlined {
        outline: Outline::Channels(rows),
        total,
    }
}

/// CSDL JSON: the members of the entity container(s) that are collections (entity sets).
fn csdl_entity_sets(document: &Value, max_rows: usize) -> Outlined {
    let containers = object(Some(document))
        .into_iter()
        .flatten()
        .filter_map(|(_, schema)| object(Some(schema)))
        .flat_map(|schema| schema.values())
        .filter(|element| text(element.get("$Kind")) == Some("EntityContainer"));
    let all = containers.flat_map(|container| {
        object(Some(container))
            .into_iter()
            .flatten()
            .filter(|(_, member)| member.get("$Collection") == Some(&Value::Bool(true)))
            .map(|(name, _)| name.clone())
    });
    let (names, total) = bounded(all, max_rows);
    Outlined {
        outline: Outline::EntitySets(names),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_SPEC_BYTES;

    fn outlined(kind: SpecKind, format: SpecFormat, data: &str, max: usize) -> Outlined {
        outline(kind, format, data, MAX_SPEC_BYTES, max).unwrap()
    }

    #[test]
    fn openapi_operations_in_path_and_method_order() {
        let yaml = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    post: {operationId: make}\n    get: {summary: list, operationId: ignored}\n    parameters: []\n  /b: {delete: {}}\n";
        let got = outlined(SpecKind::OpenApi, SpecFormat::Yaml, yaml, 10);
        assert_eq!(got.total, 3);
        let Outline::Operations(ops) = got.outline else {
            panic!("not operations")
        };
        let rows: Vec<(&str, &str, &str)> = ops
            .iter()
            .map(|o| (o.method.as_str(), o.path.as_str(), o.summary.as_str()))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("GET", "/a", "list"),
                ("POST", "/a", "make"),
                ("DELETE", "/b", "")
            ]
        );
        // Cut at `max_rows`, counting them all.
        let cut = outlined(SpecKind::OpenApi, SpecFormat::Yaml, yaml, 1);
        assert_eq!(cut.total, 3);
        assert!(matches!(cut.outline, Outline::Operations(ops) if ops.len() == 1));
    }

    #[test]
    fn asyncapi_channels_of_versions_two_and_three() {
        let v2 = r##"{"asyncapi":"2.0.0","info":{"title":"t","version":"1"},"channels":{
            "c":{"publish":{"message":{"oneOf":[{"name":"A"},{"$ref":"#/m/B"}]}},
                 "subscribe":{"message":{"title":"T"}}}, "quiet": {}}}"##;
        let got = outlined(SpecKind::AsyncApi, SpecFormat::Json, v2, 10);
        let Outline::Channels(rows) = got.outline else {
            panic!("not channels")
        };
        let rows: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|c| (c.name.as_str(), c.operation.as_str(), c.message.as_str()))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("c", "publish", "A, B"),
                ("c", "subscribe", "T"),
                ("quiet", "", "")
            ]
        );
        let v3 = r##"{"asyncapi":"3.0.0","info":{"title":"t","version":"1"},
            "channels":{"orders":{"messages":{"made":{"name":"OrderMade"}}}},
            "operations":{"send":{"action":"send","channel":{"$ref":"#/channels/orders"}}}}"##;
        let got = outlined(SpecKind::AsyncApi, SpecFormat::Json, v3, 10);
        let Outline::Channels(rows) = got.outline else {
            panic!("not channels")
        };
        assert_eq!(rows[0].name, "orders");
        assert_eq!(rows[0].operation, "send");
        assert_eq!(rows[0].message, "OrderMade");
    }

    #[test]
    fn odata_entity_sets_of_the_container_only() {
        let xml = r#"<edmx:Edmx xmlns:edmx="x" Version="4.0"><edmx:DataServices><Schema>
            <EntityType Name="NotASet"/><EntitySet Name="Stray"/>
            <EntityContainer Name="C"><EntitySet Name="People" EntityType="x"/>
            <EntitySet Name="A&amp;B" EntityType="x"></EntitySet></EntityContainer>
            </Schema></edmx:DataServices></edmx:Edmx>"#;
        let got = outlined(SpecKind::OData, SpecFormat::Xml, xml, 10);
        assert_eq!(
            got.outline,
            Outline::EntitySets(vec!["People".into(), "A&B".into()])
        );
        assert_eq!(got.total, 2);
        let json = r#"{"$Version":"4.0","Shop":{"Product":{"$Kind":"EntityType"},
            "Container":{"$Kind":"EntityContainer","Products":{"$Collection":true,"$Type":"Shop.Product"},
            "Me":{"$Type":"Shop.Product"}}}}"#;
        let got = outlined(SpecKind::OData, SpecFormat::Json, json, 10);
        assert_eq!(got.outline, Outline::EntitySets(vec!["Products".into()]));
    }

    #[test]
    fn hostile_input_is_refused_as_validation_refuses_it() {
        let doctype = "<!DOCTYPE x [<!ENTITY a \"b\">]><x/>";
        assert!(matches!(
            outline(
                SpecKind::OData,
                SpecFormat::Xml,
                doctype,
                MAX_SPEC_BYTES,
                10
            ),
            Err(SpecError::Doctype)
        ));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(
            outline(
                SpecKind::OpenApi,
                SpecFormat::Json,
                &deep,
                MAX_SPEC_BYTES,
                10
            )
            .is_err()
        );
        let big = "x".repeat(100);
        assert!(matches!(
            outline(SpecKind::OpenApi, SpecFormat::Yaml, &big, 10, 10),
            Err(SpecError::TooLarge { .. })
        ));
    }
}
