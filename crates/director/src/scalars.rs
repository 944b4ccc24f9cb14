//! The Director's custom scalars, named as in Compass's schema, and object ids as `ID`.

use async_graphql::{ID, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `ID` of an object.
pub fn id(u: impl Into<Uuid>) -> ID {
    ID(u.into().to_string())
}

/// `Any`: any JSON value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Any(pub serde_json::Value);

#[Scalar(name = "Any")]
impl ScalarType for Any {
    fn parse(value: Value) -> InputValueResult<Self> {
        let json = value.into_json().map_err(InputValueError::custom)?;
        Ok(Any(json))
    }
    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// `Labels`: a JSON object from label key to value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Labels(pub serde_json::Map<String, serde_json::Value>);

#[Scalar(name = "Labels")]
impl ScalarType for Labels {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value.into_json().map_err(InputValueError::custom)? {
            serde_json::Value::Object(map) => Ok(Labels(map)),
            _ => Err(InputValueError::custom("Labels must be an object")),
        }
    }
    fn to_value(&self) -> Value {
        Value::from_json(serde_json::Value::Object(self.0.clone())).unwrap_or(Value::Null)
    }
}

/// `JSONSchema`: a JSON Schema as a string of JSON text.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonSchema(pub String);

#[Scalar(name = "JSONSchema")]
impl ScalarType for JsonSchema {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(JsonSchema(s)),
            _ => Err(InputValueError::custom(
                "JSONSchema must be a string of JSON",
            )),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// `PageCursor`: an opaque position in a list.
#[derive(Clone, Debug, PartialEq)]
pub struct PageCursor(pub String);

#[Scalar(name = "PageCursor")]
impl ScalarType for PageCursor {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(PageCursor(s)),
            _ => Err(InputValueError::custom("PageCursor must be a string")),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// `Timestamp`: an RFC 3339 time.
#[derive(Clone, Debug, PartialEq)]
pub struct Timestamp(pub time::OffsetDateTime);

#[Scalar(name = "Timestamp")]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => {
                time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                    .map(Timestamp)
                    .map_err(|e| {
                        InputValueError::custom(format!("Timestamp must be RFC 3339: {e}"))
                    })
            }
            _ => Err(InputValueError::custom("Timestamp must be a string")),
        }
    }
    fn to_value(&self) -> Value {
        self.0
            .format(&time::format_description::well_known::Rfc3339)
            .map(Value::String)
            .unwrap_or(Value::Null)
    }
}

/// `CLOB`: a large text (a spec or a document).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Clob(pub String);

#[Scalar(name = "CLOB")]
impl ScalarType for Clob {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Clob(s)),
            _ => Err(InputValueError::custom("CLOB must be a string")),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// Parses a `map[string][]string` scalar.
fn parse_multimap(
    value: Value,
    what: &str,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, String> {
    let json = value.into_json().map_err(|e| e.to_string())?;
    serde_json::from_value(json)
        .map_err(|_| format!("{what} must be an object mapping names to lists of strings"))
}

fn multimap_value(map: &std::collections::BTreeMap<String, Vec<String>>) -> Value {
    serde_json::to_value(map)
        .ok()
        .and_then(|j| Value::from_json(j).ok())
        .unwrap_or(Value::Null)
}

/// `HttpHeaders`: header names to lists of values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HttpHeaders(pub std::collections::BTreeMap<String, Vec<String>>);

#[Scalar(name = "HttpHeaders")]
impl ScalarType for HttpHeaders {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_multimap(value, "HttpHeaders")
            .map(HttpHeaders)
            .map_err(InputValueError::custom)
    }
    fn to_value(&self) -> Value {
        multimap_value(&self.0)
    }
}

impl From<HttpHeaders> for std::collections::BTreeMap<String, Vec<String>> {
    fn from(h: HttpHeaders) -> Self {
        h.0
    }
}

/// `QueryParams`: query parameter names to lists of values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueryParams(pub std::collections::BTreeMap<String, Vec<String>>);

#[Scalar(name = "QueryParams")]
impl ScalarType for QueryParams {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_multimap(value, "QueryParams")
            .map(QueryParams)
            .map_err(InputValueError::custom)
    }
    fn to_value(&self) -> Value {
        multimap_value(&self.0)
    }
}

impl From<QueryParams> for std::collections::BTreeMap<String, Vec<String>> {
    fn from(q: QueryParams) -> Self {
        q.0
    }
}
