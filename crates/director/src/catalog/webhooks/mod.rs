//! Webhooks of an application (where the Application Webhook API delivers its events): their
//! inputs, rules, wire objects (with their deliveries) and mutations.

pub mod inputs;
pub mod mutation;
pub mod rules;
pub mod wire;
