//! Structure checks on a parsed document: the fields each kind of spec requires.

use serde_json::{Map, Value};
use sextant_domain::SpecFormat;

use crate::SpecKind;
use crate::error::{SpecError, one_line};
use crate::xml::XmlDocument;

/// Checks a JSON or YAML tree against `kind`.
pub(crate) fn check_tree(kind: SpecKind, document: &Value) -> Result<(), SpecError> {
    let result = match kind {
        SpecKind::OpenApi => openapi(document),
        SpecKind::AsyncApi => asyncapi(document),
        SpecKind::OData => odata_json(document),
    };
    result.map_err(|reason| SpecError::Invalid {
        kind,
        reason: one_line(&reason),
    })
}

/// Checks an XML document against `kind`; only OData is written in XML.
pub(crate) fn check_xml(kind: SpecKind, document: &XmlDocument) -> Result<(), SpecError> {
    if kind != SpecKind::OData {
        return Err(SpecError::FormatNotAllowed {
            kind,
            format: SpecFormat::Xml,
        });
    }
    let reason = if document.root != "Edmx" {
        format!(
            "the root element must be \"Edmx\", not \"{}\"",
            document.root
        )
    } else if !document.children.contains("DataServices") {
        "missing element \"DataServices\" in \"Edmx\"".to_owned()
    } else {
        return Ok(());
    };
    Err(SpecError::Invalid {
        kind,
        reason: one_line(&reason),
    })
}

fn openapi(document: &Value) -> Result<(), String> {
    let root = top_level(document)?;
    // Swagger 2.0 and OpenAPI 3.0 require `paths`; 3.1 and later require one of three.
    let paths_required = if let Some(version) = root.get("openapi") {
        let version = version_string(version, "openapi", &["3."])?;
        version == "3.0" || version.starts_with("3.0.")
    } else if let Some(version) = root.get("swagger") {
        // YAML reads an unquoted `swagger: 2.0` as a number; such files are common.
        if version.as_str() != Some("2.0") && version.as_f64() != Some(2.0) {
            return Err(format!(
                "field \"swagger\" must be the string \"2.0\", found {}{}",
                describe(version),
                quote_hint(version)
            ));
        }
        true
    } else {
        return Err("missing field \"openapi\" (or \"swagger\" for Swagger 2.0)".to_owned());
    };
    info(root)?;
    if paths_required {
        required_object(root, "paths")?;
    } else {
        let mut present = false;
        for name in ["paths", "components", "webhooks"] {
            present |= optional_object(root, name)?;
        }
        if !present {
            return Err(
                "at least one of the fields \"paths\", \"components\" or \"webhooks\" is required"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

fn asyncapi(document: &Value) -> Result<(), String> {
    let root = top_level(document)?;
    let version = match root.get("asyncapi") {
        Some(version) => version_string(version, "asyncapi", &["1.", "2.", "3."])?,
        None => return Err("missing field \"asyncapi\"".to_owned()),
    };
    info(root)?;
    if version.starts_with("1.") {
        // 1.0 requires `topics`; 1.1 and 1.2 accept `stream` or `events` instead.
        let mut present = false;
        for name in ["topics", "stream", "events"] {
            present |= optional_object(root, name)?;
        }
        if !present {
            return Err("missing field \"topics\" (or \"stream\" or \"events\")".to_owned());
        }
    } else if version.starts_with("2.") {
        required_object(root, "channels")?;
    } else {
        optional_object(root, "channels")?;
    }
    Ok(())
}

fn odata_json(document: &Value) -> Result<(), String> {
    let root = top_level(document)?;
    required_string(root, "", "$Version")?;
    Ok(())
}

fn top_level(document: &Value) -> Result<&Map<String, Value>, String> {
    document.as_object().ok_or_else(|| {
        format!(
            "the top level must be an object, found {}",
            describe(document)
        )
    })
}

/// `info` with string `title` and `version`. An unquoted YAML version (`version: 1.0`) is a
/// number; it is accepted, as the tools that write such files accept it.
fn info(root: &Map<String, Value>) -> Result<(), String> {
    let info = required_object(root, "info")?;
    required_string(info, "info.", "title")?;
    if !info.get("version").is_some_and(Value::is_number) {
        required_string(info, "info.", "version")?;
    }
    Ok(())
}

/// The version field `name`: a string starting with one of `prefixes`.
fn version_string<'a>(value: &'a Value, name: &str, prefixes: &[&str]) -> Result<&'a str, String> {
    let expected = || {
        let quoted: Vec<String> = prefixes.iter().map(|p| format!("\"{p}\"")).collect();
        format!(
            "field \"{name}\" must be a string starting with {}",
            quoted.join(", ")
        )
    };
    match value.as_str() {
        Some(version) if prefixes.iter().any(|p| version.starts_with(p)) => Ok(version),
        Some(_) => Err(format!("{}, found {}", expected(), describe(value))),
        None => Err(format!(
            "{}, found {}{}",
            expected(),
            describe(value),
            quote_hint(value)
        )),
    }
}

fn required_object<'a>(
    parent: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a Map<String, Value>, String> {
    match parent.get(name) {
        None => Err(format!("missing field \"{name}\"")),
        Some(Value::Object(object)) => Ok(object),
        Some(other) => Err(format!(
            "field \"{name}\" must be an object, found {}",
            describe(other)
        )),
    }
}

/// Whether the object field `name` is present; an error if it is present but not an object.
fn optional_object(parent: &Map<String, Value>, name: &str) -> Result<bool, String> {
    match parent.get(name) {
        None => Ok(false),
        Some(Value::Object(_)) => Ok(true),
        Some(other) => Err(format!(
            "field \"{name}\" must be an object, found {}",
            describe(other)
        )),
    }
}

/// The string field `name` of `parent`, whose path in the document starts with `prefix`.
fn required_string<'a>(
    parent: &'a Map<String, Value>,
    prefix: &str,
    name: &str,
) -> Result<&'a str, String> {
    match parent.get(name) {
        None => Err(format!("missing field \"{prefix}{name}\"")),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "field \"{prefix}{name}\" must be a string, found {}{}",
            describe(other),
            quote_hint(other)
        )),
    }
}

/// A value for a message: strings quoted and cut short, other values by their kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let ellipsis = if short.len() < s.len() { "…" } else { "" };
            format!("{:?}", format!("{short}{ellipsis}"))
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// YAML reads `2.0` or `1.0` unquoted as a number; say how to write it as a string.
fn quote_hint(value: &Value) -> &'static str {
    if value.is_number() {
        " (write it in quotes)"
    } else {
        ""
    }
}
