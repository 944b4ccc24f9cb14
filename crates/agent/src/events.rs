//! The runtime's event gateway, run by the agent (with [`EventGatewayConfig`]).
//!
//! The agent binds the listener at start (its port goes into the `runtime/event_service_url`
//! label), and once it holds a client certificate it
//! - obtains a TLS server certificate for the gateway from the management plane's runtime
//!   serving CA (`POST /connector/runtime/serving-certificate`, a new P-256 key), keeps it in
//!   the state directory (`event-gateway.key`, `event-gateway.crt`, 0600, written atomically,
//!   the key first: a certificate that does not match its key is replaced), and renews it at
//!   two thirds of its life and whenever the client certificate is renewed;
//! - fetches the management plane's CRLs (`/connector/crl` and, during a CA rotation,
//!   `/connector/crl/previous`) every [`EventGatewayConfig::crl_refresh`] and with
//!   every configuration change, keeping the last ones (also on disk,
//!   `event-gateway-crls.json`) when they cannot be fetched;
//! - builds the gateway's TLS configuration: that certificate, client certificates required
//!   from the CA bundle of its own pairing (which follows CA rotations through renewal),
//!   checked against those CRLs; and swaps it in without a restart (`sextant_tls::serve`
//!   loads it per connection).
//!
//! The routes are `sextant_gateway::events`; they follow the applied configuration and ask
//! the management plane (`GET /runtime/application-clients/{clientID}`) which application a
//! client certificate stands for.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use base64::Engine as _;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use sextant_gateway::ConfigurationFeed;
use sextant_gateway::events::{ResolveClient, Resolved};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use sextant_client::certs::{self, CertificateInfo};
use sextant_client::http::{self, Security};

use crate::backoff::Backoff;
use crate::config::EventGatewayConfig;
use crate::failure::Failure;
use crate::session::{Link, Session, SessionEnd, Shared};

/// The gateway's key.
pub const KEY_FILE: &str = "event-gateway.key";
/// The gateway's certificate.
pub const CERT_FILE: &str = "event-gateway.crt";
/// The last CRLs fetched.
pub const CRLS_FILE: &str = "event-gateway-crls.json";
/// The largest CRL read.
const MAX_CRL_BYTES: usize = 16 * 1024 * 1024;
/// Time for a call to the management plane.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the mTLS side of the agent is now: for the client lookups of the gateway.
struct Upstream {
    client: reqwest::Client,
    base: String,
}

/// The event gateway of a running agent.
pub(crate) struct EventGateway {
    pub config: EventGatewayConfig,
    /// Until the first TLS configuration is ready.
    listener: Mutex<Option<TcpListener>>,
    /// The URL applications reach it at.
    pub url: String,
    upstream: Arc<ArcSwapOption<Upstream>>,
    tls: Mutex<Option<sextant_tls::SharedServerConfig>>,
    /// Stops the gateway (cancelled when the agent stops).
    pub shutdown: CancellationToken,
}

/// The URL of a gateway on `port` known as `name`.
fn url_of(name: &str, port: u16) -> String {
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("https://[{ip}]:{port}"),
        _ => format!("https://{name}:{port}"),
    }
}

impl EventGateway {
    /// Binds the listener (nothing is served before a certificate is at hand).
    pub async fn bind(config: EventGatewayConfig) -> Result<EventGateway, String> {
        let listener = crate::listen::bind_patiently(config.listen, crate::listen::BIND_PATIENCE)
            .await
            .map_err(|e| format!("the event gateway cannot listen on {}: {e}", config.listen))?;
        let port = listener
            .local_addr()
            .map(|a: SocketAddr| a.port())
            .map_err(|e| format!("the event gateway's address: {e}"))?;
        let url = url_of(&config.name(), port);
        Ok(EventGateway {
            config,
            listener: Mutex::new(Some(listener)),
            url,
            upstream: Arc::default(),
            tls: Mutex::new(None),
            shutdown: CancellationToken::new(),
        })
    }

