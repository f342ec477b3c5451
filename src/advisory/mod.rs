//! Advisories: what is affected, what to do, and when it becomes public.
//!
//! Domain code: no IO, no wall clock, no SQL. An advisory's editable
//! content is a [`Content`]; every change to it makes a new revision, and
//! [`diff`] says field by field what moved, which is what an `update`
//! announcement tells members. [`policy`] checks embargo dates, [`time`]
//! parses the instants people type.

pub mod policy;
pub mod time;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a typed advisory field was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FieldError {
    #[error(
        "advisory id {0:?} must be 3 to 64 letters, digits, '.', '_' or '-', starting with a letter (e.g. DF-2026-0001)"
    )]
    Id(String),
    #[error("{0:?} is not a CVE id (expected CVE-YYYY-NNNN)")]
    Cve(String),
    #[error(
        "{0:?} is not a CVSS v3 or v4 vector (expected e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H)"
    )]
    Cvss(String),
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
}

/// An advisory's identifier, such as `DF-2026-0001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AdvisoryId(String);

impl AdvisoryId {
    /// Checks `text` and returns the id.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let text = text.trim();
        let ok = (3..=64).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(FieldError::Id(text.to_owned()))
        }
    }

    /// The id as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The upper-case form used for uniqueness and look-up.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl fmt::Display for AdvisoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a CVE id and returns it upper-case.
pub fn parse_cve(text: &str) -> Result<String, FieldError> {
    let upper = text.trim().to_ascii_uppercase();
    let mut parts = upper.splitn(3, '-');
    let ok = parts.next() == Some("CVE")
        && parts
            .next()
            .is_some_and(|year| year.len() == 4 && year.chars().all(|c| c.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|n| (4..=19).contains(&n.len()) && n.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(upper)
    } else {
        Err(FieldError::Cve(text.to_owned()))
    }
}

/// Checks the shape of a CVSS vector string (`CVSS:3.0/`, `CVSS:3.1/` or
/// `CVSS:4.0/` followed by `metric:value` pairs).
pub fn parse_cvss(text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    let Some(rest) = ["CVSS:3.0/", "CVSS:3.1/", "CVSS:4.0/"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
    else {
        return Err(FieldError::Cvss(text.to_owned()));
    };
    let ok = !rest.is_empty()
        && rest.split('/').all(|pair| {
            pair.split_once(':').is_some_and(|(metric, value)| {
                !metric.is_empty()
                    && !value.is_empty()
                    && metric.chars().all(|c| c.is_ascii_alphanumeric())
                    && value.chars().all(|c| c.is_ascii_alphanumeric())
            })
        });
    if ok {
        Ok(text.to_owned())
    } else {
        Err(FieldError::Cvss(text.to_owned()))
    }
}

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Moderate,
    High,
    Critical,
}

crate::names::named_enum! {
    /// The name as typed and shown.
    pub fn as_str for Severity, "severity" {
        Low => "low",
        Moderate => "moderate",
        High => "high",
        Critical => "critical",
    }
}

/// What members may do while the embargo holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Deploy the fix on their own production systems.
    Deploy,
    /// Build and publish fixed binaries or packages.
    ShipBinaries,
    /// Tell their own customers, under the same embargo.
    NotifyCustomers,
}

crate::names::named_enum! {
    /// The name as typed and shown.
    pub fn as_str for Permission, "permission" {
        Deploy => "deploy",
        ShipBinaries => "ship-binaries",
        NotifyCustomers => "notify-customers",
    }
}

impl Permission {
    /// A sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::Deploy => "You may deploy the fix on your own systems.",
            Permission::ShipBinaries => {
                "You may build fixed packages; publish them only after disclosure."
            }
            Permission::NotifyCustomers => {
                "You may tell your own customers, under this same embargo."
            }
        }
    }
}

/// Where an advisory stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being written; nobody has been told.
    Draft,
    /// The notice has a time; it goes out then.
    Scheduled,
    /// Members have the notice.
    Notified,
    /// Public.
    Disclosed,
    /// Called off.
    Cancelled,
}

crate::names::named_enum! {
    /// The name as stored and shown.
    pub fn as_str for Status, "advisory status" {
        Draft => "draft",
        Scheduled => "scheduled",
        Notified => "notified",
        Disclosed => "disclosed",
        Cancelled => "cancelled",
    }
}

impl Status {
    /// Whether the content can still change.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Draft | Status::Scheduled | Status::Notified)
    }
}

/// Everything about an advisory that a revision records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub title: String,
    pub severity: Severity,
    pub cvss: Option<String>,
    pub cves: Vec<String>,
    pub product: String,
    pub affected: Vec<String>,
    pub fixed: Vec<String>,
    pub description: String,
    pub mitigations: Option<String>,
    pub permitted: Vec<Permission>,
    pub patch_date: Option<NaiveDate>,
    pub disclose_at: DateTime<Utc>,
}

