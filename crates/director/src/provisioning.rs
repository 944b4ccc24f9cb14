//! What the Provisioner asks of the Director, in process: the same rules the GraphQL
//! mutations apply (`registerRuntime`'s validation, `requestOneTimeTokenForRuntime`'s token),
//! for the Provisioner to run inside its own write transactions.

pub use crate::context::Scopes;
pub use crate::error::to_graphql;
pub use crate::runtimes::inputs::RuntimeInput;
pub use crate::system_auths::rules::runtime_pairing_token;
