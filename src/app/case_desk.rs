//! The team's desk: `embargo case list/show/ack/invite/close/reject`.
//!
//! Every change is made by a named member of the team (`--by`), refused
//! with a clear error for anyone else, for a case that does not exist or
//! is no longer open, and for an invitation without a usable key; a
//! refusal changes nothing. What the reporter is told goes through
//! `app::case_mail`: encrypted when we hold their key, else content-free.

use anyhow::{Result, bail};
use serde::Serialize;

use super::App;
use super::case_mail::{Reader, participant_readers};
use super::input::{self, Field, InputError};
use crate::audit::{Actor, Channel, Record};
use crate::cases::{CaseState, Clock, ClockState};
use crate::compose::{Kind, report_context};
use crate::pgp::{self, CertPolicy};
use crate::roster::Email;
use crate::store::{Addressee, CaseFilter, CaseRow, NewParticipant};
use crate::text::Reason;

/// One case as `case list` and `case show` print it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub id: String,
    pub state: String,
    pub reporter: String,
    pub reporter_key: Option<String>,
    /// Whether our MTA vouched for the reporter's From domain.
    pub reporter_verified: bool,
    pub opened_at: String,
    pub acknowledged_at: Option<String>,
    pub closed_at: Option<String>,
    /// The acknowledgement clock, in words ("11h 59m left", "BREACHED").
    pub clock: String,
    pub breached: bool,
    /// The clock's steps that fired (remind, escalate, breach).
    pub fired: Vec<String>,
    pub advisory: Option<String>,
}

/// `case show`: the summary and the rest.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub summary: CaseSummary,
    pub messages: u64,
    /// Where the case's participants write (Reply-To of its mail).
    pub reply_address: Option<String>,
    pub participants: Vec<ParticipantView>,
    pub reporter_credited: bool,
    /// `signed` or `unsigned` when the reporter agreed to the timeline.
    pub reporter_agreed: Option<String>,
}

/// Someone invited into a case.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantView {
    pub email: String,
    pub fingerprint: String,
    pub reason: String,
    pub invited_by: String,
    pub invited_at: String,
}

/// What a desk command did.
#[derive(Debug, Clone, Serialize)]
pub struct CaseActed {
    pub case: String,
    /// Copies queued (to the reporter, the team, a participant).
    pub copies: usize,
    /// Whether the reporter's copy is encrypted (else content-free).
    pub reporter_encrypted: bool,
}

fn span(duration: chrono::Duration) -> String {
    let minutes = duration.num_minutes().max(0);
    format!("{}h {:02}m", minutes / 60, minutes % 60)
}

impl App {
    fn clock(&self) -> Clock {
        let cases = &self.config.cases;
        Clock {
            remind_after: cases.remind_after,
            escalate_after: cases.escalate_after,
            breach_after: cases.breach_after,
        }
    }

    fn summary(&self, case: &CaseRow) -> CaseSummary {
        let state = self
            .clock()
            .state(case.opened_at, case.acknowledged_at, self.now());
        let open = case.state == CaseState::Open;
        let (clock, breached) = match (open, state) {
            (_, ClockState::Met { after }) => {
                (format!("acknowledged after {}", span(after)), false)
            }
            (_, ClockState::MetLate { after }) => {
                (format!("acknowledged LATE, after {}", span(after)), true)
            }
            (true, ClockState::Running { left }) => (format!("{} left", span(left)), false),
            (true, ClockState::Breached { by }) => (format!("BREACHED {} ago", span(by)), true),
            (_, ClockState::Breached { .. }) => ("BREACHED, then closed".to_owned(), true),
            (false, ClockState::Running { .. }) => (format!("stopped ({})", case.state), false),
        };
        CaseSummary {
            id: case.id.to_string(),
            state: case.state.to_string(),
            reporter: case.reporter.clone(),
            reporter_key: case.reporter_fingerprint.clone(),
            reporter_verified: case.reporter_verified,
            opened_at: crate::clock::format_instant(case.opened_at),
            acknowledged_at: case.acknowledged_at.map(crate::clock::format_instant),
            closed_at: case.closed_at.map(crate::clock::format_instant),
            clock,
            breached,
            fired: case.fired.iter().map(|s| s.as_str().to_owned()).collect(),
            advisory: case.advisory.clone(),
        }
    }

