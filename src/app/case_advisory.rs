//! From case to advisory: `embargo advisory new --from-case ID` links the
//! advisory to the case and credits the reporter (unless they asked to
//! stay anonymous); the proposed timeline (patch date, disclosure) goes to
//! the case's participants; the reporter's `AGREE` is recorded beside the
//! advisory (`app::case_thread`); at the disclosure the reporter gets the
//! public disclosure and the case closes (`app::publish`).

use anyhow::{Result, bail};

use super::App;
use super::case_mail::{CaseCopies, Reader, participant_readers};
use crate::advisory::{Advisory, AdvisoryId};
use crate::audit::{Actor, Record};
use crate::cases::CaseState;
use crate::compose::{Kind, report_context};
use crate::roster::Email;
use crate::store::{CaseRow, WriteTx};

/// What links a new advisory to its case.
#[derive(Debug, Clone)]
pub struct FromCase {
    /// The case, `CASE-YYYY-NNNN`.
    pub case: String,
    /// The name to credit the reporter by (default: their address).
    pub credit: Option<String>,
    /// The reporter asked not to be credited.
    pub anonymous: bool,
}

/// The proposed timeline of an advisory, sealed for its case's readers
/// before the advisory's transaction.
pub(super) struct Timeline {
    case: CaseRow,
    reporter: CaseCopies,
    others: CaseCopies,
    secret: [u8; 32],
    sealer: super::seal::Sealer,
}

/// A link checked and its timeline sealed, before the advisory's
/// transaction.
pub(super) struct Linked {
    timeline: Timeline,
    anonymous: bool,
    credit: Option<String>,
}

impl App {
    /// Checks `from` (the case exists, is open and has no advisory; the
    /// credit is one line) and seals the timeline proposal for `draft`.
    /// Nothing is written.
    pub(super) async fn prepare_link(&self, from: &FromCase, draft: &Advisory) -> Result<Linked> {
        if self.config.team.address.is_none() {
            bail!("--from-case: this list has no team, so it has no cases");
        }
        let case = self.require_case(&from.case).await?;
        if case.state != CaseState::Open {
            bail!("--from-case: {} is {}, not open", case.id, case.state);
        }
        if let Some(advisory) = &case.advisory {
            bail!(
                "--from-case: {} became advisory {advisory} already",
                case.id
            );
        }
        if from.anonymous && from.credit.is_some() {
            bail!("--credit and --anonymous-reporter contradict each other");
        }
        let credit = if from.anonymous {
            None
        } else {
            let name = match &from.credit {
                Some(name) => name.clone(),
                None => case.reporter.clone(),
            };
            Some(
                crate::text::single_line("credit", &name, 200)
                    .map_err(|err| anyhow::anyhow!("--credit: {err}"))?,
            )
        };
        let timeline = self.timeline(case, draft, credit.as_deref(), false).await?;
        Ok(Linked {
            timeline,
            anonymous: from.anonymous,
            credit,
        })
    }

    /// The new timeline when an edit of `next` moved its patch date or
    /// disclosure and it was made from a case still open; `None` otherwise.
    pub(super) async fn prepare_retiming(
        &self,
        next: &Advisory,
        changed: &[&str],
    ) -> Result<Option<Timeline>> {
        if !changed
            .iter()
            .any(|field| matches!(*field, "patch_date" | "disclose_at"))
        {
            return Ok(None);
        }
        let Some(case) = self
            .store
            .case_of_advisory(&next.id.normalized())
            .await?
            .filter(|case| case.state == CaseState::Open)
        else {
            return Ok(None);
        };
        let credit = case.credit.clone();
        Ok(Some(
            self.timeline(case, next, credit.as_deref(), true).await?,
        ))
    }

