//! The one way this module sets up sequoia's streaming readers
//! (`Verifier`, `DetachedVerifier`, `Decryptor`) and reads what they hand
//! out: the policy, the instant signatures and keys are judged at, the
//! byte limit, and the one-line refusal that names what was being read.
//!
//! Each reader used to be prepared by hand where it was needed (five
//! copies across `open.rs` and `verify.rs`), so a limit or an error text
//! could be changed in one and not the others. [`Reading`] holds those
//! choices; [`Reading::open`] builds any of the three readers from them.
//! [`Decrypting`] is the one way a decryptor finds its session key.

use std::io::Read;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::crypto::{KeyPair, SessionKey};
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DecryptionHelper, Decryptor, DecryptorBuilder, DetachedVerifierBuilder, MessageStructure,
    VerificationHelper, Verifier, VerifierBuilder,
};
use openpgp::policy::StandardPolicy;
use openpgp::types::SymmetricAlgorithm;
use openpgp::{Cert, KeyHandle};

use super::{CertError, first_line};

/// The policy every reader judges signatures and keys by: sequoia's
/// standard one (no SHA-1 signatures, no weak algorithms), as import does.
static POLICY: StandardPolicy<'static> = StandardPolicy::new();

/// How one piece of OpenPGP data is read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    /// What a refusal starts with: "bad signature", "cannot decrypt"…
    pub what: &'static str,
    /// The instant signatures and keys are judged at; `None` leaves it to
    /// sequoia (its own clock), which only the demo's read-back does.
    pub at: Option<DateTime<Utc>>,
    /// The most bytes a reader buffers and hands out (the bounds' size for
    /// untrusted data); `None` for what the list sealed itself.
    pub max_bytes: Option<usize>,
}

/// sequoia's three streaming builders, as [`Reading::open`] drives them.
pub(super) trait Builder<'a, H>: Parse<'a, Self> + Sized {
    type Reader;
    /// The builder with its buffer bounded.
    fn buffered(self, max_bytes: usize) -> Self;
    /// The reader, judging by [`POLICY`] at `time`.
    fn build(self, time: Option<SystemTime>, helper: H) -> openpgp::Result<Self::Reader>;
}

impl<'a, H: VerificationHelper> Builder<'a, H> for VerifierBuilder<'a> {
    type Reader = Verifier<'a, H>;
    fn buffered(self, max_bytes: usize) -> Self {
        self.buffer_size(max_bytes)
    }
    fn build(self, time: Option<SystemTime>, helper: H) -> openpgp::Result<Self::Reader> {
        self.with_policy(&POLICY, time, helper)
    }
}

impl<'a, H: VerificationHelper + DecryptionHelper> Builder<'a, H> for DecryptorBuilder<'a> {
    type Reader = Decryptor<'a, H>;
    fn buffered(self, max_bytes: usize) -> Self {
        self.buffer_size(max_bytes)
    }
    fn build(self, time: Option<SystemTime>, helper: H) -> openpgp::Result<Self::Reader> {
        self.with_policy(&POLICY, time, helper)
    }
}

/// A detached verifier hands nothing out (the signed data is given whole
/// to [`Reading::verify_detached`]), so it has no buffer to bound.
impl<'a, H: VerificationHelper> Builder<'a, H> for DetachedVerifierBuilder<'a> {
    type Reader = openpgp::parse::stream::DetachedVerifier<'a, H>;
    fn buffered(self, _max_bytes: usize) -> Self {
        self
    }
    fn build(self, time: Option<SystemTime>, helper: H) -> openpgp::Result<Self::Reader> {
        self.with_policy(&POLICY, time, helper)
    }
}

impl Reading {
    /// A reader of type `B` over `bytes`, or the refusal that says why
    /// sequoia would not start reading.
    pub(super) fn open<'a, B: Builder<'a, H>, H>(
        &self,
        bytes: &'a [u8],
        helper: H,
    ) -> Result<B::Reader, CertError> {
        let builder = B::from_bytes(bytes).map_err(|err| self.refused(&err))?;
        let builder = match self.max_bytes {
            Some(max_bytes) => builder.buffered(max_bytes),
            None => builder,
        };
        builder
            .build(self.at.map(SystemTime::from), helper)
            .map_err(|err| self.refused(&err))
    }

    /// Checks a detached `signature` over exactly `data`; answers the
    /// helper, which holds what the check found.
    pub(super) fn verify_detached<H: VerificationHelper>(
        &self,
        signature: &[u8],
        data: &[u8],
        helper: H,
    ) -> Result<H, CertError> {
        let mut verifier = self.open::<DetachedVerifierBuilder, H>(signature, helper)?;
        verifier
            .verify_bytes(data)
            .map_err(|err| self.refused(&err))?;
        Ok(verifier.into_helper())
    }

