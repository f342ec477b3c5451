//! How far untrusted OpenPGP data may expand, checked before sequoia's
//! verifiers and decryptor read it.
//!
//! Anyone can encrypt to the list's public key, and a compressed packet of
//! a few kilobytes can inflate to gigabytes. sequoia decompresses as it
//! parses and, for several packet kinds (user IDs, unknown packets, session
//! keys), reads a whole packet body into memory, so a bomb inside a
//! compressed packet costs its full size before any signature is checked.
//! sequoia has no knob for that, so [`check`] walks the packet tree first
//! with its own budget: it decompresses each compressed packet itself, at
//! most the bytes the budget has left (refusing the moment it runs out),
//! and parses what came out as a fresh, in-memory packet stream. Every
//! packet body sequoia can then buffer lies within bytes that are already
//! bounded: the input itself, a decrypted container (no larger than its
//! ciphertext) or a decompressed buffer within the budget. Because
//! parsing is deterministic, the verifier that runs afterwards sees the
//! same packets and the same expansions.

use std::io::Read;

use sequoia_openpgp as openpgp;

use openpgp::Packet;
use openpgp::crypto::KeyPair;
use openpgp::packet::{PKESK, SEIP};
use openpgp::parse::{PacketParser, PacketParserBuilder, PacketParserResult, Parse};

use super::{CertError, first_line};

/// What one piece of OpenPGP data may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes that decompression may produce, all layers together.
    pub max_bytes: usize,
    /// Containers (compressed or encrypted packets) inside each other.
    pub max_depth: usize,
    /// Packets, all layers together.
    pub max_packets: usize,
}

impl Bounds {
    /// The bounds for inbound mail whose size limit is `max_bytes`.
    pub fn for_mail(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            max_depth: 8,
            max_packets: 65536,
        }
    }

    /// The same bounds for a signature (detached, or the signature block of
    /// a cleartext-signed message): signature packets only, so no
    /// container at all. A compressed packet there is refused before a
    /// byte of it is inflated, instead of costing a decompression up to
    /// the budget (the fuzzer found such a bomb slow).
    pub(crate) fn signatures_only(&self) -> Self {
        Self {
            max_bytes: 0,
            max_depth: 0,
            max_packets: self.max_packets,
        }
    }
}

struct Walk<'k> {
    bounds: Bounds,
    /// Bytes decompressed so far.
    expanded: usize,
    packets: usize,
    keys: &'k mut [KeyPair],
    pkesks: Vec<PKESK>,
}

/// Refuses `bytes` when its packets, once decompressed (and decrypted
/// with `keys`, when given), exceed `bounds`.
pub(crate) fn check(bytes: &[u8], bounds: &Bounds, keys: &mut [KeyPair]) -> Result<(), CertError> {
    let mut walk = Walk {
        bounds: *bounds,
        expanded: 0,
        packets: 0,
        keys,
        pkesks: Vec::new(),
    };
    walk.stream(bytes, 0)
}

/// Refuses a cleartext-signed message whose signature block holds
/// anything but signatures. sequoia's cleartext reader parses that block
/// itself and skips past any other packet by reading it through, which
/// for a compressed packet means inflating it whole before the error (the
/// fuzzer found a bzip2 bomb there slow). sequoia takes a line for the
/// block's start liberally (a quoting prefix, then any Unicode dashes,
/// then `BEGIN PGP SIGNATURE`), so every line that holds
/// `BEGIN PGP SIGNATURE` is checked from there on first, with no
/// container allowed; a line that starts no readable block is refused.
pub(crate) fn check_cleartext(armored: &[u8], bounds: &Bounds) -> Result<(), CertError> {
    let signatures = bounds.signatures_only();
    let marker = b"BEGIN PGP SIGNATURE";
    let mut at = 0;
    let mut blocks = 0;
    for line in armored.split_inclusive(|&b| b == b'\n') {
        if line.windows(marker.len()).any(|window| window == marker) {
            blocks += 1;
            if blocks > 4 {
                return Err(refusal("more than 4 signature blocks".to_owned()));
            }
            check(&armored[at..], &signatures, &mut [])?;
        }
        at += line.len();
    }
    Ok(())
}

