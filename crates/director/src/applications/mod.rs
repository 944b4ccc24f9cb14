//! Applications: their inputs, rules (registering one with its catalog, updating and
//! unregistering it), wire objects (with the fields that reach into its catalog, its
//! credentials and the runtimes it is assigned to), queries and mutations.

pub mod inputs;
pub mod mutation;
pub mod query;
pub mod rules;
pub mod wire;
