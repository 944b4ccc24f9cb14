//! Labels as forms type them and lists show them: the `key` / `key=value` filter field,
//! `key=value` lines, one typed value, and a value as text. Shared by the pages of every
//! labelled object (applications, runtimes).

use serde_json::{Map, Value, json};
use sextant_domain::label::SCENARIOS_KEY;

/// The Compass label filter a `key` or `key=value` field stands for: presence of the key, or
/// its value (a JSON value if it reads as one, else a string; for `scenarios`, one scenario).
pub(crate) fn label_filter(field: &str) -> Option<Value> {
    let field = field.trim();
    if field.is_empty() {
        return None;
    }
    let Some((key, value)) = field.split_once('=') else {
        return Some(json!({ "key": field }));
    };
    let (key, value) = (key.trim(), value.trim());
    let query = if key.eq_ignore_ascii_case("scenarios") {
        format!("$[*] ? (@ == {})", Value::String(value.to_owned()))
    } else {
        typed_value(value).to_string()
    };
    Some(json!({ "key": key, "query": query }))
}

/// A typed label value: a JSON value if it reads as one (`["A","B"]`, `3`), else a string.
pub(crate) fn typed_value(text: &str) -> Value {
    let text = text.trim();
    serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// A label value as a page shows it: strings bare, anything else as JSON.
pub(crate) fn label_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as its edit field holds it, so that saving it unchanged keeps it: a string bare
/// unless it would read back as another JSON value (`"3"`, `"true"`), anything else as JSON.
pub(crate) fn label_input(value: &Value) -> String {
    match value {
        Value::String(s) if serde_json::from_str::<Value>(s.trim()).is_err() => s.clone(),
        other => other.to_string(),
    }
}

/// Labels as one line of `key=value` pairs.
pub(crate) fn labels_text(labels: Option<&Map<String, Value>>) -> String {
    labels
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", label_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The scenarios a `scenarios` label names, in order.
pub(crate) fn scenarios_in(labels: Option<&Map<String, Value>>) -> Vec<String> {
    labels
        .and_then(|l| l.get(SCENARIOS_KEY))
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Labels from `key=value` lines, each value typed by [`typed_value`].
pub(crate) fn parse_labels(text: &str) -> Result<Map<String, Value>, String> {
    let mut labels = Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("label line {line:?} is not key=value"));
        };
        labels.insert(key.trim().to_owned(), typed_value(value));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_fields_become_compass_filters() {
        assert_eq!(label_filter(""), None);
        assert_eq!(label_filter("env"), Some(json!({"key": "env"})));
        assert_eq!(
            label_filter("env=prod"),
            Some(json!({"key": "env", "query": "\"prod\""}))
        );
        assert_eq!(
            label_filter("size = 3"),
            Some(json!({"key": "size", "query": "3"}))
        );
        assert_eq!(
            label_filter("scenarios=DEFAULT"),
            Some(json!({"key": "scenarios", "query": "$[*] ? (@ == \"DEFAULT\")"}))
        );
    }

    #[test]
    fn label_lines_become_labels() {
        let labels = parse_labels("env=prod\n\n scenarios = [\"DEFAULT\"]\nn=3").unwrap();
        assert_eq!(
            Value::Object(labels),
            json!({"env": "prod", "scenarios": ["DEFAULT"], "n": 3})
        );
        assert!(parse_labels("nonsense").is_err());
    }

    #[test]
    fn a_scenarios_label_names_its_scenarios() {
        let labels = json!({"scenarios": ["A", "B"], "env": "x"});
        assert_eq!(scenarios_in(labels.as_object()), vec!["A", "B"]);
        assert!(scenarios_in(None).is_empty());
    }

    #[test]
    fn an_edit_field_reads_back_as_the_value_it_shows() {
        for value in [
            json!("prod"),
            json!("3"),
            json!("true"),
            json!(3),
            json!(["DEFAULT", "billing"]),
            json!({"a": 1}),
        ] {
            assert_eq!(typed_value(&label_input(&value)), value, "{value}");
        }
    }
}
