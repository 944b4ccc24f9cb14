//! Application templates: an application input with `{{placeholder}}` markers, of a tenant
//! or global (written by operators), from which applications are registered. Their inputs,
//! rules, wire objects (the input rendered as Compass's `graphqlizer` did), queries and
//! mutations.

pub mod graphqlizer;
pub mod inputs;
pub mod mutation;
pub mod query;
pub mod rules;
pub mod wire;
