//! Labels and label definitions: the labels of applications and runtimes (each value checked
//! against its key's definition, made if missing), label filters, and the definitions
//! themselves. Setting a label that decides who sees whom (`scenarios`, a runtime's eventing
//! URL) tells [`crate::notify`].

pub mod inputs;
pub mod mutation;
pub mod query;
pub mod rules;
pub mod wire;
