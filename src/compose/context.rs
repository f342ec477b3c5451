//! What templates see: plain views of the list, an advisory, a member.
//!
//! Every value is already text in the form people read (dates as
//! `2026-12-01 14:00 UTC`, permissions as sentences), so templates need no
//! filters beyond `join`.

use serde::Serialize;
use serde_json::{Value, json};

use crate::advisory::{Advisory, Change, time::format_utc};

/// The list, as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct ListView {
    pub name: String,
    pub address: String,
    pub request_address: String,
}

/// An advisory at one revision, as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct AdvisoryView {
    pub id: String,
    pub revision: u32,
    pub title: String,
    pub severity: String,
    pub cvss: Option<String>,
    pub cves: Vec<String>,
    pub product: String,
    pub affected: Vec<String>,
    pub fixed: Vec<String>,
    pub description: String,
    pub mitigations: Option<String>,
    pub permitted: Vec<String>,
    pub patch_date: Option<String>,
    pub disclose_at: String,
}

impl From<&Advisory> for AdvisoryView {
    fn from(advisory: &Advisory) -> Self {
        let c = &advisory.content;
        Self {
            id: advisory.id.to_string(),
            revision: advisory.revision,
            title: c.title.clone(),
            severity: c.severity.to_string(),
            cvss: c.cvss.clone(),
            cves: c.cves.clone(),
            product: c.product.clone(),
            affected: c.affected.clone(),
            fixed: c.fixed.clone(),
            description: c.description.clone(),
            mitigations: c.mitigations.clone(),
            permitted: c
                .permitted
                .iter()
                .map(|p| p.describe().to_owned())
                .collect(),
            patch_date: c.patch_date.map(|d| d.to_string()),
            disclose_at: format_utc(c.disclose_at),
        }
    }
}

/// One changed field, as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    pub field: String,
    pub old: String,
    pub new: String,
}

impl From<&Change> for ChangeView {
    fn from(change: &Change) -> Self {
        Self {
            field: change.field.replace('_', " "),
            old: change.old.clone(),
            new: change.new.clone(),
        }
    }
}

/// A member, as member mail sees them.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub name: String,
    pub email: String,
    pub org: String,
    pub fingerprint: String,
    pub sponsor: String,
}

/// The context of every advisory kind: `list`, `advisory`, `changes` and
/// `hours_left`.
pub fn advisory_context(
    list: &ListView,
    advisory: &Advisory,
    changes: &[Change],
    hours_left: i64,
) -> Value {
    json!({
        "list": list,
        "advisory": AdvisoryView::from(advisory),
        "changes": changes.iter().map(ChangeView::from).collect::<Vec<_>>(),
        "hours_left": hours_left,
    })
}

/// The context of member mail: `list`, `member`, and the extra values one
/// kind needs (`token` and `expires` for confirm, `key_expires` for
/// key-expiry).
pub fn member_context(list: &ListView, member: &MemberView, extra: &[(&str, String)]) -> Value {
    let mut context = json!({ "list": list, "member": member });
    if let Value::Object(map) = &mut context {
        for (key, value) in extra {
            map.insert((*key).to_owned(), Value::String(value.clone()));
        }
    }
    context
}

/// The context of a maintainers' report: `list`, `title`, `lines`.
pub fn report_context(list: &ListView, title: &str, lines: &[String]) -> Value {
    json!({ "list": list, "title": title, "lines": lines })
}

/// The context of a reply to signed commands: `list`, `member`, `lines`.
pub fn reply_context(list: &ListView, member: &MemberView, lines: &[String]) -> Value {
    json!({ "list": list, "member": member, "lines": lines })
}
