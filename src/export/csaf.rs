//! The CSAF 2.0 export, profile `csaf_security_advisory`
//! (<https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html>).
//!
//! The JSON schema is only the floor. The profile and the mandatory tests
//! of section 6.1 add rules this module keeps by construction: a product
//! tree and vulnerabilities must be there (6.1.27.4, 6.1.27.11), every
//! vulnerability has notes and a product status (6.1.27.5, 6.1.27.6), every
//! product id used is defined once (6.1.1, 6.1.2), a CVE appears in one
//! vulnerability only (6.1.23), every remediation names its products
//! (6.1.29), the score matches its vector (6.1.9, 6.1.10), and the version
//! is the last revision's number (6.1.16).
//!
//! The product tree holds two full product names built from the free-text
//! versions: what is affected and what is fixed. Free text such as
//! "< 2.3.1" cannot go into `product_version` branches (6.1.31 forbids
//! ranges there) and is not a `vers` range, so branches are not used.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::cvss::CvssV3;
use super::{Publisher, non_empty, timestamp, unique_cves};
use crate::advisory::{Advisory, Content};

const AFFECTED_ID: &str = "CSAFPID-0001";
const FIXED_ID: &str = "CSAFPID-0002";

/// The CSAF 2.0 document for a disclosed advisory.
///
/// The document is published once, when the embargo lifts, so it is
/// version 1 with one revision dated `published`; the internal revisions
/// made under embargo were never public releases, and only the number of
/// the one published is recorded, in the revision summary.
pub fn csaf(advisory: &Advisory, publisher: &Publisher, published: DateTime<Utc>) -> Value {
    let products = Products::of(&advisory.content);
    json!({
        "document": document(advisory, publisher, published),
        "product_tree": products.tree(),
        "vulnerabilities": vulnerabilities(advisory, publisher, &products),
    })
}

fn document(advisory: &Advisory, publisher: &Publisher, published: DateTime<Utc>) -> Value {
    let content = &advisory.content;
    let date = timestamp(published);
    let mut publisher_object = Map::new();
    publisher_object.insert("category".to_owned(), json!("vendor"));
    publisher_object.insert("name".to_owned(), json!(publisher.name.trim()));
    publisher_object.insert("namespace".to_owned(), json!(publisher.namespace.trim()));
    if let Some(contact) = non_empty(&publisher.contact) {
        publisher_object.insert("contact_details".to_owned(), json!(contact));
    }
    json!({
        "category": "csaf_security_advisory",
        "csaf_version": "2.0",
        "title": non_empty(&content.title).unwrap_or(advisory.id.as_str()),
        "lang": "en",
        "publisher": publisher_object,
        "aggregate_severity": { "text": content.severity.as_str() },
        // The document exists only once the embargo has lifted: it is public.
        "distribution": {
            "tlp": { "label": "WHITE", "url": "https://www.first.org/tlp/" }
        },
        "notes": document_notes(advisory),
        "tracking": {
            "id": advisory.id.as_str(),
            "status": "final",
            "version": "1",
            "initial_release_date": date,
            "current_release_date": date,
            "revision_history": [{
                "date": date,
                "number": "1",
                "summary": format!(
                    "Initial public release (internal revision {}).",
                    advisory.revision
                ),
            }],
            "generator": {
                "engine": { "name": "embargo", "version": env!("CARGO_PKG_VERSION") }
            },
        },
    })
}

/// The description and the mitigations; the title as a summary when there
/// is neither, because `notes` may not be empty.
fn document_notes(advisory: &Advisory) -> Value {
    let content = &advisory.content;
    let mut notes = Vec::new();
    if let Some(description) = non_empty(&content.description) {
        notes.push(note("description", "Description", description));
    }
    if let Some(mitigations) = content.mitigations.as_deref().and_then(non_empty) {
        notes.push(note("general", "Mitigations", mitigations));
    }
    if notes.is_empty() {
        let title = non_empty(&content.title).unwrap_or(advisory.id.as_str());
        notes.push(note("summary", "Summary", title));
    }
    Value::Array(notes)
}

fn note(category: &str, title: &str, text: &str) -> Value {
    json!({ "category": category, "title": title, "text": text })
}

/// The two products of the tree: what is affected (always: an advisory
/// says something is vulnerable, even if it names no versions) and what
/// is fixed (when fixed versions are named).
struct Products {
    affected: String,
    fixed: Option<String>,
}

