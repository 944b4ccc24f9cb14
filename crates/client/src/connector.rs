//! The Connector client (its GraphQL exactly as in `crates/connector/schema.graphql`).
//!
//! Pairing: [`configuration`] with `Connector-Token: <one-time token>` answers the subject, a
//! CSR token and where the certificate-secured APIs are; a [`CertificateRequest`] makes a
//! P-256 key and a CSR for exactly that subject, and [`sign`] with the CSR token answers the
//! certificate and the CA bundle, which [`CertificateRequest::issued`] checks. Renewal is the
//! same over mTLS without tokens: the current certificate authenticates, the new key is used
//! from then on.

use serde::Deserialize;
use serde_json::json;

use crate::certs::{self, CertError};
use crate::http::{self, CallError, Security};
use crate::state::{Connection, Credentials};

/// The header that carries a one-time or CSR token.
pub const TOKEN_HEADER: &str = "Connector-Token";
/// `configuration`, as in the Connector's schema.
pub const CONFIGURATION: &str = "query { configuration { token { token } certificateSigningRequestInfo { subject keyAlgorithm } managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }";
/// `signCertificateSigningRequest`, as in the Connector's schema.
pub const SIGN: &str = "mutation($csr: String!) { signCertificateSigningRequest(csr: $csr) { certificateChain caCertificate clientCertificate } }";

#[derive(Deserialize)]
struct ConfigurationData {
    configuration: Configuration,
}

/// What `configuration` answers: what the Connector will sign, and where the
/// certificate-secured APIs are.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    token: Option<Token>,
    certificate_signing_request_info: Option<CsrInfo>,
    management_plane_info: Option<ManagementPlaneInfo>,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

#[derive(Deserialize)]
struct CsrInfo {
    subject: String,
}

#[derive(Deserialize)]
struct ManagementPlaneInfo {
    #[serde(rename = "directorURL")]
    director_url: Option<String>,
    #[serde(rename = "certificateSecuredConnectorURL")]
    certificate_secured_connector_url: Option<String>,
}

/// Where the certificate-secured APIs are (`managementPlaneInfo`), both checked to be https
/// URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The certificate-secured Director.
    pub director_url: String,
    /// The certificate-secured Connector.
    pub certificate_secured_connector_url: String,
}

impl Configuration {
    /// The subject the CSR must carry.
    pub fn subject(&self) -> Result<String, String> {
        self.certificate_signing_request_info
            .as_ref()
            .map(|info| info.subject.clone())
            .ok_or_else(|| "the Connector named no subject".to_owned())
    }

    /// The CSR token (answered to a one-time token; not over mTLS).
    pub fn csr_token(&self) -> Result<String, String> {
        self.token
            .as_ref()
            .map(|t| t.token.clone())
            .ok_or_else(|| "the Connector handed out no CSR token".to_owned())
    }

    /// The certificate-secured APIs, if both are named and are https URLs.
    pub fn endpoints(&self) -> Result<Endpoints, String> {
        let info = self
            .management_plane_info
            .as_ref()
            .ok_or("the Connector named no managementPlaneInfo")?;
        let check = |name: &str, url: &Option<String>| -> Result<String, String> {
            let url = url
                .as_deref()
                .ok_or_else(|| format!("the Connector named no {name}"))?;
            let parsed =
                url::Url::parse(url).map_err(|e| format!("{name} {url:?} is not a URL: {e}"))?;
            if parsed.scheme() != "https" || parsed.host_str().is_none() {
                return Err(format!("{name} {url:?} is not an https URL"));
            }
            Ok(url.to_owned())
        };
        Ok(Endpoints {
            director_url: check("directorURL", &info.director_url)?,
            certificate_secured_connector_url: check(
                "certificateSecuredConnectorURL",
                &info.certificate_secured_connector_url,
            )?,
        })
    }
}

/// What `signCertificateSigningRequest` answers: the certificate and the CA bundle, each
/// base64 of PEM (checked by [`CertificateRequest::issued`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signed {
    ca_certificate: String,
    client_certificate: String,
}

#[derive(Deserialize)]
struct SignData {
    #[serde(rename = "signCertificateSigningRequest")]
    result: Signed,
}

fn decode<T: serde::de::DeserializeOwned>(data: serde_json::Value) -> Result<T, CallError> {
    serde_json::from_value(data)
        .map_err(|e| CallError::Malformed(format!("unexpected answer from the Connector: {e}")))
}

