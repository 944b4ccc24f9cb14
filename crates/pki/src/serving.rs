//! Signing a runtime's CSR for its event gateway's serving certificate.
//!
//! These certificates come from a CA of their own (the runtime serving CA), never from the
//! CA that signs client certificates and the management plane's listeners: a runtime holding
//! a `localhost` certificate of that CA could otherwise pass itself off as the management
//! plane to applications. As for client CSRs, nothing of the CSR is kept but its key (after
//! its proof of possession is verified): the CA sets the subject (`CN` = the runtime), the
//! runtime's id as a URI name ([`runtime_uri`]), the names it was asked for (checked here, and
//! only names bound to that runtime by the [`ServingNamePolicy`]), serverAuth only, not a CA,
//! a random serial and the validity of its policy.
//!
//! A host name alone cannot tell runtimes apart (local runtimes all serve on 127.0.0.1, and
//! DNS can be spoofed), so a client that means to reach one runtime checks the id in the
//! certificate ([`serving_certificate_runtime`]) besides the name.

use std::net::IpAddr;
use std::time::Duration;

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::FromDer;

use uuid::Uuid;

use crate::csr::client_key;
use crate::serial::{random_serial, validity_window};
use crate::{CertificateAuthority, CsrError, IssuedCertificate, MAX_CSR_PEM_BYTES};

/// The most names a serving certificate carries.
pub const MAX_SERVING_NAMES: usize = 10;
/// The longest DNS name accepted (RFC 1035).
const MAX_DNS_NAME: usize = 253;

/// Why the names asked for a serving certificate are refused. The messages are for the
/// client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServingNameError {
    /// No name at all.
    #[error("names: at least one DNS name or IP address is required")]
    None,
    /// More than [`MAX_SERVING_NAMES`].
    #[error("names: at most {MAX_SERVING_NAMES} names")]
    TooMany,
    /// A wildcard.
    #[error("names: {0:?}: wildcards are not issued")]
    Wildcard(String),
    /// Neither an IP address nor a valid DNS name.
    #[error("names: {0:?} is neither an IP address nor a valid DNS name")]
    Invalid(String),
    /// A valid name that is not bound to the runtime asking.
    #[error(
        "names: {0:?} is not bound to this runtime: a runtime's serving certificate names \
         <runtime id>.<domain> for a domain the management plane is configured with, or a \
         loopback address if loopback names are allowed"
    )]
    NotBound(String),
}

/// The URI name a runtime's serving certificate carries: `urn:sextant:runtime:<id>`.
pub fn runtime_uri(runtime: Uuid) -> String {
    format!("urn:sextant:runtime:{}", runtime.as_hyphenated())
}

/// Which DNS names and IP addresses the runtime serving CA binds to a runtime. Names are
/// bound by the operator, never chosen by a tenant: a tenant could otherwise claim another
/// tenant's host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServingNamePolicy {
    /// `<runtime id>.<domain>` is bound to each runtime for each of these domains (lowercase,
    /// no leading or trailing dot).
    pub domains: Vec<String>,
    /// Whether `localhost`, `127.0.0.0/8` and `::1` are bound to every runtime: they name no
    /// host beyond the machine itself (runtimes of the local provider serve there), so only
    /// the runtime id in the certificate tells those runtimes apart.
    pub allow_loopback: bool,
}

impl ServingNamePolicy {
    /// A policy with these domains (checked as DNS names; a leading `.` is dropped).
    pub fn new(domains: &[String], allow_loopback: bool) -> Result<Self, ServingNameError> {
        let mut checked = Vec::with_capacity(domains.len());
        for domain in domains {
            let domain = domain.trim().trim_start_matches('.');
            match serving_name(domain)? {
                SanType::DnsName(_) => checked.push(domain.to_ascii_lowercase()),
                _ => return Err(ServingNameError::Invalid(domain.to_owned())),
            }
        }
        Ok(ServingNamePolicy {
            domains: checked,
            allow_loopback,
        })
    }

    /// Whether `san` (as [`check_serving_names`] answers it) is bound to `runtime`.
    pub fn permits(&self, runtime: Uuid, san: &SanType) -> bool {
        match san {
            SanType::IpAddress(ip) => self.allow_loopback && ip.is_loopback(),
            SanType::DnsName(dns) => {
                let name = dns.as_str();
                if name == "localhost" {
                    return self.allow_loopback;
                }
                let id = runtime.as_hyphenated().to_string();
                self.domains.iter().any(|domain| {
                    name.strip_suffix(domain.as_str())
                        .and_then(|head| head.strip_suffix('.'))
                        .is_some_and(|head| head == id)
                })
            }
            _ => false,
        }
    }

