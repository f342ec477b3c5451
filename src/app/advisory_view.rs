//! Reading advisories and checking one before it goes out: list, show,
//! acknowledgements, the pre-flight (members whose key cannot last until
//! the disclosure, and which mail each will miss) and the preview of
//! every mail an advisory sends.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use super::App;
use super::seal::{Recipient, Sealed, Sealer, label};
use crate::advisory::time::format_utc;
use crate::advisory::{Advisory, Change};
use crate::compose::{Kind, Rendered, advisory_context};
use crate::roster::{Email, Status as MemberStatus};

/// A member some of whose mail about an advisory will be the
/// content-free `missed` notice instead, which mail, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unreachable {
    pub email: Email,
    pub reason: String,
    pub misses: Misses,
}

/// Which of an advisory's encrypted mail a member will miss. The public
/// disclosure is signed, not encrypted, so every member gets it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Misses {
    /// No mail can be encrypted to the key now: the notice, every update,
    /// the reminder and a cancellation.
    Everything,
    /// The key expires at `from`, before disclosure: the notice arrives,
    /// and encrypted mail sent from then on (updates, a cancellation, and
    /// the reminder when `reminder` is true) does not.
    From { from: DateTime<Utc>, reminder: bool },
}

impl std::fmt::Display for Misses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Misses::Everything => f.write_str(
                "gets `missed` instead of the notice, any update, the reminder and a cancellation",
            ),
            Misses::From { from, reminder } => write!(
                f,
                "gets the notice; from {} on, updates{} and a cancellation arrive as `missed`",
                format_utc(*from),
                if *reminder { ", the reminder" } else { "" }
            ),
        }
    }
}

/// What `preview` produces.
#[derive(Debug)]
pub enum Preview {
    Text(Rendered),
    Sealed(Vec<u8>),
}

/// An instant in UTC and in the operator's local time zone, side by side.
pub fn both_times(instant: DateTime<Utc>) -> String {
    let local = instant.with_timezone(&chrono::Local);
    format!(
        "{} ({} local)",
        format_utc(instant),
        local.format("%Y-%m-%d %H:%M %Z")
    )
}

impl App {
    /// Every active member's answer (or none) about an advisory.
    pub async fn advisory_acks(&self, id: &str) -> Result<Vec<crate::store::AckRow>> {
        let stored = self.require_advisory(id).await?;
        Ok(self.store.acks(stored.row).await?)
    }

    /// Every advisory, newest first.
    pub async fn list_advisories(&self) -> Result<Vec<Advisory>> {
        Ok(self.store.advisories().await?)
    }

    /// One advisory and the changes of its current revision.
    /// An advisory, what its current revision changed, and the hold on
    /// its disclosure (until when), if a maintainer holds it.
    pub async fn show_advisory(
        &self,
        id: &str,
    ) -> Result<(Advisory, Vec<Change>, Option<DateTime<Utc>>)> {
        let stored = self.require_advisory(id).await?;
        let changes = self
            .store
            .advisory_changes(&stored.advisory.id, stored.advisory.revision)
            .await?;
        let held_until = stored.hold.as_ref().map(|(until, _)| *until);
        Ok((stored.advisory, changes, held_until))
    }

    /// Active members whose key cannot take mail until the disclosure
    /// time; they will get `missed` instead.
    pub async fn preflight(&self, advisory: &Advisory) -> Result<Vec<Unreachable>> {
        let now = self.now();
        let policy = self.cert_policy();
        let until = advisory.content.disclose_at;
        let before = self.config.delivery.reminder_before;
        let reminder_at = (!before.is_zero()).then(|| until - before);
        Ok(self
            .store
            .member_certs(MemberStatus::Active)
            .await?
            .into_iter()
            .filter_map(|(email, cert)| {
                let (reason, misses) = match crate::pgp::encryptable_until(&cert, &policy, now) {
                    Err(reason) => (reason, Misses::Everything),
                    Ok(Some(expires)) if expires <= until => (
                        format!(
                            "the encryption subkey expires on {}, before the disclosure time",
                            format_utc(expires)
                        ),
                        Misses::From {
                            from: expires,
                            reminder: reminder_at.is_some_and(|at| at >= expires),
                        },
                    ),
                    Ok(_) => return None,
                };
                Some(Unreachable {
                    email,
                    reason,
                    misses,
                })
            })
            .collect())
    }

    /// Renders `kind` for an advisory; with `sealed`, builds the exact
    /// message `member` would be sent (for `disclosure`, the public one).
    pub async fn preview_advisory(
        &self,
        id: &str,
        kind: Kind,
        member: Option<&str>,
        sealed: bool,
    ) -> Result<Preview> {
        if !Kind::ADVISORY.contains(&kind) {
            bail!(
                "preview shows the advisory kinds: notice, update, reminder, disclosure, cancellation"
            );
        }
        let now = self.now();
        let stored = self.require_advisory(id).await?;
        let advisory = &stored.advisory;
        let changes = self
            .store
            .advisory_changes(&advisory.id, advisory.revision)
            .await?;
        let templates = self.check_templates(advisory, &changes)?;
        // What members would read: the disclosure time in force (a hold's).
        let mut shown = advisory.clone();
        shown.content.disclose_at = super::scheduler::effective_disclosure(&stored);
        let hours = (shown.content.disclose_at - now).num_hours().max(0);
        let rendered = templates.render(
            kind,
            &advisory_context(&self.list_view(), &shown, &changes, hours),
        )?;
        if !sealed {
            return Ok(Preview::Text(rendered));
        }
        let sealer = Sealer::from_config(&self.config, now)?;
        let entity = sealer.sign(&rendered)?;
        let label = label(advisory.id.as_str(), advisory.revision, kind);
        if kind == Kind::Disclosure && member.is_none() {
            let to = self
                .config
                .mail
                .public_addresses
                .first()
                .unwrap_or(&self.config.list.address)
                .clone();
            return Ok(Preview::Sealed(
                sealer
                    .public(&entity, &rendered, &to, &stored.message_key, &label)?
                    .1,
            ));
        }
        let Some(member) = member else {
            bail!(
                "a sealed preview of {} needs --for EMAIL: each member's copy is encrypted to them",
                kind.name()
            );
        };
        let email = super::input::email(super::input::Field::PreviewFor, member)?;
        let Some(member) = self.store.member(&email).await? else {
            bail!("no member with address {email}");
        };
        if kind == Kind::Disclosure {
            return Ok(Preview::Sealed(
                sealer
                    .public(
                        &entity,
                        &rendered,
                        &member.email,
                        &stored.message_key,
                        &label,
                    )?
                    .1,
            ));
        }
        let recipient = Recipient {
            email: member.email.clone(),
            fingerprint: member.fingerprint.clone(),
            cert: self.store.member_cert(member.id).await?,
        };
        match sealer
            .seal(&entity, &[recipient], &stored.message_key, &label)
            .pop()
        {
            Some(Sealed::Message { bytes, .. }) => Ok(Preview::Sealed(bytes)),
            Some(Sealed::Missed { reason }) => {
                bail!("{email} would get the content-free `missed` notice instead: {reason}")
            }
            None => bail!("nothing was sealed"),
        }
    }
}