    fn resolver(&self) -> ResolveClient {
        let upstream = self.upstream.clone();
        Arc::new(move |client: Uuid| -> Resolved {
            let upstream = upstream.load_full();
            Box::pin(async move {
                let upstream = upstream.ok_or("not connected to the management plane")?;
                let response = upstream
                    .client
                    .get(format!(
                        "{}/runtime/application-clients/{client}",
                        upstream.base
                    ))
                    .timeout(CALL_TIMEOUT)
                    .send()
                    .await
                    .map_err(|e| http::chain(&e))?;
                match response.status().as_u16() {
                    200 => {
                        let body: serde_json::Value =
                            response.json().await.map_err(|e| http::chain(&e))?;
                        body["applicationID"]
                            .as_str()
                            .and_then(|id| Uuid::parse_str(id).ok())
                            .map(Some)
                            .ok_or_else(|| "the answer names no applicationID".to_owned())
                    }
                    404 => Ok(None),
                    status => Err(format!("HTTP {status} from the management plane")),
                }
            })
        })
    }

    /// Serves with `config`: the first time, starts the listener's accept loop.
    fn install(&self, shared: &Shared, config: Arc<rustls::ServerConfig>) -> Result<(), String> {
        let mut tls = self.tls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(current) = tls.as_ref() {
            current.store(config);
            return Ok(());
        }
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or("the event gateway's listener is gone")?;
        let router = sextant_gateway::events::event_gateway(
            shared.configuration.subscribe(),
            self.config.sink.clone(),
            self.resolver(),
        )?;
        let swap: sextant_tls::SharedServerConfig = Arc::new(ArcSwap::new(config));
        *tls = Some(swap.clone());
        let shutdown = self.shutdown.clone();
        tracing::info!(url = %self.url, "the event gateway is serving");
        tokio::spawn(async move {
            if let Err(e) = sextant_tls::serve(listener, swap, router, shutdown).await {
                tracing::error!(error = %e, "the event gateway stopped");
            }
        });
        Ok(())
    }
}

/// A serving certificate with its key.
#[derive(Clone, PartialEq)]
struct Serving {
    cert_pem: String,
    key_pem: String,
    info: CertificateInfo,
}

/// The certificate of the state directory, if it is usable for `name`.
fn load_serving(shared: &Shared, name: &str) -> Option<Serving> {
    let cert_pem = std::fs::read_to_string(shared.dir.path(CERT_FILE)).ok()?;
    let key_pem = std::fs::read_to_string(shared.dir.path(KEY_FILE)).ok()?;
    let info = certs::certificate_info(&cert_pem, Some(&key_pem)).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    // A certificate without this runtime's id (issued before certificates carried it) is
    // replaced: applications accept only one that names the runtime.
    let runtime = sextant_pki::serving_certificate_runtime(&pem.contents).ok()?;
    if runtime != shared.config.bootstrap.runtime_id {
        return None;
    }
    let names = cert.subject_alternative_name().ok()??;
    let wanted_ip = name.parse::<IpAddr>().ok();
    let covered = names.value.general_names.iter().any(|n| match n {
        x509_parser::extensions::GeneralName::DNSName(dns) => dns.eq_ignore_ascii_case(name),
        x509_parser::extensions::GeneralName::IPAddress(bytes) => match wanted_ip {
            Some(IpAddr::V4(ip)) => *bytes == ip.octets().as_slice(),
            Some(IpAddr::V6(ip)) => *bytes == ip.octets().as_slice(),
            None => false,
        },
        _ => false,
    });
    (covered && time::OffsetDateTime::now_utc() < info.renew_at()).then_some(Serving {
        cert_pem,
        key_pem,
        info,
    })
}

/// Asks the management plane for a serving certificate for `name`.
async fn request_serving(shared: &Shared, link: &Link, name: &str) -> Result<Serving, Failure> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| Failure::Transient(format!("cannot make a key: {e}")))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        shared.config.bootstrap.runtime_id.to_string(),
    );
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| Failure::Transient(format!("cannot make a CSR: {e}")))?;
    let response = link
        .client
        .post(format!(
            "{}/connector/runtime/serving-certificate",
            link.base
        ))
        .timeout(CALL_TIMEOUT)
        .json(&serde_json::json!({"csr": csr, "names": [name]}))
        .send()
        .await
        .map_err(|e| http::transport_error(&e, Security::Certificate))?;
    let status = response.status();
    let body = http::read_limited(response, 1024 * 1024, Security::Certificate).await?;
    if !status.is_success() {
        return Err(http::status_error(status, &body, Security::Certificate).into());
    }
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Failure::Transient(format!("the answer is not JSON: {e}")))?;
    let cert_pem = body["certificate"]
        .as_str()
        .ok_or_else(|| Failure::Transient("the answer has no certificate".into()))?
        .to_owned();
    let key_pem = key.serialize_pem();
    let info = certs::certificate_info(&cert_pem, Some(&key_pem))
        .map_err(|e| Failure::Transient(e.to_string()))?;
    Ok(Serving {
        cert_pem,
        key_pem,
        info,
    })
}

