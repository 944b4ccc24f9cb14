//! Integration systems: their input, rules (a system is owned by the tenant that registered
//! it and acts in the tenants that granted it access), wire objects, queries and mutations.

pub mod inputs;
pub mod mutation;
pub mod query;
pub mod rules;
pub mod wire;
