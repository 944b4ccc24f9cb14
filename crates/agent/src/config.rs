//! The agent's configuration: the bootstrap values Compass's Provisioner hands a runtime
//! (`CONNECTOR_URL`, `TOKEN`, `RUNTIME_ID`, `TENANT`, plus Sextant's `CA_CERT_FILE`), read
//! from the environment or from a file of `KEY=VALUE` lines, and what the agent is told
//! besides (state directory, label values, long-poll wait).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sextant_domain::label::EVENT_SERVICE_URL_KEY;
use url::Url;
use uuid::Uuid;

/// `CONNECTOR_URL`: the token-secured Connector, e.g. `https://host:3000/connector/graphql`.
pub const CONNECTOR_URL: &str = "CONNECTOR_URL";
/// `TOKEN`: the one-time token that pairs the runtime.
pub const TOKEN: &str = "TOKEN";
/// `RUNTIME_ID`: the runtime's id in the Director.
pub const RUNTIME_ID: &str = "RUNTIME_ID";
/// `TENANT`: the runtime's tenant.
pub const TENANT: &str = "TENANT";
/// `CA_CERT_FILE` (Sextant extension): a PEM file of the CA(s) that the management plane's
/// certificate chains to; without it the platform's trust roots are used.
pub const CA_CERT_FILE: &str = "CA_CERT_FILE";

/// Every key the bootstrap configuration reads.
pub const BOOTSTRAP_KEYS: [&str; 5] = [CONNECTOR_URL, TOKEN, RUNTIME_ID, TENANT, CA_CERT_FILE];

/// The default long-poll wait of the configuration request (seconds the server may hold it).
pub const DEFAULT_POLL_WAIT: Duration = Duration::from_secs(30);

/// The label the agent sets to [`AgentConfig::console_url`].
pub const CONSOLE_URL_LABEL: &str = "runtime/console_url";

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required key is absent or empty.
    #[error("{key} is not set")]
    Missing {
        /// The key.
        key: &'static str,
    },
    /// A value does not parse.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration file cannot be read.
    #[error("cannot read the configuration file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line of the configuration file is not `KEY=VALUE`, or repeats a key.
    #[error("{path}:{line}: {reason}")]
    Syntax {
        /// The file (`-` when parsed from a string).
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// What the management plane gives a runtime to pair with (Compass's
/// `compass-agent-configuration` Secret).
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapConfig {
    /// The token-secured Connector (`https`).
    pub connector_url: Url,
    /// The one-time token; `None` once the state directory holds a certificate and the token
    /// was removed (a used token is never needed again).
    pub token: Option<String>,
    /// The runtime's id.
    pub runtime_id: Uuid,
    /// The runtime's tenant.
    pub tenant: Uuid,
    /// The CA(s) to trust for the token-secured Connector; `None`: the platform's roots.
    pub ca_cert_file: Option<PathBuf>,
}

impl fmt::Debug for BootstrapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootstrapConfig")
            .field("connector_url", &self.connector_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("runtime_id", &self.runtime_id)
            .field("tenant", &self.tenant)
            .field("ca_cert_file", &self.ca_cert_file)
            .finish()
    }
}

impl BootstrapConfig {
    /// Reads the bootstrap keys from the process environment.
    pub fn from_env() -> Result<BootstrapConfig, ConfigError> {
        BootstrapConfig::from_pairs(
            BOOTSTRAP_KEYS
                .iter()
                .filter_map(|key| std::env::var(key).ok().map(|v| ((*key).to_owned(), v))),
        )
    }

