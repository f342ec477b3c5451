//! Changes to a member already on the roster (status, key, roles,
//! sponsor), and reading the roster.

use anyhow::{Context, Result, bail};

use super::App;
use super::input::{self, Field, InputError};
use super::roster::MAX_STATEMENT;
use super::roster::{Caller, Taken, require_member, resolve_actor, subject, transition_action};
use crate::audit::{Actor, Record};
use crate::pgp::{self, CertSummary};
use crate::roster::gate::{self, Transition};
use crate::roster::{Email, Member, MemberSummary, Role, Status};
use crate::store::MemberChange;
use crate::text::Reason;

/// A member with what their certificate looks like now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberDetails {
    #[serde(flatten)]
    pub member: Member,
    pub certificate: CertSummary,
}

impl App {
    /// Suspends, resumes or removes a member. Removing a member flags the
    /// members they sponsored as needing a new sponsor; it returns those.
    pub async fn change_status(
        &self,
        email: &str,
        transition: Transition,
        reason: Option<&Reason>,
        caller: &Caller,
    ) -> Result<(Member, Vec<Email>)> {
        let email = input::email(Field::Member, email)?;
        if matches!(transition, Transition::Remove) && reason.is_none() {
            return Err(InputError::missing(Field::Reason, "removing a member").into());
        }
        let mut tx = self.write(self.now()).await?;
        let (_, actor) = resolve_actor(&mut tx, caller).await?;
        let member = require_member(&mut tx, &email).await?;
        let admins = tx.count_active_admins().await?;
        let to = gate::check_transition(&member, transition, admins)?;
        tx.update_member(member.id, &MemberChange::Status(to))
            .await?;
        tx.append_audit(
            &Record::new(
                actor.clone(),
                transition_action(transition),
                subject(&email),
            )
            .reason(reason)
            .detail("from", member.status.as_str())
            .detail("to", to.as_str()),
        )
        .await?;
        let flagged = if to == Status::Removed {
            let flagged = tx.flag_sponsored_by(member.id).await?;
            for orphan in &flagged {
                tx.append_audit(
                    // The program flags them, as a consequence of a
                    // change that came by the actor's channel.
                    &Record::new(Actor::System, "member.needs-sponsor", subject(orphan))
                        .detail("former_sponsor", email.normalized())
                        .detail("via", actor.channel().to_string()),
                )
                .await?;
            }
            flagged
        } else {
            Vec::new()
        };
        let member = require_member(&mut tx, &email).await?;
        tx.commit().await?;
        tracing::info!(fingerprint = %member.fingerprint, to = %to, flagged = flagged.len(), "changed a member's status");
        Ok((member, flagged))
    }

    /// Takes an update of a member's current certificate (same primary
    /// key): a revocation, a new expiry or subkey. A revoked or expired
    /// result is stored too, with a warning: copies sealed to it become
    /// `missed` at send time.
    async fn update_member_key(
        &self,
        email: &Email,
        cert: &[u8],
        caller: &Caller,
    ) -> Result<(Member, Vec<String>)> {
        let now = self.now();
        let mut tx = self.write(now).await?;
        let (_, actor) = resolve_actor(&mut tx, caller).await?;
        let member = require_member(&mut tx, email).await?;
        if member.status == Status::Removed {
            bail!("{email} is removed; a removed member's key cannot change");
        }
        let stored = tx.member_cert(member.id).await?;
        let (merged, problem) = pgp::update_member_cert(&stored, cert, &self.cert_policy(), now)
            .map_err(|err| InputError::refused(Field::KeyUpdate, err))?;
        if merged == stored {
            bail!("{email} already has everything in this certificate");
        }
        tx.update_member(
            member.id,
            &MemberChange::Cert {
                fingerprint: member.fingerprint.clone(),
                cert: merged.clone(),
            },
        )
        .await?;
        tx.set_member_keys(member.id, &pgp::signing_keys(&merged)?)
            .await?;
        tx.append_audit(
            &Record::new(actor, "member.update-key", subject(email))
                .detail("fingerprint", member.fingerprint.clone())
                .detail("usable", if problem.is_none() { "yes" } else { "no" }),
        )
        .await?;
        let member = require_member(&mut tx, email).await?;
        tx.commit().await?;
        let warnings = problem
            .map(|problem| {
                vec![format!(
                    "the updated key can no longer be used ({problem}); {email} will get only the content-free `missed` notice until a usable key is set"
                )]
            })
            .unwrap_or_default();
        Ok((member, warnings))
    }

