//! Advisory use cases: write, edit, schedule (announce), disclose early and
//! cancel. Reading and previewing them is in `advisory_view.rs`.

use anyhow::{Context, Result, bail};

use super::App;
use super::advisory_view::Unreachable;
use super::input::{self, Field, InputError, Problem};
use crate::advisory::policy::{self, Verdict};
use crate::advisory::time::{format_utc, parse_date};
use crate::advisory::{
    Advisory, AdvisoryId, Change, Content, Permission, Severity, Status, diff, parse_cve,
    parse_cvss,
};
use crate::audit::{Actor, Record};
use crate::compose::{
    Kind, ListView, MemberView, Templates, advisory_context, member_context, report_context,
};
use crate::text::{Reason, multi_line, single_line};

/// The fields `advisory new` and `advisory edit` take. For `edit`, a field
/// left `None` keeps its value; a list given replaces the list.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryInput {
    pub title: Option<String>,
    pub severity: Option<Severity>,
    pub cvss: Option<String>,
    pub cves: Option<Vec<String>>,
    pub product: Option<String>,
    pub affected: Option<Vec<String>>,
    pub fixed: Option<Vec<String>>,
    /// The body file's bytes: the description, plain text or Markdown.
    pub body: Option<Vec<u8>>,
    pub mitigations: Option<Vec<u8>>,
    pub permitted: Option<Vec<Permission>>,
    pub patch_date: Option<String>,
    pub disclose_at: Option<String>,
}

/// `--force` and why.
#[derive(Debug, Clone, Default)]
pub struct Force {
    pub force: bool,
    pub reason: Option<Reason>,
}

const MAX_BODY: usize = 256 * 1024;

fn text_file(what: &'static str, bytes: &[u8]) -> Result<String> {
    let text =
        std::str::from_utf8(bytes).with_context(|| format!("the {what} file is not UTF-8 text"))?;
    Ok(multi_line(what, text, MAX_BODY)?)
}

fn list_items(what: &'static str, items: &[String]) -> Result<Vec<String>> {
    items
        .iter()
        .map(|item| Ok(single_line(what, item, 300)?))
        .collect()
}

/// Applies `input` on top of `base` (or builds new content when there is no
/// base) and checks every field.
fn build_content(base: Option<&Content>, input: &AdvisoryInput) -> Result<Content> {
    let required = |field| {
        InputError::new(
            field,
            Problem::Required {
                by: "a new advisory",
            },
        )
    };
    let title = match (&input.title, base) {
        (Some(title), _) => input::line(Field::Title, title, 300)?,
        (None, Some(base)) => base.title.clone(),
        (None, None) => return Err(required(Field::Title).into()),
    };
    let severity = input
        .severity
        .or(base.map(|b| b.severity))
        .ok_or_else(|| required(Field::Severity))?;
    let cvss = match &input.cvss {
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(parse_cvss(text)?),
        None => base.and_then(|b| b.cvss.clone()),
    };
    let cves = match &input.cves {
        Some(cves) => cves
            .iter()
            .map(|cve| parse_cve(cve))
            .collect::<Result<Vec<_>, _>>()?,
        None => base.map(|b| b.cves.clone()).unwrap_or_default(),
    };
    let product = match (&input.product, base) {
        (Some(product), _) => input::line(Field::Product, product, 200)?,
        (None, Some(base)) => base.product.clone(),
        (None, None) => return Err(required(Field::Product).into()),
    };
    let affected = match &input.affected {
        Some(items) => list_items("affected", items)?,
        None => base.map(|b| b.affected.clone()).unwrap_or_default(),
    };
    let fixed = match &input.fixed {
        Some(items) => list_items("fixed", items)?,
        None => base.map(|b| b.fixed.clone()).unwrap_or_default(),
    };
    let description = match (&input.body, base) {
        (Some(bytes), _) => text_file("body", bytes)?,
        (None, Some(base)) => base.description.clone(),
        (None, None) => return Err(required(Field::Body).into()),
    };
    let mitigations = match &input.mitigations {
        Some(bytes) => Some(text_file("mitigations", bytes)?),
        None => base.and_then(|b| b.mitigations.clone()),
    };
    let mut permitted = match &input.permitted {
        Some(items) => items.clone(),
        None => base.map(|b| b.permitted.clone()).unwrap_or_default(),
    };
    permitted.sort();
    permitted.dedup();
    let patch_date = match &input.patch_date {
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(parse_date("patch date", text)?),
        None => base.and_then(|b| b.patch_date),
    };
    let disclose_at = match (&input.disclose_at, base) {
        (Some(text), _) => input::instant(Field::DiscloseAt, text)?,
        (None, Some(base)) => base.disclose_at,
        (None, None) => return Err(required(Field::DiscloseAt).into()),
    };
    Ok(Content {
        title,
        severity,
        cvss,
        cves,
        product,
        affected,
        fixed,
        description,
        mitigations,
        permitted,
        patch_date,
        disclose_at,
    })
}

