//! Typed settings, read once from a TOML file and passed down.
//!
//! The file is found at `--config FILE`, else `$EMBARGO_CONFIG`, else
//! `./config/embargo.toml` (the CLI resolves the first two). Unknown keys
//! are an error that names the key. Secrets are never written in the file:
//! it names an environment variable or a file that holds them, and the
//! loaded [`Secret`] hides its value from `Debug` and `Display`.
//! Relative paths are taken from the folder that holds the config file.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::roster::Email;

mod instance;
/// Where the config is looked for when neither `--config` nor
/// `EMBARGO_CONFIG` names a file.
mod lists;
mod team;

pub use instance::InstanceSettings;
pub use lists::{
    ListIdentity, ListOverride, check_name as check_list_name, default_name as default_list_name,
};
pub use team::{CasesSettings, TeamSettings};

pub const DEFAULT_PATH: &str = "config/embargo.toml";

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    pub list: ListSettings,
    pub storage: StorageSettings,
    pub list_key: ListKeySettings,
    pub members: MemberSettings,
    pub embargo: crate::advisory::policy::EmbargoPolicy,
    pub mail: MailSettings,
    pub smtp: Option<SmtpSettings>,
    pub delivery: DeliverySettings,
    pub export: ExportSettings,
    pub schedule: ScheduleSettings,
    pub inbound: InboundSettings,
    /// `[instance]`: the observers' digest and acknowledgement clock.
    pub instance: InstanceSettings,
    /// `[lists.NAME]` tables: what each list sets apart from the
    /// defaults above (see [`Config::for_list`]).
    pub lists: std::collections::BTreeMap<String, ListOverride>,
    /// `[team]`: the security team's own list (none without an address).
    pub team: TeamSettings,
    /// `[cases]`: reports, receipts and the acknowledgement clock.
    pub cases: CasesSettings,
}

/// `[inbound]`: mail the list receives (`embargo ingest`).
#[derive(Debug, Clone)]
pub struct InboundSettings {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_parts: usize,
    /// The most header fields a message may hold, its own and every
    /// part's together (checked before it is parsed).
    pub max_headers: usize,
    /// The largest header block (a message's or a part's), and so the
    /// largest single header field, in bytes.
    pub max_header_bytes: usize,
    /// Signatures older than this are refused.
    pub signature_max_age: chrono::Duration,
    /// Signatures from further in the future than this are refused.
    pub future_skew: chrono::Duration,
    /// Maintainers are told when a member's bounce score reaches this.
    pub bounce_threshold: f64,
    /// The key of the bounce-address tokens (else one the list makes).
    pub bounce_secret: SecretSource,
}

/// `[delivery]`: how the outbox sends.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Where mail goes when there is no `[smtp]` table: one file per
    /// message.
    pub maildir: PathBuf,
    /// How many SMTP connections send at once.
    pub concurrency: usize,
    /// The first retry delay; each later one doubles, up to `retry_max`.
    pub retry_first: chrono::Duration,
    pub retry_max: chrono::Duration,
    /// After this long since a copy was first due, it is given up: failed.
    pub give_up_after: chrono::Duration,
    /// What to do with a copy whose server went silent after the end of
    /// DATA (it may or may not have been taken).
    pub uncertain: UncertainPolicy,
    /// How long one SMTP step may take.
    pub timeout: std::time::Duration,
    /// Announcements are sealed this long before they are due.
    pub seal_ahead: chrono::Duration,
    /// The reminder goes this long before disclosure (zero: no reminder).
    pub reminder_before: chrono::Duration,
    /// A claimed copy not completed within this long is returned to the
    /// queue.
    pub lease: chrono::Duration,
    /// How far the wall clock may drift from the monotonic clock before
    /// the daemon holds sending.
    pub clock_tolerance: chrono::Duration,
    /// How long the daemon's passes may keep failing (sending blocked)
    /// before maintainers are alerted.
    pub alert_after: std::time::Duration,
}

/// `[delivery] uncertain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UncertainPolicy {
    /// Send it again later, with the same Message-ID.
    Resend,
    /// Keep it for an operator (`embargo queue release ID`).
    Hold,
}

/// `[export]`: where the public advisory documents are written.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub dir: PathBuf,
    /// The CSAF publisher namespace, a URL.
    pub publisher_namespace: String,
}

