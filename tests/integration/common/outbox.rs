//! Reading the outbox (copies by kind, recipient, state) and the maildir.

use std::path::{Path, PathBuf};

use super::Env;

/// The files the maildir transport wrote.
pub fn maildir(env: &Env) -> Vec<PathBuf> {
    let dir = env.dir.path().join("var/maildir/new");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// The names of the files in the export folder below `dir` (a test's
/// folder), sorted; none when it does not exist yet.
pub fn exports_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("var/exports"))
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// (kind, recipient, state) of every copy, in id order.
pub fn copies(env: &Env) -> Vec<(String, String, String)> {
    env.sql(
        "SELECT a.kind, d.recipient, d.state FROM deliveries d \
         JOIN announcements a ON a.id = d.announcement_id ORDER BY d.id",
    )
    .lines()
    .map(|line| {
        let mut parts = line.split('|');
        (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        )
    })
    .collect()
}

/// The copies of one kind: (recipient, state).
pub fn of_kind(env: &Env, kind: &str) -> Vec<(String, String)> {
    copies(env)
        .into_iter()
        .filter(|(k, _, _)| k == kind)
        .map(|(_, r, s)| (r, s))
        .collect()
}