/// Refuses a verdict with refusals unless forced; answers the audit detail.
pub(super) fn enforce(verdict: &Verdict, force: &Force) -> Result<Option<Reason>> {
    if verdict.refusals.is_empty() {
        return Ok(None);
    }
    let reasons: Vec<String> = verdict
        .refusals
        .iter()
        .map(|b| format!("{} ({})", b.message, b.rule))
        .collect();
    if !force.force {
        bail!(
            "refused by the embargo policy: {} (use --force --reason TEXT to override)",
            reasons.join("; ")
        );
    }
    let Some(reason) = &force.reason else {
        return Err(InputError::missing(Field::Reason, "overriding the embargo policy").into());
    };
    Ok(Some(reason.clone()))
}

/// Adds to an audit record the reason given with `--force` and the names of
/// the policy rules it overrode, when it overrode any.
pub(super) fn with_override(record: Record, forced: Option<&Reason>, verdict: &Verdict) -> Record {
    match forced {
        Some(reason) => record
            .reason(Some(reason))
            .detail("forced", verdict.refused_rules()),
        None => record,
    }
}

fn subject(id: &AdvisoryId) -> String {
    format!("advisory:{}", id.normalized())
}

impl App {
    pub(crate) fn list_view(&self) -> ListView {
        ListView {
            name: self.config.list.name.clone(),
            address: self.config.list.address.to_string(),
            request_address: self.config.list.request_address.to_string(),
        }
    }

