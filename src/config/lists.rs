//! `[lists.NAME]`: what one list of a many-list instance sets apart from
//! the instance defaults, and the effective settings of one list.
//!
//! The top-level `[list]` and `[list_key]` describe the list `embargo
//! init` made (the config's own list). Every other list is made by `embargo
//! list create`, which records its name and addresses in the database;
//! its key lives at `<data_dir>/lists/NAME/list-key.asc` and its exports
//! under `<export dir>/NAME/` unless its table says otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{Config, SecretSource, resolve_secret};
use crate::advisory::policy::EmbargoPolicy;
use crate::roster::Email;

/// One `[lists.NAME]` table, checked when the config is read.
#[derive(Debug, Clone, Default)]
pub struct ListOverride {
    /// The display name (the From name, the key's user ID).
    pub display_name: Option<String>,
    pub templates_dir: Option<PathBuf>,
    pub outer_subject: Option<String>,
    pub public_addresses: Option<Vec<Email>>,
    pub key_file: Option<PathBuf>,
    pub key_passphrase: Option<SecretSource>,
    pub embargo: Option<EmbargoPolicy>,
    /// The list's own security team address (`[team] address` is the
    /// home list's).
    pub team_address: Option<Email>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListOverride {
    name: Option<String>,
    templates_dir: Option<PathBuf>,
    outer_subject: Option<String>,
    public_addresses: Option<Vec<String>>,
    list_key: Option<RawKeyOverride>,
    embargo: Option<RawEmbargoOverride>,
    team_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyOverride {
    file: Option<PathBuf>,
    passphrase: Option<SecretSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmbargoOverride {
    max_days: Option<u32>,
    min_notice_hours: Option<u32>,
    warn_weekend: Option<bool>,
    friday_cutoff_hour: Option<u32>,
}

/// Checks every `[lists.NAME]` table against the instance defaults.
pub(super) fn resolve(
    raw: BTreeMap<String, RawListOverride>,
    base: &Path,
    data_dir: &Path,
    defaults: &EmbargoPolicy,
) -> Result<BTreeMap<String, ListOverride>> {
    let mut out = BTreeMap::new();
    for (name, table) in raw {
        check_name(&name).with_context(|| format!("[lists.{name}]"))?;
        let section = |key: &str| format!("[lists.{name}] {key}");
        let embargo = table
            .embargo
            .map(|raw| {
                let policy = EmbargoPolicy {
                    max_embargo: raw
                        .max_days
                        .map_or(defaults.max_embargo, |d| chrono::Duration::days(i64::from(d))),
                    min_notice: raw.min_notice_hours.map_or(defaults.min_notice, |h| {
                        chrono::Duration::hours(i64::from(h))
                    }),
                    warn_weekend: raw.warn_weekend.unwrap_or(defaults.warn_weekend),
                    friday_cutoff_hour: raw
                        .friday_cutoff_hour
                        .unwrap_or(defaults.friday_cutoff_hour),
                };
                if policy.max_embargo < chrono::Duration::days(1) || policy.friday_cutoff_hour > 23
                {
                    bail!(
                        "[lists.{name}.embargo] max_days must be at least 1 and friday_cutoff_hour at most 23"
                    );
                }
                Ok(policy)
            })
            .transpose()?;
        let list_key = table.list_key.unwrap_or_default();
        let parsed = ListOverride {
            display_name: table
                .name
                .map(|text| crate::text::single_line("name", &text, 200).context(section("name")))
                .transpose()?,
            templates_dir: table.templates_dir.map(|dir| base.join(dir)),
            outer_subject: table
                .outer_subject
                .map(|text| {
                    crate::text::single_line("outer_subject", &text, 200)
                        .context(section("outer_subject"))
                })
                .transpose()?,
            public_addresses: table
                .public_addresses
                .map(|list| {
                    list.iter()
                        .map(|text| Email::parse(text).context(section("public_addresses")))
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?,
            key_file: list_key.file.map(|file| data_dir.join(file)),
            key_passphrase: list_key
                .passphrase
                .map(|source| resolve_secret(source, base)),
            embargo,
            team_address: table
                .team_address
                .map(|text| Email::parse(&text).context(section("team_address")))
                .transpose()?,
        };
        out.insert(name, parsed);
    }
    Ok(out)
}

/// A list's name: what `--list` takes and what names its folders. Lower
/// case letters, digits, `-`, `_` and `.`, starting with a letter or
/// digit, at most 64 characters.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if !ok {
        bail!(
            "{name:?} is not a list name: use 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"
        );
    }
    Ok(())
}

/// The name `init` gives the config's own list: its address's local part
/// in lower case, with anything a list name cannot hold made `-`.
pub fn default_name(address: &Email) -> String {
    let name: String = address
        .local_part()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if check_name(&name).is_ok() {
        name
    } else {
        "list".to_owned()
    }
}

/// Who a list is, as stored by `list create` (or by `init` for the
/// config's own list).
#[derive(Debug, Clone)]
pub struct ListIdentity<'a> {
    pub name: &'a str,
    pub address: &'a Email,
    pub request_address: &'a Email,
}

impl Config {
    /// Whether `address` is the config's own list (the `[list]` table).
    pub fn is_own_list(&self, address: &Email) -> bool {
        address.normalized() == self.list.address.normalized()
    }

    /// The settings one list works with: the instance defaults, the
    /// list's identity, and its `[lists.NAME]` table on top.
    pub fn for_list(&self, list: &ListIdentity<'_>) -> Config {
        let mut config = self.clone();
        let own = self.is_own_list(list.address);
        if !own {
            let home = self.list_home(list.name);
            config.list.address = list.address.clone();
            config.list.request_address = list.request_address.clone();
            config.list.name = format!("{} pre-disclosure list", list.address);
            config.list_key.path = home.join("list-key.asc");
            let templates = home.join("templates");
            config.mail.templates_dir = templates.is_dir().then_some(templates);
            config.export.dir = self.export.dir.join(list.name);
            // `[team]` is the home list's team: another list has its own
            // only when `[lists.NAME] team_address` names one.
            config.team.address = None;
        }
        if let Some(table) = self.lists.get(list.name) {
            if let Some(name) = &table.display_name {
                config.list.name = name.clone();
            }
            if let Some(dir) = &table.templates_dir {
                config.mail.templates_dir = Some(dir.clone());
            }
            if let Some(subject) = &table.outer_subject {
                config.mail.outer_subject = subject.clone();
            }
            if let Some(addresses) = &table.public_addresses {
                config.mail.public_addresses = addresses.clone();
            }
            if let Some(file) = &table.key_file {
                config.list_key.path = file.clone();
            }
            if let Some(passphrase) = &table.key_passphrase {
                config.list_key.passphrase = passphrase.clone();
            }
            if let Some(policy) = &table.embargo {
                config.embargo = *policy;
            }
            if let Some(team) = &table.team_address {
                config.team.address = Some(team.clone());
            }
        }
        config
    }

    /// The folder of a list made by `list create`: its key and, when
    /// present, its templates.
    pub fn list_home(&self, name: &str) -> PathBuf {
        self.storage.data_dir.join("lists").join(name)
    }
}