    /// Reads a file of `KEY=VALUE` lines (a Kubernetes env file): blank lines and lines
    /// starting with `#` are ignored, whitespace around keys and values is trimmed, a value
    /// in matching single or double quotes is unquoted, unknown keys are ignored and a key
    /// given twice is an error.
    pub fn from_env_file(path: &Path) -> Result<BootstrapConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        BootstrapConfig::from_pairs(parse_env_file(path, &text)?)
    }

    /// [`BootstrapConfig::from_env_file`] if a file is named, else
    /// [`BootstrapConfig::from_env`].
    pub fn load(file: Option<&Path>) -> Result<BootstrapConfig, ConfigError> {
        match file {
            Some(path) => BootstrapConfig::from_env_file(path),
            None => BootstrapConfig::from_env(),
        }
    }

    /// Parses the text of an env file (see [`BootstrapConfig::from_env_file`]).
    pub fn parse(text: &str) -> Result<BootstrapConfig, ConfigError> {
        BootstrapConfig::from_pairs(parse_env_file(Path::new("-"), text)?)
    }

    /// Builds the configuration from key/value pairs (unknown keys are ignored; empty
    /// values count as absent).
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<BootstrapConfig, ConfigError> {
        let mut connector_url = None;
        let mut token = None;
        let mut runtime_id = None;
        let mut tenant = None;
        let mut ca_cert_file = None;
        for (key, value) in pairs {
            let value = value.trim().to_owned();
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                CONNECTOR_URL => connector_url = Some(value),
                TOKEN => token = Some(value),
                RUNTIME_ID => runtime_id = Some(value),
                TENANT => tenant = Some(value),
                CA_CERT_FILE => ca_cert_file = Some(value),
                other => tracing::debug!(key = other, "ignoring an unknown configuration key"),
            }
        }
        let connector_url = connector_url.ok_or(ConfigError::Missing { key: CONNECTOR_URL })?;
        let connector_url = Url::parse(&connector_url).map_err(|e| ConfigError::Invalid {
            key: CONNECTOR_URL,
            reason: format!("not a URL: {e}"),
        })?;
        if connector_url.scheme() != "https" {
            return Err(ConfigError::Invalid {
                key: CONNECTOR_URL,
                reason: "must be an https URL (the token travels in it)".into(),
            });
        }
        if connector_url.host_str().is_none() {
            return Err(ConfigError::Invalid {
                key: CONNECTOR_URL,
                reason: "has no host".into(),
            });
        }
        let uuid = |key: &'static str, value: Option<String>| {
            let value = value.ok_or(ConfigError::Missing { key })?;
            Uuid::parse_str(&value).map_err(|e| ConfigError::Invalid {
                key,
                reason: format!("not a UUID: {e}"),
            })
        };
        let runtime_id = uuid(RUNTIME_ID, runtime_id)?;
        let tenant = uuid(TENANT, tenant)?;
        if let Some(token) = &token
            && (token.len() > 4096 || token.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(ConfigError::Invalid {
                key: TOKEN,
                reason: "must be one word of at most 4096 characters".into(),
            });
        }
        Ok(BootstrapConfig {
            connector_url,
            token,
            runtime_id,
            tenant,
            ca_cert_file: ca_cert_file.map(PathBuf::from),
        })
    }
}

/// Parses `KEY=VALUE` lines into pairs (see [`BootstrapConfig::from_env_file`]).
fn parse_env_file(path: &Path, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let syntax = |reason: String| ConfigError::Syntax {
            path: path.to_owned(),
            line: index + 1,
            reason,
        };
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax("expected KEY=VALUE".into()));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(syntax(format!("{key:?} is not a valid key")));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(syntax(format!("{key} is given twice")));
        }
        pairs.push((key.to_owned(), unquote(value.trim()).to_owned()));
    }
    Ok(pairs)
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2
            && let Some(inner) = value
                .strip_prefix(quote)
                .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Everything the agent is told.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The bootstrap values.
    pub bootstrap: BootstrapConfig,
    /// Where the key, certificates, state and applied configuration live (created `0700`).
    pub state_dir: PathBuf,
    /// The value of the runtime's `runtime/event_service_url` label (not set when `None`).
    pub event_service_url: Option<String>,
    /// The value of the runtime's `runtime/console_url` label (not set when `None`).
    pub console_url: Option<String>,
    /// How long the server may hold a configuration request waiting for a change (at most
    /// 60 s; default 30 s).
    pub poll_wait: Duration,
    /// Renew the certificate right after start (besides the automatic renewal at two thirds
    /// of its lifetime).
    pub renew_now: bool,
    /// Run the event gateway (not run when `None`).
    pub event_gateway: Option<EventGatewayConfig>,
}

/// The event gateway: where it listens, the name applications reach it by, where events go.
#[derive(Clone, Debug)]
pub struct EventGatewayConfig {
    /// The listen address; port 0 picks one (the URL reports the bound port).
    pub listen: std::net::SocketAddr,
    /// The DNS name or IP address in its certificate and URL; default: the listen address, or
    /// `localhost` when that is unspecified.
    pub name: Option<String>,
    /// Where events go.
    pub sink: sextant_gateway::events::EventSink,
    /// How often the management plane's CRLs are fetched (also at every configuration
    /// change); default 30 s.
    pub crl_refresh: Duration,
}

impl EventGatewayConfig {
    /// A gateway on `listen` delivering to `sink`, named after its address, CRLs every 30 s.
    pub fn new(
        listen: std::net::SocketAddr,
        sink: sextant_gateway::events::EventSink,
    ) -> EventGatewayConfig {
        EventGatewayConfig {
            listen,
            name: None,
            sink,
            crl_refresh: Duration::from_secs(30),
        }
    }

    /// The name in the certificate and URL: the configured one, else the listen address, or
    /// `localhost` for an unspecified one.
    pub(crate) fn name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None if self.listen.ip().is_unspecified() => "localhost".to_owned(),
            None => self.listen.ip().to_string(),
        }
    }
}

impl AgentConfig {
    /// A configuration with the defaults: no labels, a 30 s long poll, no forced renewal.
    pub fn new(bootstrap: BootstrapConfig, state_dir: impl Into<PathBuf>) -> AgentConfig {
        AgentConfig {
            bootstrap,
            state_dir: state_dir.into(),
            event_service_url: None,
            console_url: None,
            poll_wait: DEFAULT_POLL_WAIT,
            renew_now: false,
            event_gateway: None,
        }
    }

