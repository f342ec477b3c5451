//! `embargo ingest`: one inbound message, as an MTA hands it over.
//!
//! A command counts only when it is in the bytes a good, current signature
//! by an active member's key covers (a pending member may only CONFIRM),
//! names this list, and was not answered before (a message an earlier
//! attempt left half done is finished, see `commands.rs`). The signer's
//! fingerprint, never a header, decides who acts. Strangers, bad
//! signatures, replays and junk get no reply at all and change nothing;
//! they are logged (without addresses) and the message is taken, so the MTA
//! does not bounce it back. Bounces to our VERP addresses with a valid
//! token mark the copy and raise the member's bounce score.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::{App, binding};
use crate::audit::{Actor, Record};
use crate::compose::{Kind, reply_context};
use crate::inbound::{self, verp};
use crate::mail::{self, Inbound, Limits, SignedContent};
use crate::pgp::{self, Verified};
use crate::roster::{Member, Status};
use crate::store::{Addressee, SignedKey};

/// What became of one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Not read further (limits, unsigned, unverifiable, replayed, …).
    Dropped(String),
    /// Commands were carried out or refused; a reply is queued.
    Commands { done: usize, refused: usize },
    /// A bounce was recorded against one of our copies.
    Bounce,
    /// A team member's post, re-sealed to this many of the team.
    TeamPost { copies: usize },
    /// A report opened this case and went to this many of the team.
    Report { case: String, copies: usize },
    /// Mail to a case (a team post to its participants, or a follow-up
    /// to the team): this many copies.
    CaseMail { case: String, copies: usize },
}

/// A verified signed message.
pub(super) struct Authenticated {
    pub member: Member,
    pub cert: Vec<u8>,
    pub verified: Verified,
    pub digest: String,
    pub content: SignedContent,
}

/// A good signature by a member, with what it covers (for the replay
/// key) and the content read from it.
struct Checked {
    member: Member,
    cert: Vec<u8>,
    verified: Verified,
    covered: Vec<u8>,
    content: SignedContent,
}

/// A signature checked, or why the message is dropped.
type Checking = std::result::Result<Checked, String>;

const BOUNCE_SECRET: &str = "bounce";

/// The replay key's digest: over what the signature covers, in the form
/// it covers it (`pgp::canonical`), so that no re-encoding of the same
/// signed command (other line ends, another transfer encoding, trailing
/// blanks, other outer headers, the signature moved into an encrypted
/// message) looks new. The signer and the signature's creation time sit
/// beside the digest in the replay record. The rest of the signature is
/// left out: its hashed area cannot change without breaking it, and its
/// unhashed area can change freely.
fn digest(verified: &Verified, covered: &[u8]) -> String {
    hex::encode(Sha256::digest(pgp::canonical(verified, covered)))
}