    /// The timeline of `advisory` for `case`'s reporter (encrypted, or
    /// held behind a content-free notice), the team and the participants.
    async fn timeline(
        &self,
        case: CaseRow,
        advisory: &Advisory,
        credit: Option<&str>,
        revised: bool,
    ) -> Result<Timeline> {
        let now = self.now();
        let secret = self.thread_secret().await?;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let content = &advisory.content;
        let mut lines = vec![
            format!(
                "The security team proposes {} timeline for {} (advisory {}):",
                if revised { "a new" } else { "this" },
                case.id,
                advisory.id
            ),
            format!(
                "  patch date:         {}",
                content
                    .patch_date
                    .map_or_else(|| "not set yet".to_owned(), |d| d.to_string())
            ),
            format!(
                "  public disclosure:  {}",
                crate::advisory::time::format_utc(content.disclose_at)
            ),
            match credit {
                Some(name) => format!("The advisory will credit the reporter as: {name}"),
                None => {
                    "The reporter asked to stay anonymous: the advisory credits nobody.".to_owned()
                }
            },
        ];
        if revised {
            lines.push(
                "It replaces the timeline proposed before: an agreement to that one no longer counts."
                    .to_owned(),
            );
        }
        let mut for_reporter = lines.clone();
        for_reporter.push(String::new());
        for_reporter.push(
            "Reply with a line AGREE to agree to it (signed with your key, if you can), or tell us what you need."
                .to_owned(),
        );
        let title = format!(
            "{}: the {}proposed timeline",
            case.id,
            if revised { "new " } else { "" }
        );
        let reporter = self.mail_reporter(
            &sealer,
            &case,
            &title,
            &for_reporter,
            &[
                format!(
                    "The security team proposes a timeline for your report {}.",
                    case.id
                ),
                "Reply with your OpenPGP public key attached to read it; we only ever send it encrypted."
                    .to_owned(),
            ],
            &secret,
        )?;
        lines.push(String::new());
        lines.push(if case.reporter_cert.is_some() {
            "The reporter received it encrypted and is asked to reply AGREE.".to_owned()
        } else {
            "The reporter has no key with us: they were told there is a timeline and asked for their key."
                .to_owned()
        });
        let mut readers: Vec<Reader> = self.team().await?.into_iter().map(Reader::Member).collect();
        readers.extend(participant_readers(
            &self.store.participants(case.row).await?,
        ));
        let rendered = self.templates()?.render(
            Kind::CaseMail,
            &report_context(&self.list_view(), &title, &lines),
        )?;
        let reply_to = self.case_reply_address(&secret, case.id);
        let others = self.case_mail_to(&sealer, &readers, &rendered, reply_to.as_deref())?;
        Ok(Timeline {
            case,
            reporter,
            others,
            secret,
            sealer,
        })
    }

    /// Queues `timeline` inside the advisory's transaction.
    async fn queue_timeline(&self, tx: &mut WriteTx, timeline: &Timeline) -> Result<()> {
        self.queue_reporter_and_team(
            tx,
            &timeline.sealer,
            &timeline.case,
            &timeline.reporter,
            &timeline.others,
            &timeline.secret,
        )
        .await?;
        Ok(())
    }

    /// Links the advisory `id` to its case inside the advisory's
    /// transaction, and queues the timeline.
    pub(super) async fn link_in(
        &self,
        tx: &mut WriteTx,
        id: &AdvisoryId,
        linked: &Linked,
    ) -> Result<()> {
        let case = &linked.timeline.case;
        if !tx
            .link_case(
                case.row,
                &id.normalized(),
                linked.anonymous,
                linked.credit.as_deref(),
            )
            .await?
        {
            bail!(
                "--from-case: {} became an advisory already, or {id} has a case",
                case.id
            );
        }
        self.queue_timeline(tx, &linked.timeline).await?;
        tx.append_audit(
            &Record::new(Actor::Operator, "case.advisory", case.id.to_string())
                .detail("advisory", id.as_str())
                .detail("credit", linked.credit.as_deref().unwrap_or("anonymous")),
        )
        .await?;
        Ok(())
    }

    /// Posts the new timeline inside the edit's transaction; the
    /// reporter's agreement to the old one no longer counts.
    pub(super) async fn retime_in(&self, tx: &mut WriteTx, timeline: &Timeline) -> Result<()> {
        tx.retime_case(timeline.case.row).await?;
        self.queue_timeline(tx, timeline).await?;
        tx.append_audit(&Record::new(
            Actor::Operator,
            "case.timeline",
            timeline.case.id.to_string(),
        ))
        .await?;
        Ok(())
    }

    /// The finders an advisory's exports credit: its case's reporter,
    /// unless they asked to stay anonymous.
    pub(crate) async fn finder_credits(&self, id: &AdvisoryId) -> Result<Vec<String>> {
        Ok(self
            .store
            .case_of_advisory(&id.normalized())
            .await?
            .and_then(|case| case.credit)
            .into_iter()
            .collect())
    }

    /// The case an advisory was made from, for `advisory show`.
    pub async fn case_of_advisory(&self, id: &str) -> Result<Option<CaseRow>> {
        let id = AdvisoryId::parse(id)?;
        Ok(self.store.case_of_advisory(&id.normalized()).await?)
    }

    /// The reporter of the case `id` was made from, who gets the public
    /// disclosure with the public addresses.
    pub(super) async fn reporter_of(&self, id: &AdvisoryId) -> Result<Option<Email>> {
        Ok(self
            .store
            .case_of_advisory(&id.normalized())
            .await?
            .and_then(|case| Email::parse(&case.reporter).ok()))
    }
}
