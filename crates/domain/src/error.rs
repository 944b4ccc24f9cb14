//! Errors a domain operation reports to its caller. The Director maps each variant to a
//! stable GraphQL error code in one place.

use std::collections::BTreeMap;
use std::fmt;

/// The invalid fields of one input, as ozzo-validation's `Errors` held them for Compass: each
/// field with its message, or with the errors of what it holds (an inner input, the items of a
/// list by index, the entries of a map by key). One error per field: the first rule it breaks.
///
/// Rendered as ozzo-validation's `Errors.Error()`: fields in byte order (so `10` sorts before
/// `2`, and `Name` before `description`), `field: message` or `field: (inner errors)`, joined
/// by `; `, then a period:
/// `name: cannot be blank; webhooks: (0: (url: must be a valid URL.).).`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldErrors(BTreeMap<String, FieldErrorEntry>);

/// What one field of [`FieldErrors`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorEntry {
    Message(String),
    Inner(FieldErrors),
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// One field with one message.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, field: &str) -> Option<&FieldErrorEntry> {
        self.0.get(field)
    }

    /// The fields in the order they are rendered.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldErrorEntry)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Records a message for a field that has no error yet (the first broken rule wins).
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.set(field, FieldErrorEntry::Message(message.into()));
    }

    /// Records the errors of what a field holds, unless there are none or the field already
    /// has an error.
    pub fn inner(&mut self, field: impl Into<String>, errors: FieldErrors) {
        if !errors.is_empty() {
            self.set(field, FieldErrorEntry::Inner(errors));
        }
    }

    /// Records an entry for a field that has no error yet.
    pub fn set(&mut self, field: impl Into<String>, entry: FieldErrorEntry) {
        self.0.entry(field.into()).or_insert(entry);
    }

    /// Records the message of a failed rule.
    pub fn check(&mut self, field: impl Into<String>, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(field, message);
        }
    }

    /// The value a rule parsed, or its message recorded under `field`.
    pub fn parse<T>(&mut self, field: impl Into<String>, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// The value of a checked inner input, or its errors recorded under `field`.
    pub fn take<T>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, FieldErrors>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(errors) => {
                self.inner(field, errors);
                None
            }
        }
    }

    /// `Ok` when no field is invalid.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        for (i, (field, entry)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match entry {
                FieldErrorEntry::Message(message) => write!(f, "{field}: {message}")?,
                FieldErrorEntry::Inner(inner) => write!(f, "{field}: ({inner})")?,
            }
        }
        f.write_str(".")
    }
}

/// A validation failure of an input type, rendered as Compass rendered it (its directive's
/// prefix, then ozzo-validation's errors of every invalid field):
/// `validation error for type RuntimeInput: description: the length must be no more than 128; name: cannot start with digit.`
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("validation error for type {input_type}: {errors}")]
pub struct FieldError {
    pub input_type: &'static str,
    pub errors: FieldErrors,
}

impl FieldError {
    /// One invalid field.
    pub fn new(
        input_type: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            input_type,
            errors: FieldErrors::single(field, message),
        }
    }

    /// Every invalid field of an input.
    pub fn from_errors(input_type: &'static str, errors: FieldErrors) -> Self {
        Self { input_type, errors }
    }
}

/// What can go wrong in a domain operation.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The input failed validation; nothing was changed.
    #[error(transparent)]
    Validation(#[from] FieldError),
    /// The input is well-formed but breaks a rule of the model (a label value against its
    /// schema, deleting the scenarios label of an application, ...). Nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// The object does not exist in the caller's tenant.
    #[error("{0}")]
    NotFound(String),
    /// A unique name or key is already taken.
    #[error("{0}")]
    NotUnique(String),
    /// The object is still referenced and cannot be removed.
    #[error("{0}")]
    InUse(String),
    /// The consumer may not do this at all (an application registering applications, a
    /// runtime changing another runtime): its kind confines it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Storing this would exceed a storage quota; nothing was changed.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// The consumer lacks a scope the operation requires.
    #[error("insufficient scopes provided, required: [{}], actual: [{}]", required.join(" "), actual.join(" "))]
    InsufficientScopes {
        required: Vec<String>,
        actual: Vec<String>,
    },
    /// The store failed; the message is for logs, clients see a generic text.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DomainError {
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        DomainError::NotFound(format!("{what} with ID \"{id}\" does not exist"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_ozzo_validation() {
        let mut url = FieldErrors::new();
        url.add("url", "must be a valid URL");
        let mut webhooks = FieldErrors::new();
        webhooks.inner("0", url);
        let mut errors = FieldErrors::new();
        errors.inner("webhooks", webhooks);
        errors.add("name", "cannot be blank");
        assert_eq!(
            FieldError::from_errors("ApplicationRegisterInput", errors).to_string(),
            "validation error for type ApplicationRegisterInput: name: cannot be blank; webhooks: (0: (url: must be a valid URL.).)."
        );
        assert_eq!(
            FieldError::new("RuntimeInput", "name", "cannot start with digit").to_string(),
            "validation error for type RuntimeInput: name: cannot start with digit."
        );
        assert_eq!(FieldErrors::new().to_string(), "");
    }

    #[test]
    fn keys_sort_by_bytes_and_the_first_error_of_a_field_wins() {
        let mut errors = FieldErrors::new();
        for key in ["2", "10", "b", "Name", "a"] {
            errors.add(key, "x");
        }
        errors.add("a", "second");
        errors.inner("a", FieldErrors::single("y", "z"));
        errors.inner("empty", FieldErrors::new());
        assert_eq!(errors.to_string(), "10: x; 2: x; Name: x; a: x; b: x.");
        assert_eq!(errors.len(), 5);
        assert!(errors.clone().finish().is_err());
        assert!(FieldErrors::new().finish().is_ok());
    }
}
