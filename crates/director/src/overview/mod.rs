//! Sextant's `fleetOverview`: what a tenant's administrator should look at (the console's
//! dashboard), each part in one statement however many objects the tenant holds, each part
//! behind the scope of what it counts, for users only.

pub mod query;
pub mod wire;
