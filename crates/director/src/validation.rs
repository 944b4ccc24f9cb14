//! What the checks of every wire input share: an input's own field errors ([`Checked`]),
//! optional fields and lists of inner inputs, the validation error of an input type
//! ([`typed`]), and id arguments.

use async_graphql::ID;
use sextant_domain::{self as domain, DomainError, FieldError, FieldErrors, TypedUuid};
use uuid::Uuid;

/// An input's own errors: ozzo-validation's `Errors` of its fields.
pub type Checked<T> = Result<T, FieldErrors>;

/// Records an optional string field's rule.
pub fn check_opt(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    rule: impl Fn(&str) -> Result<(), String>,
) {
    if let Some(v) = value {
        errors.check(field, rule(v));
    }
}

/// Turns an input's errors into the validation error of its type.
pub fn typed<T>(ty: &'static str, checked: Checked<T>) -> Result<T, DomainError> {
    checked.map_err(|errors| FieldError::from_errors(ty, errors).into())
}

/// A checked part's value: present whenever no error was recorded, which `finish` has
/// established before it is taken.
pub trait Present<T> {
    fn present(self) -> Checked<T>;
}

impl<T> Present<T> for Option<T> {
    fn present(self) -> Checked<T> {
        self.ok_or_else(|| FieldErrors::single("input", "is invalid"))
    }
}

/// Checks a list of inner inputs: at most the per-input bound, then each item, its errors
/// under its index (ozzo-validation's `Each`).
pub fn check_list<I, D>(
    errors: &mut FieldErrors,
    field: &str,
    list: Option<Vec<I>>,
    check: impl Fn(I) -> Checked<D>,
) -> Vec<D> {
    let list = list.unwrap_or_default();
    if list.len() > domain::MAX_CHILDREN_PER_INPUT {
        errors.add(
            field,
            format!(
                "at most {} items are allowed",
                domain::MAX_CHILDREN_PER_INPUT
            ),
        );
        return Vec::new();
    }
    let mut items = FieldErrors::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        if let Some(draft) = items.take(i.to_string(), check(item)) {
            out.push(draft);
        }
    }
    errors.inner(field, items);
    out
}

/// Parses an object id argument. A malformed id names no object, so it is reported as one
/// that does not exist.
pub fn parse_id<T: TypedUuid>(id: &ID, what: &str) -> Result<T, DomainError> {
    Uuid::parse_str(id)
        .map(T::from_untyped)
        .map_err(|_| DomainError::not_found(what, id.as_str()))
}

/// An id argument of a query: a malformed id names nothing, so the answer is null.
pub fn query_id<T: TypedUuid>(id: &ID) -> Option<T> {
    Uuid::parse_str(id).ok().map(T::from_untyped)
}
