//! What a spec or document holds: inline data, or a fetch request and what it fetched. Its
//! inputs and their checks, fetching (before the write transaction, bounded), and the
//! fetch request and version as answered.

pub mod fetch;
pub mod inputs;
pub mod wire;
