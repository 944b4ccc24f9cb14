//! JSON and YAML into one bounded tree (`serde_json::Value`).
//!
//! Both parsers drive the same [`Node`] seed, which counts depth, values and text as it goes
//! and fails as soon as a limit is passed, so nothing unbounded is built or recursed into.
//! A visitor can only fail with the parser's own error type, so the limit that was hit is
//! recorded beside it in a [`Budget`] and turned into the matching [`SpecError`] afterwards.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use sextant_domain::SpecFormat;

use crate::error::one_line;
use crate::{Limits, MAX_DEPTH, MAX_YAML_ALIAS_EVENTS, SpecError};

/// Values enclosed by more containers than this are walked and counted but not kept: the
/// structure checks read at most `document.info.title` (two levels down).
const KEEP_LEVELS: usize = 2;

/// A limit passed while building the tree.
#[derive(Clone, Copy, Debug)]
enum Breach {
    Depth,
    Nodes,
    Text,
    ComplexKey,
}

/// What the document has used so far, and the limit it passed, if any.
struct Budget {
    limits: Limits,
    /// Values more than this many containers down are counted but not kept.
    keep_levels: usize,
    nodes: Cell<usize>,
    text: Cell<usize>,
    breach: Cell<Option<Breach>>,
}

impl Budget {
    fn new(limits: Limits, keep_levels: usize) -> Self {
        Budget {
            limits,
            keep_levels,
            nodes: Cell::new(0),
            text: Cell::new(0),
            breach: Cell::new(None),
        }
    }

    fn fail<E: de::Error>(&self, breach: Breach) -> E {
        self.breach.set(Some(breach));
        E::custom(match breach {
            Breach::Depth => "nesting limit exceeded",
            Breach::Nodes => "value limit exceeded",
            Breach::Text => "text limit exceeded",
            Breach::ComplexKey => "mapping keys must be strings, numbers or booleans",
        })
    }

    fn node<E: de::Error>(&self) -> Result<(), E> {
        let n = self.nodes.get() + 1;
        self.nodes.set(n);
        if n > self.limits.max_nodes {
            return Err(self.fail(Breach::Nodes));
        }
        Ok(())
    }

    fn text<E: de::Error>(&self, len: usize) -> Result<(), E> {
        let n = self.text.get().saturating_add(len);
        self.text.set(n);
        if n > self.limits.max_text_bytes {
            return Err(self.fail(Breach::Text));
        }
        Ok(())
    }

    /// The error for a failed parse: the limit passed, or else the parser's own message.
    fn error(&self, format: SpecFormat, message: impl fmt::Display) -> SpecError {
        match self.breach.get() {
            Some(Breach::Depth) => SpecError::TooDeep { max: MAX_DEPTH },
            Some(Breach::Nodes) => SpecError::TooManyNodes {
                max: self.limits.max_nodes,
            },
            Some(Breach::Text) => SpecError::TooMuchText {
                max: self.limits.max_text_bytes,
            },
            Some(Breach::ComplexKey) | None => SpecError::Syntax {
                format,
                message: one_line(&message.to_string()),
            },
        }
    }
}

/// Parses JSON into a bounded tree.
pub(crate) fn parse_json(data: &str, limits: Limits) -> Result<Value, SpecError> {
    parse_json_keeping(data, limits, KEEP_LEVELS)
}

/// [`parse_json`], keeping values down to `keep_levels` containers (the outline's).
pub(crate) fn parse_json_keeping(
    data: &str,
    limits: Limits,
    keep_levels: usize,
) -> Result<Value, SpecError> {
    let budget = Budget::new(limits, keep_levels);
    let mut de = serde_json::Deserializer::from_str(data);
    Node::root(&budget)
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value))
        .map_err(|e| budget.error(SpecFormat::Json, e))
}

/// Parses a single YAML document into a bounded tree.
pub(crate) fn parse_yaml(data: &str, limits: Limits) -> Result<Value, SpecError> {
    parse_yaml_keeping(data, limits, KEEP_LEVELS)
}

/// [`parse_yaml`], keeping values down to `keep_levels` containers (the outline's).
pub(crate) fn parse_yaml_keeping(
    data: &str,
    limits: Limits,
    keep_levels: usize,
) -> Result<Value, SpecError> {
    let budget = Budget::new(limits, keep_levels);
    let options = serde_saphyr::options! {
        // serde-saphyr's own event budget, enforced while parsing. Depth and values are also
        // bounded by `Node` (which sees alias expansions too); these keep the parser's
        // bookkeeping within the same limits.
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: limits.max_nodes,
            max_events: 2 * limits.max_nodes + 16,
            flow_nesting_limit: MAX_DEPTH,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_YAML_ALIAS_EVENTS,
        },
        // YAML allows `.nan` and `.inf`, JSON numbers do not: keep them as their text.
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
        with_snippet: false,
    };
    serde_saphyr::with_deserializer_from_str_with_options(data, options, |de| {
        Node::root(&budget).deserialize(de)
    })
    .map_err(|e| match budget.breach.get() {
        Some(_) => budget.error(SpecFormat::Yaml, e),
        None => yaml_error(&e, limits),
    })
}

