//! Roster use cases: add, confirm, change status, change key, grant and
//! revoke roles, re-sponsor, and read the roster.

use anyhow::{Context, Result, bail};
use chrono::Duration;

use super::App;
use crate::audit::{Actor, Record};
use crate::pgp::{self, CertSummary};
use crate::roster::gate::{self, Transition};
use crate::roster::{Email, Kind, Member, MemberSummary, Role, Roles, Status, token};
use crate::store::{MemberChange, NewMember, WriteTx};

/// What `member add` asks for.
#[derive(Debug, Clone)]
pub struct AddMember {
    pub email: String,
    pub name: String,
    pub org: String,
    pub kind: Kind,
    pub cert: Vec<u8>,
    pub sponsor: String,
    pub statement: Option<String>,
    pub roles: Vec<Role>,
    /// The admin who grants privileged starting roles, if any.
    pub by: Option<String>,
}

/// What `member add` did.
#[derive(Debug, Clone)]
pub struct Added {
    pub member: Member,
    /// The confirmation token in clear. Only its hash is stored; this is
    /// the one moment it exists in clear, to be sent to the member.
    pub token: String,
    pub warnings: Vec<String>,
}

/// A member with what their certificate looks like now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberDetails {
    #[serde(flatten)]
    pub member: Member,
    pub certificate: CertSummary,
}

/// A refusal because an address or a certificate is already someone's.
/// The operator's CLI shows who holds it; a reply to a member must not
/// (it would let any member probe the roster), so inbound mail tells these
/// apart by type and answers with one text whoever holds it.
#[derive(Debug, thiserror::Error)]
pub enum Taken {
    #[error("{email} is already on the roster (status {status})")]
    Address { email: Email, status: Status },
    #[error("certificate {fingerprint} is already registered to {holder}")]
    Certificate { fingerprint: String, holder: String },
}

/// The length of a statement of sponsorship, in characters.
const MAX_STATEMENT: usize = 4000;

fn subject(email: &Email) -> String {
    format!("member:{}", email.normalized())
}

fn parse_email(text: &str, what: &str) -> Result<Email> {
    Email::parse(text).with_context(|| what.to_owned())
}

/// Looks up a member by address inside `tx`, or says nobody has it.
async fn require_member(tx: &mut WriteTx, email: &Email) -> Result<Member> {
    match tx.member(email).await? {
        Some(member) => Ok(member),
        None => bail!("no member with address {email}"),
    }
}

/// Resolves `--by` into the acting member (if any) and the audit actor.
async fn resolve_actor(tx: &mut WriteTx, by: Option<&str>) -> Result<(Option<Member>, Actor)> {
    match by {
        None => Ok((None, Actor::Operator)),
        Some(text) => {
            let email = parse_email(text, "--by address")?;
            let member = require_member(tx, &email).await.context("--by")?;
            Ok((Some(member), Actor::Member(email)))
        }
    }
}

