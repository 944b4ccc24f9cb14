//! Property tests of `CertificateAuthority::sign_client_csr` on hostile input. They complete
//! the property test in `src/csr.rs` (random text, and valid CSRs with flipped bytes) with what
//! it does not cover: random DER wrapped as PEM, truncations and appended bytes of a valid CSR,
//! a valid prefix followed by random bytes, and edits of the PEM text. Nothing panics or takes
//! long, and whatever gets signed is a client certificate for the expected subject and the
//! key of the original CSR.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use sextant_pki::{
    CertificateAuthority, ClientKey, ClientSubject, CsrError, IssuedCertificate, generate_ca,
};
use x509_parser::prelude::FromDer;

/// How long one signing may take: a signature check and a signature, both milliseconds at
/// most; loose enough for a loaded machine running a debug build.
const QUICK: Duration = Duration::from_secs(1);

const VALIDITY: Duration = Duration::from_secs(86400);

static CA: LazyLock<CertificateAuthority> = LazyLock::new(|| {
    let ca = generate_ca("csr test CA", Duration::from_secs(3600)).unwrap();
    CertificateAuthority::from_pem(&ca.cert_pem, &ca.key_pem).unwrap()
});

/// A valid CSR for [`subject`] (DER) and its key's SubjectPublicKeyInfo (DER).
struct Good {
    der: Vec<u8>,
    spki: Vec<u8>,
}

static GOOD: LazyLock<Good> = LazyLock::new(|| {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    Good {
        der: csr_der(&key),
        spki: rcgen::PublicKeyData::subject_public_key_info(&key),
    }
});

fn subject() -> ClientSubject {
    ClientSubject {
        common_name: "6f1c0bde-8b8a-4a1e-9f35-0c3b4b2d6a11".into(),
        organization: "Org".into(),
        organizational_unit: "OrgUnit".into(),
        locality: "locality".into(),
        province: "province".into(),
        country: "DE".into(),
    }
}

/// The subject as x509-parser prints it.
const SUBJECT: &str =
    "O=Org, OU=OrgUnit, L=locality, ST=province, C=DE, CN=6f1c0bde-8b8a-4a1e-9f35-0c3b4b2d6a11";

fn csr_der(key: &KeyPair) -> Vec<u8> {
    let wanted = subject();
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
    params.serialize_request(key).unwrap().der().to_vec()
}

/// `der` as a `CERTIFICATE REQUEST` PEM block, in lines of 64 characters.
fn pem_of(der: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut body = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                body.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                body.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE REQUEST-----\n");
    pem
}

/// Signs `pem` for [`subject`], failing if it takes longer than [`QUICK`]. A panic inside is
/// caught by proptest and fails the case too.
fn sign(pem: &str) -> Result<IssuedCertificate, CsrError> {
    let started = Instant::now();
    let result = CA.sign_client_csr(pem, &subject(), VALIDITY);
    let took = started.elapsed();
    assert!(took < QUICK, "took {took:?} for {} bytes", pem.len());
    result
}

/// A signed certificate is a client certificate of the CA for the expected subject and the
/// original CSR's key, with nothing the CSR could have added.
fn check_issued(issued: &IssuedCertificate) -> Result<(), TestCaseError> {
    let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    prop_assert_eq!(cert.subject().to_string(), SUBJECT);
    prop_assert!(!cert.is_ca());
    prop_assert_eq!(cert.raw_serial(), issued.serial.as_slice());
    prop_assert_eq!(cert.public_key().raw, GOOD.spki.as_slice());
    prop_assert_eq!(issued.key, ClientKey::EcdsaP256);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    prop_assert!(eku.client_auth && !eku.server_auth && !eku.any && eku.other.is_empty());
    let ku = cert.key_usage().unwrap().unwrap().value;
    prop_assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
    prop_assert!(cert.subject_alternative_name().unwrap().is_none());
    Ok(())
}