/// A serde-saphyr error as a `SpecError`: a limit it reports, or else a syntax error.
fn yaml_error(outer: &serde_saphyr::Error, limits: Limits) -> SpecError {
    use serde_saphyr::budget::BudgetBreach;
    use serde_saphyr::granit_parser::ErrorKind;
    use serde_saphyr::{Error, ExternalMessageSource};
    // Errors met while replaying an alias, or shown with a snippet, wrap the original.
    let mut e = outer;
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = e {
        e = error;
    }
    match e {
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => SpecError::TooDeep { max: MAX_DEPTH },
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => SpecError::TooManyNodes {
                max: limits.max_nodes,
            },
            BudgetBreach::ScalarBytes { .. } => SpecError::TooMuchText {
                max: limits.max_text_bytes,
            },
            _ => SpecError::AliasExpansion,
        },
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => SpecError::AliasExpansion,
        // The parser's own nesting limit (`flow_nesting_limit`), met before the budget's.
        Error::ExternalMessage { source, .. }
            if matches!(
                &**source,
                ExternalMessageSource::Parser(scan)
                    if *scan.kind() == ErrorKind::RecursionLimitExceeded
            ) =>
        {
            SpecError::TooDeep { max: MAX_DEPTH }
        }
        // Its own message names library functions.
        Error::MultipleDocuments { .. } => SpecError::Syntax {
            format: SpecFormat::Yaml,
            message: "the data holds more than one YAML document".to_owned(),
        },
        _ => SpecError::Syntax {
            format: SpecFormat::Yaml,
            message: one_line(&outer.to_string()),
        },
    }
}

/// A value `level` containers down (the document itself is level 0).
#[derive(Clone, Copy)]
struct Node<'b> {
    budget: &'b Budget,
    level: usize,
}

impl<'b> Node<'b> {
    fn root(budget: &'b Budget) -> Self {
        Node { budget, level: 0 }
    }

    fn kept(self) -> bool {
        self.level <= self.budget.keep_levels
    }

    /// Enters a container: checks depth and counts it; returns the seed for its children.
    fn enter<E: de::Error>(self) -> Result<Node<'b>, E> {
        if self.level >= MAX_DEPTH {
            return Err(self.budget.fail(Breach::Depth));
        }
        self.budget.node()?;
        Ok(Node {
            budget: self.budget,
            level: self.level + 1,
        })
    }

    fn scalar<E: de::Error>(self, value: impl FnOnce() -> Value) -> Result<Value, E> {
        self.budget.node()?;
        Ok(if self.kept() { value() } else { Value::Null })
    }

    fn string<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.budget.text(v.len())?;
        self.scalar(|| Value::String(v.to_owned()))
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.scalar(|| Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.scalar(|| Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.scalar(|| Value::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        self.scalar(|| Value::String(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        self.scalar(|| Value::String(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // NaN and infinities (YAML `.nan`, `.inf`) have no JSON number; the checks never read
        // numbers, so they become null.
        self.scalar(|| Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.string(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        // YAML `!!binary`: counted as text, never read by the checks.
        self.budget.text(v.len())?;
        self.scalar(|| Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.scalar(|| Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.scalar(|| Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(child)? {
            if child.kept() {
                items.push(item);
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.enter()?;
        let mut entries = Map::new();
        while let Some(key) = map.next_key_seed(Key(child))? {
            let value = map.next_value_seed(child)?;
            if child.kept() {
                entries.insert(key, value);
            }
        }
        Ok(Value::Object(entries))
    }
}

/// A mapping key: YAML allows numbers, booleans and null as keys (`200:` under `responses`);
/// they become their text. Collections as keys are refused.
struct Key<'b>(Node<'b>);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Key<'_> {
    fn text<E: de::Error>(&self, v: String) -> Result<String, E> {
        self.0.budget.node()?;
        self.0.budget.text(v.len())?;
        Ok(v)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean as a mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        // Counted before the copy, so an aliased huge key is refused before it is copied.
        self.0.budget.node()?;
        self.0.budget.text(v.len())?;
        Ok(v.to_owned())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.text(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.text(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.text(v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        self.text(v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        self.text(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.text(v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.text("null".to_owned())
    }

    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        self.text("null".to_owned())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<String, A::Error> {
        Err(self.0.budget.fail(Breach::ComplexKey))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<String, A::Error> {
        Err(self.0.budget.fail(Breach::ComplexKey))
    }
}
