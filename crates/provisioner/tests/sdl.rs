//! The Provisioner's SDL is a committed contract (`crates/provisioner/schema.graphql`). To
//! accept a change on purpose:
//! `cargo run -p sextant -- schema provisioner > crates/provisioner/schema.graphql`

#[test]
fn sdl_matches_the_committed_snapshot() {
    let committed = include_str!("../schema.graphql");
    let current = sextant_provisioner::sdl();
    assert!(
        committed == current,
        "the Provisioner's SDL changed; if intended, run \
         `cargo run -p sextant -- schema provisioner > crates/provisioner/schema.graphql`"
    );
}

#[test]
fn sdl_keeps_compass_2019_operations_and_names() {
    let sdl = sextant_provisioner::sdl();
    for line in [
        "provisionRuntime(id: String, config: ProvisionRuntimeInput!): String!",
        "upgradeRuntime(id: String!, config: UpgradeRuntimeInput!): String!",
        "deprovisionRuntime(id: String!): String!",
        "cleanupRuntimeData(id: String!): CleanUpRuntimeDataResult!",
        "reconnectRuntimeAgent(id: String!): String!",
        "runtimeStatus(id: String!): RuntimeStatus",
        "runtimeOperationStatus(id: String!): OperationStatus",
        "union ClusterConfig = GardenerConfig | GCPConfig | LocalConfig",
        "runtimeID: String",
        "volumeSizeGB: Int!",
        "bootDiskSizeGB: Int!",
    ] {
        assert!(sdl.contains(line), "missing {line:?}");
    }
    for values in [
        ["Provision", "Upgrade", "Deprovision", "ReconnectRuntime"].as_slice(),
        ["Pending", "InProgress", "Succeeded", "Failed"].as_slice(),
        ["Pending", "Connected", "Disconnected"].as_slice(),
    ] {
        for value in values {
            assert!(
                sdl.contains(&format!("\t{value}\n")),
                "missing enum value {value}"
            );
        }
    }
}