async fn fetch(link: &Link, path: &str) -> Result<Option<Vec<u8>>, String> {
    let response = link
        .client
        .get(format!("{}{path}", link.base))
        .timeout(CALL_TIMEOUT)
        .send()
        .await
        .map_err(|e| http::chain(&e))?;
    match response.status().as_u16() {
        200 => http::read_limited(response, MAX_CRL_BYTES, Security::Certificate)
            .await
            .map(Some)
            .map_err(|e| e.to_string()),
        404 => Ok(None),
        status => Err(format!("HTTP {status} for {path}")),
    }
}

/// The CA's CRL and, during a rotation, the previous CA's.
async fn fetch_crls(link: &Link) -> Result<Vec<Vec<u8>>, String> {
    let current = fetch(link, "/connector/crl")
        .await?
        .ok_or("the management plane serves no CRL")?;
    let mut crls = vec![current];
    crls.extend(fetch(link, "/connector/crl/previous").await?);
    Ok(crls)
}

fn load_crls(shared: &Shared) -> Vec<Vec<u8>> {
    std::fs::read(shared.dir.path(CRLS_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
        .map(|list| {
            list.iter()
                .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn save_crls(shared: &Shared, crls: &[Vec<u8>]) {
    let list: Vec<String> = crls
        .iter()
        .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
        .collect();
    let written = serde_json::to_vec(&list)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            shared
                .dir
                .write(CRLS_FILE, &bytes)
                .map_err(|e| http::chain(&e))
        });
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot keep the CRLs in the state directory");
    }
}

/// What the maintenance of the gateway keeps from one round to the next.
struct Maintained {
    /// The name the serving certificate must cover.
    name: String,
    serving: Option<Serving>,
    /// The last CRLs fetched (or read from the state directory).
    crls: Vec<Vec<u8>>,
    /// The serial of the client certificate the serving certificate was obtained with.
    client_serial: Option<String>,
    /// What the installed TLS configuration was built from.
    installed: Option<TlsInputs>,
}

/// What a TLS configuration of the gateway is built from: the serving certificate, the CRLs
/// and the CA bundle of the pairing.
#[derive(PartialEq)]
struct TlsInputs {
    cert_pem: String,
    crls: Vec<Vec<u8>>,
    ca_pem: String,
}

/// How a round of maintenance went.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Round {
    /// Everything is current: next round at the CRL refresh.
    Done,
    /// Something failed: next round after a backoff.
    RetrySoon,
}

impl Round {
    fn and(self, other: Round) -> Round {
        if self == Round::RetrySoon {
            self
        } else {
            other
        }
    }
}

/// Whether a new serving certificate is needed: none yet, two thirds of its life are past,
/// or the client certificate it was obtained with has since been renewed.
fn serving_due(
    serving: Option<&Serving>,
    client_serial: Option<&str>,
    link_serial: &str,
    now: time::OffsetDateTime,
) -> bool {
    let renewed_client = client_serial.is_some_and(|serial| serial != link_serial);
    let expiring = serving.is_none_or(|s| now >= s.info.renew_at());
    expiring || renewed_client
}

/// Obtains a new serving certificate when one is due and keeps it in the state directory.
/// A refusal of the client certificate ends the session.
async fn renew_serving(
    shared: &Shared,
    link: &Link,
    state: &mut Maintained,
) -> Result<Round, SessionEnd> {
    let link_serial = &link.certificate.serial;
    if !serving_due(
        state.serving.as_ref(),
        state.client_serial.as_deref(),
        link_serial,
        time::OffsetDateTime::now_utc(),
    ) {
        state
            .client_serial
            .get_or_insert_with(|| link_serial.clone());
        return Ok(Round::Done);
    }
    match request_serving(shared, link, &state.name).await {
        Ok(new) => {
            let saved = shared
                .dir
                .write(KEY_FILE, new.key_pem.as_bytes())
                .and_then(|()| shared.dir.write(CERT_FILE, new.cert_pem.as_bytes()));
            if let Err(e) = saved {
                tracing::warn!(error = %http::chain(&e), "cannot keep the event gateway's certificate");
            }
            tracing::info!(serial = %new.info.serial, not_after = %new.info.not_after, "obtained the event gateway's certificate");
            state.serving = Some(new);
            state.client_serial = Some(link_serial.clone());
            Ok(Round::Done)
        }
        Err(Failure::Refused(reason)) => Err(SessionEnd::Refused(reason)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot obtain the event gateway's certificate; retrying");
            shared.failure(&e.to_string());
            Ok(Round::RetrySoon)
        }
    }
}

/// Fetches the CRLs, keeping them on disk when they changed and the last ones when they
/// cannot be fetched.
async fn refresh_crls(shared: &Shared, link: &Link, state: &mut Maintained) -> Round {
    match fetch_crls(link).await {
        Ok(fetched) => {
            if fetched != state.crls {
                save_crls(shared, &fetched);
                state.crls = fetched;
            }
            Round::Done
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot fetch the CRLs; keeping the last ones");
            Round::RetrySoon
        }
    }
}

/// What the TLS configuration should be built from now, if the gateway may serve at all:
/// without a CRL revoked certificates would pass, so nothing is served before one.
fn tls_inputs(state: &Maintained, ca_pem: &str) -> Option<TlsInputs> {
    let serving = state.serving.as_ref()?;
    (!state.crls.is_empty()).then(|| TlsInputs {
        cert_pem: serving.cert_pem.clone(),
        crls: state.crls.clone(),
        ca_pem: ca_pem.to_owned(),
    })
}

/// Builds and installs the gateway's TLS configuration when what it is built from changed.
fn configure_tls(
    shared: &Shared,
    gateway: &EventGateway,
    link: &Link,
    state: &mut Maintained,
) -> Round {
    let (Some(serving), Some(inputs)) = (&state.serving, tls_inputs(state, &link.ca_pem)) else {
        return Round::Done;
    };
    if state.installed.as_ref() == Some(&inputs) {
        return Round::Done;
    }
    let built = sextant_tls::server_config(
        &serving.cert_pem,
        &serving.key_pem,
        sextant_tls::ClientAuth::Required {
            roots_pem: inputs.ca_pem.clone(),
            crls_der: inputs
                .crls
                .iter()
                .map(|der| rustls::pki_types::CertificateRevocationListDer::from(der.clone()))
                .collect(),
        },
    )
    .map_err(|e| http::chain(&e))
    .and_then(|config| gateway.install(shared, config));
    match built {
        Ok(()) => {
            state.installed = Some(inputs);
            Round::Done
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot configure the event gateway's TLS");
            shared.failure(&e);
            Round::RetrySoon
        }
    }
}

/// How long to wait before the next round: the CRL refresh, or a backoff after a failure.
fn next_wait(round: Round, backoff: &mut Backoff, refresh: Duration) -> Duration {
    match round {
        Round::RetrySoon => backoff.next_delay(),
        Round::Done => {
            backoff.reset();
            refresh
        }
    }
}

/// Waits until `deadline`, a configuration change or the renewal of the client certificate
/// with `serial` (checked every second: a load of the current link). `following` turns false
/// when the configuration channel closes.
async fn wait_for_next_round(
    session: &Session,
    configuration: &mut ConfigurationFeed,
    following: &mut bool,
    deadline: tokio::time::Instant,
    serial: &str,
) {
    loop {
        let tick = tokio::time::Instant::now() + Duration::from_secs(1);
        tokio::select! {
            () = tokio::time::sleep_until(deadline.min(tick)) => {}
            changed = configuration.changed(), if *following => {
                if changed.is_ok() {
                    return;
                }
                *following = false;
            }
        }
        if tokio::time::Instant::now() >= deadline
            || session.link.load().certificate.serial != serial
        {
            return;
        }
    }
}

/// Keeps the event gateway's certificate, CRLs and TLS configuration current while the
/// session lasts; ends only when the management plane refuses the client certificate.
pub(crate) async fn maintain(
    shared: &Shared,
    session: &Session,
    gateway: Option<&EventGateway>,
) -> SessionEnd {
    let Some(gateway) = gateway else {
        return std::future::pending().await;
    };
    let name = gateway.config.name();
    let mut state = Maintained {
        serving: load_serving(shared, &name),
        name,
        crls: load_crls(shared),
        client_serial: None,
        installed: None,
    };
    let mut configuration = shared.configuration.subscribe();
    let mut backoff = Backoff::default();
    let mut following = true;
    loop {
        let link = session.link.load_full();
        gateway.upstream.store(Some(Arc::new(Upstream {
            client: link.client.clone(),
            base: link.base.clone(),
        })));
        let renewed = match renew_serving(shared, &link, &mut state).await {
            Ok(round) => round,
            Err(end) => return end,
        };
        let crls = refresh_crls(shared, &link, &mut state).await;
        let tls = configure_tls(shared, gateway, &link, &mut state);
        let round = renewed.and(crls).and(tls);
        let wait = next_wait(round, &mut backoff, gateway.config.crl_refresh);
        let deadline = tokio::time::Instant::now() + wait;
        wait_for_next_round(
            session,
            &mut configuration,
            &mut following,
            deadline,
            &link.certificate.serial,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn serving(not_before: i64, not_after: i64) -> Serving {
        Serving {
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
            info: CertificateInfo {
                serial: "aa".into(),
                not_before: OffsetDateTime::from_unix_timestamp(not_before).unwrap(),
                not_after: OffsetDateTime::from_unix_timestamp(not_after).unwrap(),
            },
        }
    }

    fn maintained(serving: Option<Serving>, crls: Vec<Vec<u8>>) -> Maintained {
        Maintained {
            name: "localhost".into(),
            serving,
            crls,
            client_serial: None,
            installed: None,
        }
    }

    #[test]
    fn a_serving_certificate_is_due_when_missing_old_or_its_client_renewed() {
        let at = |t| OffsetDateTime::from_unix_timestamp(t).unwrap();
        let fresh = serving(0, 300);
        // Renewed at two thirds of its life (200).
        assert!(serving_due(None, None, "c1", at(10)));
        assert!(!serving_due(Some(&fresh), None, "c1", at(199)));
        assert!(serving_due(Some(&fresh), None, "c1", at(200)));
        assert!(!serving_due(Some(&fresh), Some("c1"), "c1", at(10)));
        assert!(serving_due(Some(&fresh), Some("c1"), "c2", at(10)));
    }

    #[test]
    fn nothing_is_served_without_a_certificate_and_a_crl() {
        assert!(tls_inputs(&maintained(None, vec![vec![1]]), "CA").is_none());
        assert!(tls_inputs(&maintained(Some(serving(0, 300)), vec![]), "CA").is_none());
        let inputs = tls_inputs(&maintained(Some(serving(0, 300)), vec![vec![1]]), "CA");
        assert!(inputs.is_some_and(|i| i
            == TlsInputs {
                cert_pem: "CERT".into(),
                crls: vec![vec![1]],
                ca_pem: "CA".into(),
            }));
    }

    #[test]
    fn a_failed_part_makes_the_round_retry_soon() {
        use Round::{Done, RetrySoon};
        assert_eq!(Done.and(Done), Done);
        assert_eq!(RetrySoon.and(Done), RetrySoon);
        assert_eq!(Done.and(RetrySoon), RetrySoon);
        let refresh = Duration::from_secs(30);
        let mut backoff = Backoff::default();
        assert!(next_wait(RetrySoon, &mut backoff, refresh) <= crate::backoff::BASE);
        assert!(next_wait(RetrySoon, &mut backoff, refresh) <= 2 * crate::backoff::BASE);
        assert_eq!(next_wait(Done, &mut backoff, refresh), refresh);
        // A success starts the backoff over.
        assert_eq!(backoff.ceiling(), crate::backoff::BASE);
    }
}
