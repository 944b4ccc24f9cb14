//! Pre-serialised pieces of documents and their gzip form, assembled without compressing
//! anything per runtime.
//!
//! A document is a sequence of byte strings: pieces many runtimes share (an application's
//! JSON, an API entry with its default credentials) and bytes of one runtime (its head, its
//! own credentials). A shared piece is compressed once, as raw deflate ending in a sync flush
//! (byte-aligned, not final, referring to nothing before it), so compressed pieces can follow
//! each other in one deflate stream; a runtime's own bytes go in *stored* blocks, which cost
//! five bytes of framing and no compression. One gzip member wraps the stream: the header,
//! the blocks, an empty final block, and the CRC-32 and length of the whole document.

use flate2::{Compress, Compression, FlushCompress};
use sextant_domain::DomainError;

/// Bytes shared by every document that holds them, with their deflate form.
#[derive(Debug)]
pub struct Piece {
    json: Box<[u8]>,
    deflated: Box<[u8]>,
}

impl Piece {
    /// The piece as sent.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The bytes this piece keeps.
    pub fn held_bytes(&self) -> usize {
        self.json.len() + self.deflated.len()
    }
}

/// Compresses pieces, one compressor for many (a compressor's tables are large).
pub struct Deflater {
    compress: Compress,
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater {
            compress: Compress::new(Compression::fast(), false),
        }
    }
}

impl Deflater {
    /// The piece for `json`: its deflate form starts afresh (no reference to what precedes
    /// it) and ends byte-aligned with a sync flush, not final.
    pub fn piece(&mut self, json: Vec<u8>) -> Result<Piece, DomainError> {
        let c = &mut self.compress;
        c.reset();
        let mut out = Vec::with_capacity(json.len() / 2 + 64);
        let mut consumed = 0usize;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            let before = c.total_in();
            c.compress_vec(&json[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| DomainError::Internal(Box::new(e)))?;
            consumed += usize::try_from(c.total_in() - before).unwrap_or(usize::MAX);
            // The flush is complete once all input is taken and the output was not filled.
            if consumed >= json.len() && out.len() < out.capacity() {
                break;
            }
        }
        Ok(Piece {
            json: json.into_boxed_slice(),
            deflated: out.into_boxed_slice(),
        })
    }
}

/// One part of a document as it is assembled: shared or the runtime's own.
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    Shared(&'a Piece),
    Own(&'a [u8]),
}

impl Part<'_> {
    fn json(&self) -> &[u8] {
        match self {
            Part::Shared(piece) => &piece.json,
            Part::Own(bytes) => bytes,
        }
    }
}

/// The document the parts make, as sent without encoding.
pub fn plain<'a>(parts: impl Iterator<Item = Part<'a>>, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    for part in parts {
        out.extend_from_slice(part.json());
    }
    out
}

/// The SHA-256 and the CRC-32 of the document the parts make, and its length.
pub fn digests<'a>(parts: impl Iterator<Item = Part<'a>>) -> ([u8; 32], u32, usize) {
    let mut sha = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut crc = flate2::Crc::new();
    let mut len = 0usize;
    for part in parts {
        let json = part.json();
        sha.update(json);
        crc.update(json);
        len += json.len();
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(sha.finish().as_ref());
    (digest, crc.sum(), len)
}

/// The gzip member of the document the parts make, given its CRC-32 and length.
pub fn gzip<'a>(parts: impl Iterator<Item = Part<'a>> + Clone, crc: u32, len: usize) -> Vec<u8> {
    // Header: magic, deflate, no flags, no time, no extra flags, unknown system.
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    // A final block with fixed codes holding only the end-of-block code.
    const LAST_BLOCK: [u8; 2] = [0x03, 0x00];
    let capacity = parts
        .clone()
        .map(|part| match part {
            Part::Shared(piece) => piece.deflated.len(),
            Part::Own(bytes) => bytes.len() + 5,
        })
        .sum::<usize>()
        + HEADER.len()
        + LAST_BLOCK.len()
        + 8;
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(&HEADER);
    for part in parts {
        match part {
            Part::Shared(piece) => out.extend_from_slice(&piece.deflated),
            Part::Own(bytes) => stored(&mut out, bytes),
        }
    }
    out.extend_from_slice(&LAST_BLOCK);
    out.extend_from_slice(&crc.to_le_bytes());
    // ISIZE: the length modulo 2^32, as gzip defines it.
    out.extend_from_slice(&((len % (1 << 32)) as u32).to_le_bytes());
    out
}

/// `bytes` as stored (uncompressed) deflate blocks, not final, each at most 65,535 bytes.
fn stored(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.chunks(usize::from(u16::MAX)) {
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        // BFINAL 0, BTYPE 00, then padding to the byte: we are always byte-aligned here.
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn shared_and_own_parts_make_one_gzip_member_of_the_plain_document() {
        let mut deflater = Deflater::default();
        let repeated = "{\"name\":\"orders\",\"targetURL\":\"https://orders.example\"}".repeat(50);
        let a = deflater.piece(repeated.clone().into_bytes()).unwrap();
        let b = deflater.piece(b"[1,2,3]".to_vec()).unwrap();
        let empty = deflater.piece(Vec::new()).unwrap();
        let big_own = vec![b'x'; 70_000];
        let parts = [
            Part::Own(b"{\"head\":"),
            Part::Shared(&a),
            Part::Own(b","),
            Part::Shared(&b),
            Part::Shared(&empty),
            Part::Own(b""),
            Part::Shared(&a),
            Part::Own(&big_own),
            Part::Own(b"}"),
        ];
        let (_, crc, len) = digests(parts.iter().copied());
        let plain_doc = plain(parts.iter().copied(), len);
        assert_eq!(plain_doc.len(), len);
        let zipped = gzip(parts.iter().copied(), crc, len);
        assert_eq!(gunzip(&zipped), plain_doc);
        assert!(
            a.deflated.len() * 5 < a.json.len(),
            "a shared piece is compressed"
        );
        // A piece compressed on its own decodes the same wherever it stands.
        let alone = gzip(
            [Part::Shared(&a)].into_iter(),
            crc_of(repeated.as_bytes()),
            repeated.len(),
        );
        assert_eq!(gunzip(&alone), repeated.as_bytes());
    }

    fn crc_of(bytes: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
    }

    #[test]
    fn the_digest_is_the_documents_sha256() {
        let mut deflater = Deflater::default();
        let piece = deflater.piece(b"shared".to_vec()).unwrap();
        let parts = [Part::Own(b"own-"), Part::Shared(&piece)];
        let (sha, crc, len) = digests(parts.iter().copied());
        let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"own-shared");
        assert_eq!(&sha[..], expected.as_ref());
        assert_eq!(crc, crc_of(b"own-shared"));
        assert_eq!(len, 10);
    }
}
