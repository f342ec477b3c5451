//! Relays: mail to the team list, re-sealed by the scheduler.
//!
//! `embargo ingest` does the work that does not grow with the team: it
//! reads and authenticates the message, records the case, and keeps the
//! list's preface and the message, encrypted to the list key, as a relay
//! (`relays`), in the same transaction. The scheduler's pass then re-seals
//! it, one copy per reader encrypted to that reader alone, a batch of
//! readers at a time (a large report is never held once per reader), and
//! queues the copies and marks the relay done in one transaction: a pass
//! that fails leaves the relay for the next one, and a relay is never
//! queued twice. Readers are decided when the relay runs: the active team,
//! or a case's participants (the team, those invited, the reporter when we
//! hold their key).

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::App;
use super::case_mail::{Reader, keyed_reporter, participant_readers};
use super::scheduler::{Prepared, SealerSlot};
use super::seal::Sealer;
use crate::compose::Kind;
use crate::pgp;
use crate::store::{PendingRelay, RelayReaders, WriteTx};

/// How many readers' copies are encrypted and written at once.
const RESEAL_BATCH: usize = 8;
/// How many relays one pass takes on.
const RELAYS_PER_PASS: i64 = 50;

/// The preface and the message as one byte string: the preface's length
/// (4 bytes, big-endian), the preface, the message.
pub(super) fn frame(preface: &str, message: &[u8]) -> Result<Vec<u8>> {
    let length = u32::try_from(preface.len()).context("a preface over 4 GiB")?;
    let mut framed = Vec::with_capacity(4 + preface.len() + message.len());
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(preface.as_bytes());
    framed.extend_from_slice(message);
    Ok(framed)
}

fn unframe(framed: &[u8]) -> Option<(&str, &[u8])> {
    let (length, rest) = framed.split_at_checked(4)?;
    let length = usize::try_from(u32::from_be_bytes(length.try_into().ok()?)).ok()?;
    let (preface, message) = rest.split_at_checked(length)?;
    Some((std::str::from_utf8(preface).ok()?, message))
}

impl App {
    /// Keeps `message` behind `preface` in `tx` for the scheduler to
    /// re-seal to `readers` as mail of `kind`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn queue_relay(
        &self,
        tx: &mut WriteTx,
        sealer: &Sealer,
        kind: Kind,
        case: Option<i64>,
        readers: RelayReaders,
        preface: &str,
        message: &[u8],
    ) -> Result<()> {
        let kept = sealer.encrypt_to_list(&frame(preface, message)?)?;
        tx.add_relay(kind, case, readers, &kept).await?;
        Ok(())
    }

    /// The scheduler's step: every pending relay, each in a transaction
    /// of its own (one that fails is reported, the others go on).
    pub(super) async fn run_relays(
        &self,
        slot: &mut SealerSlot,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        let mut done = Prepared::default();
        let pending = self.store.pending_relays(RELAYS_PER_PASS).await?;
        if pending.is_empty() {
            return Ok(done);
        }
        let sealer = self.sealer(slot, now)?;
        let secret = self.thread_secret().await?;
        for relay in &pending {
            match self.relay(&sealer, relay, &secret, now).await {
                Ok(copies) => done.sealed += u64::try_from(copies).unwrap_or(u64::MAX),
                Err(err) => done.failed.push(format!(
                    "relay {} ({}): {err:#}",
                    relay.id,
                    relay.kind.name()
                )),
            }
        }
        Ok(done)
    }

    async fn relay(
        &self,
        sealer: &Sealer,
        relay: &PendingRelay,
        secret: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let framed = self.open_kept(&relay.sealed)?;
        let (preface, message) =
            unframe(&framed).context("a relay whose preface cannot be read")?;
        let mut readers: Vec<Reader> = Vec::new();
        if relay.readers != RelayReaders::Reporter {
            readers.extend(self.team().await?.into_iter().map(Reader::Member));
        }
        let mut reply_to = None;
        if relay.readers != RelayReaders::Team {
            let case = match relay.case {
                Some(row) => self.store.case_by_row(row).await?,
                None => None,
            }
            .context("a case's relay without its case")?;
            if relay.readers == RelayReaders::Participants {
                readers.extend(participant_readers(
                    &self.store.participants(case.row).await?,
                ));
            }
            readers.extend(keyed_reporter(&case));
            reply_to = self.case_reply_address(secret, case.id);
        }
        let resealed =
            self.prepare_reseal(sealer, preface, message, secret, reply_to.as_deref())?;
        drop(framed);
        let mut tx = self.store.write(now).await?;
        if !tx.relayed(relay.id).await? {
            // Another pass relayed it first.
            return Ok(0);
        }
        let announcement = tx.other_announcement(relay.kind, now).await?;
        let mut copies = 0;
        for batch in readers.chunks(RESEAL_BATCH) {
            let sealed = resealed.seal(sealer, batch);
            copies += sealed.len();
            tx.insert_deliveries(announcement, now, &sealed).await?;
        }
        super::crash::CrashPoints::from_env().reach(super::crash::CRASH_BEFORE_RELAY_COMMIT, 1);
        tx.commit().await?;
        tracing::info!(
            relay = relay.id,
            kind = relay.kind.name(),
            copies,
            "re-sealed to its readers"
        );
        Ok(copies)
    }

    /// What the list keeps for itself (encrypted to its own key), read.
    fn open_kept(&self, kept: &[u8]) -> Result<Vec<u8>> {
        let (list_key, passphrase) = self.list_key_for_decryption()?;
        // What ingest took (at most `max_bytes`, decrypted) and a preface.
        let bounds = pgp::Bounds::for_mail(self.config.inbound.max_bytes.saturating_mul(2));
        let opened = pgp::open_encrypted(
            &list_key,
            passphrase.as_ref(),
            kept,
            None,
            self.now(),
            &bounds,
        )
        .context("decrypt a relay with the list key")?;
        Ok(opened.content)
    }
}

#[cfg(test)]
mod tests {
    use super::{frame, unframe};

    #[test]
    fn a_frame_gives_back_its_preface_and_message_and_nothing_else_reads() {
        let framed = frame("the preface", b"the\r\nmessage").expect("frame");
        assert_eq!(
            unframe(&framed),
            Some(("the preface", b"the\r\nmessage".as_slice()))
        );
        let empty = frame("", b"").expect("frame");
        assert_eq!(unframe(&empty), Some(("", b"".as_slice())));
        // Cut short, or a length past the end: nothing.
        assert_eq!(unframe(&framed[..3]), None);
        assert_eq!(unframe(&[0, 0, 1, 0, b'x']), None);
        assert_eq!(unframe(&[0, 0, 0, 2, 0xff, 0xfe]), None);
    }
}