/// `[schedule]`: recurring jobs.
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// When to check member keys for expiry (cron, five fields).
    pub key_expiry_check: crate::cron::Cron,
    /// Warn about encryption subkeys that expire within this long.
    pub key_expiry_warn: chrono::Duration,
}

/// `[mail]`: what goes into messages.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The Subject of every embargoed message's outer header.
    pub outer_subject: String,
    /// Where the public disclosure goes besides the members.
    pub public_addresses: Vec<Email>,
    /// A folder whose `<kind>.txt` files replace the embedded templates.
    pub templates_dir: Option<PathBuf>,
}

/// `[list]`: who the list is.
#[derive(Debug, Clone)]
pub struct ListSettings {
    pub address: Email,
    pub request_address: Email,
    pub name: String,
}

/// `[storage]`: where the database and the list key live.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    pub database: PathBuf,
    pub busy_timeout_ms: u64,
    /// `[store] url`: a PostgreSQL server instead of the SQLite file.
    pub url: Option<String>,
}

impl StorageSettings {
    /// Where the lists are kept: the `[store] url` server, or the SQLite
    /// file.
    pub fn location(&self) -> crate::store::Location {
        match &self.url {
            Some(url) => crate::store::Location::Server {
                url: url.clone(),
                local: self.data_dir.join("postgres"),
            },
            None => crate::store::Location::File(self.database.clone()),
        }
    }
}

/// `[list_key]`: the list's secret key file and its passphrase.
#[derive(Debug, Clone)]
pub struct ListKeySettings {
    pub path: PathBuf,
    pub passphrase: SecretSource,
}

/// `[members]`: roster policy.
#[derive(Debug, Clone)]
pub struct MemberSettings {
    pub confirm_token_ttl_hours: u32,
    pub min_rsa_bits: usize,
}

/// `[smtp]`: the outbound server. Read and checked now; used by delivery.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: SecretSource,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS, and refuse to go on without it.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS at all; accepted only for a loopback host.
    None,
}

/// Names where a secret comes from: an environment variable or a file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// Reads the secret, if one is configured. The environment wins over
    /// the file when both are named and the variable is set.
    pub fn load(&self) -> Result<Option<Secret>> {
        if let Some(name) = &self.env {
            match std::env::var(name) {
                Ok(value) => return Ok(Some(Secret(value))),
                Err(std::env::VarError::NotPresent) if self.file.is_some() => {}
                Err(std::env::VarError::NotPresent) => {
                    bail!("the secret's environment variable {name} is not set")
                }
                Err(err) => bail!("the secret's environment variable {name}: {err}"),
            }
        }
        if let Some(path) = &self.file {
            let value = std::fs::read_to_string(path)
                .with_context(|| format!("read secret file {}", path.display()))?;
            return Ok(Some(Secret(
                value.trim_end_matches(['\r', '\n']).to_owned(),
            )));
        }
        Ok(None)
    }
}

/// A secret value. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must hand it to a library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Compared when deciding whether an open SMTP session can carry the next
/// message (same server, same credentials).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    list: RawList,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    list_key: RawListKey,
    #[serde(default)]
    members: RawMembers,
    #[serde(default)]
    embargo: RawEmbargo,
    #[serde(default)]
    mail: RawMail,
    smtp: Option<RawSmtp>,
    #[serde(default)]
    delivery: RawDelivery,
    #[serde(default)]
    export: RawExport,
    #[serde(default)]
    schedule: RawSchedule,
    #[serde(default)]
    inbound: RawInbound,
    #[serde(default)]
    instance: instance::RawInstance,
    #[serde(default)]
    lists: std::collections::BTreeMap<String, lists::RawListOverride>,
    #[serde(default)]
    team: team::RawTeam,
    #[serde(default)]
    cases: team::RawCases,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawInbound {
    max_bytes: usize,
    max_depth: usize,
    max_parts: usize,
    max_headers: usize,
    max_header_bytes: usize,
    signature_max_age: String,
    future_skew: String,
    bounce_threshold: f64,
    bounce_secret: SecretSource,
}

