//! Property tests of `client_certificate_identity`, which reads the client certificate presented
//! on the mTLS listener: any bytes, and any mutation of a certificate the CA issued through the
//! Connector's CSR path, give an answer or an error quickly and never panic; an issued
//! certificate names exactly its client and serial; two CNs or a CN that is no client id name
//! no client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sextant_pki::{
    CertificateAuthority, ClaimedIdentity, ClientSubject, IdentityError,
    client_certificate_identity, generate_ca,
};
use uuid::Uuid;

/// How long one call may take. Parsing a certificate takes microseconds; the bound is loose so
/// that a loaded machine running a debug build does not fail it, and tight enough to catch
/// anything that loops or backtracks on hostile input.
const QUICK: Duration = Duration::from_millis(250);

static CA: LazyLock<CertificateAuthority> = LazyLock::new(|| {
    let ca = generate_ca("identity test CA", Duration::from_secs(3600)).unwrap();
    CertificateAuthority::from_pem(&ca.cert_pem, &ca.key_pem).unwrap()
});

/// A certificate the CA issued, the client id it was issued for and the serial the CA
/// answered.
struct Issued {
    der: Vec<u8>,
    client_id: Uuid,
    serial: Vec<u8>,
}

impl Issued {
    fn identity(&self) -> ClaimedIdentity {
        ClaimedIdentity {
            client_id: self.client_id,
            serial: self.serial.clone(),
        }
    }

    /// Where the serial's content and the whole subject lie in `der`: the only bytes that
    /// may change what the certificate claims.
    fn identity_ranges(&self) -> [Range<usize>; 2] {
        let (_, cert) = x509_parser::parse_x509_certificate(&self.der).unwrap();
        let range_of = |part: &[u8]| {
            let start = part.as_ptr() as usize - self.der.as_ptr() as usize;
            start..start + part.len()
        };
        [
            range_of(cert.tbs_certificate.raw_serial()),
            range_of(cert.subject().as_raw()),
        ]
    }
}

/// The one certificate the mutation properties start from.
static ISSUED: LazyLock<Issued> = LazyLock::new(|| issue(Uuid::new_v4()));

fn subject(client_id: Uuid) -> ClientSubject {
    ClientSubject {
        common_name: client_id.to_string(),
        organization: "Org".into(),
        organizational_unit: "OrgUnit".into(),
        locality: "locality".into(),
        province: "province".into(),
        country: "DE".into(),
    }
}

/// Pairs the way a client does: a P-256 key, a CSR for the subject, signed by the CA.
fn issue(client_id: Uuid) -> Issued {
    let wanted = subject(client_id);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, wanted.organization.as_str());
    dn.push(
        DnType::OrganizationalUnitName,
        wanted.organizational_unit.as_str(),
    );
    dn.push(DnType::LocalityName, wanted.locality.as_str());
    dn.push(DnType::StateOrProvinceName, wanted.province.as_str());
    dn.push(DnType::CountryName, wanted.country.as_str());
    dn.push(DnType::CommonName, wanted.common_name.as_str());
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let issued = CA
        .sign_client_csr(&csr, &wanted, Duration::from_secs(86400))
        .unwrap();
    let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes())
        .unwrap()
        .to_vec();
    Issued {
        der,
        client_id,
        serial: issued.serial,
    }
}

/// A self-signed certificate with exactly the subject `dn` (the reader trusts no signature,
/// so who signed it does not matter here).
fn certificate_with(dn: DistinguishedName) -> Vec<u8> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.self_signed(&key).unwrap().der().to_vec()
}

/// The CN values x509-parser reads from a certificate.
fn common_names(der: &[u8]) -> Vec<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    cert.subject()
        .iter_common_name()
        .map(|cn| cn.as_str().unwrap().to_owned())
        .collect()
}

/// Reads the identity, failing if the call takes longer than [`QUICK`]. A panic inside is
/// caught by proptest and fails the case too.
fn identity(der: &[u8]) -> Result<ClaimedIdentity, IdentityError> {
    let started = Instant::now();
    let result = client_certificate_identity(der);
    let took = started.elapsed();
    assert!(took < QUICK, "took {took:?} for {} bytes", der.len());
    result
}

#[test]
fn an_issued_certificate_names_its_client_and_serial() {
    let issued = &*ISSUED;
    assert_eq!(identity(&issued.der), Ok(issued.identity()));
    let (_, cert) = x509_parser::parse_x509_certificate(&issued.der).unwrap();
    assert_eq!(cert.raw_serial(), issued.serial.as_slice());
    assert_eq!(
        common_names(&issued.der),
        vec![issued.client_id.to_string()]
    );
}

