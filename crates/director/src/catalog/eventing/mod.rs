//! Where an application's events go: the eventing URL of a runtime sharing one of its
//! scenarios (the one chosen with `setDefaultEventingForApplication`, else the oldest), and
//! a runtime's own eventing URL.

pub mod mutation;
pub mod rules;
pub mod wire;