impl Products {
    fn of(content: &Content) -> Self {
        let product = non_empty(&content.product).unwrap_or("unnamed product");
        Self {
            affected: product_name(product, &content.affected)
                .unwrap_or_else(|| product.to_owned()),
            fixed: product_name(product, &content.fixed),
        }
    }

    fn tree(&self) -> Value {
        let mut names = vec![json!({ "name": self.affected, "product_id": AFFECTED_ID })];
        if let Some(fixed) = &self.fixed {
            names.push(json!({ "name": fixed, "product_id": FIXED_ID }));
        }
        json!({ "full_product_names": names })
    }

    fn status(&self) -> Value {
        let mut status = Map::new();
        status.insert("known_affected".to_owned(), json!([AFFECTED_ID]));
        if self.fixed.is_some() {
            status.insert("fixed".to_owned(), json!([FIXED_ID]));
        }
        Value::Object(status)
    }
}

/// "frob 1.0 to 1.4.2, frob 2.0" from the product and its versions; a
/// version that already starts with the product's name as a word
/// ("frob < 2.4.1", but not "frobnicator 2") is not prefixed again. `None`
/// when no version is named.
fn product_name(product: &str, versions: &[String]) -> Option<String> {
    let lower = product.to_lowercase();
    let names: Vec<String> = versions
        .iter()
        .filter_map(|version| non_empty(version))
        .map(|version| {
            let lower_version = version.to_lowercase();
            let named = lower_version
                .strip_prefix(&lower)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
            if named {
                version.to_owned()
            } else {
                format!("{product} {version}")
            }
        })
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// One vulnerability per CVE, or one without a CVE (named by the advisory
/// id instead) when there is none.
fn vulnerabilities(advisory: &Advisory, publisher: &Publisher, products: &Products) -> Value {
    let cves = unique_cves(advisory);
    let entries = if cves.is_empty() {
        vec![vulnerability(advisory, publisher, products, None)]
    } else {
        cves.into_iter()
            .map(|cve| vulnerability(advisory, publisher, products, Some(cve)))
            .collect()
    };
    Value::Array(entries)
}

fn vulnerability(
    advisory: &Advisory,
    publisher: &Publisher,
    products: &Products,
    cve: Option<&str>,
) -> Value {
    let content = &advisory.content;
    let mut entry = Map::new();
    if let Some(cve) = cve {
        entry.insert("cve".to_owned(), json!(cve));
    } else {
        let system = non_empty(&publisher.name).unwrap_or("embargo");
        entry.insert(
            "ids".to_owned(),
            json!([{ "system_name": system, "text": advisory.id.as_str() }]),
        );
    }
    if let Some(title) = non_empty(&content.title) {
        entry.insert("title".to_owned(), json!(title));
    }
    let text = non_empty(&content.description)
        .or_else(|| non_empty(&content.title))
        .unwrap_or(advisory.id.as_str());
    entry.insert(
        "notes".to_owned(),
        json!([note("description", "Description", text)]),
    );
    entry.insert("product_status".to_owned(), products.status());
    // CSAF 2.0 has no place for CVSS 4.0, and a vector that does not parse
    // has no score to give: both get no `scores`.
    if let Some(vector) = content
        .cvss
        .as_deref()
        .and_then(|v| CvssV3::parse(v.trim()))
    {
        entry.insert(
            "scores".to_owned(),
            json!([{ "cvss_v3": vector.csaf_object(), "products": [AFFECTED_ID] }]),
        );
    }
    entry.insert("remediations".to_owned(), remediations(content, products));
    Value::Object(entry)
}

/// What the affected products can do: update to the fixed versions, apply
/// the mitigations, or, with neither, nothing yet. Remediations name the
/// products they apply to, which are the affected ones; the fixed product
/// is where the `vendor_fix` leads.
fn remediations(content: &Content, products: &Products) -> Value {
    let mut remediations = Vec::new();
    if let Some(fixed) = &products.fixed {
        remediations.push(json!({
            "category": "vendor_fix",
            "details": format!("Update to a fixed version: {fixed}."),
            "product_ids": [AFFECTED_ID],
        }));
    }
    if let Some(mitigations) = content.mitigations.as_deref().and_then(non_empty) {
        remediations.push(json!({
            "category": "mitigation",
            "details": mitigations,
            "product_ids": [AFFECTED_ID],
        }));
    }
    if remediations.is_empty() {
        remediations.push(json!({
            "category": "none_available",
            "details": "No fixed version was available when this advisory was published.",
            "product_ids": [AFFECTED_ID],
        }));
    }
    Value::Array(remediations)
}
