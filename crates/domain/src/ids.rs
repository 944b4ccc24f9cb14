//! One id type per kind of object, each a UUID underneath: a function that takes an
//! [`ApplicationId`] does not accept a [`RuntimeId`]. The store converts at its SQL boundary
//! (`from_untyped` on read, `as_uuid` on bind) and the Director at its GraphQL boundary (the
//! `ID` scalar is a string on the wire); nothing between them handles a bare `Uuid`.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// What every id type offers, for code that handles ids of any kind (parsing an `ID`
/// argument, binding a list of ids). Turning a typed id back into a `Uuid` is `Into<Uuid>`.
pub trait TypedUuid: Copy + Into<Uuid> {
    /// The id that a UUID read from the store or parsed from a request names.
    fn from_untyped(id: Uuid) -> Self;
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id.
            pub fn new_v4() -> Self {
                Self(Uuid::new_v4())
            }

            /// The id that a UUID read from the store or parsed from a request names.
            pub const fn from_untyped(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn into_untyped(self) -> Uuid {
                self.0
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl TypedUuid for $name {
            fn from_untyped(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// An application's id.
    ApplicationId
);
typed_id!(
    /// A runtime's id.
    RuntimeId
);
typed_id!(
    /// An API definition's id.
    ApiDefinitionId
);
typed_id!(
    /// An event definition's id.
    EventDefinitionId
);
typed_id!(
    /// A document's id.
    DocumentId
);
typed_id!(
    /// A webhook's id.
    WebhookId
);
typed_id!(
    /// An integration system's id.
    IntegrationSystemId
);
typed_id!(
    /// An application template's id.
    TemplateId
);
typed_id!(
    /// A system auth's id, which is also its OAuth2 client id and its certificates' CN.
    SystemAuthId
);
typed_id!(
    /// A Provisioner operation's id.
    OperationId
);
typed_id!(
    /// A webhook delivery's id.
    DeliveryId
);
typed_id!(
    /// A webhook event's id (one event has a delivery per webhook).
    WebhookEventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_are_the_uuid() {
        let uuid = Uuid::new_v4();
        let id = ApplicationId::from_untyped(uuid);
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(uuid.to_string().parse::<ApplicationId>().unwrap(), id);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            serde_json::to_string(&uuid).unwrap()
        );
        assert!("not-a-uuid".parse::<RuntimeId>().is_err());
        assert_eq!(id.into_untyped(), uuid);
    }
}