impl App {
    /// Adds a pending member vouched for by `request.sponsor`.
    pub async fn add_member(&self, request: AddMember) -> Result<Added> {
        let now = self.now();
        let email = parse_email(&request.email, "member address")?;
        let list = &self.config.list;
        if email.is_list_address(&list.address, &list.request_address) {
            bail!(
                "{email} is one of the list's own addresses; mail to it would loop back into the list"
            );
        }
        let name = crate::text::single_line("name", &request.name, 200)?;
        let org = crate::text::single_line("organisation", &request.org, 200)?;
        let statement = request
            .statement
            .as_deref()
            .map(|text| crate::text::multi_line("statement", text, MAX_STATEMENT))
            .transpose()?;
        let sponsor_email = parse_email(&request.sponsor, "sponsor address")?;
        let roles: Roles = if request.roles.is_empty() {
            Roles::only(Role::Subscriber)
        } else {
            request.roles.iter().copied().collect()
        };
        let cert = pgp::check_member_cert(&request.cert, &email, &self.cert_policy(), now)
            .context("member certificate")?;

        let token = new_token()?;
        let expires = now + Duration::hours(i64::from(self.config.members.confirm_token_ttl_hours));
        let mut warnings = cert.warnings.clone();
        let confirm_mail = match self.seal_confirm(
            &email,
            &name,
            &org,
            &cert,
            &sponsor_email,
            &token,
            expires,
        ) {
            Ok(copy) => copy,
            Err(err) => {
                warnings.push(format!(
                    "the confirmation mail could not be sealed ({err:#}); give the member the token yourself"
                ));
                None
            }
        };

        let mut tx = self.write(now).await?;
        // The gate first: somebody who may not sponsor learns nothing
        // about whether the address or certificate is on the roster.
        let sponsor = tx.member(&sponsor_email).await?;
        gate::check_sponsor(sponsor_email.as_str(), sponsor.as_ref())?;
        let sponsor = sponsor.context("sponsor checked above")?;
        if sponsor.email == email {
            return Err(gate::Refusal::SponsorIsSelf.into());
        }
        let (by, actor) = resolve_actor(&mut tx, request.by.as_deref()).await?;
        gate::check_initial_roles(roles, by.as_ref())?;
        if let Some(existing) = tx.member(&email).await? {
            return Err(Taken::Address {
                email,
                status: existing.status,
            }
            .into());
        }
        if let Some(holder) = tx.email_with_fingerprint(&cert.fingerprint).await? {
            return Err(Taken::Certificate {
                fingerprint: cert.fingerprint.clone(),
                holder,
            }
            .into());
        }

        let member = tx
            .insert_member(&NewMember {
                email: email.clone(),
                name,
                org,
                kind: request.kind,
                roles,
                status: Status::Pending,
                fingerprint: cert.fingerprint.clone(),
                cert: cert.bytes.clone(),
                sponsor: Some(sponsor.id),
                statement: statement.clone(),
                confirm_token: Some((token::hash(&token), expires)),
            })
            .await?;
        tx.set_member_keys(member.id, &pgp::signing_keys(&cert.bytes)?)
            .await?;
        let actor = match actor {
            Actor::Operator => Actor::Member(sponsor.email.clone()),
            other => other,
        };
        tx.append_audit(
            &Record::new(actor, "member.add", subject(&email))
                .detail("sponsor", sponsor.email.normalized())
                .detail("statement", statement.unwrap_or_default())
                .detail("roles", roles.to_string())
                .detail("kind", request.kind.as_str())
                .detail("fingerprint", cert.fingerprint.clone()),
        )
        .await?;
        if let Some(mut copy) = confirm_mail {
            copy.member_id = Some(member.id);
            Self::queue_member_mail(&mut tx, crate::compose::Kind::Confirm, copy).await?;
        }
        tx.commit().await?;
        // Addresses only at debug level: info logs must not reveal the roster.
        tracing::info!(fingerprint = %member.fingerprint, "added a pending member");
        tracing::debug!(member = %email, sponsor = %sponsor.email, "added a pending member");
        Ok(Added {
            member,
            token,
            warnings,
        })
    }

    /// The `confirm` mail with the token, encrypted to the new member's
    /// key. Sealed before the transaction that adds them, queued inside it.
    #[allow(clippy::too_many_arguments)]
    fn seal_confirm(
        &self,
        email: &Email,
        name: &str,
        org: &str,
        cert: &pgp::CheckedCert,
        sponsor: &Email,
        token: &str,
        expires: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<crate::store::NewDelivery>> {
        let sealer = super::seal::Sealer::from_config(&self.config, self.now())?;
        let addressee = crate::store::Addressee {
            member_id: crate::roster::MemberId(0),
            email: email.clone(),
            name: name.to_owned(),
            org: org.to_owned(),
            fingerprint: cert.fingerprint.clone(),
            cert: cert.bytes.clone(),
            cert_version: 1,
        };
        self.seal_member_mail(
            &sealer,
            crate::compose::Kind::Confirm,
            &addressee,
            sponsor.as_str(),
            &[
                ("token", token.to_owned()),
                ("expires", crate::advisory::time::format_utc(expires)),
            ],
        )
    }

    /// Activates a pending member who returned their token.
    pub async fn confirm_member(&self, email: &str, presented: &str) -> Result<Member> {
        let email = parse_email(email, "member address")?;
        let mut tx = self.write(self.now()).await?;
        let member = require_member(&mut tx, &email).await?;
        let admins = tx.count_active_admins().await?;
        gate::check_transition(&member, Transition::Confirm, admins)?;
        let Some((stored, expires)) = tx.confirm_token(member.id).await? else {
            bail!("{email} has no confirmation token on record");
        };
        if !token::hashes_match(&stored, &token::hash(presented)) {
            bail!("the confirmation token does not match");
        }
        if tx.now() >= expires {
            bail!(
                "the confirmation token expired at {}; remove and add the member again",
                crate::clock::format_instant(expires)
            );
        }
        tx.update_member(member.id, &MemberChange::Status(Status::Active))
            .await?;
        // By mail the member confirms for themselves; at the CLI the
        // operator types the token they were given.
        let actor = match self.channel() {
            crate::audit::Channel::Cli => Actor::Operator,
            _ => Actor::Member(email.clone()),
        };
        tx.append_audit(
            &Record::new(actor, "member.confirm", subject(&email)).detail("proof", "token"),
        )
        .await?;
        let member = require_member(&mut tx, &email).await?;
        match self.seal_welcome(&member, &mut tx).await {
            Ok(Some(copy)) => {
                Self::queue_member_mail(&mut tx, crate::compose::Kind::Welcome, copy).await?;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "the welcome mail could not be sealed")
            }
        }
        tx.commit().await?;
        tracing::info!(fingerprint = %member.fingerprint, "confirmed a member");
        // Open embargoes reach the new member now: their notice is sealed.
        self.prepare_now().await;
        Ok(member)
    }

