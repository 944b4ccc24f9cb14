//! The Provisioner's GraphQL API: Compass's 2019 schema (`provisionRuntime(id, config)`
//! returning the operation id, and the rest of section 5.1 of the spec), with two Sextant
//! additions: `config.runtimeInput` registers the runtime in the Director first (the 2020
//! flow; `id` is then omitted and the operation's `runtimeID` names it), and
//! `clusterConfig.localConfig` selects the `local` provider. Inputs of providers this server
//! does not have (`gardenerConfig`, `gcpConfig`) are accepted by the schema and refused with
//! a clear error.

use async_graphql::{
    Context, EmptySubscription, Enum, InputObject, Object, Schema, SimpleObject, Union,
};
use serde_json::{Map, Value};
use sextant_director::provisioning::{RuntimeInput, Scopes, to_graphql};
use sextant_domain::provisioning::{Operation, OperationKind, OperationState as DomainState};
use sextant_domain::{Consumer, ConsumerKind, DomainError, OperationId, RuntimeId, Scope};
use uuid::Uuid;

use crate::engine::{ConnectionState, Provisioner};

pub type ProvisionerSchema = Schema<Query, Mutation, EmptySubscription>;

pub(crate) fn builder(
    limits: sextant_graphql_cost::Limits,
) -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .extension(sextant_graphql_cost::Cost(limits))
        .limit_depth(16)
}

type GqlResult<T> = async_graphql::Result<T>;

/// Only users (administrators) run the Provisioner: a runtime's or an application's
/// credentials never create or remove runtimes, whatever their scopes.
fn user<'a>(ctx: &Context<'a>) -> GqlResult<&'a Consumer> {
    let consumer = ctx.data::<Consumer>()?;
    if consumer.kind() != ConsumerKind::User {
        return Err(to_graphql(DomainError::Forbidden(
            "only users may use the Provisioner".into(),
        )));
    }
    Ok(consumer)
}

fn parse_id(id: &str) -> GqlResult<RuntimeId> {
    Uuid::parse_str(id)
        .map(RuntimeId::from_untyped)
        .map_err(|_| {
            to_graphql(DomainError::Invalid(format!(
                "id: \"{id}\" is not a runtime id (a UUID)"
            )))
        })
}

// --- outputs ---

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "PascalCase")]
pub enum OperationType {
    Provision,
    Upgrade,
    Deprovision,
    ReconnectRuntime,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "PascalCase")]
pub enum OperationState {
    Pending,
    InProgress,
    Succeeded,
    Failed,
}

#[derive(SimpleObject)]
pub struct OperationStatus {
    id: Option<String>,
    operation: OperationType,
    state: OperationState,
    message: Option<String>,
    #[graphql(name = "runtimeID")]
    runtime_id: Option<String>,
}

impl From<Operation> for OperationStatus {
    fn from(op: Operation) -> Self {
        OperationStatus {
            id: Some(op.id.to_string()),
            operation: match op.kind {
                OperationKind::Provision => OperationType::Provision,
                OperationKind::Upgrade => OperationType::Upgrade,
                OperationKind::Deprovision => OperationType::Deprovision,
                OperationKind::ReconnectRuntime => OperationType::ReconnectRuntime,
            },
            state: match op.state {
                DomainState::InProgress => OperationState::InProgress,
                DomainState::Succeeded => OperationState::Succeeded,
                DomainState::Failed => OperationState::Failed,
            },
            message: Some(op.message),
            runtime_id: Some(op.runtime_id.to_string()),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "PascalCase")]
pub enum RuntimeAgentConnectionStatus {
    Pending,
    Connected,
    Disconnected,
}

#[derive(SimpleObject)]
pub struct Error {
    message: Option<String>,
}

#[derive(SimpleObject)]
pub struct RuntimeConnectionStatus {
    status: RuntimeAgentConnectionStatus,
    errors: Option<Vec<Error>>,
}

#[derive(SimpleObject)]
pub struct RuntimeStatus {
    last_operation_status: Option<OperationStatus>,
    runtime_connection_status: Option<RuntimeConnectionStatus>,
    runtime_configuration: Option<RuntimeConfig>,
}

#[derive(SimpleObject)]
pub struct RuntimeConfig {
    cluster_config: Option<ClusterConfig>,
    credentials_secret_name: Option<String>,
    kyma_config: Option<KymaConfig>,
    kubeconfig: Option<String>,
}

#[derive(SimpleObject)]
pub struct KymaConfig {
    version: Option<String>,
    modules: Option<Vec<KymaModule>>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "PascalCase")]
