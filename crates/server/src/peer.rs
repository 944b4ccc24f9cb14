//! The client certificate the mTLS listener verified, as the Connector's identity check
//! reads it.

/// The peer's leaf certificate (DER), if it presented one.
pub(crate) fn client_leaf(peer: Option<&sextant_tls::PeerCertificates>) -> Option<&[u8]> {
    peer.and_then(|p| p.0.first()).map(|leaf| leaf.as_ref())
}