    /// The labels the agent sets once configured: those of the URLs it is given.
    pub(crate) fn labels(&self) -> Vec<(String, String)> {
        [
            (EVENT_SERVICE_URL_KEY, &self.event_service_url),
            (CONSOLE_URL_LABEL, &self.console_url),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (key.to_owned(), v.clone())))
        .collect()
    }

    /// Checks the values that [`BootstrapConfig`] does not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("event service URL", &self.event_service_url),
            ("console URL", &self.console_url),
        ] {
            if let Some(value) = value {
                let url = Url::parse(value).map_err(|e| ConfigError::Invalid {
                    key,
                    reason: format!("not a URL: {e}"),
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ConfigError::Invalid {
                        key,
                        reason: "must be an http or https URL".into(),
                    });
                }
            }
        }
        if self.poll_wait.as_secs() > sextant_domain::runtime_config::MAX_WAIT_SECONDS {
            return Err(ConfigError::Invalid {
                key: "poll wait",
                reason: format!(
                    "at most {} seconds",
                    sextant_domain::runtime_config::MAX_WAIT_SECONDS
                ),
            });
        }
        if let Some(events) = &self.event_gateway {
            let name = events.name();
            sextant_pki::check_serving_names(std::slice::from_ref(&name)).map_err(|e| {
                ConfigError::Invalid {
                    key: "event gateway name",
                    reason: e.to_string(),
                }
            })?;
            if events.crl_refresh.is_zero() {
                return Err(ConfigError::Invalid {
                    key: "event gateway CRL refresh",
                    reason: "must not be zero".into(),
                });
            }
        }
        if self.state_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "state directory",
                reason: "is empty".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNTIME: &str = "7b5e5a7e-2f4c-4d9a-9a53-3c3a7c1f0f11";
    const TENANT_ID: &str = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";

    fn file(extra: &str) -> String {
        format!(
            "# written by the provisioner\n\nCONNECTOR_URL=https://localhost:3000/connector/graphql\n\
             TOKEN = abc123 \nRUNTIME_ID=\"{RUNTIME}\"\nTENANT='{TENANT_ID}'\n{extra}"
        )
    }

    #[test]
    fn parses_an_env_file() {
        let config =
            BootstrapConfig::parse(&file("CA_CERT_FILE=/etc/sextant/ca.crt\nOTHER=x\n")).unwrap();
        assert_eq!(
            config.connector_url.as_str(),
            "https://localhost:3000/connector/graphql"
        );
        assert_eq!(config.token.as_deref(), Some("abc123"));
        assert_eq!(config.runtime_id.to_string(), RUNTIME);
        assert_eq!(config.tenant.to_string(), TENANT_ID);
        assert_eq!(
            config.ca_cert_file.as_deref(),
            Some(Path::new("/etc/sextant/ca.crt"))
        );
        assert!(!format!("{config:?}").contains("abc123"), "token redacted");
    }

    #[test]
    fn token_and_ca_are_optional() {
        let config =
            BootstrapConfig::parse(&file("").replace("TOKEN = abc123 ", "TOKEN=")).unwrap();
        assert_eq!(config.token, None);
        assert_eq!(config.ca_cert_file, None);
    }

    #[test]
    fn refuses_bad_values_clearly() {
        let err = |text: String| BootstrapConfig::parse(&text).unwrap_err().to_string();
        assert_eq!(
            err(file("").replace("CONNECTOR_URL=https://localhost:3000/connector/graphql", "")),
            "CONNECTOR_URL is not set"
        );
        assert!(
            err(file("").replace("https://localhost:3000", "http://localhost:3000"))
                .starts_with("CONNECTOR_URL: must be an https URL")
        );
        assert!(err(file("").replace(RUNTIME, "nope")).starts_with("RUNTIME_ID: not a UUID"));
        assert_eq!(
            err(file("").replace(&format!("TENANT='{TENANT_ID}'"), "")),
            "TENANT is not set"
        );
        assert_eq!(err(file("just words\n")), "-:7: expected KEY=VALUE");
        assert_eq!(err(file("TOKEN=again\n")), "-:7: TOKEN is given twice");
        assert!(
            err(file("").replace("abc123", "\"two words\"")).starts_with("TOKEN: must be one word")
        );
    }

    #[test]
    fn reads_a_file_or_says_which_cannot_be_read() {
        let dir = std::env::temp_dir().join(format!("sextant-agent-config-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("agent.env");
        std::fs::write(&path, file("")).unwrap();
        assert_eq!(
            BootstrapConfig::load(Some(&path)).unwrap().token.as_deref(),
            Some("abc123")
        );
        let missing = dir.join("missing.env");
        let err = BootstrapConfig::from_env_file(&missing).unwrap_err();
        assert!(err.to_string().contains("missing.env"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn agent_config_validation() {
        let bootstrap = BootstrapConfig::parse(&file("")).unwrap();
        let mut config = AgentConfig::new(bootstrap, "/tmp/x");
        assert!(config.validate().is_ok());
        config.console_url = Some("not a url".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("console URL")
        );
        config.console_url = Some("https://console.kyma.local".into());
        config.poll_wait = Duration::from_secs(61);
        assert!(config.validate().is_err());
    }
}
