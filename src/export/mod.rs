//! Advisory exports written when an embargo lifts: OSV and CSAF 2.0.
//!
//! Domain code: pure functions from an [`Advisory`] (plus the instant it was
//! published and, for CSAF, who publishes it) to a `serde_json::Value`. No
//! IO, no wall clock: the caller decides where the documents go, under
//! [`osv_file_name`] and [`csaf_file_name`]. The same input always gives the
//! same document, byte for byte once serialised.
//!
//! [`osv`] follows the OSV schema, [`csaf`] the CSAF 2.0 schema and its
//! `csaf_security_advisory` profile; the tests validate both against the
//! official schemas in `tests/data/schemas/`. A CVSS vector that does not
//! follow its version's grammar exactly is left out of the scores (see
//! [`cvss`]) instead of producing a document a validator refuses.

mod csaf;
mod cvss;
mod osv;

#[cfg(test)]
mod tests;

pub use csaf::csaf;
pub use osv::osv;

use chrono::{DateTime, Utc};

use crate::advisory::Advisory;

/// Credits `finders` (who reported the vulnerability) in both documents:
/// OSV `credits` of type `FINDER`, CSAF `document.acknowledgments`. No
/// finder, no change.
pub fn credit_finders(
    osv: &mut serde_json::Value,
    csaf: &mut serde_json::Value,
    finders: &[String],
) {
    let names: Vec<&str> = finders
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .collect();
    if names.is_empty() {
        return;
    }
    if let Some(document) = osv.as_object_mut() {
        let credits: Vec<serde_json::Value> = names
            .iter()
            .map(|name| serde_json::json!({ "name": name, "type": "FINDER" }))
            .collect();
        document.insert("credits".to_owned(), serde_json::Value::Array(credits));
    }
    if let Some(document) = csaf.get_mut("document").and_then(|d| d.as_object_mut()) {
        document.insert(
            "acknowledgments".to_owned(),
            serde_json::json!([{ "names": names, "summary": "reported the vulnerability" }]),
        );
    }
}

/// Who publishes: filled from the list's config by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// The list's name, e.g. "Example Project security".
    pub name: String,
    /// A URL that names the publisher, e.g. "https://security.example.org".
    pub namespace: String,
    /// An email address people can write to about the advisory.
    pub contact: String,
}

/// The file name the OSV document is written under, e.g.
/// `DF-2026-0001.osv.json`.
pub fn osv_file_name(advisory: &Advisory) -> String {
    // Advisory ids are already restricted to letters, digits, '.', '_' and
    // '-' and start with a letter; mapping anything else to '_' keeps the
    // name a single path component even if that rule ever loosens.
    let stem: String = advisory
        .id
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.osv.json", stem.trim_start_matches('.'))
}

/// The file name the CSAF document is written under, as section 5.1 of
/// CSAF 2.0 derives it from `/document/tracking/id`: lower case, every
/// character other than `+`, `-`, `a-z` and `0-9` replaced by `_`, then
/// `.json` (`DF-2026-0001` → `df-2026-0001.json`).
pub fn csaf_file_name(advisory: &Advisory) -> String {
    let stem: String = advisory
        .id
        .as_str()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.json")
}

/// The timestamp form both formats accept: RFC 3339, UTC, ending in `Z`
/// (the crate's one timestamp format).
fn timestamp(instant: DateTime<Utc>) -> String {
    crate::clock::format_instant(instant)
}

/// `text` trimmed, or `None` when nothing is left: both schemas refuse
/// empty strings in most places, so empty fields are left out.
fn non_empty(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty()).then_some(text)
}

/// The CVE ids of an advisory, each once, in the order given. Ids are
/// checked when typed (`advisory::parse_cve`); one that somehow is not
/// `CVE-YYYY-NNNN…` is left out rather than break both documents.
fn unique_cves(advisory: &Advisory) -> Vec<&str> {
    let mut cves: Vec<&str> = Vec::new();
    for cve in &advisory.content.cves {
        let cve = cve.trim();
        if is_cve(cve) && !cves.contains(&cve) {
            cves.push(cve);
        }
    }
    cves
}

/// Whether `text` matches CSAF's `^CVE-[0-9]{4}-[0-9]{4,}$`.
fn is_cve(text: &str) -> bool {
    let digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    let mut parts = text.splitn(3, '-');
    parts.next() == Some("CVE")
        && parts
            .next()
            .is_some_and(|year| year.len() == 4 && digits(year))
        && parts.next().is_some_and(|n| n.len() >= 4 && digits(n))
}
