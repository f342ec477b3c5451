//! Maintainers' reports: copies that failed, are uncertain or were
//! missed (each reported once, and the members who missed a notice told),
//! and alerts about the daemon's own health.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::App;
use super::member_mail::{member_view, random_key};
use super::scheduler::SealerSlot;
use super::seal::{Label, Sealer};
use crate::compose::{Kind, member_context, report_context};
use crate::roster::Role;
use crate::store::{DeliveryState, NewDelivery};

impl App {
    /// Tells members whose copy was missed (signed, content-free) and
    /// maintainers about every copy that failed, is uncertain or was
    /// missed, once.
    pub(super) async fn report(&self, slot: &mut SealerSlot, now: DateTime<Utc>) -> Result<()> {
        let unreported = self.store.unreported().await?;
        if unreported.is_empty() {
            return Ok(());
        }
        let sealer = self.sealer(slot, now)?;
        let templates = self.templates()?;
        let mut member_mail = Vec::new();
        let mut told = std::collections::HashSet::new();
        for copy in &unreported {
            if copy.state != DeliveryState::Missed || copy.kind == Kind::Missed {
                continue;
            }
            let Some(member_id) = copy.member_id else {
                continue;
            };
            if !told.insert(member_id.0) {
                continue;
            }
            let Some(member) = self.store.addressee(member_id).await? else {
                continue;
            };
            let view = member_view(&member, "");
            let rendered =
                templates.render(Kind::Missed, &member_context(&self.list_view(), &view, &[]))?;
            // Content-free, so signed but not encrypted: the key is what
            // cannot be used.
            let entity = sealer.sign(&rendered)?;
            let (message_id, bytes) = sealer.public(
                &entity,
                &rendered,
                &member.email,
                &random_key()?,
                &Label::mail(Kind::Missed),
            )?;
            member_mail.push(NewDelivery {
                member_id: Some(member.member_id),
                recipient: member.email.to_string(),
                message_id,
                message: Some(bytes),
                cert_version: None,
                state: DeliveryState::Queued,
                reply: None,
            });
        }
        let lines: Vec<String> = unreported
            .iter()
            .map(|copy| {
                format!(
                    "{}{} to {}: {}{}",
                    copy.advisory
                        .as_deref()
                        .map(|id| format!("{id} "))
                        .unwrap_or_default(),
                    copy.kind.name(),
                    copy.recipient,
                    copy.state,
                    copy.reply
                        .as_deref()
                        .map(|reply| format!(" ({reply})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let reports = self
            .maintainer_report(&sealer, "copies that did not arrive", &lines)
            .await?;
        let mut tx = self.store.write(now).await?;
        for copy in member_mail {
            Self::queue_member_mail(&mut tx, Kind::Missed, copy).await?;
        }
        if !reports.is_empty() {
            let announcement = tx.other_announcement(Kind::Report, now).await?;
            tx.insert_deliveries(announcement, now, &reports).await?;
        }
        let ids: Vec<i64> = unreported.iter().map(|copy| copy.id).collect();
        tx.mark_reported(&ids).await?;
        tx.commit().await?;
        tracing::warn!(
            copies = unreported.len(),
            "copies failed, are uncertain or were missed; maintainers are told"
        );
        Ok(())
    }

    /// A report to every active maintainer and admin, encrypted to each.
    pub(crate) async fn maintainer_report(
        &self,
        sealer: &Sealer,
        title: &str,
        lines: &[String],
    ) -> Result<Vec<NewDelivery>> {
        let rendered = self.templates()?.render(
            Kind::Report,
            &report_context(&self.list_view(), title, lines),
        )?;
        let maintainers = self
            .store
            .members_with_roles(&[Role::Maintainer, Role::Admin])
            .await?;
        let mut copies = Vec::new();
        for maintainer in &maintainers {
            if let Some(copy) = self.seal_one(sealer, &rendered, Kind::Report, maintainer)? {
                copies.push(copy);
            }
        }
        Ok(copies)
    }

    /// Queues a report to maintainers now (a clock that jumped).
    pub async fn alert_maintainers(&self, title: &str, lines: &[String]) -> Result<()> {
        let now = self.now();
        let sealer = Sealer::from_config(&self.config, now)?;
        let copies = self.maintainer_report(&sealer, title, lines).await?;
        let mut tx = self.store.write(now).await?;
        let announcement = tx.other_announcement(Kind::Report, now).await?;
        tx.insert_deliveries(announcement, now, &copies).await?;
        tx.commit().await?;
        Ok(())
    }
}