#[test]
fn the_unmutated_csr_is_signed() {
    let issued = sign(&pem_of(&GOOD.der)).unwrap();
    check_issued(&issued).unwrap();
    // The PEM helper writes what the PEM reader reads.
    let der = CertificateSigningRequestDer::from_pem_slice(pem_of(&GOOD.der).as_bytes()).unwrap();
    assert_eq!(der.as_ref(), GOOD.der.as_slice());
}

/// The CA's policy is RSA with 2048 to 4096 bits. A 4100-bit modulus takes 513 bytes whose
/// first byte has its top bit clear, so DER needs no leading zero; a size computed as
/// 8 × (bytes − 1), which assumes that zero, says 4096.
/// (x509-parser's `RSAPublicKey::key_size` does exactly that, so the CA counts the bits
/// itself.)
#[test]
fn an_rsa_key_of_4100_bits_is_refused() {
    // A throwaway key for this test only (openssl genpkey, rsa_keygen_bits:4100): rcgen
    // generates only 2048, 3072 and 4096 bits.
    let key = KeyPair::from_pem(RSA_4100_KEY).unwrap();
    let csr = csr_der(&key);
    let (_, request) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&csr).unwrap();
    let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) =
        request.certification_request_info.subject_pki.parsed()
    else {
        panic!("an RSA key");
    };
    let significant: Vec<u8> = rsa
        .modulus
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let bits = 8 * significant.len() - significant[0].leading_zeros() as usize;
    assert_eq!((bits, rsa.modulus.len()), (4100, 513));
    let result = sign(&pem_of(&csr));
    assert_eq!(
        result.as_ref().map(|issued| issued.key),
        Err(&CsrError::UnsupportedKey("RSA with 4100 bits".into()))
    );
}

