//! The Director's SDL is a committed contract (`crates/director/schema.graphql`): any change
//! to the API shows up in review. To accept a change on purpose:
//! `cargo run -p sextant -- schema director > crates/director/schema.graphql`

#[test]
fn sdl_matches_the_committed_snapshot() {
    let committed = include_str!("../schema.graphql");
    let current = sextant_director::sdl();
    if committed != current {
        let first_difference = committed
            .lines()
            .zip(current.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}: committed {a:?}, now {b:?}", i + 1))
            .unwrap_or_else(|| "one is a prefix of the other".to_owned());
        panic!(
            "the Director's SDL changed ({first_difference}); if intended, run \
             `cargo run -p sextant -- schema director > crates/director/schema.graphql`"
        );
    }
}

#[test]
fn sdl_keeps_compass_names_and_argument_shapes() {
    let sdl = sextant_director::sdl();
    for line in [
        // Compass's arguments first, in its order; Sextant's optional `namePrefix` and
        // `status` (of applications and runtimes) follow, so a Compass query is still valid
        // and means the same.
        "applications(filter: [LabelFilter!], first: Int = 100, after: PageCursor, namePrefix: String, status: ApplicationStatusCondition): ApplicationPage!",
        "application(id: ID!): Application",
        "applicationsForRuntime(runtimeID: ID!, first: Int = 100, after: PageCursor): ApplicationPage!",
        "runtimes(filter: [LabelFilter!], first: Int = 100, after: PageCursor, namePrefix: String, status: RuntimeStatusCondition): RuntimePage!",
        "labelDefinition(key: String!): LabelDefinition",
        "registerApplication(in: ApplicationRegisterInput!): Application!",
        "updateApplication(id: ID!, in: ApplicationUpdateInput!): Application!",
        "registerRuntime(in: RuntimeInput!): Runtime!",
        "deleteLabelDefinition(key: String!, deleteRelatedLabels: Boolean = false): LabelDefinition!",
        "setApplicationLabel(applicationID: ID!, key: String!, value: Any!): Label!",
        "setRuntimeLabel(runtimeID: ID!, key: String!, value: Any!): Label!",
        "registerApplicationFromTemplate(in: ApplicationFromTemplateInput!): Application!",
        "healthChecks(types: [HealthCheckType!], origin: ID, first: Int = 100, after: PageCursor): HealthCheckPage!",
        "integrationSystemID: ID",
        "healthCheckURL: String",
        "labels(key: String): Labels",
        "type ApplicationPage implements Pageable",
    ] {
        assert!(sdl.contains(line), "SDL lacks `{line}`");
    }
}
