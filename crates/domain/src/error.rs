//! Errors a domain operation reports to its caller. The Director maps each variant to a
//! stable GraphQL error code in one place.

/// A validation failure of one field of one input type, rendered as Compass rendered it
/// (its directive's prefix, then ozzo-validation's `field: message.`):
/// `validation error for type RuntimeInput: name: cannot start with digit.`
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("validation error for type {input_type}: {field}: {message}.")]
pub struct FieldError {
    pub input_type: &'static str,
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        input_type: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            input_type,
            field: field.into(),
            message: message.into(),
        }
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
