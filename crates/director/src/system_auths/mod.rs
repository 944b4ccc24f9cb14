//! System auths: the credentials of applications, runtimes and integration systems — OAuth2
//! client credentials (`requestClientCredentialsFor*`, `deleteSystemAuthFor*`, the `auths`
//! fields) and the one-time tokens that pair a client through the Connector, with their
//! state (`oneTimeTokenStatus`). A client secret is generated here, answered once, and
//! stored only as a hash; the token endpoint (`/oauth2/token`, in the server) checks it.

pub mod mutation;
pub mod query;
pub mod rules;
pub mod wire;
