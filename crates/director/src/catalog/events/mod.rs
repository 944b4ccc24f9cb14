//! Event definitions of an application: their inputs, rules (including fetching their
//! specs), wire objects and mutations.

pub mod inputs;
pub mod mutation;
pub mod rules;
pub mod wire;