pub enum KymaModule {
    Backup,
    BackupInit,
    Jaeger,
    Logging,
    Monitoring,
    PrometheusOperator,
    Kiali,
    KnativeBuild,
}

/// Only `LocalConfig` is ever returned; the others keep Compass clients' fragments valid.
#[derive(Union)]
#[allow(clippy::large_enum_variant)] // the large variants are never built
pub enum ClusterConfig {
    Gardener(GardenerConfig),
    Gcp(GCPConfig),
    Local(LocalConfig),
}

/// Output mirror of `GardenerConfigInput` (Compass 2019); this server has no Gardener
/// provider, so none is ever returned.
#[derive(SimpleObject, Default)]
pub struct GardenerConfig {
    name: Option<String>,
    project_name: Option<String>,
    kubernetes_version: Option<String>,
    node_count: Option<i32>,
    #[graphql(name = "volumeSizeGB")]
    volume_size_gb: Option<i32>,
    machine_type: Option<String>,
    region: Option<String>,
    provider: Option<String>,
    seed: Option<String>,
    target_secret: Option<String>,
    disk_type: Option<String>,
    worker_cidr: Option<String>,
    auto_scaler_min: Option<i32>,
    auto_scaler_max: Option<i32>,
    max_surge: Option<i32>,
    max_unavailable: Option<i32>,
    provider_specific_config: Option<ProviderSpecificConfig>,
}

#[derive(Union)]
pub enum ProviderSpecificConfig {
    Gcp(GCPProviderConfig),
    Azure(AzureProviderConfig),
    Aws(AWSProviderConfig),
}

#[derive(SimpleObject)]
#[graphql(name = "GCPProviderConfig")]
pub struct GCPProviderConfig {
    zone: Option<String>,
}

#[derive(SimpleObject)]
pub struct AzureProviderConfig {
    vnet_cidr: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(name = "AWSProviderConfig")]
pub struct AWSProviderConfig {
    zone: Option<String>,
    vpc_cidr: Option<String>,
    public_cidr: Option<String>,
    internal_cidr: Option<String>,
}

/// Output mirror of `GCPConfigInput` (Compass 2019); never returned by this server.
#[derive(SimpleObject, Default)]
#[graphql(name = "GCPConfig")]
pub struct GCPConfig {
    name: Option<String>,
    project_name: Option<String>,
    kubernetes_version: Option<String>,
    number_of_nodes: Option<i32>,
    #[graphql(name = "bootDiskSizeGB")]
    boot_disk_size_gb: Option<i32>,
    machine_type: Option<String>,
    region: Option<String>,
    zone: Option<String>,
}

/// A runtime of the `local` provider (Sextant): a directory on the server's machine and a
/// `sextant agent` process.
#[derive(SimpleObject)]
pub struct LocalConfig {
    /// The runtime's directory (agent state, bootstrap configuration, log).
    directory: Option<String>,
    /// The application gateway's port on 127.0.0.1.
    gateway_port: Option<i32>,
    gateway_allow_private: Option<bool>,
    #[graphql(name = "eventServiceURL")]
    event_service_url: Option<String>,
    #[graphql(name = "consoleURL")]
    console_url: Option<String>,
    /// The event gateway's port on 127.0.0.1.
    event_gateway_port: Option<i32>,
    /// Where the event gateway delivers events (an http(s) URL; null: `events.jsonl` in the
    /// runtime's directory).
    event_sink: Option<String>,
    /// How many upgrades the runtime went through.
    generation: Option<i32>,
}

// --- inputs ---

#[derive(InputObject)]
pub struct ProvisionRuntimeInput {
    /// Sextant (as in Compass 2020): registers the runtime in the Director; give it instead
    /// of `id`.
    runtime_input: Option<RuntimeInput>,
    cluster_config: Option<ClusterConfigInput>,
    credentials: Option<CredentialsInput>,
    kyma_config: Option<KymaConfigInput>,
}

#[derive(InputObject)]
pub struct ClusterConfigInput {
    gardener_config: Option<GardenerConfigInput>,
    gcp_config: Option<GCPConfigInput>,
    /// Sextant: a runtime on this machine (the `local` provider).
    local_config: Option<LocalConfigInput>,
}

