//! Scopes: what a consumer may do, as in Compass's `config.yaml`.

/// A scope the Director checks. Tokens may carry other strings; those are kept as they are
/// (they show up in the "actual" part of an insufficient-scopes error) but grant nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    ApplicationRead,
    ApplicationWrite,
    ApplicationTemplateRead,
    ApplicationTemplateWrite,
    /// An operator's: create, change and delete global application templates. Of the tokens
    /// the server makes, only the operator's administrator token (in the data directory)
    /// carries it; `sextant admin token` adds it only when it is asked for.
    ApplicationTemplateGlobal,
    IntegrationSystemRead,
    IntegrationSystemWrite,
    RuntimeRead,
    RuntimeWrite,
    LabelDefinitionRead,
    LabelDefinitionWrite,
    EventingManage,
    HealthChecksRead,
}

impl Scope {
    pub const ALL: [Scope; 13] = [
        Scope::ApplicationRead,
        Scope::ApplicationWrite,
        Scope::ApplicationTemplateRead,
        Scope::ApplicationTemplateWrite,
        Scope::ApplicationTemplateGlobal,
        Scope::IntegrationSystemRead,
        Scope::IntegrationSystemWrite,
        Scope::RuntimeRead,
        Scope::RuntimeWrite,
        Scope::LabelDefinitionRead,
        Scope::LabelDefinitionWrite,
        Scope::EventingManage,
        Scope::HealthChecksRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ApplicationRead => "application:read",
            Scope::ApplicationWrite => "application:write",
            Scope::ApplicationTemplateRead => "application_template:read",
            Scope::ApplicationTemplateWrite => "application_template:write",
            Scope::ApplicationTemplateGlobal => "application_template:global",
            Scope::IntegrationSystemRead => "integration_system:read",
            Scope::IntegrationSystemWrite => "integration_system:write",
            Scope::RuntimeRead => "runtime:read",
            Scope::RuntimeWrite => "runtime:write",
            Scope::LabelDefinitionRead => "label_definition:read",
            Scope::LabelDefinitionWrite => "label_definition:write",
            Scope::EventingManage => "eventing:manage",
            Scope::HealthChecksRead => "health_checks:read",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("application:admin"), None);
    }
}
