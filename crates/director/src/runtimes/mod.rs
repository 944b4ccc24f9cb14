//! Runtimes: their inputs, rules (registering, updating, unregistering one, and its status),
//! wire objects, queries and mutations.

pub mod inputs;
pub mod mutation;
pub mod query;
pub mod rules;
pub mod wire;