impl App {
    pub(super) fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.config.inbound.max_bytes,
            max_depth: self.config.inbound.max_depth,
            max_parts: self.config.inbound.max_parts,
            max_headers: self.config.inbound.max_headers,
            max_header_bytes: self.config.inbound.max_header_bytes,
        }
    }

    /// The key of bounce-address tokens: from the config, else one the
    /// list made for itself.
    pub(crate) async fn bounce_secret(&self) -> Result<Vec<u8>> {
        if let Some(secret) = self
            .config
            .inbound
            .bounce_secret
            .load()
            .context("read [inbound] bounce_secret")?
        {
            return Ok(secret.expose().as_bytes().to_vec());
        }
        if let Some(value) = self.store.secret(BOUNCE_SECRET).await? {
            return Ok(value.into_bytes());
        }
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
        let mut tx = self.store.write(self.now()).await?;
        let kept = tx.keep_secret(BOUNCE_SECRET, &hex::encode(random)).await?;
        tx.commit().await?;
        Ok(kept.into_bytes())
    }

    /// The list key and its passphrase, read for decrypting what was
    /// encrypted to the list (mail to it, what it keeps for itself).
    pub(super) fn list_key_for_decryption(
        &self,
    ) -> Result<(pgp::ListKey, Option<crate::config::Secret>)> {
        let key_bytes = std::fs::read(&self.config.list_key.path).with_context(|| {
            format!("read the list key {}", self.config.list_key.path.display())
        })?;
        let list_key = pgp::ListKey::read(&key_bytes).context("the list key")?;
        let passphrase = self
            .config
            .list_key
            .passphrase
            .load()
            .context("read the list key passphrase")?;
        Ok((list_key, passphrase))
    }

    /// Takes one inbound message. An `Err` is only ever trouble on our
    /// side (the database busy or broken): the MTA should try again.
    pub async fn ingest(&self, bytes: &[u8]) -> Result<Ingested> {
        let limits = self.limits();
        let inbound = match mail::read_inbound(bytes, &limits) {
            Ok(inbound) => inbound,
            Err(dropped) => return Ok(self.drop_message(&format!("dropped unread: {dropped}"))),
        };
        let authenticated = match inbound {
            Inbound::Unsigned => return Ok(self.drop_message("unsigned; ignored")),
            Inbound::Bounce { recipients, status } => {
                return self.bounce(&recipients, status.as_deref()).await;
            }
            other => match self.authenticate(other, &limits, 0).await? {
                Ok(authenticated) => authenticated,
                Err(reason) => return Ok(self.drop_message(&reason)),
            },
        };
        self.run_commands(authenticated).await
    }

    pub(super) fn drop_message(&self, reason: &str) -> Ingested {
        tracing::warn!(reason, "inbound message dropped");
        Ingested::Dropped(reason.to_owned())
    }

    /// Finds the signer by the issuer their signature names, verifies the
    /// signature against that member's certificate alone, and reads the
    /// command text from the verified bytes. Every OpenPGP input is read
    /// within `bounds` (what it may decompress to), and a signature from
    /// the future is verified at its own time (see
    /// `pgp::verification_time`); `run_commands` judges the time itself.
    pub(super) async fn authenticate(
        &self,
        inbound: Inbound,
        limits: &Limits,
        depth: u8,
    ) -> Result<std::result::Result<Authenticated, String>> {
        let bounds = pgp::Bounds::for_mail(limits.max_bytes);
        let checked = match inbound {
            Inbound::Signed { signed, signature } => {
                self.check_signed(signed, &signature, limits, &bounds)
                    .await?
            }
            Inbound::Encrypted { payload } => {
                self.check_encrypted(&payload, limits, &bounds, depth)
                    .await?
            }
            Inbound::Cleartext { armored } => self.check_cleartext(&armored, &bounds).await?,
            Inbound::Unsigned | Inbound::Bounce { .. } => Err("unsigned; ignored".to_owned()),
        };
        let Checked {
            member,
            cert,
            verified,
            covered,
            content,
        } = match checked {
            Ok(checked) => checked,
            Err(reason) => return Ok(Err(reason)),
        };
        // Attached certificates are read later, by the commands that name
        // them: bound what they expand to now, before anything is done.
        for key in &content.keys {
            if let Err(err) = pgp::check_bounds(key, &bounds) {
                return Ok(Err(format!("attached key refused: {err}")));
            }
        }
        Ok(Ok(Authenticated {
            member,
            cert,
            digest: digest(&verified, &covered),
            verified,
            content,
        }))
    }

    /// A root multipart/signed: the detached signature over the first part.
    async fn check_signed(
        &self,
        signed: Vec<u8>,
        signature: &[u8],
        limits: &Limits,
        bounds: &pgp::Bounds,
    ) -> Result<Checking> {
        let Ok(issuers) = pgp::signature_issuers(signature, bounds) else {
            return Ok(Err("unreadable signature".to_owned()));
        };
        let Some((member, cert)) = self.signer(&issuers.handles).await? else {
            return Ok(Err("signed by a key that is not on the roster".to_owned()));
        };
        let at = pgp::verification_time(self.now(), &issuers);
        let verified = match pgp::verify_signed(&cert, &signed, signature, at, bounds) {
            Ok(verified) => verified,
            Err(err) => return Ok(Err(format!("signature does not verify: {err}"))),
        };
        let content = match mail::signed_content(&signed, limits) {
            Ok(content) => content,
            Err(dropped) => return Ok(Err(format!("signed part dropped: {dropped}"))),
        };
        Ok(Ok(Checked {
            member,
            cert,
            verified,
            covered: signed,
            content,
        }))
    }

    /// A root multipart/encrypted: signed inside in one pass, or a
    /// multipart/signed entity encrypted as a second layer.
    async fn check_encrypted(
        &self,
        payload: &[u8],
        limits: &Limits,
        bounds: &pgp::Bounds,
        depth: u8,
    ) -> Result<Checking> {
        let (list_key, passphrase) = self.list_key_for_decryption()?;
        let open = |cert: Option<&[u8]>, at| {
            pgp::open_encrypted(&list_key, passphrase.as_ref(), payload, cert, at, bounds)
        };
        let now = self.now();
        let first = match open(None, now) {
            Ok(opened) => opened,
            Err(err) => return Ok(Err(format!("cannot decrypt: {err}"))),
        };
        if first.issuers.handles.is_empty() {
            // Signed, then encrypted as two layers (RFC 3156 6.1): the
            // plaintext is itself a multipart/signed entity.
            return match mail::read_inbound(&first.content, limits) {
                Ok(Inbound::Signed { signed, signature }) if depth == 0 => {
                    self.check_signed(signed, &signature, limits, bounds).await
                }
                _ => Ok(Err("encrypted without a signature".to_owned())),
            };
        }
        let Some((member, cert)) = self.signer(&first.issuers.handles).await? else {
            return Ok(Err("signed by a key that is not on the roster".to_owned()));
        };
        let at = pgp::verification_time(now, &first.issuers);
        let opened = match open(Some(&cert), at) {
            Ok(opened) => opened,
            Err(err) => return Ok(Err(format!("cannot decrypt: {err}"))),
        };
        let Some(verified) = opened.verified else {
            return Ok(Err("the signature inside does not verify".to_owned()));
        };
        let content = match mail::signed_content(&opened.content, limits) {
            Ok(content) => content,
            Err(dropped) => return Ok(Err(format!("signed content dropped: {dropped}"))),
        };
        Ok(Ok(Checked {
            member,
            cert,
            verified,
            covered: opened.content,
            content,
        }))
    }

    /// A root text/plain holding a cleartext-signed block.
    async fn check_cleartext(&self, armored: &[u8], bounds: &pgp::Bounds) -> Result<Checking> {
        let now = self.now();
        let Ok(first) = pgp::open_cleartext(armored, None, now, bounds) else {
            return Ok(Err("unreadable cleartext signature".to_owned()));
        };
        let Some((member, cert)) = self.signer(&first.issuers.handles).await? else {
            return Ok(Err("signed by a key that is not on the roster".to_owned()));
        };
        let at = pgp::verification_time(now, &first.issuers);
        let opened = match pgp::open_cleartext(armored, Some(&cert), at, bounds) {
            Ok(opened) => opened,
            Err(err) => return Ok(Err(format!("signature does not verify: {err}"))),
        };
        let Some(verified) = opened.verified else {
            return Ok(Err("signature does not verify".to_owned()));
        };
        let content = SignedContent {
            text: String::from_utf8_lossy(&opened.content).into_owned(),
            keys: Vec::new(),
            to: Vec::new(),
        };
        Ok(Ok(Checked {
            member,
            cert,
            verified,
            covered: opened.content,
            content,
        }))
    }

    async fn signer(&self, handles: &[String]) -> Result<Option<(Member, Vec<u8>)>> {
        for handle in handles.iter().take(8) {
            if let Some(found) = self.store.member_by_key(handle).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The checks every authenticated message passes, then its commands.
    async fn run_commands(&self, auth: Authenticated) -> Result<Ingested> {
        let now = self.now();
        let signer = &auth.member;
        let key = SignedKey {
            signer: &auth.verified.signer,
            signed_at: auth.verified.signed_at,
            digest: &auth.digest,
        };
        // A message an earlier attempt started is finished even when one
        // of its commands ended the membership (UNSUBSCRIBE) or replaced
        // the key that signed it (SET-KEY): the rest are carried out or
        // refused and the reply goes out. Its commands were recorded under
        // this very signature, made while the key was the member's.
        let started = !self.store.commands_recorded(&key).await?.is_empty();
        if !started && signer.fingerprint != auth.verified.signer {
            return Ok(self.drop_message("the signing key's certificate is not the member's"));
        }
        if !started && !matches!(signer.status, Status::Active | Status::Pending) {
            return Ok(self.drop_message("signed by a member who is not active"));
        }
        let signed_at = auth.verified.signed_at;
        if signed_at < now - self.config.inbound.signature_max_age {
            return Ok(self.drop_message("the signature is too old"));
        }
        if signed_at > now + self.config.inbound.future_skew {
            return Ok(self.drop_message("the signature is from the future"));
        }
        if self
            .store
            .signature_seen(&auth.verified.signer, signed_at, &auth.digest)
            .await?
        {
            return Ok(self.drop_message("this signed message was already used"));
        }
        let parsed = inbound::parse(&auth.content.text);
        let list = &self.config.list;
        let names_list = |text: &str| {
            let text = text.trim().trim_matches(['<', '>']);
            text.eq_ignore_ascii_case(list.address.as_str())
                || text.eq_ignore_ascii_case(list.request_address.as_str())
        };
        let bound = parsed.list.as_deref().is_some_and(names_list)
            || auth.content.to.iter().any(|to| names_list(to));
        if !bound {
            return Ok(self.drop_message("the signed text does not name this list (List: line)"));
        }
        if parsed.commands.is_empty() && parsed.malformed.is_empty() {
            return Ok(self.drop_message("no command in the signed text"));
        }
        tracing::info!(
            signer = %auth.verified.signer,
            commands = parsed.commands.len(),
            "signed commands received"
        );
        let mut lines: Vec<String> = parsed
            .malformed
            .iter()
            .map(|malformed| format!("not understood: {malformed}"))
            .collect();
        let (certs, unreadable) = binding::attached_certs(&auth.content.keys);
        let (bindings, unused) = binding::bind_certs(&parsed.commands, &signer.email, &certs);
        let outcome = self
            .carry_out_all(&key, signer, &parsed.commands, &bindings)
            .await?;
        lines.extend(outcome.lines);
        lines.extend(unreadable);
        lines.extend(
            unused
                .iter()
                .map(|fingerprint| format!("attached certificate {fingerprint} was not used")),
        );
        if !self.reply(&auth, &key, &lines).await? {
            return Ok(self.drop_message("this signed message was already answered"));
        }
        Ok(Ingested::Commands {
            done: outcome.done,
            refused: outcome.refused + parsed.malformed.len(),
        })
    }

    /// The answer to the signer: signed by the list, encrypted to them,
    /// queued in the transaction that marks the message complete (so a
    /// retry after this point is a replay). `false` if another attempt of
    /// the same message completed it first.
    async fn reply(
        &self,
        auth: &Authenticated,
        key: &SignedKey<'_>,
        lines: &[String],
    ) -> Result<bool> {
        let now = self.now();
        let member = &auth.member;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let addressee = Addressee {
            member_id: member.id,
            email: member.email.clone(),
            name: member.name.clone(),
            org: member.org.clone(),
            fingerprint: member.fingerprint.clone(),
            cert: auth.cert.clone(),
            cert_version: 0,
        };
        let view = super::member_mail::member_view(&addressee, "");
        let rendered = self
            .templates()?
            .render(Kind::Reply, &reply_context(&self.list_view(), &view, lines))?;
        let copy = self.seal_one(&sealer, &rendered, Kind::Reply, &addressee)?;
        let mut tx = self.store.write(now).await?;
        match tx
            .record_signature(key.signer, key.signed_at, key.digest)
            .await
        {
            Err(crate::store::StoreError::Conflict(_)) => return Ok(false),
            other => other?,
        }
        if let Some(mut copy) = copy {
            // Sealed for the certificate that just verified, whatever its
            // stored version: not checked again at send time.
            copy.cert_version = None;
            Self::queue_member_mail(&mut tx, Kind::Reply, copy).await?;
        } else {
            tracing::warn!("no reply: the signer's key cannot be encrypted to");
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A delivery status notification: counts only for one of our VERP
    /// addresses with a valid token.
    async fn bounce(&self, recipients: &[String], status: Option<&str>) -> Result<Ingested> {
        let secret = self.bounce_secret().await?;
        let address = &self.config.list.address;
        let Some(delivery) = recipients
            .iter()
            .find_map(|to| verp::check(to, address.local_part(), address.domain(), &secret))
        else {
            return Ok(
                self.drop_message("a bounce that names none of our copies (or a forged token)")
            );
        };
        let hard = status.is_some_and(|code| code.trim().starts_with('5'));
        let weight = if hard { 1.0 } else { 0.25 };
        let mut tx = self.store.write(self.now()).await?;
        let Some((member, score, reported)) = tx.record_bounce(delivery, hard, weight).await?
        else {
            return Ok(self.drop_message("a bounce for a copy already bounced, or not a member's"));
        };
        tx.append_audit(
            &Record::new(
                Actor::System,
                "delivery.bounce",
                format!("delivery:{delivery}"),
            )
            .detail("kind", if hard { "hard" } else { "soft" })
            .detail("score", format!("{score:.2}")),
        )
        .await?;
        let tell = score >= self.config.inbound.bounce_threshold && !reported;
        if tell {
            tx.mark_bounce_reported(member).await?;
        }
        tx.commit().await?;
        tracing::info!(delivery, hard, "bounce recorded");
        if tell {
            let copy = self.store.bounced_copy(delivery).await?;
            let line = format!(
                "{} has a bounce score of {score:.2} (threshold {}); nobody is removed automatically",
                copy.map(|c| c.recipient).unwrap_or_default(),
                self.config.inbound.bounce_threshold
            );
            self.alert_maintainers("a member's mail keeps bouncing", &[line])
                .await?;
        }
        Ok(Ingested::Bounce)
    }
}
