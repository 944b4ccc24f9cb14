//! Labels, label definitions and scenarios.

use serde_json::{Value, json};

use crate::validate;

/// The label that groups applications and runtimes.
pub const SCENARIOS_KEY: &str = "scenarios";
/// The scenario every application starts in.
pub const DEFAULT_SCENARIO: &str = "DEFAULT";
/// The label every application carries with its integration system's id (or "").
pub const INTEGRATION_SYSTEM_KEY: &str = "integration-system-id";
/// The label through which a runtime (its agent) publishes its eventing URL.
pub const EVENT_SERVICE_URL_KEY: &str = "runtime/event_service_url";

const SCENARIO_PATTERN: &str = r"^[A-Za-z0-9]([-_A-Za-z0-9\s]*[A-Za-z0-9])$";

/// The schema of the `scenarios` label definition a tenant starts with.
pub fn default_scenarios_schema() -> Value {
    json!({
        "type": "array",
        "minItems": 1,
        "uniqueItems": true,
        "items": {
            "type": "string",
            "pattern": SCENARIO_PATTERN,
            "enum": [DEFAULT_SCENARIO],
            "maxLength": 128
        }
    })
}

/// What a `scenarios` schema may look like: Compass's `SchemaForScenariosSchema`
/// (`internal/model/scenarios.go`). `items` needs only `type` and `enum`; `pattern` and
/// `maxLength` may be left out but, when given, are the default's; the enum holds `DEFAULT`.
fn scenarios_meta_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type", "minItems", "uniqueItems", "items"],
        "properties": {
            "type": {"const": "array"},
            "minItems": {"const": 1},
            "uniqueItems": {"const": true},
            "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["type", "enum"],
                "properties": {
                    "type": {"const": "string"},
                    "pattern": {"const": SCENARIO_PATTERN},
                    "maxLength": {"const": 128},
                    "enum": {
                        "type": "array",
                        // Compass's meta-schema also gave the enum's items the default
                        // pattern, which refuses one-letter scenarios that its clients
                        // create (`["DEFAULT", "X"]`); only the length is kept.
                        "items": {"type": "string", "maxLength": 128},
                        "contains": {"const": DEFAULT_SCENARIO}
                    }
                }
            }
        }
    })
}

/// A label key: 1 to 256 characters without control characters (a NUL could not even be
/// stored by PostgreSQL).
pub fn validate_key(key: &str) -> Result<(), String> {
    validate::required(key, validate::LONG_STRING)?;
    validate::printable(key)
}

/// Whether a key is one of the label keys only users may set (`scenarios`,
/// `integration-system-id`), in any case and with any surrounding white space, so that a
/// look-alike key cannot pass for or beside the real one.
pub fn is_reserved_key(key: &str) -> bool {
    let key = key.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    key.eq_ignore_ascii_case(SCENARIOS_KEY) || key.eq_ignore_ascii_case(INTEGRATION_SYSTEM_KEY)
}

/// A label value: no NUL or other control character in any string of it (keys included);
/// tabs and line breaks are text.
pub fn validate_value(value: &Value) -> Result<(), String> {
    fn bad(s: &str) -> bool {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    }
    match value {
        Value::String(s) if bad(s) => Err("cannot contain not printable characters".into()),
        Value::Array(items) => items.iter().try_for_each(validate_value),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if bad(k) {
                Err("cannot contain not printable characters".into())
            } else {
                validate_value(v)
            }
        }),
        _ => Ok(()),
    }
}

/// A compiled label-definition schema.
pub struct LabelSchema(jsonschema::Validator);

impl LabelSchema {
    /// Compiles a JSON Schema; schemas that refer to other documents are refused (nothing is
    /// fetched). For `scenarios` the schema must also satisfy the scenarios meta-schema.
    pub fn compile(key: &str, schema: &Value) -> Result<LabelSchema, String> {
        if key == SCENARIOS_KEY {
            check(&scenarios_meta_schema(), schema)
                .map_err(|e| format!("schema for \"scenarios\" is not valid: {e}"))?;
        }
        jsonschema::validator_for(schema)
            .map(LabelSchema)
            .map_err(|e| format!("schema is not a valid JSON Schema: {e}"))
    }

    /// Checks a value; the error lists every violation.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let errors: Vec<String> = self.0.iter_errors(value).map(|e| e.to_string()).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

fn check(schema: &Value, value: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(schema).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// What a label filter asks of a label's value.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelQuery {
    /// Any object that has the key.
    Exists,
    /// The value is an array holding at least one of these strings (the `scenarios` form
    /// `$[*] ? (@ == "A" || @ == "B")`).
    AnyOf(Vec<String>),
    /// The value contains this JSON value, as PostgreSQL's `jsonb @>` defines it.
    Contains(Value),
}

/// A `LabelFilter{key, query}`; several filters on one list are ANDed.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelFilter {
    pub key: String,
    pub query: LabelQuery,
}