/// The token header of a call with `token`, or none (over mTLS), and the side it goes to.
fn token_header(token: Option<&str>) -> (Vec<(&'static str, &str)>, Security) {
    match token {
        Some(token) => (vec![(TOKEN_HEADER, token)], Security::Token),
        None => (Vec::new(), Security::Certificate),
    }
}

/// `configuration` at `url`: with a one-time `token` at the token-secured Connector, or
/// without one over mTLS (`client` presents the certificate).
pub async fn configuration(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<Configuration, CallError> {
    let (headers, security) = token_header(token);
    let data = http::graphql(client, url, &headers, CONFIGURATION, json!({}), security).await?;
    Ok(decode::<ConfigurationData>(data)?.configuration)
}

/// `signCertificateSigningRequest` of `csr`: with the CSR token at the token-secured
/// Connector, or without one over mTLS (renewal).
pub async fn sign(
    client: &reqwest::Client,
    url: &str,
    csr_token: Option<&str>,
    csr: &str,
) -> Result<Signed, CallError> {
    let (headers, security) = token_header(csr_token);
    let data = http::graphql(client, url, &headers, SIGN, json!({"csr": csr}), security).await?;
    Ok(decode::<SignData>(data)?.result)
}

/// A new P-256 key and a CSR for the subject the Connector named, and what the certificate
/// will be used with.
pub struct CertificateRequest {
    key: rcgen::KeyPair,
    csr: String,
    subject: String,
    endpoints: Endpoints,
}

impl CertificateRequest {
    /// Makes the key and the CSR for `subject`.
    pub fn new(subject: String, endpoints: Endpoints) -> Result<CertificateRequest, CertError> {
        let (key, csr) = certs::key_and_csr(&subject)?;
        Ok(CertificateRequest {
            key,
            csr,
            subject,
            endpoints,
        })
    }

    /// The CSR, as `signCertificateSigningRequest` takes it (base64 of PEM).
    pub fn csr(&self) -> &str {
        &self.csr
    }

    /// Checks what the Connector signed (the certificate certifies this request's key, the
    /// CA bundle holds certificates) and bundles it with the key: the credentials and the
    /// connection to record with them.
    pub fn issued(self, signed: Signed) -> Result<(Credentials, Connection), CertError> {
        let cert_pem = certs::decode_pem_field("clientCertificate", &signed.client_certificate)?;
        let ca_pem = certs::decode_pem_field("caCertificate", &signed.ca_certificate)?;
        let key_pem = self.key.serialize_pem();
        let certificate = certs::certificate_info(&cert_pem, Some(&key_pem))?;
        certs::check_ca_bundle(&ca_pem)?;
        Ok((
            Credentials {
                key_pem,
                cert_pem,
                ca_pem,
            },
            Connection {
                director_url: self.endpoints.director_url,
                certificate_secured_connector_url: self.endpoints.certificate_secured_connector_url,
                subject: self.subject,
                certificate,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: serde_json::Value) -> Configuration {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_configuration_names_what_to_sign_and_where_to_go() {
        let configured = answer(json!({
            "token": {"token": "csr-token"},
            "certificateSigningRequestInfo": {"subject": "O=Org,CN=abc", "keyAlgorithm": "ECDSA"},
            "managementPlaneInfo": {
                "directorURL": "https://mp:3001/director/graphql",
                "certificateSecuredConnectorURL": "https://mp:3001/connector/graphql"
            }
        }));
        assert_eq!(configured.subject().unwrap(), "O=Org,CN=abc");
        assert_eq!(configured.csr_token().unwrap(), "csr-token");
        assert_eq!(
            configured.endpoints().unwrap(),
            Endpoints {
                director_url: "https://mp:3001/director/graphql".into(),
                certificate_secured_connector_url: "https://mp:3001/connector/graphql".into(),
            }
        );
    }

    #[test]
    fn a_configuration_without_usable_endpoints_says_why() {
        let empty = answer(json!({}));
        assert_eq!(
            empty.subject().unwrap_err(),
            "the Connector named no subject"
        );
        assert_eq!(
            empty.csr_token().unwrap_err(),
            "the Connector handed out no CSR token"
        );
        assert_eq!(
            empty.endpoints().unwrap_err(),
            "the Connector named no managementPlaneInfo"
        );
        let plain = answer(json!({"managementPlaneInfo": {
            "directorURL": "http://mp/director/graphql",
            "certificateSecuredConnectorURL": "https://mp/connector/graphql"
        }}));
        assert!(
            plain
                .endpoints()
                .unwrap_err()
                .ends_with("is not an https URL")
        );
    }

    #[test]
    fn an_issued_certificate_must_certify_the_request_s_key() {
        let endpoints = Endpoints {
            director_url: "https://mp/director/graphql".into(),
            certificate_secured_connector_url: "https://mp/connector/graphql".into(),
        };
        let request = CertificateRequest::new("O=Org,CN=abc".into(), endpoints.clone()).unwrap();
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let foreign = rcgen::CertificateParams::default()
            .self_signed(&other)
            .unwrap()
            .pem();
        let b64 = |pem: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(pem)
        };
        let signed = Signed {
            ca_certificate: b64(&foreign),
            client_certificate: b64(&foreign),
        };
        assert!(request.issued(signed).is_err(), "another key's certificate");

        let request = CertificateRequest::new("O=Org,CN=abc".into(), endpoints).unwrap();
        let own = rcgen::CertificateParams::default()
            .self_signed(&request.key)
            .unwrap()
            .pem();
        let signed = Signed {
            ca_certificate: b64(&foreign),
            client_certificate: b64(&own),
        };
        let (credentials, connection) = request.issued(signed).unwrap();
        assert_eq!(credentials.cert_pem, own);
        assert_eq!(connection.subject, "O=Org,CN=abc");
        assert_eq!(connection.director_url, "https://mp/director/graphql");
    }
}