#[derive(InputObject)]
pub struct GardenerConfigInput {
    name: String,
    project_name: String,
    kubernetes_version: String,
    node_count: i32,
    #[graphql(name = "volumeSizeGB")]
    volume_size_gb: i32,
    machine_type: String,
    region: String,
    provider: String,
    seed: String,
    target_secret: String,
    disk_type: String,
    worker_cidr: String,
    auto_scaler_min: i32,
    auto_scaler_max: i32,
    max_surge: i32,
    max_unavailable: i32,
    provider_specific_config: ProviderSpecificInput,
}

#[derive(InputObject)]
pub struct ProviderSpecificInput {
    gcp_config: Option<GCPProviderConfigInput>,
    azure_config: Option<AzureProviderConfigInput>,
    aws_config: Option<AWSProviderConfigInput>,
}

#[derive(InputObject)]
#[graphql(name = "GCPProviderConfigInput")]
pub struct GCPProviderConfigInput {
    zone: String,
}

#[derive(InputObject)]
pub struct AzureProviderConfigInput {
    vnet_cidr: String,
}

#[derive(InputObject)]
#[graphql(name = "AWSProviderConfigInput")]
pub struct AWSProviderConfigInput {
    zone: String,
    vpc_cidr: String,
    public_cidr: String,
    internal_cidr: String,
}

#[derive(InputObject)]
#[graphql(name = "GCPConfigInput")]
pub struct GCPConfigInput {
    name: String,
    project_name: String,
    kubernetes_version: String,
    number_of_nodes: i32,
    #[graphql(name = "bootDiskSizeGB")]
    boot_disk_size_gb: i32,
    machine_type: String,
    region: String,
    zone: Option<String>,
}

/// Sextant: the `local` provider's settings; every field is optional.
#[derive(InputObject, Default)]
pub struct LocalConfigInput {
    /// The application gateway's port on 127.0.0.1 (default: a free port).
    gateway_port: Option<i32>,
    /// Whether the gateway may call APIs on loopback and private addresses (default true).
    gateway_allow_private: Option<bool>,
    /// Reported as the runtime's `runtime/event_service_url`.
    #[graphql(name = "eventServiceURL")]
    event_service_url: Option<String>,
    /// Reported as the runtime's `runtime/console_url`.
    #[graphql(name = "consoleURL")]
    console_url: Option<String>,
    /// The event gateway's port on 127.0.0.1 (default: a free port).
    event_gateway_port: Option<i32>,
    /// An http(s) URL the event gateway POSTs events to (default: the file `events.jsonl` in
    /// the runtime's directory).
    event_sink: Option<String>,
}

#[derive(InputObject)]
pub struct CredentialsInput {
    secret_name: String,
}

#[derive(InputObject)]
pub struct KymaConfigInput {
    version: String,
    modules: Option<Vec<KymaModule>>,
}

#[derive(InputObject)]
pub struct UpgradeRuntimeInput {
    cluster_config: Option<UpgradeClusterInput>,
    kyma_config: Option<KymaConfigInput>,
    /// Sextant: new settings for a `local` runtime.
    local_config: Option<LocalConfigInput>,
}

#[derive(InputObject)]
pub struct UpgradeClusterInput {
    version: String,
}

#[derive(SimpleObject)]
pub struct CleanUpRuntimeDataResult {
    id: String,
    message: Option<String>,
}

impl LocalConfigInput {
    fn to_json(&self, version: Option<&str>) -> GqlResult<Value> {
        let mut map = Map::new();
        for (field, port) in [
            ("gatewayPort", self.gateway_port),
            ("eventGatewayPort", self.event_gateway_port),
        ] {
            if let Some(port) = port {
                let port = u16::try_from(port).map_err(|_| {
                    to_graphql(DomainError::Invalid(format!(
                        "localConfig.{field}: must be 1..65535"
                    )))
                })?;
                map.insert(field.into(), port.into());
            }
        }
        if let Some(sink) = &self.event_sink {
            map.insert("eventSink".into(), sink.clone().into());
        }
        if let Some(allow) = self.gateway_allow_private {
            map.insert("gatewayAllowPrivate".into(), allow.into());
        }
        if let Some(url) = &self.event_service_url {
            map.insert("eventServiceURL".into(), url.clone().into());
        }
        if let Some(url) = &self.console_url {
            map.insert("consoleURL".into(), url.clone().into());
        }
        if let Some(version) = version {
            map.insert("version".into(), version.into());
        }
        Ok(Value::Object(map))
    }
}