impl LabelFilter {
    /// Parses a filter. For the key `scenarios` (any case) a query must be the SQL/JSON path
    /// form; for other keys it is a JSON literal matched by containment.
    pub fn parse(key: &str, query: Option<&str>) -> Result<LabelFilter, String> {
        validate_key(key)?;
        let query = match query {
            None => LabelQuery::Exists,
            Some(q) if key.eq_ignore_ascii_case(SCENARIOS_KEY) => {
                LabelQuery::AnyOf(parse_scenarios_query(q)?)
            }
            Some(q) => {
                let value: Value = serde_json::from_str(q)
                    .map_err(|e| format!("query {q:?} is not a JSON value: {e}"))?;
                validate_value(&value)?;
                LabelQuery::Contains(value)
            }
        };
        Ok(LabelFilter {
            key: if key.eq_ignore_ascii_case(SCENARIOS_KEY) {
                SCENARIOS_KEY.to_owned()
            } else {
                key.to_owned()
            },
            query,
        })
    }
}

/// Most values one scenarios query may name.
pub const MAX_QUERY_VALUES: usize = 64;

/// Parses `$[*] ? (@ == "A" || @ == "B")` into `["A", "B"]`.
fn parse_scenarios_query(query: &str) -> Result<Vec<String>, String> {
    let invalid = || {
        format!(
            "query {query:?} for scenarios must have the form $[*] ? (@ == \"A\" || @ == \"B\")"
        )
    };
    let rest = query.trim().strip_prefix("$[*]").ok_or_else(invalid)?;
    let rest = rest.trim_start().strip_prefix('?').ok_or_else(invalid)?;
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(invalid)?;
    let mut values = Vec::new();
    for term in inner.split("||") {
        let value = term
            .trim()
            .strip_prefix('@')
            .map(str::trim_start)
            .and_then(|t| t.strip_prefix("=="))
            .map(str::trim)
            .and_then(|t| t.strip_prefix('"'))
            .and_then(|t| t.strip_suffix('"'))
            .ok_or_else(invalid)?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ');
        if value.is_empty() || !value.chars().all(allowed) {
            return Err(invalid());
        }
        values.push(value.to_owned());
        if values.len() > MAX_QUERY_VALUES {
            return Err(format!(
                "a scenarios query may name at most {MAX_QUERY_VALUES} values"
            ));
        }
    }
    Ok(values)
}

/// PostgreSQL's `jsonb @>`: whether `container` contains `contained`. Objects contain objects
/// whose every key they hold with a containing value; arrays contain arrays whose every
/// element they contain (a scalar element by an equal scalar element, a structured element by
/// a containing structured element); scalars contain equal scalars (numbers by value). Only at
/// the top level may an array also contain a lone scalar equal to one of its elements.
pub fn json_contains(container: &Value, contained: &Value) -> bool {
    match (container, contained) {
        (Value::Array(c), q) if !q.is_array() && !q.is_object() => {
            c.iter().any(|cv| scalar_eq(cv, q))
        }
        _ => deep_contains(container, contained),
    }
}