    /// Reads a verifier's or decryptor's output, refusing more than
    /// `max_bytes` (the packet walk already bounds it; this is the second
    /// lock on the same door).
    pub(super) fn read_all(&self, reader: &mut impl Read) -> Result<Vec<u8>, CertError> {
        let what = self.what;
        let limit = self.max_bytes.map_or(u64::MAX, |max| max as u64 + 1);
        let mut content = Vec::new();
        reader
            .take(limit)
            .read_to_end(&mut content)
            .map_err(|err| CertError::Unreadable(format!("{what}: {err}")))?;
        match self.max_bytes {
            Some(max) if content.len() > max => Err(CertError::Unreadable(format!(
                "{what}: the content is larger than {max} bytes"
            ))),
            _ => Ok(content),
        }
    }

    fn refused(&self, err: &anyhow::Error) -> CertError {
        CertError::Unreadable(format!("{}: {}", self.what, first_line(err)))
    }
}

/// A verification helper given the keys to decrypt with: what a
/// `Decryptor` needs. The list opening mail sent to it (its decryption
/// keys) and a member's read-back of a copy (their secret key) find the
/// session key the same way: each key on each session-key packet, in order,
/// until one opens it.
pub(super) struct Decrypting<H> {
    pub helper: H,
    pub keys: Vec<KeyPair>,
    /// The certificate the keys belong to, told to sequoia once one opened
    /// the session, when known.
    pub owner: Option<Cert>,
    /// Why no key opened it, when that is ours to say; `None` leaves the
    /// refusal to sequoia.
    pub refusal: Option<&'static str>,
}

impl<H: VerificationHelper> VerificationHelper for Decrypting<H> {
    fn get_certs(&mut self, ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        self.helper.get_certs(ids)
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        self.helper.check(structure)
    }
}

impl<H: VerificationHelper> DecryptionHelper for Decrypting<H> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for pair in &mut self.keys {
            for pkesk in pkesks {
                if let Some((algo, session_key)) = pkesk.decrypt(pair, sym_algo)
                    && decrypt(algo, &session_key)
                {
                    return Ok(self.owner.clone());
                }
            }
        }
        match self.refusal {
            Some(why) => Err(anyhow::anyhow!(why)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(max_bytes: Option<usize>) -> Reading {
        Reading {
            what: "bad signed text",
            at: None,
            max_bytes,
        }
    }

    /// The second lock on the door: output at the limit is read, a byte
    /// more is refused and says by what; without a limit all is read.
    #[test]
    fn read_all_holds_the_limit_to_the_byte() {
        let four = reading(Some(4)).read_all(&mut &b"abcd"[..]);
        assert_eq!(four.expect("at the limit"), b"abcd");
        let five = reading(Some(4)).read_all(&mut &b"abcde"[..]);
        assert_eq!(
            five.expect_err("past the limit").to_string(),
            "not an OpenPGP certificate: bad signed text: the content is larger than 4 bytes"
        );
        let all = reading(None).read_all(&mut &[7u8; 100_000][..]);
        assert_eq!(all.expect("no limit").len(), 100_000);
    }

    /// Bytes sequoia cannot start on are refused with what was being read
    /// in front, by each of the three readers.
    #[test]
    fn every_reader_names_what_was_being_read() {
        struct Nobody;
        impl VerificationHelper for Nobody {
            fn get_certs(
                &mut self,
                _: &[openpgp::KeyHandle],
            ) -> openpgp::Result<Vec<openpgp::Cert>> {
                Ok(Vec::new())
            }
            fn check(
                &mut self,
                _: openpgp::parse::stream::MessageStructure,
            ) -> openpgp::Result<()> {
                Ok(())
            }
        }
        let garbage = b"\xff\xfe not OpenPGP at all";
        let what = |err: CertError| err.to_string();
        let limited = reading(Some(1024));
        let verifier = limited.open::<VerifierBuilder, _>(garbage, Nobody);
        assert!(what(verifier.err().expect("refused")).contains("bad signed text: "));
        let decrypting = Decrypting {
            helper: Nobody,
            keys: Vec::new(),
            owner: None,
            refusal: None,
        };
        let decryptor = limited.open::<DecryptorBuilder, _>(garbage, decrypting);
        assert!(what(decryptor.err().expect("refused")).contains("bad signed text: "));
        let detached = limited.verify_detached(garbage, b"data", Nobody);
        assert!(what(detached.err().expect("refused")).contains("bad signed text: "));
    }
}