    /// `case list`.
    pub async fn case_list(&self, open_only: bool) -> Result<Vec<CaseSummary>> {
        self.require_team()?;
        Ok(self
            .store
            .cases(if open_only {
                CaseFilter::Open
            } else {
                CaseFilter::All
            })
            .await?
            .iter()
            .map(|case| self.summary(case))
            .collect())
    }

    /// `case show`.
    pub async fn case_show(&self, id: &str) -> Result<CaseDetail> {
        self.require_team()?;
        let case = self.require_case(id).await?;
        let participants = self.store.participants(case.row).await?;
        let secret = self.thread_secret().await?;
        Ok(CaseDetail {
            summary: self.summary(&case),
            messages: self.store.case_message_count(case.row).await?,
            reply_address: self.case_reply_address(&secret, case.id),
            participants: participants
                .into_iter()
                .map(|p| ParticipantView {
                    email: p.email,
                    fingerprint: p.fingerprint,
                    reason: p.reason,
                    invited_by: p.invited_by,
                    invited_at: crate::clock::format_instant(p.invited_at),
                })
                .collect(),
            reporter_credited: case.advisory.is_some() && !case.anonymous,
            reporter_agreed: case.agreed.map(|(_, how)| how),
        })
    }

    fn require_team(&self) -> Result<()> {
        if self.config.team.address.is_none() {
            bail!("this list has no team: set [team] address in the config to take reports");
        }
        Ok(())
    }

    /// The active team member `by`, or a clear refusal (of `--by`).
    async fn team_member(&self, by: &str) -> Result<(Addressee, Actor)> {
        self.require_team()?;
        let email = input::email(Field::Actor, by)?;
        let Some(member) = self
            .team()
            .await?
            .into_iter()
            .find(|m| m.email.normalized() == email.normalized())
        else {
            let roles: Vec<&str> = self.config.team.roles.iter().map(|r| r.as_str()).collect();
            let why = format!(
                "{email} is not an active member of the security team (roles: {})",
                roles.join(", ")
            );
            return Err(InputError::refused(Field::Actor, why).into());
        };
        let actor = Actor::Member(member.email.clone(), Channel::Cli);
        Ok((member, actor))
    }

    async fn open_case_named(&self, id: &str) -> Result<CaseRow> {
        let case = self.require_case(id).await?;
        if case.state != CaseState::Open {
            bail!("{} is {}, not open", case.id, case.state);
        }
        Ok(case)
    }