#[test]
fn a_certificate_without_a_common_name_names_no_client() {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Org");
    assert_eq!(
        identity(&certificate_with(dn)),
        Err(IdentityError::NoClient)
    );
    assert_eq!(identity(&[]), Err(IdentityError::Unreadable));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes: an answer or an error, quickly.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = identity(&bytes);
    }

    /// Bytes behind the start of an issued certificate (a valid outer SEQUENCE header and
    /// TBS header, then anything), so the parser gets past the first tag.
    #[test]
    fn a_valid_prefix_then_arbitrary_bytes_never_panics(
        keep in any::<Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let der = &ISSUED.der;
        let mut bytes = der[..keep.index(der.len())].to_vec();
        bytes.extend_from_slice(&tail);
        let _ = identity(&bytes);
    }

    /// A truncated certificate is never read as one.
    #[test]
    fn a_truncated_certificate_is_unreadable(cut in any::<Index>()) {
        let der = &ISSUED.der;
        let cut = cut.index(der.len());
        prop_assert_eq!(identity(&der[..cut]), Err(IdentityError::Unreadable));
    }

    /// Bytes after the certificate make it unreadable: the input is one certificate.
    #[test]
    fn appended_bytes_make_a_certificate_unreadable(
        tail in proptest::collection::vec(any::<u8>(), 1..256),
    ) {
        let mut bytes = ISSUED.der.clone();
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(identity(&bytes), Err(IdentityError::Unreadable));
    }

    /// Flipped bits never panic; flips outside the serial and the subject either make the
    /// certificate unreadable or leave its claim exactly as it was.
    #[test]
    fn flipped_bits_never_panic_nor_move_the_claim(
        flips in proptest::collection::vec((any::<Index>(), 0u32..8), 1..4),
    ) {
        let issued = &*ISSUED;
        let mut bytes = issued.der.clone();
        let mut positions = Vec::new();
        for (at, bit) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= 1 << bit;
            positions.push(at);
        }
        let result = identity(&bytes);
        let ranges = issued.identity_ranges();
        let outside = positions
            .iter()
            .all(|at| ranges.iter().all(|range| !range.contains(at)));
        if outside && let Ok(claimed) = &result {
            prop_assert_eq!(claimed, &issued.identity(), "flips at {:?}", positions);
        }
    }
}

proptest! {
    // Each case generates a key and has the CA sign a CSR.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// An unmutated issued certificate claims exactly the CN's client id and the serial the
    /// CA answered (which is the certificate's serial).
    #[test]
    fn issued_certificates_claim_their_client_and_serial(id in any::<[u8; 16]>()) {
        let client_id = Uuid::from_bytes(id);
        let issued = issue(client_id);
        prop_assert_eq!(identity(&issued.der), Ok(issued.identity()));
        let (_, cert) = x509_parser::parse_x509_certificate(&issued.der).unwrap();
        prop_assert_eq!(cert.raw_serial(), issued.serial.as_slice());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Two CNs name no client, even if both are client ids, or the same one.
    #[test]
    fn two_common_names_name_no_client(
        first in any::<[u8; 16]>(),
        second in any::<[u8; 16]>(),
        same in any::<bool>(),
    ) {
        let first = Uuid::from_bytes(first).to_string();
        let second = if same { first.clone() } else { Uuid::from_bytes(second).to_string() };
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Org");
        dn.push(DnType::CommonName, first.as_str());
        // rcgen keeps one value per type: the second CN goes in under its OID.
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 3]), second.as_str());
        let der = certificate_with(dn);
        prop_assert_eq!(common_names(&der), vec![first, second]);
        prop_assert_eq!(identity(&der), Err(IdentityError::NoClient));
    }

    /// A CN that is not a client id names no client.
    #[test]
    fn a_common_name_that_is_no_uuid_names_no_client(
        cn in prop_oneof![
            "\\PC{0,60}",
            "[0-9a-f-]{30,40}",
            // A client id with something around it.
            (any::<[u8; 16]>(), "[ xz0\\-]{1,3}", any::<bool>()).prop_map(|(id, extra, before)| {
                let id = Uuid::from_bytes(id).to_string();
                if before { format!("{extra}{id}") } else { format!("{id}{extra}") }
            }),
        ].prop_filter("a UUID", |cn| Uuid::parse_str(cn).is_err()),
    ) {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Org");
        dn.push(DnType::CommonName, cn.as_str());
        let der = certificate_with(dn);
        prop_assert_eq!(common_names(&der), vec![cn]);
        prop_assert_eq!(identity(&der), Err(IdentityError::NoClient));
    }
}