fn kyma_json(kyma: &KymaConfigInput) -> Value {
    serde_json::json!({ "version": kyma.version, "modules": kyma.modules })
}

/// The provider input a `clusterConfig` names, checked against the providers this server has.
fn provider_input(
    provisioner: &Provisioner,
    cluster: Option<&ClusterConfigInput>,
) -> GqlResult<Value> {
    let available = provisioner.provider_name();
    let unavailable = |name: &str| {
        to_graphql(DomainError::Invalid(format!(
            "clusterConfig: the {name} provider is not available on this server (available: {available}Config)"
        )))
    };
    let Some(cluster) = cluster else {
        return Err(to_graphql(DomainError::Invalid(format!(
            "clusterConfig: required; name a provider ({available}Config)"
        ))));
    };
    let given = [
        cluster.gardener_config.is_some(),
        cluster.gcp_config.is_some(),
        cluster.local_config.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(to_graphql(DomainError::Invalid(
            "clusterConfig: give exactly one of gardenerConfig, gcpConfig, localConfig".into(),
        )));
    }
    if cluster.gardener_config.is_some() {
        return Err(unavailable("gardener"));
    }
    if cluster.gcp_config.is_some() {
        return Err(unavailable("gcp"));
    }
    match &cluster.local_config {
        Some(local) if available == "local" => local.to_json(None),
        _ => Err(unavailable("local")),
    }
}

// --- roots ---

pub struct Query;