    /// Replaces a member's certificate with one that passes the policy.
    pub async fn set_member_key(
        &self,
        email: &str,
        cert: &[u8],
        caller: &Caller,
    ) -> Result<(Member, Vec<String>)> {
        let now = self.now();
        let email = input::email(Field::Member, email)?;
        if let Some(current) = self.store.member(&email).await?
            && pgp::fingerprint_of(cert).is_ok_and(|fpr| fpr == current.fingerprint)
        {
            return self.update_member_key(&email, cert, caller).await;
        }
        let checked = pgp::check_member_cert(cert, &email, &self.cert_policy(), now)
            .map_err(|err| InputError::refused(Field::NewKey, err))?;
        let mut tx = self.write(now).await?;
        let (_, actor) = resolve_actor(&mut tx, caller).await?;
        let member = require_member(&mut tx, &email).await?;
        if member.status == Status::Removed {
            bail!("{email} is removed; a removed member's key cannot change");
        }
        if member.fingerprint == checked.fingerprint {
            bail!("{email} already uses certificate {}", checked.fingerprint);
        }
        if let Some(holder) = tx.email_with_fingerprint(&checked.fingerprint).await? {
            return Err(Taken::Certificate {
                fingerprint: checked.fingerprint.clone(),
                holder,
            }
            .into());
        }
        // The old keys may still finish a signed message already started
        // (one whose SET-KEY this is); nothing new.
        let old_cert = tx.member_cert(member.id).await?;
        tx.retire_member_keys(member.id, &old_cert).await?;
        tx.update_member(
            member.id,
            &MemberChange::Cert {
                fingerprint: checked.fingerprint.clone(),
                cert: checked.bytes.clone(),
            },
        )
        .await?;
        tx.set_member_keys(member.id, &pgp::signing_keys(&checked.bytes)?)
            .await?;
        tx.append_audit(
            &Record::new(actor, "member.set-key", subject(&email))
                .detail("old_fingerprint", member.fingerprint.clone())
                .detail("new_fingerprint", checked.fingerprint.clone()),
        )
        .await?;
        let member = require_member(&mut tx, &email).await?;
        tx.commit().await?;
        Ok((member, checked.warnings))
    }

    /// Grants (`grant = true`) or revokes a role.
    pub async fn change_role(
        &self,
        email: &str,
        role: Role,
        grant: bool,
        by: Option<&str>,
    ) -> Result<Member> {
        let email = input::email(Field::Member, email)?;
        let mut tx = self.write(self.now()).await?;
        let (by_member, actor) = resolve_actor(&mut tx, &Caller::cli(by)).await?;
        let member = require_member(&mut tx, &email).await?;
        let roles = if grant {
            gate::check_grant(&member, role, by_member.as_ref())?
        } else {
            let admins = tx.count_active_admins().await?;
            gate::check_revoke(&member, role, by_member.as_ref(), admins)?
        };
        tx.update_member(member.id, &MemberChange::Roles(roles))
            .await?;
        tx.append_audit(
            &Record::new(
                actor,
                if grant {
                    "member.grant"
                } else {
                    "member.revoke"
                },
                subject(&email),
            )
            .detail("role", role.as_str())
            .detail("roles", roles.to_string()),
        )
        .await?;
        let member = require_member(&mut tx, &email).await?;
        tx.commit().await?;
        Ok(member)
    }

    /// Records a new sponsor for a member (after their sponsor left).
    pub async fn responsor_member(
        &self,
        email: &str,
        sponsor: &str,
        statement: Option<&str>,
    ) -> Result<Member> {
        let email = input::email(Field::Member, email)?;
        let sponsor_email = input::email(Field::Sponsor, sponsor)?;
        let statement = statement
            .map(|text| input::lines(Field::Statement, text, MAX_STATEMENT))
            .transpose()?;
        let mut tx = self.write(self.now()).await?;
        let member = require_member(&mut tx, &email).await?;
        if member.status == Status::Removed {
            bail!("{email} is removed");
        }
        let sponsor = tx.member(&sponsor_email).await?;
        gate::check_sponsor(sponsor_email.as_str(), sponsor.as_ref())?;
        let sponsor = sponsor.context("sponsor checked above")?;
        if sponsor.id == member.id {
            return Err(gate::Refusal::SponsorIsSelf.into());
        }
        tx.update_member(
            member.id,
            &MemberChange::Sponsor {
                sponsor: sponsor.id,
                statement: statement.clone(),
            },
        )
        .await?;
        tx.append_audit(
            &Record::new(
                Actor::member_at_cli(sponsor.email.clone()),
                "member.sponsor",
                subject(&email),
            )
            .detail("sponsor", sponsor.email.normalized())
            .detail("statement", statement.unwrap_or_default())
            .detail(
                "previous_sponsor",
                member
                    .sponsor
                    .map(|s| s.normalized().to_owned())
                    .unwrap_or_default(),
            ),
        )
        .await?;
        let member = require_member(&mut tx, &email).await?;
        tx.commit().await?;
        Ok(member)
    }

    /// A summary of every member, or of those with one status.
    pub async fn list_members(&self, status: Option<Status>) -> Result<Vec<MemberSummary>> {
        Ok(self.store.member_summaries(status).await?)
    }

    /// The listing as the JSON array `member list --json` prints.
    pub async fn list_members_json(&self, status: Option<Status>) -> Result<String> {
        Ok(self.store.member_summaries_json(status).await?)
    }

    /// One member with a description of their certificate as it is now.
    pub async fn show_member(&self, email: &str) -> Result<MemberDetails> {
        let email = input::email(Field::Member, email)?;
        let Some(member) = self.store.member(&email).await? else {
            bail!("no member with address {email}");
        };
        let cert = self.store.member_cert(member.id).await?;
        let certificate = pgp::summarize_member_cert(&cert, &self.cert_policy(), self.now())
            .context("stored certificate")?;
        Ok(MemberDetails {
            member,
            certificate,
        })
    }
}
