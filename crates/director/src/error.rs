//! The one place where domain and store errors become GraphQL errors with a stable `code`.

use async_graphql::ErrorExtensions;
use sextant_domain::DomainError;
use sextant_store::StoreError;

/// Converts a domain error into the GraphQL error clients see.
pub fn to_graphql(err: DomainError) -> async_graphql::Error {
    let code = match &err {
        DomainError::Validation(_) => "VALIDATION_ERROR",
        DomainError::Invalid(_) => "INVALID_DATA",
        DomainError::NotFound(_) => "NOT_FOUND",
        DomainError::NotUnique(_) => "NOT_UNIQUE",
        DomainError::InUse(_) => "IN_USE",
        DomainError::Forbidden(_) => "FORBIDDEN",
        DomainError::QuotaExceeded(_) => "QUOTA_EXCEEDED",
        DomainError::InsufficientScopes { .. } => "INSUFFICIENT_SCOPES",
        DomainError::Internal(source) => {
            tracing::error!(error = %ErrorChain(source.as_ref()), "internal error");
            "INTERNAL"
        }
    };
    async_graphql::Error::new(err.to_string()).extend_with(|_, ext| ext.set("code", code))
}

/// A store failure the caller did not expect: logged with its chain, reported as internal.
pub fn internal(err: StoreError) -> DomainError {
    DomainError::Internal(Box::new(err))
}

pub use sextant_domain::ErrorChain;

/// Shorthand for resolver results.
pub type GqlResult<T> = async_graphql::Result<T>;

/// Maps a domain result into a resolver result.
pub trait IntoGql<T> {
    fn gql(self) -> GqlResult<T>;
}

impl<T> IntoGql<T> for Result<T, DomainError> {
    fn gql(self) -> GqlResult<T> {
        self.map_err(to_graphql)
    }
}

impl<T> IntoGql<T> for Result<T, StoreError> {
    fn gql(self) -> GqlResult<T> {
        self.map_err(|e| to_graphql(internal(e)))
    }
}