    /// `case ack ID --message FILE --by EMAIL`: stops the clock and sends
    /// `message` to the reporter (a copy to the team).
    pub async fn case_ack(&self, id: &str, message: &str, by: &str) -> Result<CaseActed> {
        let (member, actor) = self.team_member(by).await?;
        let case = self.open_case_named(id).await?;
        if let Some(at) = case.acknowledged_at {
            bail!(
                "{} was acknowledged already, at {}",
                case.id,
                crate::clock::format_instant(at)
            );
        }
        let text = message.trim();
        if text.is_empty() {
            bail!("--message: the acknowledgement's text is empty");
        }
        let now = self.now();
        let secret = self.thread_secret().await?;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let mut full: Vec<String> = text.lines().map(str::to_owned).collect();
        full.push(String::new());
        full.push(format!("-- {} for the security team", member.name));
        let to_reporter = self.mail_reporter(
            &sealer,
            &case,
            &format!("{}: your report was acknowledged", case.id),
            &full,
            &[
                format!("The security team acknowledged your report {}.", case.id),
                "They wrote you a message: reply with your OpenPGP public key attached to read it; we only ever send the text encrypted."
                    .to_owned(),
            ],
            &secret,
        )?;
        let encrypted = case.reporter_cert.is_some();
        let mut team_lines = vec![format!(
            "{} acknowledged {} ({}); this went to the reporter{}:",
            member.name,
            case.id,
            member.email,
            if encrypted {
                ", encrypted"
            } else {
                " as a content-free notice (no key): the text waits for their key"
            }
        )];
        team_lines.push(String::new());
        team_lines.extend(full.iter().cloned());
        let to_team = self
            .team_copies(&sealer, &case, "acknowledged", &team_lines, &secret)
            .await?;
        let kept = sealer.encrypt_to_list(text.as_bytes())?;
        let mut tx = self.store.write(now).await?;
        if !tx.acknowledge_case(case.row).await? {
            bail!("{} was acknowledged already", case.id);
        }
        tx.add_case_message(case.row, None, &kept).await?;
        let copies = self
            .queue_reporter_and_team(&mut tx, &sealer, &case, &to_reporter, &to_team, &secret)
            .await?;
        tx.append_audit(
            &Record::new(actor, "case.ack", case.id.to_string())
                .detail(
                    "reporter",
                    if encrypted {
                        "encrypted"
                    } else {
                        "content-free"
                    },
                )
                .detail("copies", copies.to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(CaseActed {
            case: case.id.to_string(),
            copies,
            reporter_encrypted: encrypted,
        })
    }

    /// Copies of a desk action's note for the team (and the case's
    /// participants): `what` happened to `case`.
    async fn team_copies(
        &self,
        sealer: &super::seal::Sealer,
        case: &CaseRow,
        what: &str,
        lines: &[String],
        secret: &[u8; 32],
    ) -> Result<super::case_mail::CaseCopies> {
        let readers: Vec<Reader> = self.team().await?.into_iter().map(Reader::Member).collect();
        let rendered = self.templates()?.render(
            Kind::CaseMail,
            &report_context(&self.list_view(), &format!("{}: {what}", case.id), lines),
        )?;
        let reply_to = self.case_reply_address(secret, case.id);
        self.case_mail_to(sealer, &readers, &rendered, reply_to.as_deref())
    }

    /// `case invite ID EMAIL --key FILE --reason T --by EMAIL`.
    pub async fn case_invite(
        &self,
        id: &str,
        email: &str,
        cert: &[u8],
        reason: &Reason,
        by: &str,
    ) -> Result<CaseActed> {
        let (member, actor) = self.team_member(by).await?;
        let case = self.open_case_named(id).await?;
        let email = Email::parse(email).map_err(|err| anyhow::anyhow!("EMAIL: {err}"))?;
        let now = self.now();
        let policy = CertPolicy {
            min_rsa_bits: self.config.members.min_rsa_bits,
        };
        let checked = pgp::check_member_cert(cert, &email, &policy, now)
            .map_err(|err| anyhow::anyhow!("--key: {err}"))?;
        if !checked.summary.names(&email) {
            bail!(
                "--key: no user ID of {} names {email}; the participant's own key is needed",
                checked.fingerprint
            );
        }
        if self
            .store
            .participants(case.row)
            .await?
            .iter()
            .any(|p| p.email.eq_ignore_ascii_case(email.as_str()))
        {
            bail!("{email} is invited into {} already", case.id);
        }
        let secret = self.thread_secret().await?;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let reply_to = self.case_reply_address(&secret, case.id);
        let welcome = self.templates()?.render(
            Kind::CaseMail,
            &report_context(
                &self.list_view(),
                &format!("{}: you are invited into a case", case.id),
                &[
                    format!(
                        "{} of the security team invited you into {}: {}",
                        member.name,
                        case.id,
                        reason.as_str()
                    ),
                    "From now on you receive the team's messages on this case, encrypted to your key. Reply to this message to write to the team; you see nothing of any other case."
                        .to_owned(),
                ],
            ),
        )?;
        let invitee = participant_readers(&[crate::store::Participant {
            email: email.to_string(),
            fingerprint: checked.fingerprint.clone(),
            cert: checked.bytes.clone(),
            reason: reason.as_str().to_owned(),
            invited_by: member.email.to_string(),
            invited_at: now,
        }]);
        let to_invitee = self.case_mail_to(&sealer, &invitee, &welcome, reply_to.as_deref())?;
        if to_invitee.copies.is_empty() || to_invitee.copies[0].message.is_none() {
            bail!("--key: no key of {email} can be encrypted to");
        }
        let to_team = self
            .team_copies(
                &sealer,
                &case,
                "a participant was invited",
                &[format!(
                    "{} invited {email} ({}) into {}: {}",
                    member.name,
                    checked.fingerprint,
                    case.id,
                    reason.as_str()
                )],
                &secret,
            )
            .await?;
        let mut tx = self.store.write(now).await?;
        if !tx
            .add_participant(
                case.row,
                &NewParticipant {
                    email: email.as_str(),
                    email_norm: email.normalized(),
                    fingerprint: &checked.fingerprint,
                    cert: &checked.bytes,
                    reason: reason.as_str(),
                    invited_by: member.email.as_str(),
                },
            )
            .await?
        {
            bail!("{email} is invited into {} already", case.id);
        }
        self.queue_case_copies(
            &mut tx,
            &sealer,
            case.row,
            Kind::CaseMail,
            &to_invitee,
            &secret,
        )
        .await?;
        self.queue_case_copies(
            &mut tx,
            &sealer,
            case.row,
            Kind::CaseMail,
            &to_team,
            &secret,
        )
        .await?;
        let copies = to_invitee.copies.len() + to_team.copies.len();
        tx.append_audit(
            &Record::new(actor, "case.invite", case.id.to_string())
                .detail("participant", email.to_string())
                .detail("fingerprint", checked.fingerprint.clone())
                .detail("reason", reason.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(CaseActed {
            case: case.id.to_string(),
            copies,
            reporter_encrypted: false,
        })
    }

    /// `case close` (`rejected` false) and `case reject` (true): the case
    /// ends, the reporter is told (with the reason when we hold their
    /// key), the team is told.
    pub async fn case_end(
        &self,
        id: &str,
        reason: &Reason,
        by: &str,
        rejected: bool,
    ) -> Result<CaseActed> {
        let (member, actor) = self.team_member(by).await?;
        let case = self.open_case_named(id).await?;
        let now = self.now();
        let secret = self.thread_secret().await?;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let (state, verb, title) = if rejected {
            (
                CaseState::Rejected,
                "closed as not a vulnerability",
                format!("{}: closed as not a vulnerability", case.id),
            )
        } else {
            (CaseState::Closed, "closed", format!("{}: closed", case.id))
        };
        let to_reporter = self.mail_reporter(
            &sealer,
            &case,
            &title,
            &[
                format!("The security team {verb} your report {}.", case.id),
                format!("Their reason: {}", reason.as_str()),
                "Reply to this message if you disagree.".to_owned(),
            ],
            &[
                format!("The security team {verb} your report {}.", case.id),
                "Reply with your OpenPGP public key attached to read their reason; we only ever send it encrypted."
                    .to_owned(),
            ],
            &secret,
        )?;
        let to_team = self
            .team_copies(
                &sealer,
                &case,
                verb,
                &[format!(
                    "{} {verb} {}: {}",
                    member.name,
                    case.id,
                    reason.as_str()
                )],
                &secret,
            )
            .await?;
        let encrypted = case.reporter_cert.is_some();
        // The reason may say something of the vulnerability: it is kept
        // with the case, encrypted to the list key, not in the audit log.
        let kept = sealer.encrypt_to_list(format!("{verb}: {}", reason.as_str()).as_bytes())?;
        let mut tx = self.store.write(now).await?;
        if !tx.end_case(case.row, state).await? {
            bail!("{} is no longer open", case.id);
        }
        tx.add_case_message(case.row, None, &kept).await?;
        let copies = self
            .queue_reporter_and_team(&mut tx, &sealer, &case, &to_reporter, &to_team, &secret)
            .await?;
        tx.append_audit(
            &Record::new(
                actor,
                if rejected {
                    "case.reject"
                } else {
                    "case.close"
                },
                case.id.to_string(),
            )
            .detail("reason", "kept with the case, encrypted")
            .detail("copies", copies.to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(CaseActed {
            case: case.id.to_string(),
            copies,
            reporter_encrypted: encrypted,
        })
    }
}
