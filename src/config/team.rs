//! `[team]` and `[cases]`: the security team's own list and the clock on
//! reports (issue 12). Without `[team] address` there is no team list.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::roster::{Email, Role};

/// `[team]`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTeam {
    address: Option<String>,
    roles: Vec<String>,
}

impl Default for RawTeam {
    fn default() -> Self {
        Self {
            address: None,
            roles: vec![
                "maintainer".to_owned(),
                "committer".to_owned(),
                "advisor".to_owned(),
            ],
        }
    }
}

/// `[team]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamSettings {
    /// Where the team's posts and reports arrive; none: no team list.
    pub address: Option<Email>,
    /// Who the team is: active members holding any of these roles.
    pub roles: Vec<Role>,
}

impl RawTeam {
    /// Checks the table against the list's own addresses (one address,
    /// one purpose: mail to it is routed by the address alone).
    pub(super) fn resolve(self, list: &Email, request: &Email) -> Result<TeamSettings> {
        let address = match &self.address {
            Some(text) => Some(Email::parse(text).context("[team] address")?),
            None => None,
        };
        if let Some(address) = &address
            && [list, request]
                .iter()
                .any(|own| own.normalized() == address.normalized())
        {
            bail!(
                "[team] address {address} is the list's own address or request address; the team needs an address of its own"
            );
        }
        let mut roles = Vec::new();
        for text in &self.roles {
            let role = text
                .parse::<Role>()
                .with_context(|| format!("[team] roles: {text:?}"))?;
            if role == Role::Subscriber {
                bail!(
                    "[team] roles: subscriber is every member's role; the team is the project's own people (maintainer, committer, advisor, admin)"
                );
            }
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        if roles.is_empty() {
            bail!("[team] roles must name at least one role");
        }
        Ok(TeamSettings { address, roles })
    }
}

/// `[cases]`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCases {
    authserv_id: Option<String>,
    remind_after: String,
    escalate_after: String,
    breach_after: String,
    per_sender_per_hour: u32,
    per_hour: u32,
}

impl Default for RawCases {
    fn default() -> Self {
        Self {
            authserv_id: None,
            remind_after: "12h".to_owned(),
            escalate_after: "20h".to_owned(),
            breach_after: "24h".to_owned(),
            per_sender_per_hour: 10,
            per_hour: 300,
        }
    }
}

/// `[cases]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasesSettings {
    /// Our MTA's authserv-id: only its `Authentication-Results` count.
    /// None: no receipt is ever sent (every sender is unverified).
    pub authserv_id: Option<String>,
    /// After this long unacknowledged, maintainers are reminded.
    pub remind_after: chrono::Duration,
    /// After this long, every committer is told.
    pub escalate_after: chrono::Duration,
    /// After this long, the breach is recorded.
    pub breach_after: chrono::Duration,
    /// Reports one sender may open in an hour; the rest are dropped.
    pub per_sender_per_hour: u32,
    /// Reports all senders together may open in an hour.
    pub per_hour: u32,
}

impl RawCases {
    pub(super) fn resolve(self) -> Result<CasesSettings> {
        let remind_after = super::parse_duration("[cases] remind_after", &self.remind_after)?;
        let escalate_after = super::parse_duration("[cases] escalate_after", &self.escalate_after)?;
        let breach_after = super::parse_duration("[cases] breach_after", &self.breach_after)?;
        if !(chrono::Duration::zero() < remind_after
            && remind_after < escalate_after
            && escalate_after < breach_after)
        {
            bail!(
                "[cases] remind_after, escalate_after and breach_after must be positive and in that order"
            );
        }
        if self.per_sender_per_hour == 0 || self.per_hour < self.per_sender_per_hour {
            bail!(
                "[cases] per_sender_per_hour must be at least 1 and per_hour at least per_sender_per_hour"
            );
        }
        let authserv_id = match self.authserv_id.as_deref().map(str::trim) {
            None => None,
            Some(id)
                if !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)) =>
            {
                Some(id.to_owned())
            }
            Some(id) => bail!(
                "[cases] authserv_id {id:?} is not one: it is the host name your MTA writes first in Authentication-Results"
            ),
        };
        Ok(CasesSettings {
            authserv_id,
            remind_after,
            escalate_after,
            breach_after,
            per_sender_per_hour: self.per_sender_per_hour,
            per_hour: self.per_hour,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;
    use crate::roster::Role;

    fn parse(extra: &str) -> anyhow::Result<Config> {
        Config::parse(
            &format!("[list]\naddress = \"security-announce@project.example\"\n{extra}"),
            Path::new("/etc/embargo/embargo.toml"),
        )
    }

    #[test]
    fn without_a_team_table_there_is_no_team_list_and_the_clock_is_the_policys() {
        let config = parse("").expect("valid");
        assert_eq!(config.team.address, None);
        assert_eq!(
            config.team.roles,
            [Role::Maintainer, Role::Committer, Role::Advisor]
        );
        assert_eq!(config.cases.remind_after, chrono::Duration::hours(12));
        assert_eq!(config.cases.escalate_after, chrono::Duration::hours(20));
        assert_eq!(config.cases.breach_after, chrono::Duration::hours(24));
        assert_eq!(config.cases.authserv_id, None);
    }

    #[test]
    fn a_team_table_names_its_address_and_roles() {
        let config = parse(
            "[team]\naddress = \"Security@Project.example\"\nroles = [\"maintainer\", \"admin\", \"maintainer\"]\n\
             [cases]\nauthserv_id = \"mail.project.example\"\n",
        )
        .expect("valid");
        assert_eq!(
            config.team.address.map(|a| a.normalized().to_owned()),
            Some("security@project.example".to_owned())
        );
        assert_eq!(config.team.roles, [Role::Maintainer, Role::Admin]);
        assert_eq!(
            config.cases.authserv_id.as_deref(),
            Some("mail.project.example")
        );
    }

    #[test]
    fn a_bad_team_or_cases_table_is_refused_naming_what_is_wrong() {
        for (text, says) in [
            (
                "[team]\naddress = \"Security-Announce@project.example\"\n",
                "own address",
            ),
            (
                "[team]\naddress = \"security-announce-request@project.example\"\n",
                "request address",
            ),
            ("[team]\naddress = \"not an address\"\n", "[team] address"),
            ("[team]\nroles = []\n", "at least one role"),
            ("[team]\nroles = [\"subscriber\"]\n", "subscriber"),
            ("[team]\nroles = [\"wizard\"]\n", "[team] roles"),
            ("[team]\nlist = \"x\"\n", "unknown field"),
            ("[cases]\nremind_after = \"soon\"\n", "[cases] remind_after"),
            ("[cases]\nremind_after = \"20h\"\n", "in that order"),
            ("[cases]\nbreach_after = \"20h\"\n", "in that order"),
            ("[cases]\nremind_after = \"0h\"\n", "in that order"),
            ("[cases]\nper_sender_per_hour = 0\n", "at least 1"),
            (
                "[cases]\nper_sender_per_hour = 50\nper_hour = 10\n",
                "per_hour at least",
            ),
            ("[cases]\nauthserv_id = \"mail project\"\n", "authserv_id"),
            ("[cases]\nauthserv_id = \"\"\n", "authserv_id"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(format!("{err:#}").contains(says), "{text}: {err:#}");
        }
    }
}
