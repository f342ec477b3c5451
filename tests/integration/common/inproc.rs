//! An `App` in this process with a clock the test moves by hand.
//!
//! [`Inproc`] makes a list with `app::init` in a temp folder, opens `App`
//! on it with a [`ManualClock`] and the maildir transport, and drives the
//! scheduler pass (`App::prepare`) and delivery (`App::deliver_due`)
//! directly: no child process, no GnuPG (member certificates are made by
//! `embargo::pgp::testing`), no Python. Tests that prove the real parts
//! (GnuPG read-back, the SMTP server, SIGKILL) stay with the binary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use embargo::advisory::Severity;
use embargo::app::App;
use embargo::app::advisory::{AdvisoryInput, Force};
use embargo::app::init::{InitRequest, init};
use embargo::app::roster::AddMember;
use embargo::clock::{ManualClock, parse_instant};
use embargo::config::Config;
use embargo::roster::{Kind, Role};
use embargo::store::QueueRow;
use tempfile::TempDir;

use super::store::TestDatabase;
use super::{NOW, who};

/// When the in-process certificates were made: before every instant the
/// tests use, like the GnuPG fixtures.
const CERTS_MADE_AT: &str = "2026-01-01T00:00:00Z";

/// The instant `text` names (RFC 3339 with an offset); panics on a typo in
/// a test.
pub fn at(text: &str) -> DateTime<Utc> {
    parse_instant(text).unwrap_or_else(|| panic!("not an instant: {text}"))
}

/// The armored certificate of `email`, made in-process once per run. The
/// encryption subkey of [`who::EXPIRING_SUBKEY`] expires on 2026-06-10, as
/// the GnuPG fixture's does; every other lasts forever.
pub fn cert(email: &str) -> Vec<u8> {
    static CERTS: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let certs = CERTS.get_or_init(Mutex::default);
    let mut certs = certs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    certs
        .entry(email.to_owned())
        .or_insert_with(|| {
            let until = (email == who::EXPIRING_SUBKEY).then(|| at("2026-06-10T00:00:00Z"));
            embargo::pgp::testing::member_cert("Test Member", email, at(CERTS_MADE_AT), until)
                .expect("make a member certificate")
        })
        .clone()
}

/// (kind, recipient, state) of one copy in the outbox.
pub type OutboxCopy = (String, String, String);

/// One in-process list: its folder, the clock the test moves, the `App`.
pub struct Inproc {
    pub dir: TempDir,
    pub clock: ManualClock,
    pub app: Arc<App>,
    /// The test's own PostgreSQL database when the suite runs on one;
    /// dropped after `app` (fields drop in order).
    _db: Option<TestDatabase>,
}

impl Inproc {
    /// A list made by `app::init` at [`NOW`] with Alice as admin and
    /// committer, the standard test config and the maildir transport.
    pub async fn new() -> Self {
        Self::with_config("").await
    }

    /// [`Inproc::new`] with `extra` appended to the config.
    pub async fn with_config(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("embargo.toml");
        let db = super::store::database();
        let store = db.as_ref().map(TestDatabase::config).unwrap_or_default();
        let text = format!(
            "[list]\naddress = \"security-announce@project.example\"\nname = \"Test list\"\n{store}\n[storage]\ndata_dir = \"var\"\n{extra}"
        );
        std::fs::write(&path, &text).expect("write config");
        let config = Config::parse(&text, &path).expect("the test config parses");
        let clock = ManualClock::new(at(NOW));
        init(
            &config,
            &clock,
            InitRequest {
                admin_email: who::ALICE.to_owned(),
                admin_name: "Alice Admin".to_owned(),
                admin_org: "Project".to_owned(),
                admin_kind: Kind::Individual,
                admin_key: cert(who::ALICE),
                extra_roles: vec![Role::Committer],
                import_key: None,
                list_name: None,
            },
        )
        .await
        .expect("init");
        let app = App::open(config, Box::new(clock.clone()))
            .await
            .expect("open the list");
        Self {
            dir,
            clock,
            app: Arc::new(app),
            _db: db,
        }
    }