fn deep_contains(container: &Value, contained: &Value) -> bool {
    match (container, contained) {
        (Value::Object(c), Value::Object(q)) => q
            .iter()
            .all(|(k, qv)| c.get(k).is_some_and(|cv| deep_contains(cv, qv))),
        (Value::Array(c), Value::Array(q)) => q.iter().all(|qv| {
            if qv.is_array() || qv.is_object() {
                c.iter().any(|cv| deep_contains(cv, qv))
            } else {
                c.iter().any(|cv| scalar_eq(cv, qv))
            }
        }),
        (c, q) => scalar_eq(c, q),
    }
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_filter_forms() {
        let f =
            LabelFilter::parse("scenarios", Some(r#"$[*] ? (@ == "A" || @ == "B c")"#)).unwrap();
        assert_eq!(f.query, LabelQuery::AnyOf(vec!["A".into(), "B c".into()]));
        let f = LabelFilter::parse("SCENARIOS", Some(r#"$[*]?(@=="DEFAULT")"#)).unwrap();
        assert_eq!(f.key, "scenarios");
        assert_eq!(f.query, LabelQuery::AnyOf(vec!["DEFAULT".into()]));
        for bad in [
            r#"$[*] ? (@ == "A" && @ == "B")"#,
            r#"$[*] ? (@ == A)"#,
            r#"$[*] ? (@ == "x'y")"#,
            r#"$[*] ? (@ == "")"#,
            r#""A""#,
            "",
        ] {
            assert!(LabelFilter::parse("scenarios", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_keys_take_json_literals() {
        let f = LabelFilter::parse("env", Some(r#""prod""#)).unwrap();
        assert_eq!(f.query, LabelQuery::Contains(json!("prod")));
        assert!(LabelFilter::parse("env", Some("prod")).is_err());
        assert_eq!(
            LabelFilter::parse("env", None).unwrap().query,
            LabelQuery::Exists
        );
        assert!(LabelFilter::parse("", None).is_err());
    }

    #[test]
    fn containment_follows_jsonb() {
        assert!(json_contains(&json!("a"), &json!("a")));
        assert!(!json_contains(&json!("a"), &json!("b")));
        assert!(json_contains(&json!(1), &json!(1.0)));
        assert!(json_contains(&json!(["a", "b"]), &json!(["b"])));
        assert!(json_contains(&json!(["a", "b"]), &json!("a")));
        assert!(!json_contains(&json!(["a", "b"]), &json!(["c"])));
        assert!(json_contains(
            &json!({"a": 1, "b": {"c": [1, 2]}}),
            &json!({"b": {"c": [2]}})
        ));
        assert!(!json_contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(json_contains(&json!([1, [2, 3]]), &json!([[3]])));
        // The array-contains-scalar exception holds only at the top level, as in PostgreSQL.
        assert!(!json_contains(
            &json!({"zones": ["a", "b"]}),
            &json!({"zones": "b"})
        ));
        assert!(!json_contains(&json!([["a"]]), &json!(["a"])));
        assert!(json_contains(
            &json!({"zones": ["a", "b"]}),
            &json!({"zones": ["b"]})
        ));
        // Large integers compare exactly.
        assert!(!json_contains(
            &json!(9007199254740993_i64),
            &json!(9007199254740992_i64)
        ));
        assert!(!json_contains(&json!("a"), &json!(["a"])));
        assert!(!json_contains(&json!({"a": 1}), &json!("a")));
    }

    #[test]
    fn keys_and_values_refuse_control_characters() {
        assert!(validate_key("a\0b").is_err());
        assert!(validate_key("a\u{1b}").is_err());
        assert!(validate_key("env").is_ok());
        assert!(validate_value(&json!("a\u{0}")).is_err());
        assert!(validate_value(&json!(["ok", {"k\u{0}": 1}])).is_err());
        assert!(validate_value(&json!({"k": ["x\u{7f}"]})).is_err());
        assert!(validate_value(&json!({"k": "line\nbreak\tand tab"})).is_ok());
    }

    #[test]
    fn reserved_keys_in_any_case() {
        for key in [
            "scenarios",
            "Scenarios",
            "SCENARIOS",
            " scenarios",
            "scenarios\t",
            "Integration-System-ID",
        ] {
            assert!(is_reserved_key(key), "{key:?}");
        }
        assert!(!is_reserved_key("scenarios2"));
        assert!(!is_reserved_key("env"));
    }

    #[test]
    fn scenarios_schema_rules() {
        let default = default_scenarios_schema();
        let schema = LabelSchema::compile(SCENARIOS_KEY, &default).unwrap();
        assert!(schema.check(&json!(["DEFAULT"])).is_ok());
        assert!(schema.check(&json!([])).is_err());
        assert!(schema.check(&json!([""])).is_err());
        assert!(schema.check(&json!(["OTHER"])).is_err());

        let mut extended = default.clone();
        extended["items"]["enum"] = json!(["DEFAULT", "Christmas", "New Year"]);
        let schema = LabelSchema::compile(SCENARIOS_KEY, &extended).unwrap();
        assert!(schema.check(&json!(["Christmas", "DEFAULT"])).is_ok());
        assert!(schema.check(&json!(["Christmas", "Christmas"])).is_err());

        // Compass's meta-schema: pattern and maxLength may be left out.
        let minimal = json!({"type":"array","minItems":1,"uniqueItems":true,
            "items":{"type":"string","enum":["DEFAULT","X"]}});
        assert!(LabelSchema::compile(SCENARIOS_KEY, &minimal).is_ok());
        let mut other_pattern = default.clone();
        other_pattern["items"]["pattern"] = json!("^.*$");
        assert!(LabelSchema::compile(SCENARIOS_KEY, &other_pattern).is_err());
        let mut other_length = default.clone();
        other_length["items"]["maxLength"] = json!(64);
        assert!(LabelSchema::compile(SCENARIOS_KEY, &other_length).is_err());

        let mut without_default = default.clone();
        without_default["items"]["enum"] = json!(["OTHER"]);
        assert!(LabelSchema::compile(SCENARIOS_KEY, &without_default).is_err());
        assert!(LabelSchema::compile(SCENARIOS_KEY, &json!({"type": "string"})).is_err());
        // Any other key takes any valid schema.
        assert!(LabelSchema::compile("env", &json!({"type": "string"})).is_ok());
        assert!(LabelSchema::compile("env", &json!({"type": 12})).is_err());
    }
}
