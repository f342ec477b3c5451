//! The audit log: who changed what, when and why, as a hash chain.
//!
//! Every entry carries the SHA-256 of the entry before it, and its own hash
//! covers its sequence number, time, actor, action, subject, reason and
//! details. Editing, deleting or reordering a row therefore breaks the chain
//! at that row, and [`verify`] names it. This module is pure: the store
//! appends entries inside the same transaction as the change they record.
//!
//! The log never holds embargoed text: callers record identifiers (member
//! addresses, fingerprints, advisory ids) and operator-typed reasons only.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::roster::Email;
use crate::text::Reason;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The operator at the server's command line, acting for nobody named.
    Operator,
    /// A named member (`--by` at the command line, or the signer of a
    /// mail command), and the way their change reached the list.
    Member(Email, Channel),
    /// The program itself (the scheduler, a sweep).
    System,
}

impl Actor {
    /// A member acting at the command line (`--by`).
    pub fn member_at_cli(email: Email) -> Self {
        Actor::Member(email, Channel::Cli)
    }

    /// How this actor's changes reach the list: the operator's by the
    /// command line, the program's by itself, a member's as they came.
    pub fn channel(&self) -> Channel {
        match self {
            Actor::Operator => Channel::Cli,
            Actor::Member(_, channel) => channel.clone(),
            Actor::System => Channel::System,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Operator => f.write_str("operator"),
            Actor::Member(email, _) => write!(f, "member:{}", email.normalized()),
            Actor::System => f.write_str("system"),
        }
    }
}

/// The way a change reached the list. Every entry names it in its `via`
/// detail, so a maintainer reading the log can tell an operator's command
/// line from a member's signed mail (and which key signed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// The `embargo` command line on the server.
    Cli,
    /// A signed mail command; the signing key's full fingerprint.
    Mail { fingerprint: String },
    /// The program itself (the daemon's scheduler, a sweep, a bounce).
    System,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Cli => f.write_str("cli"),
            Channel::Mail { fingerprint } => write!(f, "signed mail, key {fingerprint}"),
            Channel::System => f.write_str("system"),
        }
    }
}

/// A change to record, before the store gives it a place in the chain.
#[derive(Debug, Clone)]
pub struct Record {
    pub actor: Actor,
    pub action: &'static str,
    /// What was changed, usually `member:<address>` or `list`.
    pub subject: String,
    /// Why, as the operator typed it, if they gave a reason.
    pub reason: Option<String>,
    /// Further facts as key and value (old and new fingerprints, roles).
    pub detail: BTreeMap<&'static str, String>,
}

impl Record {
    /// A record with no reason and no details.
    pub fn new(actor: Actor, action: &'static str, subject: impl Into<String>) -> Self {
        Self {
            actor,
            action,
            subject: subject.into(),
            reason: None,
            detail: BTreeMap::new(),
        }
    }

    /// Adds the reason the operator (or member) gave.
    pub fn reason(mut self, reason: Option<&Reason>) -> Self {
        self.reason = reason.map(|reason| reason.as_str().to_owned());
        self
    }

    /// Adds one detail.
    pub fn detail(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.detail.insert(key, value.into());
        self
    }

    /// The details as the JSON object text that is stored and hashed.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// One stored entry of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub reason: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// Builds the entry that follows `prev_hash` at position `seq`.
    pub fn chain(seq: i64, at: DateTime<Utc>, prev_hash: &str, record: &Record) -> Self {
        let mut entry = Self {
            seq,
            at: crate::clock::format_instant(at),
            actor: record.actor.to_string(),
            action: record.action.to_owned(),
            subject: record.subject.clone(),
            reason: record.reason.clone(),
            detail: record.detail_json(),
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }

    /// The hash this entry should carry, from its content and `prev_hash`.
    /// Every field is length-prefixed so no two different entries hash the
    /// same bytes.
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let seq = self.seq.to_string();
        let reason = self
            .reason
            .as_deref()
            .map_or_else(|| "-".to_owned(), |r| format!("+{r}"));
        for field in [
            self.prev_hash.as_str(),
            seq.as_str(),
            self.at.as_str(),
            self.actor.as_str(),
            self.action.as_str(),
            self.subject.as_str(),
            reason.as_str(),
            self.detail.as_str(),
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error(
        "audit log broken at entry {seq}: expected entry {expected} here (an entry was deleted or the rows were reordered)"
    )]
    Sequence { seq: i64, expected: i64 },
    #[error(
        "audit log broken at entry {seq}: it does not follow the entry before it (an entry before it was deleted, edited or reordered)"
    )]
    Link { seq: i64 },
    #[error(
        "audit log broken at entry {seq}: its content does not match its hash (the row was edited)"
    )]
    Content { seq: i64 },
}

/// Walks entries in stored order and checks the chain; answers how many
/// entries are intact.
pub fn verify(entries: impl IntoIterator<Item = Entry>) -> Result<u64, Break> {
    let mut prev_hash = GENESIS.to_owned();
    let mut count = 0;
    for (expected_seq, entry) in (1..).zip(entries) {
        if entry.seq != expected_seq {
            return Err(Break::Sequence {
                seq: entry.seq,
                expected: expected_seq,
            });
        }
        if entry.prev_hash != prev_hash {
            return Err(Break::Link { seq: entry.seq });
        }
        if entry.compute_hash() != entry.hash {
            return Err(Break::Content { seq: entry.seq });
        }
        prev_hash = entry.hash;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn chain(n: i64) -> Vec<Entry> {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let record = Record::new(
                    Actor::Operator,
                    "member.add",
                    format!("member:{seq}@example.org"),
                )
                .detail("roles", "subscriber");
                let entry = Entry::chain(seq, at, &prev, &record);
                prev = entry.hash.clone();
                entry
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(chain(5)), Ok(5));
        assert_eq!(verify(Vec::new()), Ok(0));
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut entries = chain(5);
        entries[2].subject = "member:mallory@example.org".to_owned();
        assert_eq!(verify(entries), Err(Break::Content { seq: 3 }));
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            verify(entries),
            Err(Break::Sequence {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn a_deleted_and_renumbered_entry_breaks_the_link() {
        let mut entries = chain(5);
        entries.remove(1);
        for entry in entries.iter_mut().skip(1) {
            entry.seq -= 1;
        }
        assert_eq!(verify(entries), Err(Break::Link { seq: 2 }));
    }

    #[test]
    fn reordered_entries_are_caught() {
        let mut entries = chain(5);
        entries.swap(1, 2);
        let (a, b) = (entries[1].seq, entries[2].seq);
        entries[1].seq = b;
        entries[2].seq = a;
        assert!(verify(entries).is_err());
    }

    #[test]
    fn a_reason_cannot_be_moved_into_the_details() {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        let with_reason = Entry::chain(
            1,
            at,
            GENESIS,
            &Record::new(Actor::System, "x", "y")
                .reason(Some(&Reason::parse("r").expect("a reason"))),
        );
        let without = Entry::chain(1, at, GENESIS, &Record::new(Actor::System, "x", "y"));
        assert_ne!(with_reason.hash, without.hash);
    }
}
