//! Label inputs: the `labels` of an application or runtime input, label filters, and label
//! definitions.

use std::collections::BTreeMap;

use async_graphql::InputObject;
use serde_json::Value;
use sextant_domain::label::{
    LabelFilter as DomainLabelFilter, validate_key, validate_value as validate_label_value,
};
use sextant_domain::validate;
use sextant_domain::{DomainError, FieldError, FieldErrors};

use crate::scalars::{Any, JsonSchema, Labels};

/// Checks labels: at most [`MAX_LABELS`], printable keys (a key that is not printable is not
/// repeated: its error is the field's), and each value under its key.
pub fn check_labels(errors: &mut FieldErrors, labels: Option<Labels>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let labels = labels.map(|l| l.0).unwrap_or_default();
    if labels.len() > MAX_LABELS {
        errors.add("labels", format!("at most {MAX_LABELS} labels are allowed"));
        return out;
    }
    let mut by_key = FieldErrors::new();
    for (key, value) in labels {
        if let Err(m) = validate_key(&key) {
            errors.add("labels", m);
            continue;
        }
        if value.is_null() {
            by_key.add(key, validate::BLANK);
            continue;
        }
        if let Err(m) = validate_label_value(&value) {
            by_key.add(key, m);
            continue;
        }
        out.insert(key, value);
    }
    errors.inner("labels", by_key);
    out
}

#[derive(InputObject)]
pub struct LabelDefinitionInput {
    pub key: String,
    pub schema: Option<JsonSchema>,
}

/// A label key and value (declared by Compass's schema; no mutation takes it).
#[derive(InputObject)]
pub struct LabelInput {
    pub key: String,
    pub value: Any,
}

#[derive(InputObject)]
pub struct LabelFilter {
    pub key: String,
    pub query: Option<String>,
}

/// Most label filters one list query may carry.
pub const MAX_FILTERS: usize = 16;
/// Most labels one input may carry.
pub const MAX_LABELS: usize = 64;

/// Parses filters; an invalid one is a validation error of `LabelFilter`.
pub fn filters(filters: Option<Vec<LabelFilter>>) -> Result<Vec<DomainLabelFilter>, DomainError> {
    let filters = filters.unwrap_or_default();
    if filters.len() > MAX_FILTERS {
        return Err(FieldError::new(
            "LabelFilter",
            "filter",
            format!("at most {MAX_FILTERS} filters are allowed"),
        )
        .into());
    }
    filters
        .into_iter()
        .map(|f| {
            DomainLabelFilter::parse(&f.key, f.query.as_deref())
                .map_err(|m| FieldError::new("LabelFilter", "query", m).into())
        })
        .collect()
}
