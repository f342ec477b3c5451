//! The OSV export (<https://ossf.github.io/osv-schema/>).
//!
//! Two places where an advisory does not fit OSV as it is:
//!
//! - **The id.** The schema accepts only ids that start with a registered
//!   home-database prefix (`GHSA-`, `RUSTSEC-`, …) or with `x_`, its escape
//!   hatch for everyone else. A list's own ids (`DF-2026-0001`) are not
//!   registered, so the OSV id is `x_DF-2026-0001`; the id as the list
//!   knows it is kept in `database_specific.advisory_id`.
//! - **The package.** OSV names a package by ecosystem (`crates.io`, `npm`,
//!   …) and name, and both are required. An advisory has a free-text
//!   product and free-text versions ("1.0 to 1.4.2", "< 2.3.1") that no
//!   ecosystem or range type can hold, so the `affected` entry has no
//!   `package` and no `ranges`, and carries the product and versions in its
//!   `database_specific` object.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::cvss::{self, CvssV3};
use super::{non_empty, timestamp, unique_cves};
use crate::advisory::{Advisory, Content};

/// The OSV schema version the documents follow: 1.6.2 is the first that
/// defines the `CVSS_V4` severity type.
pub(crate) const SCHEMA_VERSION: &str = "1.6.2";

/// The prefix the OSV schema reserves for ids outside its registered
/// databases.
const UNREGISTERED_PREFIX: &str = "x_";

/// The OSV document for a disclosed advisory.
///
/// `published` is when the embargo lifted. `modified` is the later of that
/// and the advisory's last change, so a record is never modified before it
/// was published.
pub fn osv(advisory: &Advisory, published: DateTime<Utc>) -> Value {
    let content = &advisory.content;
    let mut document = Map::new();
    document.insert("schema_version".to_owned(), json!(SCHEMA_VERSION));
    document.insert("id".to_owned(), json!(osv_id(advisory)));
    document.insert(
        "modified".to_owned(),
        json!(timestamp(published.max(advisory.updated_at))),
    );
    document.insert("published".to_owned(), json!(timestamp(published)));
    let cves = unique_cves(advisory);
    if !cves.is_empty() {
        document.insert("aliases".to_owned(), json!(cves));
    }
    if let Some(title) = non_empty(&content.title) {
        document.insert("summary".to_owned(), json!(title));
    }
    if let Some(details) = details(content) {
        document.insert("details".to_owned(), json!(details));
    }
    let severity = content.cvss.as_deref().and_then(severity);
    if let Some(severity) = &severity {
        document.insert("severity".to_owned(), json!([severity]));
    }
    if let Some(affected) = affected(content) {
        document.insert("affected".to_owned(), json!([affected]));
    }
    let mut database = Map::new();
    database.insert("advisory_id".to_owned(), json!(advisory.id.as_str()));
    database.insert("severity".to_owned(), json!(content.severity.as_str()));
    if severity.is_none()
        && let Some(vector) = content.cvss.as_deref().and_then(non_empty)
    {
        // Kept as typed so nothing is lost, but out of `severity`, whose
        // patterns a malformed vector would fail.
        database.insert("cvss".to_owned(), json!(vector));
    }
    document.insert("database_specific".to_owned(), Value::Object(database));
    Value::Object(document)
}

/// The OSV id: the advisory id behind the schema's `x_` prefix (see the
/// module documentation).
fn osv_id(advisory: &Advisory) -> String {
    let id = advisory.id.as_str();
    if id.starts_with(UNREGISTERED_PREFIX) {
        id.to_owned()
    } else {
        format!("{UNREGISTERED_PREFIX}{id}")
    }
}

/// The description, then the mitigations under their own heading
/// (`details` is CommonMark).
fn details(content: &Content) -> Option<String> {
    let description = non_empty(&content.description);
    let mitigations = content.mitigations.as_deref().and_then(non_empty);
    match (description, mitigations) {
        (Some(description), Some(mitigations)) => {
            Some(format!("{description}\n\n## Mitigations\n\n{mitigations}"))
        }
        (Some(description), None) => Some(description.to_owned()),
        (None, Some(mitigations)) => Some(format!("## Mitigations\n\n{mitigations}")),
        (None, None) => None,
    }
}

/// The `severity` entry for a CVSS vector that follows its version's
/// grammar; `None` for anything else.
fn severity(vector: &str) -> Option<Value> {
    let vector = vector.trim();
    let kind = if CvssV3::parse(vector).is_some() {
        "CVSS_V3"
    } else if cvss::is_v4(vector) {
        "CVSS_V4"
    } else {
        return None;
    };
    Some(json!({ "type": kind, "score": vector }))
}

/// The one `affected` entry: no package (there is no ecosystem to name),
/// the product and the free-text versions in `database_specific`.
fn affected(content: &Content) -> Option<Value> {
    let mut database = Map::new();
    if let Some(product) = non_empty(&content.product) {
        database.insert("product".to_owned(), json!(product));
    }
    for (key, versions) in [
        ("affected_versions", &content.affected),
        ("fixed_versions", &content.fixed),
    ] {
        let versions: Vec<&str> = versions.iter().filter_map(|v| non_empty(v)).collect();
        if !versions.is_empty() {
            database.insert(key.to_owned(), json!(versions));
        }
    }
    (!database.is_empty()).then(|| json!({ "database_specific": database }))
}
