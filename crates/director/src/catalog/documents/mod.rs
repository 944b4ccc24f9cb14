//! Documents of an application: their inputs, rules (including fetching them), wire objects
//! and mutations.

pub mod inputs;
pub mod mutation;
pub mod rules;
pub mod wire;