impl Default for RawInbound {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_depth: 20,
            max_parts: 500,
            max_headers: 1000,
            max_header_bytes: 64 * 1024,
            signature_max_age: "2d".to_owned(),
            future_skew: "5m".to_owned(),
            bounce_threshold: 3.0,
            bounce_secret: SecretSource::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDelivery {
    maildir: PathBuf,
    concurrency: usize,
    retry_first: String,
    retry_max: String,
    give_up_after: String,
    uncertain: UncertainPolicy,
    timeout: String,
    seal_ahead: String,
    reminder_before: String,
    lease: String,
    clock_tolerance: String,
    alert_after: String,
}

impl Default for RawDelivery {
    fn default() -> Self {
        Self {
            maildir: PathBuf::from("maildir"),
            concurrency: 16,
            retry_first: "1m".to_owned(),
            retry_max: "1h".to_owned(),
            give_up_after: "3d".to_owned(),
            uncertain: UncertainPolicy::Resend,
            timeout: "60s".to_owned(),
            seal_ahead: "15m".to_owned(),
            reminder_before: "24h".to_owned(),
            lease: "10m".to_owned(),
            clock_tolerance: "5s".to_owned(),
            alert_after: "2m".to_owned(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawExport {
    dir: Option<PathBuf>,
    publisher_namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSchedule {
    key_expiry_check: String,
    key_expiry_warn_days: u32,
}

impl Default for RawSchedule {
    fn default() -> Self {
        Self {
            key_expiry_check: "0 6 * * *".to_owned(),
            key_expiry_warn_days: 14,
        }
    }
}

/// Parses a duration such as `90s`, `15m`, `1h` or `3d`.
pub fn parse_duration(what: &str, text: &str) -> Result<chrono::Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .ok()
        .filter(|n| *n <= 100_000)
        .with_context(|| {
            format!("{what} is {text:?}; expected a number and a unit, such as 90s, 15m, 1h or 3d")
        })?;
    Ok(match unit {
        "s" => chrono::Duration::seconds(number),
        "m" => chrono::Duration::minutes(number),
        "h" => chrono::Duration::hours(number),
        "d" => chrono::Duration::days(number),
        _ => bail!("{what} is {text:?}; the unit must be s, m, h or d (e.g. 15m)"),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmbargo {
    #[serde(default = "default_max_days")]
    max_days: u32,
    #[serde(default = "default_min_notice_hours")]
    min_notice_hours: u32,
    #[serde(default = "default_true")]
    warn_weekend: bool,
    #[serde(default = "default_friday_cutoff")]
    friday_cutoff_hour: u32,
}

impl Default for RawEmbargo {
    fn default() -> Self {
        Self {
            max_days: default_max_days(),
            min_notice_hours: default_min_notice_hours(),
            warn_weekend: true,
            friday_cutoff_hour: default_friday_cutoff(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    #[serde(default = "default_outer_subject")]
    outer_subject: String,
    #[serde(default)]
    public_addresses: Vec<String>,
    templates_dir: Option<PathBuf>,
}

impl Default for RawMail {
    fn default() -> Self {
        Self {
            outer_subject: default_outer_subject(),
            public_addresses: Vec::new(),
            templates_dir: None,
        }
    }
}

fn default_max_days() -> u32 {
    14
}

fn default_min_notice_hours() -> u32 {
    24
}

fn default_true() -> bool {
    true
}

fn default_friday_cutoff() -> u32 {
    12
}

fn default_outer_subject() -> String {
    "[embargo] security announcement".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    address: String,
    request_address: Option<String>,
    name: Option<String>,
}

/// `[store]`: which database server, if not the SQLite file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    #[serde(default = "default_database")]
    database: PathBuf,
    #[serde(default = "default_busy_timeout_ms")]
    busy_timeout_ms: u64,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            database: default_database(),
            busy_timeout_ms: default_busy_timeout_ms(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListKey {
    file: Option<PathBuf>,
    #[serde(default)]
    passphrase: SecretSource,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMembers {
    #[serde(default = "default_confirm_ttl")]
    confirm_token_ttl_hours: u32,
    #[serde(default = "default_min_rsa_bits")]
    min_rsa_bits: usize,
}

impl Default for RawMembers {
    fn default() -> Self {
        Self {
            confirm_token_ttl_hours: default_confirm_ttl(),
            min_rsa_bits: default_min_rsa_bits(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    tls: SmtpTls,
    username: Option<String>,
    #[serde(default)]
    password: SecretSource,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("var")
}

fn default_database() -> PathBuf {
    PathBuf::from("embargo.sqlite")
}

/// `[store] url`: only `postgres://` (or `postgresql://`) URLs; an
/// `sqlite:` URL would bypass `[storage] database`.
fn store_url(url: Option<String>) -> Result<Option<String>> {
    let Some(url) = url else { return Ok(None) };
    let url = url.trim().to_owned();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        anyhow::bail!(
            "[store] url must be a postgres:// URL (got {}); leave it out to use the SQLite file in [storage]",
            crate::store::redact_url(&url)
        );
    }
    Ok(Some(url))
}

fn default_busy_timeout_ms() -> u64 {
    5_000
}

fn default_confirm_ttl() -> u32 {
    7 * 24
}

fn default_min_rsa_bits() -> usize {
    2048
}

impl Config {
    /// Finds and loads the config: `explicit` (from `--config` or
    /// `EMBARGO_CONFIG`) or the default path.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let path = explicit.map_or_else(|| PathBuf::from(DEFAULT_PATH), Path::to_path_buf);
        let text = std::fs::read_to_string(&path).with_context(|| {
            if explicit.is_none() {
                format!(
                    "read config file {} (copy config/embargo.example.toml there, or pass --config FILE)",
                    path.display()
                )
            } else {
                format!("read config file {}", path.display())
            }
        })?;
        Self::parse(&text, &path).with_context(|| format!("config file {}", path.display()))
    }

    /// Parses config text that came from `path` (used to resolve relative
    /// paths).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|err| anyhow::anyhow!("{}", err.to_string().trim_end()))?;
        let base = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let address = Email::parse(&raw.list.address).context("[list] address")?;
        let request_address = match &raw.list.request_address {
            Some(text) => Email::parse(text).context("[list] request_address")?,
            None => Email::parse(&format!(
                "{}-request@{}",
                address.local_part(),
                address.domain()
            ))
            .context("[list] request_address derived from address")?,
        };
        let name = match raw.list.name {
            Some(name) => crate::text::single_line("[list] name", &name, 200)?,
            None => format!("{address} pre-disclosure list"),
        };
        let data_dir = base.join(&raw.storage.data_dir);
        let database = data_dir.join(&raw.storage.database);
        let key_path = data_dir.join(
            raw.list_key
                .file
                .unwrap_or_else(|| PathBuf::from("list-key.asc")),
        );
        if raw.members.min_rsa_bits < 2048 {
            bail!(
                "[members] min_rsa_bits is {}, but RSA keys shorter than 2048 bits are never accepted",
                raw.members.min_rsa_bits
            );
        }
        if raw.members.confirm_token_ttl_hours == 0 {
            bail!("[members] confirm_token_ttl_hours must be at least 1");
        }
        let smtp = raw.smtp.map(|smtp| resolve_smtp(smtp, &base)).transpose()?;
        if raw.embargo.max_days == 0 || raw.embargo.friday_cutoff_hour > 23 {
            bail!("[embargo] max_days must be at least 1 and friday_cutoff_hour at most 23");
        }
        let embargo = crate::advisory::policy::EmbargoPolicy {
            max_embargo: chrono::Duration::days(i64::from(raw.embargo.max_days)),
            min_notice: chrono::Duration::hours(i64::from(raw.embargo.min_notice_hours)),
            warn_weekend: raw.embargo.warn_weekend,
            friday_cutoff_hour: raw.embargo.friday_cutoff_hour,
        };
        let mail = MailSettings {
            outer_subject: crate::text::single_line(
                "[mail] outer_subject",
                &raw.mail.outer_subject,
                200,
            )?,
            public_addresses: raw
                .mail
                .public_addresses
                .iter()
                .map(|text| Email::parse(text).context("[mail] public_addresses"))
                .collect::<Result<_>>()?,
            templates_dir: raw.mail.templates_dir.map(|dir| base.join(dir)),
        };
        let delivery = resolve_delivery(&raw.delivery, &data_dir)?;
        let export = ExportSettings {
            dir: data_dir.join(raw.export.dir.unwrap_or_else(|| PathBuf::from("exports"))),
            publisher_namespace: match raw.export.publisher_namespace {
                Some(url) => {
                    let url = crate::text::single_line("[export] publisher_namespace", &url, 300)?;
                    if !url.starts_with("https://") && !url.starts_with("http://") {
                        bail!("[export] publisher_namespace must be an http(s) URL, not {url:?}");
                    }
                    url
                }
                None => format!("https://{}", address.domain()),
            },
        };
        let schedule = ScheduleSettings {
            key_expiry_check: crate::cron::Cron::parse(
                "[schedule] key_expiry_check",
                &raw.schedule.key_expiry_check,
            )?,
            key_expiry_warn: chrono::Duration::days(i64::from(raw.schedule.key_expiry_warn_days)),
        };
        if raw.inbound.max_bytes < 1024 || raw.inbound.max_depth < 2 || raw.inbound.max_parts < 2 {
            bail!("[inbound] max_bytes must be at least 1024, max_depth and max_parts at least 2");
        }
        if raw.inbound.max_headers < 32 || raw.inbound.max_header_bytes < 4096 {
            bail!("[inbound] max_headers must be at least 32 and max_header_bytes at least 4096");
        }
        if raw.inbound.bounce_threshold.is_nan() || raw.inbound.bounce_threshold <= 0.0 {
            bail!("[inbound] bounce_threshold must be positive");
        }
        let lists = lists::resolve(raw.lists, &base, &data_dir, &embargo)?;
        let instance = raw.instance.resolve(&address)?;
        let team = raw.team.resolve(&address, &request_address)?;
        // One team address per list: two lists sharing one could not tell
        // whose report a message is.
        let mut teams: Vec<(String, &Email)> = lists
            .iter()
            .filter_map(|(name, table)| {
                Some((
                    format!("[lists.{name}] team_address"),
                    table.team_address.as_ref()?,
                ))
            })
            .collect();
        if let Some(home) = &team.address {
            teams.push(("[team] address".to_owned(), home));
        }
        for (i, (name, team_address)) in teams.iter().enumerate() {
            if team_address.normalized() == address.normalized()
                || team_address.normalized() == request_address.normalized()
            {
                anyhow::bail!(
                    "{name} {team_address} is the home list's own address; the team needs an address of its own"
                );
            }
            if let Some((other, _)) = teams[i + 1..]
                .iter()
                .find(|(_, b)| b.normalized() == team_address.normalized())
            {
                anyhow::bail!(
                    "{name} and {other} name the same team address {team_address}; each list needs its own"
                );
            }
        }
        let cases = raw.cases.resolve()?;
        let inbound = InboundSettings {
            max_bytes: raw.inbound.max_bytes,
            max_depth: raw.inbound.max_depth,
            max_parts: raw.inbound.max_parts,
            max_headers: raw.inbound.max_headers,
            max_header_bytes: raw.inbound.max_header_bytes,
            signature_max_age: parse_duration(
                "[inbound] signature_max_age",
                &raw.inbound.signature_max_age,
            )?,
            future_skew: parse_duration("[inbound] future_skew", &raw.inbound.future_skew)?,
            bounce_threshold: raw.inbound.bounce_threshold,
            bounce_secret: resolve_secret(raw.inbound.bounce_secret, &base),
        };
        Ok(Self {
            path: path.to_path_buf(),
            list: ListSettings {
                address,
                request_address,
                name,
            },
            storage: StorageSettings {
                data_dir,
                database,
                busy_timeout_ms: raw.storage.busy_timeout_ms,
                url: store_url(raw.store.url)?,
            },
            list_key: ListKeySettings {
                path: key_path,
                passphrase: resolve_secret(raw.list_key.passphrase, &base),
            },
            members: MemberSettings {
                confirm_token_ttl_hours: raw.members.confirm_token_ttl_hours,
                min_rsa_bits: raw.members.min_rsa_bits,
            },
            embargo,
            mail,
            smtp,
            delivery,
            export,
            schedule,
            inbound,
            instance,
            lists,
            team,
            cases,
        })
    }
}

fn resolve_delivery(raw: &RawDelivery, data_dir: &Path) -> Result<DeliverySettings> {
    let d = |what: &str, text: &str| parse_duration(&format!("[delivery] {what}"), text);
    if !(1..=256).contains(&raw.concurrency) {
        bail!("[delivery] concurrency must be between 1 and 256");
    }
    let settings = DeliverySettings {
        maildir: data_dir.join(&raw.maildir),
        concurrency: raw.concurrency,
        retry_first: d("retry_first", &raw.retry_first)?,
        retry_max: d("retry_max", &raw.retry_max)?,
        give_up_after: d("give_up_after", &raw.give_up_after)?,
        uncertain: raw.uncertain,
        timeout: d("timeout", &raw.timeout)?
            .to_std()
            .context("[delivery] timeout")?,
        seal_ahead: d("seal_ahead", &raw.seal_ahead)?,
        reminder_before: d("reminder_before", &raw.reminder_before)?,
        lease: d("lease", &raw.lease)?,
        clock_tolerance: d("clock_tolerance", &raw.clock_tolerance)?,
        alert_after: d("alert_after", &raw.alert_after)?
            .to_std()
            .context("[delivery] alert_after must not be negative")?,
    };
    if settings.retry_first <= chrono::Duration::zero() || settings.retry_max < settings.retry_first
    {
        bail!("[delivery] retry_first must be positive and retry_max at least retry_first");
    }
    if settings.timeout.is_zero() || settings.lease <= chrono::Duration::zero() {
        bail!("[delivery] timeout and lease must be positive");
    }
    if settings.clock_tolerance < chrono::Duration::seconds(1) {
        bail!("[delivery] clock_tolerance must be at least 1s");
    }
    Ok(settings)
}

fn resolve_secret(source: SecretSource, base: &Path) -> SecretSource {
    SecretSource {
        env: source.env,
        file: source.file.map(|file| base.join(file)),
    }
}

fn resolve_smtp(raw: RawSmtp, base: &Path) -> Result<SmtpSettings> {
    let host = crate::text::single_line("[smtp] host", &raw.host, 253)?;
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if raw.tls == SmtpTls::None && !loopback {
        bail!("[smtp] tls = \"none\" is only allowed for a loopback host, not {host}");
    }
    let port = raw.port.unwrap_or(match raw.tls {
        SmtpTls::Implicit => 465,
        SmtpTls::Starttls => 587,
        SmtpTls::None => 25,
    });
    Ok(SmtpSettings {
        host,
        port,
        tls: raw.tls,
        username: raw.username,
        password: resolve_secret(raw.password, base),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/etc/embargo/embargo.toml"))
    }

    #[test]
    fn a_minimal_config_gets_the_documented_defaults() {
        let config = parse("[list]\naddress = \"security-announce@example.org\"\n").expect("valid");
        assert_eq!(
            config.list.request_address.as_str(),
            "security-announce-request@example.org"
        );
        assert_eq!(
            config.storage.database,
            PathBuf::from("/etc/embargo/var/embargo.sqlite")
        );
        assert_eq!(
            config.list_key.path,
            PathBuf::from("/etc/embargo/var/list-key.asc")
        );
        assert_eq!(config.members.min_rsa_bits, 2048);
        assert!(config.smtp.is_none());
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = parse("[list]\naddress = \"a@example.org\"\nadress = \"typo\"\n")
            .expect_err("unknown key");
        assert!(format!("{err:#}").contains("adress"), "{err:#}");
        let err = parse("[list]\naddress = \"a@example.org\"\n[bogus]\nx = 1\n")
            .expect_err("unknown table");
        assert!(format!("{err:#}").contains("bogus"), "{err:#}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        // SAFETY of the test: the variable name is unique to this test.
        let name = "EMBARGO_TEST_SECRET_NEVER_PRINTED";
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("password");
        std::fs::write(&file, "hunter2-from-file\n").expect("write secret");
        let text = format!(
            "[list]\naddress = \"a@example.org\"\n[smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\npassword = {{ env = \"{name}\", file = \"{}\" }}\n",
            file.display()
        );
        let config = parse(&text).expect("valid");
        let smtp = config.smtp.as_ref().expect("smtp configured");
        let secret = smtp.password.load().expect("readable").expect("configured");
        assert_eq!(secret.expose(), "hunter2-from-file");
        let shown = format!("{config:?} {secret:?} {secret}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn plain_smtp_is_refused_for_a_remote_host() {
        let err = parse("[list]\naddress = \"a@example.org\"\n[smtp]\nhost = \"mail.example.org\"\ntls = \"none\"\n")
            .expect_err("remote without TLS");
        assert!(err.to_string().contains("loopback"));
    }

    #[test]
    fn weak_rsa_cannot_be_configured() {
        assert!(
            parse("[list]\naddress = \"a@example.org\"\n[members]\nmin_rsa_bits = 1024\n").is_err()
        );
    }
}
