//! The team list and its cases: the environment, reports as reporters
//! write them, and the team's view of what was sent.

use std::io::Write as _;
use std::process::Command;

use mail_parser::{MessageParser, MimeHeaders as _};

use super::outbox::maildir;
use super::{Env, keys, who};

pub const TEAM: &str = "security@project.example";
pub const SECRET_SUBJECT: &str = "Heap overflow in the frobnicator";
pub const SECRET_BODY: &str = "CanaryTeamPostBody-5521: the overflow is in parse_frob.";

/// Alice (admin, from `init`), Bob (committer) and Carol (advisor) are
/// the team; Dave (a subscriber) is not; Erin is a committer, suspended.
pub fn team_env() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    env.add_active(
        who::CAROL,
        who::ALICE,
        &["--role", "advisor", "--by", who::ALICE],
    );
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(
        who::ERIN,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    env.ok(&["member", "suspend", who::ERIN, "--reason", "on leave"]);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    write!(file, "\n[team]\naddress = \"{TEAM}\"\n").expect("write config");
    env
}

/// Every active member holding maintainer, committer or advisor.
pub fn expected_team(env: &Env) -> Vec<String> {
    env.sql(
        "SELECT email FROM members WHERE status = 'active' AND \
         (',' || roles || ',' LIKE '%,maintainer,%' OR ',' || roles || ',' LIKE '%,committer,%' \
          OR ',' || roles || ',' LIKE '%,advisor,%') ORDER BY email",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// A GnuPG home holding one person's secret key, for reading what was
/// encrypted to them; its agent is stopped when dropped.
pub struct Reader {
    home: tempfile::TempDir,
}

impl Reader {
    pub fn of(env: &Env, email: &str) -> Self {
        let reader = Self {
            home: tempfile::tempdir().expect("GnuPG home"),
        };
        let secret = env.file("reader-secret.asc", keys().secret(email));
        assert!(reader.gpg(&["--import"], &secret).status.success());
        reader
    }

    fn gpg(&self, args: &[&str], file: &std::path::Path) -> std::process::Output {
        Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .arg(file)
            .output()
            .expect("run gpg")
    }

    /// What `eml`'s encrypted part decrypts to with this key, or `None`
    /// when it cannot be (or `eml` is not an encrypted message: a
    /// content-free notice is signed, in clear).
    pub fn decrypt(&self, env: &Env, eml: &[u8]) -> Option<Vec<u8>> {
        let message = MessageParser::default().parse(eml)?;
        let encrypted = message.content_type().is_some_and(|ct| {
            ct.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("encrypted"))
        });
        let payload = message.part(2).filter(|_| encrypted)?;
        let ciphertext = env.file("payload.asc", payload.contents());
        let out = self.gpg(&["--decrypt"], &ciphertext);
        out.status.success().then_some(out.stdout)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .status();
    }
}

/// The decrypted inner entities of the encrypted copies to `email`, read
/// with that member's secret key alone; no other copy opens with it.
pub fn decrypted_copies_of(env: &Env, email: &str) -> Vec<Vec<u8>> {
    let reader = Reader::of(env, email);
    let mut found = Vec::new();
    for file in maildir(env) {
        let eml = std::fs::read(&file).expect("mail");
        let message = MessageParser::default().parse(&eml).expect("parses");
        let to = message
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned();
        let is_encrypted = message.content_type().is_some_and(|ct| {
            ct.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("encrypted"))
        });
        if !is_encrypted {
            continue;
        }
        let opened = reader.decrypt(env, &eml);
        if to == email {
            found.push(opened.unwrap_or_else(|| panic!("{email} cannot read their own copy")));
        } else {
            assert!(opened.is_none(), "{email} can read {to}'s copy");
        }
    }
    found
}

pub const REPORTER: &str = "reporter@reporter.example";
pub const REPORT_CANARY: &str = "CanaryReportBody-7731";

pub fn report_from(from: &str, message_id: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "{extra_headers}From: {from}\r\nTo: {TEAM}\r\nSubject: A vulnerability\r\n\
         Date: Mon, 01 Jun 2026 11:59:00 +0000\r\nMessage-ID: <{message_id}>\r\n\r\n\
         {REPORT_CANARY}: the frobnicator overflows.\r\n"
    )
    .into_bytes()
}

pub fn cases(env: &Env) -> Vec<String> {
    env.sql(&format!(
        "SELECT 'CASE-' || year || '-' || {} || ' ' || reporter || ' ' || reporter_verified \
             FROM cases ORDER BY id",
        env.zero_padded("number", 4)
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

pub fn append_config(env: &Env, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    write!(file, "\n{text}\n").expect("write config");
}

/// Asserts that nothing of `canaries` is in the database in clear: not as
/// text, not as the hex a dump shows a blob in; on SQLite, not in the
/// file's (or its WAL's) raw bytes either.
pub fn assert_database_holds_none_of(env: &Env, canaries: &[&str]) {
    let dump = env.dump().to_lowercase();
    for canary in canaries {
        let hex = hex::encode(canary.as_bytes());
        assert!(
            !dump.contains(&canary.to_lowercase()) && !dump.contains(&hex),
            "the database holds {canary} in clear"
        );
    }
    if !env.on_postgres() {
        let database = env.database();
        for file in [database.clone(), database.with_extension("sqlite-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                let text = String::from_utf8_lossy(&bytes);
                for canary in canaries {
                    assert!(
                        !text.contains(canary),
                        "{} holds {canary} in clear",
                        file.display()
                    );
                }
            }
        }
    }
}

/// `embargo ingest --recipient RECIPIENT` with these environment
/// variables set: its exit status and everything it printed.
pub fn ingest_with(
    env: &Env,
    vars: &[(&str, &str)],
    recipient: &str,
    message: &[u8],
) -> (i32, String) {
    use std::process::Stdio;
    let mut child = env
        .command()
        .envs(vars.iter().copied())
        .args(["ingest", "--recipient", recipient])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run embargo ingest");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write the message");
    let out = child.wait_with_output().expect("wait");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), printed)
}

/// [`ingest_with`] `EMBARGO_LOG=trace`: its exit status and its log.
pub fn ingest_logged(env: &Env, recipient: &str, message: &[u8]) -> (i32, String) {
    ingest_with(env, &[("EMBARGO_LOG", "trace")], recipient, message)
}

/// What `email`'s secret key decrypts `eml`'s encrypted part to, or
/// `None` when it cannot (or `eml` is not encrypted).
pub fn decrypt_as(env: &Env, email: &str, eml: &[u8]) -> Option<Vec<u8>> {
    Reader::of(env, email).decrypt(env, eml)
}

/// `embargo ingest --recipient RECIPIENT` with the clock at `now`: its
/// exit status.
pub fn ingest_at(env: &Env, now: &str, recipient: &str, message: &[u8]) -> i32 {
    ingest_with(env, &[("EMBARGO_TEST_NOW", now)], recipient, message).0
}
