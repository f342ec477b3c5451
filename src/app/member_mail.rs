//! Member mail: one-off mail sealed for one member (confirm, welcome,
//! key-expiry, missed notice) and queued under its kind's announcement.

use anyhow::Result;

use super::App;
use super::seal::{Label, Recipient, Sealed, Sealer};
use crate::compose::{Kind, MemberView, Rendered, member_context};
use crate::store::{Addressee, NewDelivery};

impl App {
    /// Seals one piece of member mail (confirm, welcome, key-expiry) for
    /// `member`, encrypted to their key. A key that cannot be used gives
    /// `None`: member mail is never sent in clear text either.
    pub(crate) fn seal_member_mail(
        &self,
        sealer: &Sealer,
        kind: Kind,
        member: &Addressee,
        sponsor: &str,
        extra: &[(&str, String)],
    ) -> Result<Option<NewDelivery>> {
        let view = member_view(member, sponsor);
        let rendered = self
            .templates()?
            .render(kind, &member_context(&self.list_view(), &view, extra))?;
        self.seal_one(sealer, &rendered, kind, member)
    }

    pub(crate) fn seal_one(
        &self,
        sealer: &Sealer,
        rendered: &Rendered,
        kind: Kind,
        member: &Addressee,
    ) -> Result<Option<NewDelivery>> {
        let entity = sealer.sign(rendered)?;
        let key = random_key()?;
        let recipient = to_recipient(member);
        match sealer
            .seal(&entity, &[recipient], &key, &Label::mail(kind))
            .pop()
        {
            Some(sealed @ Sealed::Message { .. }) => {
                Ok(Some(super::sealing::delivery_of(member, sealed)))
            }
            _ => Ok(None),
        }
    }

    /// Queues member mail made by [`App::seal_member_mail`] inside `tx`.
    pub(crate) async fn queue_member_mail(
        tx: &mut crate::store::WriteTx,
        kind: Kind,
        copy: NewDelivery,
    ) -> Result<()> {
        let now = tx.now();
        let announcement = tx.other_announcement(kind, now).await?;
        tx.insert_deliveries(announcement, now, &[copy]).await?;
        Ok(())
    }
}

/// A member as member mail shows them.
pub(crate) fn member_view(member: &Addressee, sponsor: &str) -> MemberView {
    MemberView {
        name: member.name.clone(),
        email: member.email.to_string(),
        org: member.org.clone(),
        fingerprint: member.fingerprint.clone(),
        sponsor: sponsor.to_owned(),
    }
}

pub(crate) fn to_recipient(member: &Addressee) -> Recipient {
    Recipient {
        email: member.email.clone(),
        fingerprint: member.fingerprint.clone(),
        cert: member.cert.clone(),
    }
}
/// A fresh random key (hex) for Message-IDs of one-off mail.
pub(crate) fn random_key() -> Result<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
    Ok(hex::encode(random))
}