    /// The templates, with overrides from `templates_dir`.
    pub fn templates(&self) -> Result<Templates> {
        let mut overrides = Vec::new();
        if let Some(dir) = &self.config.mail.templates_dir {
            for kind in Kind::ALL {
                let path = dir.join(kind.file_name());
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        let text = String::from_utf8(bytes)
                            .with_context(|| format!("template {} is not UTF-8", path.display()))?;
                        overrides.push((kind, text));
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => {
                        return Err(err)
                            .with_context(|| format!("read template {}", path.display()));
                    }
                }
            }
        }
        Ok(Templates::new(overrides)?)
    }

    /// Renders every kind of mail for `advisory`, so a template problem is
    /// found now rather than at send time.
    pub(super) fn check_templates(
        &self,
        advisory: &Advisory,
        changes: &[Change],
    ) -> Result<Templates> {
        let templates = self.templates()?;
        let hours = (advisory.content.disclose_at - self.now())
            .num_hours()
            .max(0);
        let context = advisory_context(&self.list_view(), advisory, changes, hours);
        for kind in Kind::ADVISORY {
            templates.render(kind, &context)?;
        }
        let sample = MemberView {
            name: "Member".to_owned(),
            email: self.config.list.address.to_string(),
            org: "Org".to_owned(),
            fingerprint: "0".repeat(40),
            sponsor: self.config.list.address.to_string(),
        };
        let extra = [
            ("token", "TOKEN".to_owned()),
            ("expires", format_utc(self.now())),
            ("key_expires", format_utc(self.now())),
        ];
        for kind in [
            Kind::Confirm,
            Kind::Welcome,
            Kind::Missed,
            Kind::KeyExpiry,
            Kind::TeamPost,
        ] {
            templates.render(kind, &member_context(&self.list_view(), &sample, &extra))?;
        }
        for kind in [Kind::Report, Kind::Digest, Kind::CaseReport] {
            templates.render(
                kind,
                &report_context(&self.list_view(), "title", &["line".to_owned()]),
            )?;
        }
        templates.render(
            Kind::Reply,
            &crate::compose::reply_context(&self.list_view(), &sample, &["line".to_owned()]),
        )?;
        Ok(templates)
    }

    pub(super) async fn require_advisory(&self, id: &str) -> Result<crate::store::StoredAdvisory> {
        let id = AdvisoryId::parse(id)?;
        match self.store.advisory(&id).await? {
            Some(stored) => Ok(stored),
            None => bail!("no advisory {id}"),
        }
    }

    /// Writes a new draft.
    pub async fn new_advisory(
        &self,
        id: &str,
        input: &AdvisoryInput,
        force: &Force,
    ) -> Result<(Advisory, Verdict)> {
        self.new_advisory_linked(id, input, force, None).await
    }

    /// [`App::new_advisory`] made from a case (`--from-case`): the case
    /// is linked to the advisory, its reporter credited (unless they
    /// asked not to be) and the proposed timeline posted to the case's
    /// participants, in the advisory's own transaction.
    pub async fn new_advisory_from_case(
        &self,
        id: &str,
        input: &AdvisoryInput,
        force: &Force,
        from: &super::case_advisory::FromCase,
    ) -> Result<(Advisory, Verdict)> {
        self.new_advisory_linked(id, input, force, Some(from)).await
    }

    async fn new_advisory_linked(
        &self,
        id: &str,
        input: &AdvisoryInput,
        force: &Force,
        from: Option<&super::case_advisory::FromCase>,
    ) -> Result<(Advisory, Verdict)> {
        let now = self.now();
        let id = AdvisoryId::parse(id)?;
        let content = build_content(None, input)?;
        let verdict = policy::check(&self.config.embargo, &content, now, now);
        let forced = enforce(&verdict, force)?;
        let draft = Advisory {
            id: id.clone(),
            status: Status::Draft,
            revision: 1,
            content: content.clone(),
            announce_at: None,
            created_at: now,
            updated_at: now,
        };
        self.check_templates(&draft, &[])?;
        let linked = match from {
            Some(from) => Some(self.prepare_link(from, &draft).await?),
            None => None,
        };
        let mut tx = self.store.write(now).await?;
        if let Some(existing) = tx.advisory(&id).await? {
            bail!(
                "advisory {} already exists ({})",
                existing.advisory.id,
                existing.advisory.status
            );
        }
        tx.insert_advisory(&id, &content, &new_message_key()?)
            .await?;
        let record =
            Record::new(Actor::Operator, "advisory.new", subject(&id)).detail("revision", "1");
        tx.append_audit(&with_override(record, forced.as_ref(), &verdict))
            .await?;
        if let Some(linked) = &linked {
            self.link_in(&mut tx, &id, linked).await?;
        }
        tx.commit().await?;
        let stored = self.require_advisory(id.as_str()).await?;
        Ok((stored.advisory, verdict))
    }

    /// Makes a new revision from `input`.
    pub async fn edit_advisory(
        &self,
        id: &str,
        input: &AdvisoryInput,
        force: &Force,
    ) -> Result<(Advisory, Vec<Change>, Verdict)> {
        let now = self.now();
        let stored = self.require_advisory(id).await?;
        let old = stored.advisory;
        if !old.status.is_open() {
            bail!(
                "advisory {} is {}; it can no longer change",
                old.id,
                old.status
            );
        }
        let content = build_content(Some(&old.content), input)?;
        let changes = diff(&old.content, &content);
        if changes.is_empty() {
            bail!(
                "nothing changed: every field given is the same as in revision {}",
                old.revision
            );
        }
        let first_notice = old.announce_at.unwrap_or(now);
        let verdict = policy::check(&self.config.embargo, &content, first_notice, now);
        let forced = enforce(&verdict, force)?;
        let mut next = old.clone();
        next.content = content.clone();
        next.revision += 1;
        self.check_templates(&next, &changes)?;
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        let retimed = self.prepare_retiming(&next, &fields).await?;
        let mut tx = self.store.write(now).await?;
        let current = tx.advisory(&old.id).await?.context("advisory vanished")?;
        if current.advisory.revision != old.revision {
            bail!(
                "advisory {} changed while this edit was prepared; try again",
                old.id
            );
        }
        let revision = tx.revise_advisory(&old.id, &content, &changes).await?;
        if matches!(old.status, Status::Scheduled | Status::Notified) {
            // Copies of the old revision that have not gone out stop; those
            // not yet told get the new revision as their notice, those
            // already told get an update.
            tx.drop_pending(
                current.row,
                &Kind::TOLD,
                &format!("superseded by revision {revision}"),
            )
            .await?;
            tx.supersede_reminders(current.row).await?;
            if old.status == Status::Notified {
                tx.plan_announcement(Kind::Update, current.row, revision, now)
                    .await?;
            }
        }
        if let Some(timeline) = &retimed {
            self.retime_in(&mut tx, timeline).await?;
        }
        // Field names only: the audit log never holds embargoed text.
        let record = Record::new(Actor::Operator, "advisory.edit", subject(&old.id))
            .detail("revision", revision.to_string())
            .detail("changed", fields.join(","));
        tx.append_audit(&with_override(record, forced.as_ref(), &verdict))
            .await?;
        tx.commit().await?;
        self.prepare_now().await;
        let stored = self.require_advisory(old.id.as_str()).await?;
        Ok((stored.advisory, changes, verdict))
    }

    /// Schedules the first notice at `at` (default: now).
    pub async fn announce_advisory(
        &self,
        id: &str,
        at: Option<&str>,
        force: &Force,
    ) -> Result<(Advisory, Verdict, Vec<Unreachable>)> {
        let now = self.now();
        let stored = self.require_advisory(id).await?;
        let advisory = stored.advisory;
        if advisory.status != Status::Draft {
            bail!(
                "advisory {} is {}; only a draft can be announced",
                advisory.id,
                advisory.status
            );
        }
        let at = match at {
            Some(text) => input::instant(Field::AnnounceAt, text)?,
            None => now,
        };
        if at < now - chrono::Duration::minutes(1) {
            bail!("the announce time {} is in the past", format_utc(at));
        }
        let verdict = policy::check(&self.config.embargo, &advisory.content, at, now);
        let forced = enforce(&verdict, force)?;
        self.check_templates(&advisory, &[])?;
        let unreachable = self.preflight(&advisory).await?;
        let mut tx = self.store.write(now).await?;
        let current = tx
            .advisory(&advisory.id)
            .await?
            .context("advisory vanished")?;
        if current.advisory.status != Status::Draft {
            bail!(
                "advisory {} is {}; only a draft can be announced",
                advisory.id,
                current.advisory.status
            );
        }
        tx.set_advisory_status(&advisory.id, Status::Scheduled, Some(at))
            .await?;
        let record = Record::new(Actor::Operator, "advisory.announce", subject(&advisory.id))
            .detail("revision", advisory.revision.to_string())
            .detail("announce_at", crate::clock::format_instant(at))
            .detail("unreachable_members", unreachable.len().to_string());
        tx.append_audit(&with_override(record, forced.as_ref(), &verdict))
            .await?;
        tx.commit().await?;
        // Sealed now, while the operator watches, in batches that each
        // wake a running daemon, so it sends the first copies while the
        // rest are sealed. Whichever process claims the sealing first does
        // all of it (see `app::sealing`); the other leaves it alone.
        self.prepare_now().await;
        let stored = self.require_advisory(advisory.id.as_str()).await?;
        Ok((stored.advisory, verdict, unreachable))
    }

    /// Makes an advisory public. Before its disclosure time this breaks
    /// the embargo and needs `early` and a reason.
    pub async fn disclose_advisory(
        &self,
        id: &str,
        early: bool,
        reason: Option<&Reason>,
    ) -> Result<Advisory> {
        let now = self.now();
        let stored = self.require_advisory(id).await?;
        let advisory = stored.advisory.clone();
        if !matches!(advisory.status, Status::Scheduled | Status::Notified) {
            bail!(
                "advisory {} is {}; only a scheduled or notified advisory can be disclosed",
                advisory.id,
                advisory.status
            );
        }
        // A maintainer's hold moved the disclosure later and members were
        // told so: publishing before the hold's time is early too.
        let due = super::scheduler::effective_disclosure(&stored);
        let before = now < due;
        if before && !early {
            bail!(
                "the embargo on {} holds until {}; to break it now, pass --now with --reason",
                advisory.id,
                format_utc(due)
            );
        }
        if before && reason.is_none() {
            return Err(InputError::missing(Field::Reason, "breaking an embargo early").into());
        }
        let published = self
            .publish(&stored, Actor::Operator, if before { reason } else { None })
            .await?;
        self.prepare_now().await;
        Ok(published)
    }

    /// Calls an advisory off.
    pub async fn cancel_advisory(&self, id: &str, reason: &Reason) -> Result<Advisory> {
        let now = self.now();
        let stored = self.require_advisory(id).await?;
        let advisory = stored.advisory.clone();
        if !advisory.status.is_open() {
            bail!(
                "advisory {} is {}; it cannot be cancelled",
                advisory.id,
                advisory.status
            );
        }
        let mut tx = self.store.write(now).await?;
        tx.set_advisory_status(&advisory.id, Status::Cancelled, None)
            .await?;
        // Nothing more goes out about it; whoever was told hears it is off.
        tx.drop_pending(stored.row, &Kind::TOLD, "the advisory was cancelled")
            .await?;
        if advisory.status == Status::Notified || advisory.status == Status::Scheduled {
            tx.plan_announcement(Kind::Cancellation, stored.row, advisory.revision, now)
                .await?;
        }
        tx.append_audit(
            &Record::new(Actor::Operator, "advisory.cancel", subject(&advisory.id))
                .reason(Some(reason))
                .detail("from", advisory.status.as_str()),
        )
        .await?;
        tx.commit().await?;
        self.prepare_now().await;
        Ok(self.require_advisory(advisory.id.as_str()).await?.advisory)
    }

    /// Runs a scheduler pass right after a change, so copies are sealed
    /// while the operator watches. A failure (say, the list key's
    /// passphrase is not available to this user) is only a warning: the
    /// daemon's next pass does the same work.
    pub(crate) async fn prepare_now(&self) {
        let failed = match self.prepare().await {
            Ok(done) => done.failed,
            Err(err) => vec![format!("{err:#}")],
        };
        for error in failed {
            tracing::warn!(
                error = %error,
                "sealing is left to `embargo serve` or `embargo queue run`"
            );
        }
    }
}

/// A fresh random key for Message-IDs.
fn new_message_key() -> Result<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
    Ok(hex::encode(random))
}