const RSA_4100_KEY: &str = r"-----BEGIN PRIVATE KEY-----
MIIJRQIBADANBgkqhkiG9w0BAQEFAASCCS8wggkrAgEAAoICAQlnZsvI7Wu2FW2T
yDFbG/cdl32j5aX1TZJAWUu4Cfs7l8X5I8nNHkAIFKBwl0v4lN4Ns5aJvd6RAG4K
o9svi7HMT0/TZ3JPVyEsNR6eTDKFDrrIkYA9RktZsa3xNfFZJYuaQRQGVh/SKXOS
NAjCXdWfvRLfWIQAROFWxwFTvmBrs0mCac9FQnNi1Hca6E0HZeXqhuTIP2UWGqhm
btXR+hzeF1+bNy34MitnVEimVqgEgkMfzosvKES4/5nKp+CTe6Nd/s4gc6yKzh8p
GX3LSR/YThqevgZooZx1LtNHyJJWaxSi5ul12labK5uzgTM0QRA+jr831DXbD4k9
OG4oWavi9p5U3txe9FG2lFVT/VOcdR9/u4ATJCja+XfSlC+oinha/GbZvFrh/koh
EuC/L3vzPrb91/coFb96fHSwAOUKD8EIIF/hY9jNAmeXLeJzXA2RVkeJKrOEPL/8
xc+1IOHt7fH3oTnMnoXKxMpRUXZduV/vKGH5oaVlWCkgq/gE+t6WH7YrZosMSd2W
3I8Az+p9RVUSZ9yv3EbZinl+Pm395/fVSldoQhgogihtFtefaAQfYXJ2biDyZBFM
cFqxZZHQZ4jbf6I2eouQGtozJ5BT9beD6t+GURgUvwtyI4NJZ/EQuMJ35V5EVVx9
m2JGVqfWhlHWtg/VOuile+PxJoboQQIDAQABAoICAQDNhITnftP1WUf1AqAACgJN
0uslbPX+2+Pykrei8FXeelsAJWeAF3yE6WnhosZCuZwT/wheHZ5HXQoykKwmF3QS
ypSN1M95PtQfUjDud6J6dyLyphqUteW53wVynwB0c/7tKMVyXbOIEq+B7ueZMZSK
ogQJ8CRjYiil6rBOJhBU3BtC7bswS6IjxkVIFUZ6LV9JkcGB54jphatprz2ZbZOS
/DDWbzQBSRspI5Szf+4GZdkgI9cAVseNzuL3XjSPB/zkNIauq4wH1N1BJM13PM4M
qRefBKmcZhZAGhgXETmOShmavJbNT69EE57OXhHGfLrLybjrpbYBS7Foz2KhbDep
Tt+GSGrT+z9ayzqpQ53fQMzSwTFke3PxoTSZZAkMHPzoFV8cb4Vh9NLUGh4rGjJS
uuJ/KxyzwmH3hAXWdk9ZtOivVIRdxFUrekb8lHqR8WXnqWQYU80uO+kfodqc4EnS
en3wnoMsbFLBO/R3ZNaDdMoFJpR0bzzswG6LvaOmtx9xRrrmirm5KEpmOR6OZ6yC
0EiGcRrOAWZUMRnp4hekNQbOxzkq2+udufqQJGw9lLbcMYA5J9rk3amuLIZDpyPm
B2SLreNq018h/oQ79HUjPh10Tyq7prA8gGa7wkRKHpKWo+qLeDETdq5AEWFkNHOZ
9FhlZ85+pOTbCSm+VfU8VwKCAQEDOXvV0nyu3w56C9jf9IyZoaA+B2abi146hEkq
eUBX0+DFIldNuL97+toVZP6j7uW9kWIpWXxmpXMTOoqJVg2A1fPY9mvimSJtuIWs
EZB1kI3Ezh2zFN0802uCvpLsiAx7ezMJkKLdDhhb0SwnKfKQYa/NRYuEooPMun4i
52yL06nh9pgOkKsxB/jOJDCl16+ZOt5nBp3VRmxYl0POOiX/aCIncgM2Q3qDJ4OQ
IL4D7U/R+159KSIOzqEnI67phI+1MiBwpAfW0Ye6m44opG5Ybt3/hqmYpKrZY3cS
0H0d9niVCX9gxz2s5Zydx1fS8E5rLF9ulWQEiwdAqkJ5G1srTwKCAQEC6pYT46ct
6uhBYSciCJaPlJ3Vsc4PYNO6gl1qV9ESMWjH45mE7GTXr58h6WZqo2yY9YwxZ8CI
VKazaXpUmaF9PbAp5nfxrGq3A4x7d2JUfVyYHplblapCc0fqIAa4KOGk6yR9MX2J
SIVHDMwv931xmiaB1ywwVITxDfS+LEmRUqrWHoovRvUGMwFGRH4h0xJtZ1dkZ9Sv
pCMbgtWlN8ljL7y8R6BeVCDSta22IzinKCt+n7Rbu+JPw8eYBkj7//2bVhzczVpj
f4fud0GeFVvRNKeEMfu8BhGeYEoUUGvgWQ7CuKv8FHxhLjGLhBVMfbeDpob5aRXb
rmqPTYyoStKPbwKCAQEA/gEy7E/dZ1mHCHo1f4R8CZXLQG+8UQgvrWDuJt07qUCy
qDyA9+ZD+g59ItSQEQS0bjXsT1LOKv7b3dmfJNGG4U7lZf4QfdpwNKU9KzJuWoql
El9lKXhiLRQZ6RZAniRpIqGzwcO7jYjFR/n0Gx4+ezCjU1D5ASDZMFF74AYwiHLv
yvdDFBT5Q2C13cDyZwnrdofU395VMBRKtlDw9keW7a4EwTpnyh+6l8AN62VMxAsZ
q+WJUczfDYndB0fdJyMpOEFvJ6oZ2eOP8imuK9qgb4z0AbXR+Glx9v8+1NSLEbpM
8d02JFjACO9GRX6qs7MNm1vKJUHffABBT6KgrWBCVQKCAQECpCxgvyK+96566F7k
+BpE2DlLPcp/KxcYKNIqana0n4Ni5sQ4G1IJ9smNkTJtCq5kqp/abzl1QBXrEHD3
Bl24bJKMoGupupq8Pr6RZELuesvOCoii5h5aKMbNSUxMptoW39Eggh5MpB3xh6m3
F9PJe++8UQF4lFQDbrxnMP1AXTrUyrwkrYNlpfRVi9shD2X1KE+CZHfAzEvvssOE
6829w5KQg96/EDraHCnEeInq+vrJqCNVogkKbSrsiWS4t9UdRxTE9kgTLYITfHc1
keqiw6mklRCF7okug88ULvJFMuOngFJj8Lnl2kyNK4eOy53V4pEEeySM3p8sQvRN
x9aEiQKCAQEBj5oqHTYkWyQDhMnlSTyvpbLatD3uSDzCE+vEjYfBnSJtnaEwFgzG
9Kxo9/W8SSnceUJraVVu2g2EXJ02f7528tVhowsQhocHJkOlc2E0EXOwuoCMaqLP
3oKkNzT1CgBGpGHix2SwVbBCa3mBm2ec57V/Q53uGQbhqhehgIYr6ix44di6la1f
o9ohu9+h6n58K8n+z3ZI7gShDgR3txUEuacOw15sUp2Gl8hI/921l4pVXnY9dCmW
bIks7kTTsoRfRi/XhEFPDiIk5NbKx8MY5R2riFW7KbhmsIRv6rupw+O60yPxPMR2
AhlNsafSZt435k69AmLLvZa6XR/DEv1YiQ==
-----END PRIVATE KEY-----
";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes wrapped as a PEM CSR are never signed.
    #[test]
    fn random_der_in_pem_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(sign(&pem_of(&bytes)).is_err());
    }

    /// A truncated CSR is never signed.
    #[test]
    fn a_truncated_csr_is_refused(cut in any::<Index>()) {
        let cut = cut.index(GOOD.der.len());
        prop_assert!(sign(&pem_of(&GOOD.der[..cut])).is_err());
    }

    /// Bytes after a valid CSR: refused.
    #[test]
    fn appended_bytes_are_refused(
        tail in proptest::collection::vec(any::<u8>(), 1..512),
    ) {
        let mut bytes = GOOD.der.clone();
        bytes.extend_from_slice(&tail);
        // One CSR, nothing after it: trailing bytes are refused.
        prop_assert!(sign(&pem_of(&bytes)).is_err());
    }

    /// A valid CSR cut anywhere and continued with random bytes: refused (unless it happens to
    /// be the whole CSR plus a tail), never panics.
    #[test]
    fn a_valid_prefix_then_random_bytes_is_handled(
        keep in any::<Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = GOOD.der[..keep.index(GOOD.der.len())].to_vec();
        bytes.extend_from_slice(&tail);
        if let Ok(issued) = sign(&pem_of(&bytes)) {
            check_issued(&issued)?;
        }
    }

    /// Edits of the PEM text (characters replaced, removed or inserted, including PEM's own
    /// structure: dashes, line breaks, padding, labels) never panic, and what gets signed is
    /// still the CSR itself.
    #[test]
    fn edited_pem_text_is_handled(
        edits in proptest::collection::vec(
            (any::<Index>(), 0u8..3, prop_oneof![
                "[A-Za-z0-9+/=]",
                Just("-".to_owned()),
                Just("\n".to_owned()),
                Just("\r\n".to_owned()),
                Just("-----".to_owned()),
                Just("-----END CERTIFICATE REQUEST-----\n".to_owned()),
                Just("-----BEGIN CERTIFICATE REQUEST-----\n".to_owned()),
                Just("-----BEGIN CERTIFICATE-----\n".to_owned()),
                "\\PC{1,8}",
            ]),
            1..6,
        ),
    ) {
        let mut pem = pem_of(&GOOD.der);
        for (at, op, text) in edits {
            let mut at = at.index(pem.len() + 1);
            while !pem.is_char_boundary(at) {
                at -= 1;
            }
            match op {
                0 => pem.insert_str(at, &text),
                // Remove or replace as many bytes as `text` has.
                _ => {
                    let mut end = (at + text.len()).min(pem.len());
                    while !pem.is_char_boundary(end) {
                        end -= 1;
                    }
                    pem.replace_range(at..end, if op == 1 { "" } else { &text });
                }
            }
        }
        if let Ok(issued) = sign(&pem) {
            check_issued(&issued)?;
        }
    }
}