/// Refuses `bytes` (a certificate, a signature: anything not encrypted)
/// when its packets expand past `bounds`.
pub fn check_bounds(bytes: &[u8], bounds: &Bounds) -> Result<(), CertError> {
    super::guarded("OpenPGP data", || check(bytes, bounds, &mut []))
}

/// The bounds on a certificate handed to the list (by an operator or
/// attached to a signed command): large enough for a certificate with many
/// signatures, far too small for a bomb.
pub(crate) const CERT_BOUNDS: Bounds = Bounds {
    max_bytes: 16 << 20,
    max_depth: 8,
    max_packets: 1 << 20,
};

fn unreadable(err: anyhow::Error) -> CertError {
    CertError::Unreadable(first_line(&err))
}

impl Walk<'_> {
    /// Walks one packet stream that starts at container depth `depth`.
    fn stream(&mut self, bytes: &[u8], depth: usize) -> Result<(), CertError> {
        let room = self.bounds.max_depth.saturating_sub(depth).min(255) as u8;
        let mut ppr = PacketParserBuilder::from_bytes(bytes)
            .map_err(unreadable)?
            .max_recursion_depth(room.saturating_add(1))
            .build()
            .map_err(unreadable)?;
        while let PacketParserResult::Some(mut pp) = ppr {
            self.packets += 1;
            if self.packets > self.bounds.max_packets {
                return Err(refusal(format!(
                    "more than {} OpenPGP packets",
                    self.bounds.max_packets
                )));
            }
            let level = depth + usize::try_from(pp.recursion_depth()).unwrap_or(0);
            let container = matches!(pp.packet, Packet::CompressedData(_) | Packet::SEIP(_));
            if container && self.bounds.max_depth == 0 {
                return Err(refusal(
                    "a compressed or encrypted packet where only signatures belong".to_owned(),
                ));
            }
            if container && level >= self.bounds.max_depth {
                return Err(refusal(format!(
                    "OpenPGP containers nested deeper than {}",
                    self.bounds.max_depth
                )));
            }
            match &pp.packet {
                Packet::CompressedData(_) => {
                    let inner = self.expand(&mut pp)?;
                    self.stream(&inner, level + 1)?;
                    ppr = pp.next().map_err(unreadable)?.1;
                    continue;
                }
                Packet::PKESK(pkesk) => self.pkesks.push(pkesk.clone()),
                Packet::SEIP(_) => self.decrypt(&mut pp),
                _ => {}
            }
            // Into a decrypted container; past anything else.
            ppr = pp.recurse().map_err(unreadable)?.1;
        }
        Ok(())
    }

    /// Reads a compressed packet's content, at most what the budget has
    /// left.
    fn expand(&mut self, pp: &mut PacketParser<'_>) -> Result<Vec<u8>, CertError> {
        let left = self.bounds.max_bytes.saturating_sub(self.expanded);
        let mut inner = Vec::new();
        let read = pp
            .by_ref()
            .take(left as u64 + 1)
            .read_to_end(&mut inner)
            .map_err(|err| CertError::Unreadable(format!("bad compressed data: {err}")))?;
        if read > left {
            return Err(refusal(format!(
                "compressed data expands past {} bytes",
                self.bounds.max_bytes
            )));
        }
        self.expanded += read;
        Ok(inner)
    }

    /// Decrypts an encrypted container with the first key that opens one
    /// of the session keys seen; without one it stays opaque (and the
    /// decryptor refuses the message later).
    fn decrypt(&mut self, pp: &mut PacketParser<'_>) {
        let hint = match &pp.packet {
            Packet::SEIP(SEIP::V2(seip)) => Some(seip.symmetric_algo()),
            _ => None,
        };
        for pair in self.keys.iter_mut() {
            for pkesk in &self.pkesks {
                if let Some((algo, session_key)) = pkesk.decrypt(pair, hint)
                    && pp.decrypt(hint.or(algo), &session_key).is_ok()
                {
                    return;
                }
            }
        }
    }
}

