//! Builders for signed mail commands, and what their replies recorded.
//!
//! A list to send them to, a command message, an attached certificate,
//! fingerprints as GnuPG reads them.

use std::process::Command;

use super::mail::{Attachment, Headers, LIST_ADDRESS, REQUEST_ADDRESS, SIGNED_NOW, signed_mime};
use super::{Env, keys, who};

/// Alice (admin, committer) and Dave (subscriber) active, member mail
/// delivered.
pub fn list() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.ok(&["queue", "run"]);
    env
}

/// A message from `from` with `lines` as its own text, signed now.
pub fn command(from: &str, lines: &str, attachments: &[Attachment]) -> Vec<u8> {
    signed_mime(
        from,
        &Headers::new(from, REQUEST_ADDRESS),
        &format!("Hello list,\n\nList: {LIST_ADDRESS}\n{lines}\n\n-- \nsent by a member\n"),
        attachments,
        SIGNED_NOW,
    )
}

/// A fixture certificate as an attachment.
pub fn cert(email: &str) -> Attachment {
    Attachment::pgp_keys(keys().public(email))
}

/// The primary fingerprint of a fixture certificate, as GnuPG reads it.
pub fn fingerprint(env: &Env, email: &str) -> String {
    let file = env.cert_file(email);
    let out = Command::new("gpg")
        .args(["--batch", "--with-colons", "--show-keys"])
        .arg(&file)
        .output()
        .expect("gpg --show-keys");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("fpr:"))
        .map(|rest| rest.trim_matches(':').to_owned())
        .expect("a fingerprint")
}

/// The fingerprint the roster holds for `email`.
pub fn stored_fingerprint(env: &Env, email: &str) -> String {
    env.show(email)["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What the replies said about the last `n` commands recorded, in order.
pub fn last_lines(env: &Env, n: usize) -> Vec<String> {
    let all: Vec<String> = env
        .sql(&format!(
            "SELECT line FROM inbound_commands ORDER BY {}",
            env.insertion_order()
        ))
        .lines()
        .map(str::to_owned)
        .collect();
    all[all.len().saturating_sub(n)..].to_vec()
}
