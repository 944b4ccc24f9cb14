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
        let listener = TcpListener::bind(config.listen)
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
    let mut serving = load_serving(shared, &name);
    let mut crls = load_crls(shared);
    let mut configuration = shared.configuration.subscribe();
    let mut client_serial: Option<String> = None;
    let mut installed: Option<(String, Vec<Vec<u8>>, String)> = None;
    let mut backoff = Backoff::default();
    let mut following = true;
    loop {
        let link = session.link.load_full();
        gateway.upstream.store(Some(Arc::new(Upstream {
            client: link.client.clone(),
            base: link.base.clone(),
        })));
        let renewed_client = client_serial
            .as_ref()
            .is_some_and(|serial| *serial != link.certificate.serial);
        let due = serving
            .as_ref()
            .is_none_or(|s| time::OffsetDateTime::now_utc() >= s.info.renew_at());
        let mut retry_soon = false;
        if due || renewed_client {
            match request_serving(shared, &link, &name).await {
                Ok(new) => {
                    let saved = shared
                        .dir
                        .write(KEY_FILE, new.key_pem.as_bytes())
                        .and_then(|()| shared.dir.write(CERT_FILE, new.cert_pem.as_bytes()));
                    if let Err(e) = saved {
                        tracing::warn!(error = %http::chain(&e), "cannot keep the event gateway's certificate");
                    }
                    tracing::info!(serial = %new.info.serial, not_after = %new.info.not_after, "obtained the event gateway's certificate");
                    serving = Some(new);
                    client_serial = Some(link.certificate.serial.clone());
                }
                Err(Failure::Refused(reason)) => return SessionEnd::Refused(reason),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot obtain the event gateway's certificate; retrying");
                    shared.failure(&e.to_string());
                    retry_soon = true;
                }
            }
        } else if client_serial.is_none() {
            client_serial = Some(link.certificate.serial.clone());
        }
        match fetch_crls(&link).await {
            Ok(fetched) => {
                if fetched != crls {
                    save_crls(shared, &fetched);
                    crls = fetched;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the CRLs; keeping the last ones");
                retry_soon = true;
            }
        }
        // Without a CRL, revoked certificates would pass: nothing is served before one.
        if let Some(serving) = &serving
            && !crls.is_empty()
        {
            let inputs = (serving.cert_pem.clone(), crls.clone(), link.ca_pem.clone());
            if installed.as_ref() != Some(&inputs) {
                let built = sextant_tls::server_config(
                    &serving.cert_pem,
                    &serving.key_pem,
                    sextant_tls::ClientAuth::Required {
                        roots_pem: link.ca_pem.clone(),
                        crls_der: crls
                            .iter()
                            .map(|der| {
                                rustls::pki_types::CertificateRevocationListDer::from(der.clone())
                            })
                            .collect(),
                    },
                )
                .map_err(|e| http::chain(&e))
                .and_then(|config| gateway.install(shared, config));
                match built {
                    Ok(()) => installed = Some(inputs),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot configure the event gateway's TLS");
                        shared.failure(&e);
                        retry_soon = true;
                    }
                }
            }
        }
        let wait = if retry_soon {
            backoff.next_delay()
        } else {
            backoff = Backoff::default();
            gateway.config.crl_refresh
        };
        let deadline = tokio::time::Instant::now() + wait;
        let serial = link.certificate.serial.clone();
        // Until the refresh is due, the configuration changes or the client certificate is
        // renewed (checked every second: a load of the current link).
        loop {
            let tick = tokio::time::Instant::now() + Duration::from_secs(1);
            tokio::select! {
                () = tokio::time::sleep_until(deadline.min(tick)) => {}
                changed = configuration.changed(), if following => {
                    if changed.is_ok() {
                        break;
                    }
                    following = false;
                }
            }
            if tokio::time::Instant::now() >= deadline
                || session.link.load().certificate.serial != serial
            {
                break;
            }
        }
    }
}