    /// Sets the clock to `text`.
    pub fn set(&self, text: &str) {
        self.clock.set(at(text));
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Adds `email` (a vendor, with its in-process certificate) sponsored
    /// by `sponsor`, and returns the confirmation token.
    pub async fn add(&self, email: &str, sponsor: &str) -> String {
        let added = self
            .app
            .add_member(AddMember {
                email: email.to_owned(),
                name: "Test Member".to_owned(),
                org: "Org".to_owned(),
                kind: Kind::Vendor,
                cert: cert(email),
                sponsor: sponsor.to_owned(),
                statement: None,
                roles: Vec::new(),
                by: None,
            })
            .await
            .expect("member add");
        added.token
    }

    /// Adds and confirms `email`, sponsored by `sponsor`.
    pub async fn add_active(&self, email: &str, sponsor: &str) {
        let token = self.add(email, sponsor).await;
        self.confirm(email, &token).await;
    }

    /// Confirms `email` with its token.
    pub async fn confirm(&self, email: &str, token: &str) {
        self.app
            .confirm_member(email, token)
            .await
            .expect("member confirm");
    }

    /// A draft with product `p`, a one-line body and disclosure at
    /// 2026-06-09 14:00 UTC, as `Env::draft` makes it.
    pub async fn draft(&self, id: &str, title: &str, severity: Severity) {
        self.draft_until(id, title, severity, "2026-06-09T14:00:00Z")
            .await;
    }

    /// [`Inproc::draft`] disclosed at `disclose_at` instead.
    pub async fn draft_until(&self, id: &str, title: &str, severity: Severity, disclose_at: &str) {
        let input = AdvisoryInput {
            title: Some(title.to_owned()),
            severity: Some(severity),
            product: Some("p".to_owned()),
            body: Some(b"Details.\n".to_vec()),
            disclose_at: Some(disclose_at.to_owned()),
            ..AdvisoryInput::default()
        };
        self.app
            .new_advisory(id, &input, &Force::default())
            .await
            .expect("advisory new");
    }

    /// Announces `id` at `at` (now when `None`).
    pub async fn announce(&self, id: &str, at: Option<&str>) {
        self.app
            .announce_advisory(id, at, &Force::default())
            .await
            .expect("advisory announce");
    }

    /// `queue run` at the clock's now: a scheduler pass and delivery, twice
    /// (the second for reports about the first), as the CLI does it. Every
    /// step of the passes must succeed.
    pub async fn run(&self) {
        let (prepared, _) = self.app.queue_run().await.expect("queue run");
        assert!(prepared.failed.is_empty(), "{:?}", prepared.failed);
    }

    /// One scheduler pass at the clock's now, every step of which must
    /// succeed; answers the advisories it disclosed.
    pub async fn prepare(&self) -> Vec<String> {
        let prepared = self.app.prepare().await.expect("scheduler pass");
        assert!(prepared.failed.is_empty(), "{:?}", prepared.failed);
        prepared.disclosed
    }

    /// One delivery run at the clock's now, into the maildir; answers how
    /// many copies it sent.
    pub async fn deliver(&self) -> u64 {
        let transport = self.app.transport().expect("transport");
        let (_keep, stop) = tokio::sync::watch::channel(false);
        self.app
            .deliver_due(&transport, stop, None)
            .await
            .expect("deliver")
            .sent
    }

    /// Every row of the outbox, as `queue list --all` shows it.
    pub async fn rows(&self) -> Vec<QueueRow> {
        self.app.queue_rows(true).await.expect("queue list")
    }

    /// Every copy in the outbox, in id order.
    pub async fn copies(&self) -> Vec<OutboxCopy> {
        self.rows()
            .await
            .into_iter()
            .map(|row| (row.kind.to_string(), row.recipient, row.state.to_string()))
            .collect()
    }

    /// The copies of one kind: (recipient, state).
    pub async fn of_kind(&self, kind: &str) -> Vec<(String, String)> {
        self.copies()
            .await
            .into_iter()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, recipient, state)| (recipient, state))
            .collect()
    }

    /// The status of advisory `id` (`scheduled`, `notified`, …).
    pub async fn status(&self, id: &str) -> String {
        self.app
            .list_advisories()
            .await
            .expect("advisory list")
            .into_iter()
            .find(|advisory| advisory.id.as_str() == id)
            .map(|advisory| advisory.status.to_string())
            .unwrap_or_else(|| panic!("no advisory {id}"))
    }

    /// The files the maildir transport wrote, in name order.
    pub fn maildir(&self) -> Vec<PathBuf> {
        let dir = self.dir.path().join("var/maildir/new");
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            // Only files: a test may put a folder in a copy's place to
            // make its delivery fail.
            Ok(entries) => entries
                .map(|e| e.expect("entry").path())
                .filter(|path| path.is_file())
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }

    /// The delivered mail addressed to `email`.
    pub fn mail_to(&self, email: &str) -> Vec<String> {
        let header = format!("To: {email}");
        self.maildir()
            .into_iter()
            .map(|file| String::from_utf8_lossy(&std::fs::read(file).expect("mail")).into_owned())
            .filter(|text| text.contains(&header))
            .collect()
    }
}

/// The maildir file name the transport gives copy `id` with `message_id`
/// (`{id}-{message_id}` with only letters, digits, `-`, `_` and `.` kept,
/// as `mail::transport` names it), so a test can put something in its way.
pub fn maildir_name(id: i64, message_id: &str) -> String {
    let key = format!("{id}-{message_id}");
    let safe: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(120)
        .collect();
    format!("{safe}.embargo")
}