/// An advisory as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Advisory {
    pub id: AdvisoryId,
    pub status: Status,
    pub revision: u32,
    pub content: Content,
    /// When the first notice goes (or went) out.
    pub announce_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One field that changed between two revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// What changed from `old` to `new`, field by field, as text people read.
pub fn diff(old: &Content, new: &Content) -> Vec<Change> {
    let list = |items: &[String]| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(", ")
        }
    };
    let opt = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".to_owned());
    let permitted = |items: &[Permission]| {
        if items.is_empty() {
            "(nothing)".to_owned()
        } else {
            items
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let fields: [(&str, String, String); 12] = [
        ("title", old.title.clone(), new.title.clone()),
        (
            "severity",
            old.severity.to_string(),
            new.severity.to_string(),
        ),
        ("cvss", opt(&old.cvss), opt(&new.cvss)),
        ("cves", list(&old.cves), list(&new.cves)),
        ("product", old.product.clone(), new.product.clone()),
        ("affected", list(&old.affected), list(&new.affected)),
        ("fixed", list(&old.fixed), list(&new.fixed)),
        (
            "description",
            old.description.clone(),
            new.description.clone(),
        ),
        ("mitigations", opt(&old.mitigations), opt(&new.mitigations)),
        (
            "permitted",
            permitted(&old.permitted),
            permitted(&new.permitted),
        ),
        (
            "patch_date",
            old.patch_date
                .map_or_else(|| "(none)".to_owned(), |d| d.to_string()),
            new.patch_date
                .map_or_else(|| "(none)".to_owned(), |d| d.to_string()),
        ),
        (
            "disclose_at",
            time::format_utc(old.disclose_at),
            time::format_utc(new.disclose_at),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(field, old, new)| Change {
            field: field.to_owned(),
            old,
            new,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rstest::rstest;

    pub(crate) fn content() -> Content {
        Content {
            title: "Heap overflow in the frobnicator".to_owned(),
            severity: Severity::High,
            cvss: None,
            cves: vec!["CVE-2026-1234".to_owned()],
            product: "frob".to_owned(),
            affected: vec!["frob < 2.4.1".to_owned()],
            fixed: vec!["frob 2.4.1".to_owned()],
            description: "A crafted header overflows a buffer.".to_owned(),
            mitigations: None,
            permitted: vec![Permission::Deploy],
            patch_date: NaiveDate::from_ymd_opt(2026, 6, 8),
            disclose_at: Utc
                .with_ymd_and_hms(2026, 6, 9, 14, 0, 0)
                .single()
                .expect("valid"),
        }
    }

    #[rstest]
    #[case("DF-2026-0001", true)]
    #[case("xsa-123", true)]
    #[case("2026-0001", false)]
    #[case("DF 2026", false)]
    #[case("DF-2026\r\nBcc: x", false)]
    #[case("ab", false)]
    fn advisory_ids(#[case] text: &str, #[case] ok: bool) {
        assert_eq!(AdvisoryId::parse(text).is_ok(), ok);
    }

    #[rstest]
    #[case("CVE-2026-1234", true)]
    #[case("cve-2026-123456", true)]
    #[case("CVE-26-1234", false)]
    #[case("CVE-2026-12", false)]
    #[case("CVE-2026-1234\n", true)]
    #[case("CVE-2026-12a4", false)]
    fn cve_ids(#[case] text: &str, #[case] ok: bool) {
        assert_eq!(parse_cve(text).is_ok(), ok);
    }

    #[rstest]
    #[case("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", true)]
    #[case(
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        true
    )]
    #[case("AV:N/AC:L", false)]
    #[case("CVSS:3.1/AV:N/AC", false)]
    #[case("CVSS:3.1/", false)]
    fn cvss_vectors(#[case] text: &str, #[case] ok: bool) {
        assert_eq!(parse_cvss(text).is_ok(), ok);
    }

    #[test]
    fn diff_names_exactly_the_fields_that_moved() {
        let old = content();
        let mut new = old.clone();
        new.severity = Severity::Critical;
        new.disclose_at = Utc
            .with_ymd_and_hms(2026, 6, 10, 14, 0, 0)
            .single()
            .expect("valid");
        let changes = diff(&old, &new);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["severity", "disclose_at"]);
        assert_eq!(changes[0].old, "high");
        assert_eq!(changes[0].new, "critical");
        assert_eq!(changes[1].new, "2026-06-10 14:00 UTC");
        assert!(diff(&old, &old).is_empty());
    }
}
