//! One module per command group of `sextant`; each holds its arguments and runs them.

pub(crate) mod admin;
pub(crate) mod agent;
pub(crate) mod app;
pub(crate) mod demo;
pub(crate) mod schema;
pub(crate) mod server;
