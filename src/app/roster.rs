//! Joining the roster: a member is added (sponsored, with a statement),
//! sent a sealed confirmation, confirms, and is welcomed. Changes to a
//! member already on it are in `membership.rs`.

use anyhow::{Context, Result, bail};
use chrono::Duration;

use super::App;
use super::input::{self, Field, InputError};
use crate::audit::{Actor, Channel, Record};
use crate::pgp::{self};
use crate::roster::gate::{self, Transition};
use crate::roster::{Email, Kind, Member, Role, Roles, Status, token};
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
pub(super) const MAX_STATEMENT: usize = 4000;

pub(super) fn subject(email: &Email) -> String {
    format!("member:{}", email.normalized())
}

/// Who asks for a change to the roster and how it reaches the list: the
/// acting member's address as the caller has it (the CLI's `--by`, the
/// signer of a mail command), or nobody for the operator, and the channel.
#[derive(Debug, Clone)]
pub struct Caller {
    pub by: Option<String>,
    pub via: Channel,
}

impl Caller {
    /// The operator at the command line, acting as `by` if named.
    pub fn cli(by: Option<&str>) -> Self {
        Self {
            by: by.map(str::to_owned),
            via: Channel::Cli,
        }
    }

    /// A member's own signed mail command, signed with `fingerprint`.
    pub fn mail(member: &Email, fingerprint: &str) -> Self {
        Self {
            by: Some(member.as_str().to_owned()),
            via: Channel::Mail {
                fingerprint: fingerprint.to_owned(),
            },
        }
    }
}

/// Looks up a member by address inside `tx`, or says nobody has it.
pub(super) async fn require_member(tx: &mut WriteTx, email: &Email) -> Result<Member> {
    match tx.member(email).await? {
        Some(member) => Ok(member),
        None => bail!("no member with address {email}"),
    }
}

/// Resolves the caller into the acting member (if any) and the audit
/// actor, who carries the caller's channel.
pub(super) async fn resolve_actor(
    tx: &mut WriteTx,
    caller: &Caller,
) -> Result<(Option<Member>, Actor)> {
    match caller.by.as_deref() {
        None => Ok((None, Actor::Operator)),
        Some(text) => {
            let email = input::email(Field::Actor, text)?;
            let Some(member) = tx.member(&email).await? else {
                let why = format!("no member with address {email}");
                return Err(InputError::refused(Field::Actor, why).into());
            };
            Ok((Some(member), Actor::Member(email, caller.via.clone())))
        }
    }
}

impl App {
    /// Adds a pending member vouched for by `request.sponsor`, at the
    /// command line.
    pub async fn add_member(&self, request: AddMember) -> Result<Added> {
        self.add_member_via(request, Channel::Cli).await
    }

    /// [`App::add_member`], the change reaching the list `via` a channel
    /// (the sponsor's signed SPONSOR).
    pub(crate) async fn add_member_via(&self, request: AddMember, via: Channel) -> Result<Added> {
        let now = self.now();
        let email = input::email(Field::Member, &request.email)?;
        let list = &self.config.list;
        if email.is_list_address(&list.address, &list.request_address) {
            bail!(
                "{email} is one of the list's own addresses; mail to it would loop back into the list"
            );
        }
        // Nor another list's: this list's mail, embargoed, would go into
        // that list's mailbox (sealed to whatever key came with it). Its
        // name is not told: a member may have typed the address.
        let verp_of = crate::inbound::verp::list_address(email.as_str());
        for address in std::iter::once(email.normalized().to_owned()).chain(verp_of) {
            if self.store.list_by_address(&address).await?.is_some() {
                bail!(
                    "{email} is an address of a list on this instance; mail to it would loop into that list"
                );
            }
        }
        let name = input::line(Field::Name, &request.name, 200)?;
        let org = input::line(Field::Org, &request.org, 200)?;
        let statement = request
            .statement
            .as_deref()
            .map(|text| input::lines(Field::Statement, text, MAX_STATEMENT))
            .transpose()?;
        let sponsor_email = input::email(Field::Sponsor, &request.sponsor)?;
        let roles: Roles = if request.roles.is_empty() {
            Roles::only(Role::Subscriber)
        } else {
            request.roles.iter().copied().collect()
        };
        let cert = pgp::check_member_cert(&request.cert, &email, &self.cert_policy(), now)
            .map_err(|err| InputError::refused(Field::Key, err))?;

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
        let caller = Caller {
            by: request.by.clone(),
            via: via.clone(),
        };
        let (by, actor) = resolve_actor(&mut tx, &caller).await?;
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
            Actor::Operator => Actor::Member(sponsor.email.clone(), via),
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

    /// Activates a pending member who returned their token, at the
    /// command line (the operator types the token the member was given).
    pub async fn confirm_member(&self, email: &str, presented: &str) -> Result<Member> {
        self.confirm_member_via(email, presented, Channel::Cli)
            .await
    }

    /// [`App::confirm_member`], reaching the list `via` a channel (the
    /// member's own signed CONFIRM).
    pub(crate) async fn confirm_member_via(
        &self,
        email: &str,
        presented: &str,
        via: Channel,
    ) -> Result<Member> {
        let email = input::email(Field::Member, email)?;
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
        let actor = match via {
            Channel::Cli => Actor::Operator,
            via => Actor::Member(email.clone(), via),
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
}

pub(super) fn transition_action(transition: Transition) -> &'static str {
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
