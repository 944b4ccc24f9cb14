//! The catalog of an application: its API and event definitions, documents and webhooks,
//! and where its events go (default eventing). Each kind of child has its folder (inputs,
//! rules, wire objects, mutations); beside them sits what they share: [`content`] (inline
//! data or a fetch request, and fetching it), [`credentials`] (`Auth`), [`limits`] (bounds
//! per application, spec quotas), [`access`] (whether the consumer may change a child's
//! application) and [`children`] (an application's children registered with it).
//!
//! Fetching happens before the write transaction (`prepare_*` turn drafts into ready
//! objects, fetching what has a fetch request), so a slow endpoint never holds the store's
//! write lock. A failed fetch does not fail the mutation: the fetch request records FAILED
//! with the reason.

/// A wire enum that mirrors a domain enum variant for variant, with both conversions.
macro_rules! mirror_enum {
    ($gql:literal $name:ident => $domain:ty { $($variant:ident),+ $(,)? }) => {
        #[derive(
            async_graphql::Enum,
            Copy,
            Clone,
            Eq,
            PartialEq,
            Debug,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[graphql(name = $gql)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl From<$name> for $domain {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$domain>::$variant),+ }
            }
        }
        impl From<$domain> for $name {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => $name::$variant),+ }
            }
        }
    };
}

pub mod access;
pub mod apis;
pub mod children;
pub mod content;
pub mod credentials;
pub mod documents;
pub mod eventing;
pub mod events;
pub mod limits;
pub mod webhooks;
