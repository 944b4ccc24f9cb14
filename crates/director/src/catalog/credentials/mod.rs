//! The credentials an application's catalog carries (`Auth`: basic or OAuth2 client
//! credentials, extra headers and query parameters, a CSRF token request), as input and as
//! answered. Runtimes' own credentials for an API are the APIs' ([`super::apis`]).

pub mod inputs;
pub mod wire;