#[Object]
impl Query {
    /// The runtime's last operation, its agent's connection and its configuration; null if
    /// the runtime is unknown.
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtime_status(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> GqlResult<Option<RuntimeStatus>> {
        let consumer = user(ctx)?;
        let provisioner = ctx.data::<Provisioner>()?;
        let id = parse_id(&id)?;
        let Some(view) = provisioner
            .runtime_status(consumer.tenant, id)
            .await
            .map_err(to_graphql)?
        else {
            return Ok(None);
        };
        let connection = RuntimeConnectionStatus {
            status: match view.connection.status {
                ConnectionState::Pending => RuntimeAgentConnectionStatus::Pending,
                ConnectionState::Connected => RuntimeAgentConnectionStatus::Connected,
                ConnectionState::Disconnected => RuntimeAgentConnectionStatus::Disconnected,
            },
            errors: Some(
                view.connection
                    .errors
                    .into_iter()
                    .map(|m| Error { message: Some(m) })
                    .collect(),
            ),
        };
        let configuration = view.configuration.map(|(provider, config)| {
            let text = |key: &str| config.get(key).and_then(Value::as_str).map(str::to_owned);
            let int = |key: &str| {
                config
                    .get(key)
                    .and_then(Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok())
            };
            let kyma = config.get("kymaConfig").map(|k| KymaConfig {
                version: k.get("version").and_then(Value::as_str).map(str::to_owned),
                modules: k
                    .get("modules")
                    .and_then(|m| serde_json::from_value(m.clone()).ok()),
            });
            RuntimeConfig {
                cluster_config: (provider == "local").then(|| {
                    ClusterConfig::Local(LocalConfig {
                        directory: text("dir"),
                        gateway_port: int("gatewayPort"),
                        gateway_allow_private: config
                            .get("gatewayAllowPrivate")
                            .and_then(Value::as_bool),
                        event_service_url: text("eventServiceUrl"),
                        console_url: text("consoleUrl"),
                        event_gateway_port: int("eventGatewayPort"),
                        event_sink: text("eventSink"),
                        generation: int("generation"),
                    })
                }),
                credentials_secret_name: text("credentialsSecretName"),
                kyma_config: kyma,
                kubeconfig: None,
            }
        });
        Ok(Some(RuntimeStatus {
            last_operation_status: view.last_operation.map(OperationStatus::from),
            runtime_connection_status: Some(connection),
            runtime_configuration: configuration,
        }))
    }

    /// An operation by its id.
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtime_operation_status(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> GqlResult<Option<OperationStatus>> {
        let consumer = user(ctx)?;
        let provisioner = ctx.data::<Provisioner>()?;
        let Ok(id) = id.parse::<OperationId>() else {
            return Ok(None);
        };
        Ok(provisioner
            .operation(consumer.tenant, id)
            .await
            .map_err(to_graphql)?
            .map(OperationStatus::from))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Provisions a runtime: registers it in the Director (with `config.runtimeInput`) or
    /// takes a registered one (`id`), requests a one-time token, creates the runtime with the
    /// provider, injects the agent's bootstrap configuration and waits for the agent to report
    /// READY. Returns the operation's id. Only one operation per runtime at a time.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn provision_runtime(
        &self,
        ctx: &Context<'_>,
        id: Option<String>,
        config: ProvisionRuntimeInput,
    ) -> GqlResult<String> {
        let consumer = user(ctx)?;
        let provisioner = ctx.data::<Provisioner>()?;
        let id = id.as_deref().map(parse_id).transpose()?;
        let runtime = config
            .runtime_input
            .map(|r| r.validate().map_err(to_graphql))
            .transpose()?;
        let input = provider_input(provisioner, config.cluster_config.as_ref())?;
        let mut extra = Map::new();
        if let Some(credentials) = &config.credentials {
            extra.insert(
                "credentialsSecretName".into(),
                credentials.secret_name.clone().into(),
            );
        }
        if let Some(kyma) = &config.kyma_config {
            extra.insert("kymaConfig".into(), kyma_json(kyma));
        }
        let op = provisioner
            .provision(consumer.tenant, id, runtime, input, extra)
            .await
            .map_err(to_graphql)?;
        Ok(op.id.to_string())
    }

    /// Upgrades a runtime: for a `local` runtime, restarts its agent with the server's
    /// current agent binary and the new settings, and waits for it to report READY.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn upgrade_runtime(
        &self,
        ctx: &Context<'_>,
        id: String,
        config: UpgradeRuntimeInput,
    ) -> GqlResult<String> {
        let consumer = user(ctx)?;
        let provisioner = ctx.data::<Provisioner>()?;
        let id = parse_id(&id)?;
        let version = config
            .kyma_config
            .as_ref()
            .map(|k| k.version.as_str())
            .or(config.cluster_config.as_ref().map(|c| c.version.as_str()));
        let input = config.local_config.unwrap_or_default().to_json(version)?;
        let mut extra = Map::new();
        if let Some(kyma) = &config.kyma_config {
            extra.insert("kymaConfig".into(), kyma_json(kyma));
        }
        let op = provisioner
            .upgrade(consumer.tenant, id, input, extra)
            .await
            .map_err(to_graphql)?;
        Ok(op.id.to_string())
    }

    /// Deprovisions a runtime: unregisters it in the Director (its certificates are revoked
    /// at once) and has the provider remove it (for `local`: the agent is stopped and the
    /// directory removed). Returns the operation's id.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn deprovision_runtime(&self, ctx: &Context<'_>, id: String) -> GqlResult<String> {
        let consumer = user(ctx)?;
        let provisioner = ctx.data::<Provisioner>()?;
        let op = provisioner
            .deprovision(consumer.tenant, parse_id(&id)?)
            .await
            .map_err(to_graphql)?;
        Ok(op.id.to_string())
    }

    /// Removes the Provisioner's records of a runtime that is no longer provisioned
    /// (Compass 2019).
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn cleanup_runtime_data(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> GqlResult<CleanUpRuntimeDataResult> {
        let consumer = user(ctx)?;
        let provisioner = ctx.data::<Provisioner>()?;
        let message = provisioner
            .cleanup(consumer.tenant, parse_id(&id)?)
            .await
            .map_err(to_graphql)?;
        Ok(CleanUpRuntimeDataResult {
            id,
            message: Some(message),
        })
    }

    /// Makes the runtime's agent pair again: its certificates are revoked, a new one-time
    /// token is injected, and the operation waits for the agent to report READY.
    #[graphql(guard = "Scopes(&[Scope::RuntimeWrite])")]
    async fn reconnect_runtime_agent(&self, ctx: &Context<'_>, id: String) -> GqlResult<String> {
        let consumer = user(ctx)?;
        let provisioner = ctx.data::<Provisioner>()?;
        let op = provisioner
            .reconnect(consumer.tenant, parse_id(&id)?)
            .await
            .map_err(to_graphql)?;
        Ok(op.id.to_string())
    }
}
