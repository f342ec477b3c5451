//! `[instance]`: settings of the whole instance rather than of one list —
//! what the foundation's observers see, and when.

use anyhow::{Result, bail};
use serde::Deserialize;

use crate::roster::Email;

/// `[instance]`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawInstance {
    ack_within: String,
    digest: String,
}

impl Default for RawInstance {
    fn default() -> Self {
        Self {
            ack_within: "72h".to_owned(),
            // Weekly, Monday 08:00 UTC: the start of a working week.
            digest: "0 8 * * Mon".to_owned(),
        }
    }
}

/// `[instance]`, checked.
#[derive(Debug, Clone)]
pub struct InstanceSettings {
    /// How long a member told about an advisory may take to answer `ACK`
    /// before the report counts a breach of the acknowledgement clock.
    pub ack_within: chrono::Duration,
    /// When the observers' digest is sent (cron, five fields, UTC).
    pub digest: crate::cron::Cron,
    /// The address of the list the `[list]` table describes. Its audit
    /// chain records changes to the observers and its loop alone sends the
    /// digest, so one instance sends one digest. Kept here because
    /// [`Config::for_list`](super::Config::for_list) replaces `[list]` in
    /// every other list's settings.
    pub home_list: Email,
}

impl RawInstance {
    pub(super) fn resolve(self, home_list: &Email) -> Result<InstanceSettings> {
        let ack_within = super::parse_duration("[instance] ack_within", &self.ack_within)?;
        if ack_within <= chrono::Duration::zero() {
            bail!("[instance] ack_within must be positive");
        }
        Ok(InstanceSettings {
            ack_within,
            digest: crate::cron::Cron::parse("[instance] digest", &self.digest)?,
            home_list: home_list.clone(),
        })
    }
}

impl InstanceSettings {
    /// Whether `list_address` is the home list's address.
    pub fn is_home(&self, list_address: &Email) -> bool {
        list_address.normalized() == self.home_list.normalized()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;

    #[test]
    fn the_digest_is_weekly_on_monday_morning_and_the_ack_clock_is_three_days() {
        let config = Config::parse(
            "[list]\naddress = \"a@example.org\"\n",
            Path::new("/etc/embargo/embargo.toml"),
        )
        .expect("valid");
        assert_eq!(config.instance.ack_within, chrono::Duration::hours(72));
        let sunday = crate::clock::parse_instant("2026-06-07T12:00:00Z").expect("instant");
        let next = config.instance.digest.next_after(sunday).expect("next");
        assert_eq!(
            crate::clock::format_instant(next),
            "2026-06-08T08:00:00.000000Z"
        );
    }

    #[test]
    fn a_bad_instance_table_is_refused_naming_the_key() {
        for (text, key) in [
            ("ack_within = \"soon\"", "[instance] ack_within"),
            ("digest = \"0 8 * *\"", "[instance] digest"),
            ("ack_within = \"0h\"", "[instance] ack_within"),
        ] {
            let err = Config::parse(
                &format!("[list]\naddress = \"a@example.org\"\n[instance]\n{text}\n"),
                Path::new("/etc/embargo/embargo.toml"),
            )
            .expect_err(text);
            assert!(format!("{err:#}").contains(key), "{err:#}");
        }
    }
}