    async fn seal_welcome(
        &self,
        member: &Member,
        tx: &mut crate::store::WriteTx,
    ) -> Result<Option<crate::store::NewDelivery>> {
        let cert = tx.member_cert(member.id).await?;
        let sealer = super::seal::Sealer::from_config(&self.config, self.now())?;
        let addressee = crate::store::Addressee {
            member_id: member.id,
            email: member.email.clone(),
            name: member.name.clone(),
            org: member.org.clone(),
            fingerprint: member.fingerprint.clone(),
            cert,
            cert_version: 1,
        };
        let sponsor = member
            .sponsor
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        self.seal_member_mail(
            &sealer,
            crate::compose::Kind::Welcome,
            &addressee,
            &sponsor,
            &[],
        )
    }

    /// Suspends, resumes or removes a member. Removing a member flags the
    /// members they sponsored as needing a new sponsor; it returns those.
    pub async fn change_status(
        &self,
        email: &str,
        transition: Transition,
        reason: Option<&str>,
        by: Option<&str>,
    ) -> Result<(Member, Vec<Email>)> {
        let email = parse_email(email, "member address")?;
        let reason = reason
            .map(|text| crate::text::single_line("reason", text, 1000))
            .transpose()?;
        if matches!(transition, Transition::Remove) && reason.is_none() {
            bail!("removing a member needs --reason");
        }
        let mut tx = self.write(self.now()).await?;
        let (_, actor) = resolve_actor(&mut tx, by).await?;
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
            .reason(reason.as_deref())
            .detail("from", member.status.as_str())
            .detail("to", to.as_str()),
        )
        .await?;
        let flagged = if to == Status::Removed {
            let flagged = tx.flag_sponsored_by(member.id).await?;
            for orphan in &flagged {
                tx.append_audit(
                    &Record::new(Actor::System, "member.needs-sponsor", subject(orphan))
                        .detail("former_sponsor", email.normalized()),
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
        by: Option<&str>,
    ) -> Result<(Member, Vec<String>)> {
        let now = self.now();
        let mut tx = self.write(now).await?;
        let (_, actor) = resolve_actor(&mut tx, by).await?;
        let member = require_member(&mut tx, email).await?;
        if member.status == Status::Removed {
            bail!("{email} is removed; a removed member's key cannot change");
        }
        let stored = tx.member_cert(member.id).await?;
        let (merged, problem) = pgp::update_member_cert(&stored, cert, &self.cert_policy(), now)
            .context("certificate update")?;
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
        by: Option<&str>,
    ) -> Result<(Member, Vec<String>)> {
        let now = self.now();
        let email = parse_email(email, "member address")?;
        if let Some(current) = self.store.member(&email).await?
            && pgp::fingerprint_of(cert).is_ok_and(|fpr| fpr == current.fingerprint)
        {
            return self.update_member_key(&email, cert, by).await;
        }
        let checked = pgp::check_member_cert(cert, &email, &self.cert_policy(), now)
            .context("new certificate")?;
        let mut tx = self.write(now).await?;
        let (_, actor) = resolve_actor(&mut tx, by).await?;
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
        let email = parse_email(email, "member address")?;
        let mut tx = self.write(self.now()).await?;
        let (by_member, actor) = resolve_actor(&mut tx, by).await?;
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
        let email = parse_email(email, "member address")?;
        let sponsor_email = parse_email(sponsor, "sponsor address")?;
        let statement = statement
            .map(|text| crate::text::multi_line("statement", text, MAX_STATEMENT))
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
                Actor::Member(sponsor.email.clone()),
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
        let email = parse_email(email, "member address")?;
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

fn transition_action(transition: Transition) -> &'static str {
    match transition {
        Transition::Confirm => "member.confirm",
        Transition::Suspend => "member.suspend",
        Transition::Resume => "member.resume",
        Transition::Remove => "member.remove",
    }
}

/// A fresh confirmation token from the operating system's random source.
fn new_token() -> Result<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
    Ok(token::format(random))
}
