//! API definitions of an application: their inputs, rules (including fetching their specs
//! and the credentials each runtime uses for them), wire objects and mutations.

pub mod inputs;
pub mod mutation;
pub mod rules;
pub mod wire;
