//! The Connector's SDL is a committed contract (`crates/connector/schema.graphql`), wire
//! compatible with Compass's. Regenerate after a deliberate change with
//! `cargo run -p sextant -- schema connector > crates/connector/schema.graphql`.

#[test]
fn sdl_matches_the_committed_schema() {
    let committed = include_str!("../schema.graphql");
    assert_eq!(sextant_connector::sdl(), committed);
}