    /// The names bound to `runtime` besides loopback ones: `<runtime id>.<domain>`.
    pub fn bound_names(&self, runtime: Uuid) -> Vec<String> {
        self.domains
            .iter()
            .map(|domain| format!("{}.{domain}", runtime.as_hyphenated()))
            .collect()
    }
}

/// Why a certificate names no runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ServingIdentityError {
    /// The bytes are not one DER certificate.
    #[error("the server certificate cannot be read")]
    Unreadable,
    /// No runtime URI name, or more than one.
    #[error("the server certificate names no runtime (or more than one)")]
    NoRuntime,
}

/// The runtime a serving certificate (DER) was issued to: the one [`runtime_uri`] name among
/// its subject alternative names. The caller has verified the chain.
pub fn serving_certificate_runtime(der: &[u8]) -> Result<Uuid, ServingIdentityError> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|_| ServingIdentityError::Unreadable)?;
    if !rest.is_empty() {
        return Err(ServingIdentityError::Unreadable);
    }
    let sans = cert
        .subject_alternative_name()
        .map_err(|_| ServingIdentityError::Unreadable)?
        .ok_or(ServingIdentityError::NoRuntime)?;
    let mut runtimes = sans
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::URI(uri) => {
                uri.strip_prefix("urn:sextant:runtime:")
            }
            _ => None,
        });
    match (runtimes.next(), runtimes.next()) {
        // Exactly one: two could make two readers disagree on whose certificate this is.
        (Some(id), None) => Uuid::parse_str(id).map_err(|_| ServingIdentityError::NoRuntime),
        _ => Err(ServingIdentityError::NoRuntime),
    }
}