fn refusal(reason: String) -> CertError {
    tracing::warn!(reason, "OpenPGP data refused before reading it");
    CertError::Unreadable(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::serialize::stream::{Compressor, LiteralWriter, Message};
    use openpgp::types::CompressionAlgorithm;
    use std::io::Write;

    fn compressed(algo: CompressionAlgorithm, layers: usize, zeros: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut message = Message::new(&mut out);
        for _ in 0..layers {
            message = Compressor::new(message)
                .algo(algo)
                .build()
                .expect("compressor");
        }
        let mut literal = LiteralWriter::new(message).build().expect("literal");
        let chunk = vec![0u8; 1 << 16];
        let mut left = zeros;
        while left > 0 {
            let n = left.min(chunk.len());
            literal.write_all(&chunk[..n]).expect("write");
            left -= n;
        }
        literal.finalize().expect("finalize");
        out
    }

    /// A compressed packet that inflates past the budget is refused by
    /// every algorithm the build supports, and one within it passes.
    #[test]
    fn compressed_data_is_bounded_for_every_algorithm() {
        let bounds = Bounds::for_mail(1 << 20);
        for algo in [
            CompressionAlgorithm::Zip,
            CompressionAlgorithm::Zlib,
            CompressionAlgorithm::BZip2,
        ] {
            let small = compressed(algo, 1, 1000);
            assert!(check(&small, &bounds, &mut []).is_ok(), "{algo}");
            let bomb = compressed(algo, 1, 8 << 20);
            assert!(bomb.len() < 64 << 10, "{algo}: {}", bomb.len());
            let err = check(&bomb, &bounds, &mut []).expect_err("refused");
            assert!(err.to_string().contains("expands past"), "{algo}: {err}");
            // The same bomb, compressed again: the budget spans the layers.
            let nested = compressed(algo, 2, 8 << 20);
            assert!(check(&nested, &bounds, &mut []).is_err(), "{algo}");
        }
    }

    /// A compressed packet in a cleartext signature block is refused
    /// before it is inflated, whatever dashes introduce the block.
    #[test]
    fn a_cleartext_signature_block_may_hold_no_container() {
        let bounds = Bounds::for_mail(1 << 20);
        let bomb = compressed(CompressionAlgorithm::BZip2, 1, 64 << 20);
        let mut armored = Vec::new();
        {
            let mut writer =
                openpgp::armor::Writer::new(&mut armored, openpgp::armor::Kind::Signature)
                    .expect("armor");
            writer.write_all(&bomb).expect("armor");
            writer.finalize().expect("armor");
        }
        let block = String::from_utf8(armored).expect("armor is ASCII");
        for dashes in ["-----", "\u{2013}\u{2014}", "- ---"] {
            let block = block.replacen("-----BEGIN", &format!("{dashes}BEGIN"), 1);
            let message =
                format!("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nCONFIRM\n{block}");
            let started = std::time::Instant::now();
            check_cleartext(message.as_bytes(), &bounds).expect_err(dashes);
            let now = chrono::Utc::now();
            crate::pgp::open_cleartext(message.as_bytes(), None, now, &bounds).expect_err(dashes);
            assert!(
                started.elapsed() < std::time::Duration::from_millis(500),
                "{dashes}: {:?}",
                started.elapsed()
            );
        }
    }

    /// Compression inside compression beyond the depth bound is refused
    /// even when every layer is tiny.
    #[test]
    fn deep_nesting_of_containers_is_refused() {
        let bounds = Bounds::for_mail(1 << 20);
        let shallow = compressed(CompressionAlgorithm::Zip, 3, 10);
        assert!(check(&shallow, &bounds, &mut []).is_ok());
        let deep = compressed(CompressionAlgorithm::Zip, 12, 10);
        let err = check(&deep, &bounds, &mut []).expect_err("refused");
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }
}