/// One checked name: an IP literal or a DNS name (lowercased).
fn serving_name(name: &str) -> Result<SanType, ServingNameError> {
    if name.contains('*') {
        return Err(ServingNameError::Wildcard(name.to_owned()));
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = || ServingNameError::Invalid(name.chars().take(64).collect());
    if name.is_empty() || name.len() > MAX_DNS_NAME || name.ends_with('.') {
        return Err(invalid());
    }
    // The syntax rustls checks when it matches the name, so a name accepted here is one a
    // client can connect to.
    rustls_pki_types::DnsName::try_from(name).map_err(|_| invalid())?;
    let dns = name
        .to_ascii_lowercase()
        .try_into()
        .map_err(|_| invalid())?;
    Ok(SanType::DnsName(dns))
}

/// Checks the names of a serving certificate: 1 to [`MAX_SERVING_NAMES`] IP addresses or DNS
/// names, no wildcards; duplicates are dropped.
pub fn check_serving_names(names: &[String]) -> Result<Vec<SanType>, ServingNameError> {
    if names.is_empty() {
        return Err(ServingNameError::None);
    }
    if names.len() > MAX_SERVING_NAMES {
        return Err(ServingNameError::TooMany);
    }
    let mut sans: Vec<SanType> = Vec::with_capacity(names.len());
    for name in names {
        let san = serving_name(name.trim())?;
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    Ok(sans)
}

/// Why a serving certificate was not issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServingError {
    /// The CSR.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// The names.
    #[error(transparent)]
    Names(#[from] ServingNameError),
}

impl CertificateAuthority {
    /// Signs a runtime's CSR (PEM) for a TLS server certificate: `CN` = the runtime's id, the
    /// URI name [`runtime_uri`], one SAN per name of `names` (checked with
    /// [`check_serving_names`], each bound to the runtime by `policy`), EKU serverAuth only,
    /// key usage digitalSignature, not a CA, valid for `validity`. The CSR's key must be ECDSA
    /// P-256 or RSA with 2048 to 4096 bits; its subject, names and extensions are ignored.
    pub fn sign_serving_csr(
        &self,
        csr_pem: &str,
        runtime: Uuid,
        names: &[String],
        policy: &ServingNamePolicy,
        validity: Duration,
    ) -> Result<IssuedCertificate, ServingError> {
        let mut sans = check_serving_names(names)?;
        if let Some(unbound) = sans.iter().find(|san| !policy.permits(runtime, san)) {
            let name = match unbound {
                SanType::IpAddress(ip) => ip.to_string(),
                SanType::DnsName(dns) => dns.as_str().to_owned(),
                _ => String::new(),
            };
            return Err(ServingNameError::NotBound(name).into());
        }
        let uri = runtime_uri(runtime)
            .try_into()
            .map_err(|_| CsrError::Signing)?;
        sans.push(SanType::URI(uri));
        if csr_pem.len() > MAX_CSR_PEM_BYTES {
            return Err(CsrError::TooLarge.into());
        }
        let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
            .map_err(|_| CsrError::NotPem)?;
        let (rest, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(der.as_ref())
                .map_err(|_| CsrError::Unparsable)?;
        if !rest.is_empty() {
            return Err(CsrError::Unparsable.into());
        }
        // The key first: an oversized or exotic key is refused before any signature is
        // verified with it.
        let key = client_key(&parsed.certification_request_info.subject_pki)?;
        let mut request = CertificateSigningRequestParams::from_der(&der).map_err(|e| match e {
            rcgen::Error::InvalidCertificationRequestSignature => CsrError::BadSignature,
            rcgen::Error::UnsupportedExtension => {
                CsrError::Unsupported("it requests an extension the CA does not support".into())
            }
            rcgen::Error::UnsupportedSignatureAlgorithm => {
                CsrError::UnsupportedKey("its signature algorithm".into())
            }
            _ => CsrError::Unparsable,
        })?;

        let (not_before, not_after) = validity_window(validity).map_err(|_| CsrError::Signing)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, runtime.as_hyphenated().to_string());
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serial = random_serial().map_err(|_| CsrError::Signing)?;
        params.serial_number = Some(serial.clone());
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        // Everything the CSR asked for is replaced.
        request.params = params;
        let cert = request
            .signed_by(self.issuer())
            .map_err(|_| CsrError::Signing)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            serial: serial.to_bytes(),
            not_before,
            not_after,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PublicKeyData};
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::*;
    use crate::generate_ca;

    const DAY: Duration = Duration::from_secs(86400);
    const RUNTIME: Uuid = uuid::uuid!("7b5e5a7e-2f4c-4d9a-9a53-3c3a7c1f0f11");
    const OTHER: Uuid = uuid::uuid!("0b3c0c0e-5e7a-4c55-9a3d-2f6f1e2d9c01");

    fn policy() -> ServingNamePolicy {
        ServingNamePolicy::new(&[".rt.local".to_owned()], true).unwrap()
    }

    fn mine(name: &str) -> String {
        format!("{RUNTIME}.{name}")
    }

    fn ca() -> CertificateAuthority {
        let ca = generate_ca("serving CA", DAY).unwrap();
        CertificateAuthority::from_pem(&ca.cert_pem, &ca.key_pem).unwrap()
    }

    fn csr(key: &KeyPair, tweak: impl FnOnce(&mut CertificateParams)) -> String {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "anything");
        tweak(&mut params);
        params.serialize_request(key).unwrap().pem().unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    fn verify(ca: &CertificateAuthority, cert_pem: &str, name: &str) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).unwrap();
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap();
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        verifier
            .verify_server_cert(
                &der,
                &[],
                &ServerName::try_from(name.to_owned()).unwrap(),
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    #[test]
    fn signs_a_server_certificate_with_fields_of_its_own() {
        let ca = ca();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        // The CSR asks to be a CA, for client auth and for another name.
        let pem = csr(&key, |p| {
            p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            p.subject_alt_names = vec![SanType::DnsName("evil.example".try_into().unwrap())];
        });
        let upper = mine("RT.local").to_uppercase();
        let issued = ca
            .sign_serving_csr(
                &pem,
                RUNTIME,
                &[mine("rt.local"), "127.0.0.1".to_owned(), upper],
                &policy(),
                DAY,
            )
            .unwrap();
        assert_eq!(issued.key, crate::ClientKey::EcdsaP256);
        verify(&ca, &issued.cert_pem, &mine("rt.local")).unwrap();
        verify(&ca, &issued.cert_pem, "127.0.0.1").unwrap();
        assert!(verify(&ca, &issued.cert_pem, "evil.example").is_err());
        assert!(verify(&self::tests::ca(), &issued.cert_pem, "127.0.0.1").is_err());

        let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(!cert.is_ca());
        assert_eq!(cert.subject().to_string(), format!("CN={RUNTIME}"));
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert!(eku.other.is_empty() && !eku.any);
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && !ku.key_cert_sign());
        let sans = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(
            sans.value.general_names.len(),
            3,
            "duplicates dropped, the runtime's URI added"
        );
        assert_eq!(serving_certificate_runtime(&der), Ok(RUNTIME));
        assert_eq!(
            cert.public_key().raw,
            key.subject_public_key_info().as_slice()
        );
    }

    #[test]
    fn refuses_bad_names_keys_and_garbage() {
        let ca = ca();
        let good = csr(
            &KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
            |_| {},
        );
        let sign = |pem: &str, list: &[&str]| {
            ca.sign_serving_csr(pem, RUNTIME, &names(list), &policy(), DAY)
        };
        assert_eq!(
            sign(&good, &[]),
            Err(ServingError::Names(ServingNameError::None))
        );
        let many: Vec<String> = (0..11).map(|i| format!("h{i}.example")).collect();
        assert_eq!(
            ca.sign_serving_csr(&good, RUNTIME, &many, &policy(), DAY),
            Err(ServingError::Names(ServingNameError::TooMany))
        );
        assert!(matches!(
            sign(&good, &["*.example.com"]),
            Err(ServingError::Names(ServingNameError::Wildcard(_)))
        ));
        for bad in ["bad name", "", "a..b", "bücher.example", &"a".repeat(300)] {
            assert!(
                matches!(
                    sign(&good, &[bad]),
                    Err(ServingError::Names(ServingNameError::Invalid(_)))
                ),
                "{bad:?}"
            );
        }
        let p384 = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
        assert!(matches!(
            sign(&csr(&p384, |_| {}), &["localhost"]),
            Err(ServingError::Csr(CsrError::UnsupportedKey(_)))
        ));
        assert_eq!(
            sign("not a csr", &["localhost"]),
            Err(ServingError::Csr(CsrError::NotPem))
        );
        let rsa = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let issued = sign(&csr(&rsa, |_| {}), &["localhost"]).unwrap();
        assert_eq!(issued.key, crate::ClientKey::Rsa { bits: 2048 });
    }

    #[test]
    fn only_names_bound_to_the_runtime_are_issued() {
        let ca = ca();
        let good = csr(
            &KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
            |_| {},
        );
        let not_bound = |policy: &ServingNamePolicy, name: &str| {
            matches!(
                ca.sign_serving_csr(&good, RUNTIME, &names(&[name]), policy, DAY),
                Err(ServingError::Names(ServingNameError::NotBound(_)))
            )
        };
        let policy = policy();
        // Another runtime's name, another host, a suffix trick, a bare domain, a nested name.
        for name in [
            format!("{OTHER}.rt.local"),
            "events.other.example".to_owned(),
            format!("{RUNTIME}.rt.local.evil.example"),
            format!("{RUNTIME}.evilrt.local"),
            "rt.local".to_owned(),
            format!("x.{RUNTIME}.rt.local"),
            "10.0.0.1".to_owned(),
        ] {
            assert!(not_bound(&policy, &name), "{name}");
        }
        // One name out of bounds refuses the whole request.
        assert!(matches!(
            ca.sign_serving_csr(
                &good,
                RUNTIME,
                &[mine("rt.local"), "events.other.example".to_owned()],
                &policy,
                DAY
            ),
            Err(ServingError::Names(ServingNameError::NotBound(_)))
        ));
        // Loopback only when allowed.
        let strict = ServingNamePolicy::new(&["rt.local".to_owned()], false).unwrap();
        for name in ["127.0.0.1", "::1", "localhost", "127.1.2.3"] {
            assert!(!not_bound(&policy, name), "{name}");
            assert!(not_bound(&strict, name), "{name}");
        }
        assert!(!not_bound(&strict, &mine("rt.local")));
        assert!(not_bound(&ServingNamePolicy::default(), &mine("rt.local")));
        assert_eq!(policy.bound_names(RUNTIME), vec![mine("rt.local")]);
        assert!(ServingNamePolicy::new(&["*.example".to_owned()], true).is_err());
        assert!(ServingNamePolicy::new(&["10.0.0.1".to_owned()], true).is_err());
    }

    #[test]
    fn a_certificate_without_exactly_one_runtime_names_none() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = |uris: &[String]| {
            let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            for uri in uris {
                params
                    .subject_alt_names
                    .push(SanType::URI(uri.clone().try_into().unwrap()));
            }
            params.self_signed(&key).unwrap().der().to_vec()
        };
        assert_eq!(
            serving_certificate_runtime(&cert(&[runtime_uri(RUNTIME)])),
            Ok(RUNTIME)
        );
        for uris in [
            vec![],
            vec![runtime_uri(RUNTIME), runtime_uri(OTHER)],
            vec!["urn:sextant:runtime:nonsense".to_owned()],
            vec![format!("https://{RUNTIME}")],
        ] {
            assert_eq!(
                serving_certificate_runtime(&cert(&uris)),
                Err(ServingIdentityError::NoRuntime),
                "{uris:?}"
            );
        }
        assert_eq!(
            serving_certificate_runtime(b"garbage"),
            Err(ServingIdentityError::Unreadable)
        );
    }
}
