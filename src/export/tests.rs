//! The exports against the official schemas (copied unchanged into
//! `tests/data/schemas/`, so this runs offline), and the CVSS 3.1 base score
//! against published scores.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use jsonschema::{Resource, Validator};
use rstest::rstest;
use serde_json::{Value, json};

use super::cvss::{self, CvssV3};
use super::*;
use crate::advisory::{AdvisoryId, Content, Permission, Severity, Status};

const OSV_SCHEMA: &str = include_str!("../../tests/data/schemas/osv.schema.json");
const CSAF_SCHEMA: &str = include_str!("../../tests/data/schemas/csaf-2.0.schema.json");
/// The FIRST schemas the CSAF schema references by URL, and those URLs.
const CVSS_SCHEMAS: [(&str, &str); 3] = [
    (
        "https://www.first.org/cvss/cvss-v2.0.json",
        include_str!("../../tests/data/schemas/cvss-v2.0.json"),
    ),
    (
        "https://www.first.org/cvss/cvss-v3.0.json",
        include_str!("../../tests/data/schemas/cvss-v3.0.json"),
    ),
    (
        "https://www.first.org/cvss/cvss-v3.1.json",
        include_str!("../../tests/data/schemas/cvss-v3.1.json"),
    ),
];

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("schema files are JSON")
}

static OSV_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&parse(OSV_SCHEMA))
        .expect("the OSV schema compiles")
});

/// The CSAF validator. jsonschema is built without HTTP retrieval, so the
/// CVSS schemas are registered under the URLs the CSAF schema uses; a
/// reference to anything else fails the build instead of being skipped.
static CSAF_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let resources = CVSS_SCHEMAS.map(|(uri, text)| {
        (
            uri,
            Resource::from_contents(parse(text)).expect("a CVSS schema is a resource"),
        )
    });
    jsonschema::options()
        .should_validate_formats(true)
        .with_resources(resources.into_iter())
        .build(&parse(CSAF_SCHEMA))
        .expect("the CSAF schema compiles with the CVSS schemas registered")
});

/// Every schema error, one per line, for assertion messages.
fn errors(validator: &Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| format!("{}: {error}", error.instance_path))
        .collect()
}

fn assert_valid(validator: &Validator, document: &Value) {
    let errors = errors(validator, document);
    assert!(
        errors.is_empty(),
        "schema errors:\n{}\n\ndocument:\n{document:#}",
        errors.join("\n")
    );
}

fn instant(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, day, hour, 0, 0)
        .single()
        .expect("valid instant")
}

fn published() -> DateTime<Utc> {
    instant(9, 14)
}

fn publisher() -> Publisher {
    Publisher {
        name: "Example Project security".to_owned(),
        namespace: "https://security.example.org".to_owned(),
        contact: "security@example.org".to_owned(),
    }
}

/// A disclosed advisory with two CVEs, two branches and a CVSS 3.1 vector.
fn with_cvss31() -> Advisory {
    Advisory {
        id: AdvisoryId::parse("DF-2026-0001").expect("valid id"),
        status: Status::Disclosed,
        revision: 3,
        content: Content {
            title: "Heap overflow in the frobnicator's header parser".to_owned(),
            severity: Severity::Critical,
            cvss: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".to_owned()),
            cves: vec!["CVE-2026-1234".to_owned(), "CVE-2026-1235".to_owned()],
            product: "frob".to_owned(),
            affected: vec!["1.0 to 1.4.2".to_owned(), "frob 2.0.0 to 2.3.0".to_owned()],
            fixed: vec!["1.4.3".to_owned(), "2.3.1".to_owned()],
            description: "A crafted `Content-Frob` header longer than 64 KiB overflows \
                          a heap buffer, which a remote attacker can use to run code."
                .to_owned(),
            mitigations: Some("Set `max_header_size = 8192` in frob.toml.".to_owned()),
            permitted: vec![Permission::Deploy, Permission::ShipBinaries],
            patch_date: NaiveDate::from_ymd_opt(2026, 6, 8),
            disclose_at: published(),
        },
        announce_at: Some(instant(1, 9)),
        created_at: instant(1, 8),
        updated_at: instant(5, 12),
    }
}

/// One CVE and a CVSS 4.0 vector, which CSAF 2.0 cannot score.
fn with_cvss40() -> Advisory {
    let mut advisory = with_cvss31();
    advisory.id = AdvisoryId::parse("DF-2026-0002").expect("valid id");
    advisory.content.severity = Severity::High;
    advisory.content.cvss =
        Some("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".to_owned());
    advisory.content.cves = vec!["CVE-2026-2001".to_owned()];
    advisory
}

/// A CVSS 3.0 vector, whose FIRST schema is a draft-04 one.
fn with_cvss30() -> Advisory {
    let mut advisory = with_cvss31();
    advisory.content.cvss = Some("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H".to_owned());
    advisory
}

/// No CVE, no CVSS, no mitigations and no fix yet.
fn bare() -> Advisory {
    let mut advisory = with_cvss31();
    advisory.id = AdvisoryId::parse("xsa.12_3").expect("valid id");
    advisory.content.severity = Severity::Low;
    advisory.content.cvss = None;
    advisory.content.cves = Vec::new();
    advisory.content.affected = vec!["< 2.3.1".to_owned()];
    advisory.content.fixed = Vec::new();
    advisory.content.mitigations = None;
    advisory
}

#[rstest]
#[case::cvss31(with_cvss31())]
#[case::cvss30(with_cvss30())]
#[case::cvss40(with_cvss40())]
#[case::bare(bare())]
fn both_documents_follow_their_schemas(#[case] advisory: Advisory) {
    assert_valid(&OSV_VALIDATOR, &osv(&advisory, published()));
    let document = csaf(&advisory, &publisher(), published());
    assert_valid(&CSAF_VALIDATOR, &document);
    assert_eq!(profile_problems(&document), Vec::<String>::new());
}

#[rstest]
#[case::unknown_metric("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/FOO:B")]
#[case::missing_metric("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H")]
#[case::repeated_metric("CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]
#[case::bad_value("CVSS:3.1/AV:Z/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]
#[case::v4_out_of_order("CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")]
#[case::empty_body("CVSS:3.1/")]
#[case::garbage("not a vector at all")]
fn an_odd_vector_gets_no_score_and_the_documents_stay_valid(#[case] vector: &str) {
    let mut advisory = with_cvss31();
    advisory.content.cvss = Some(vector.to_owned());
    let osv = osv(&advisory, published());
    assert_valid(&OSV_VALIDATOR, &osv);
    assert!(osv.get("severity").is_none(), "{osv:#}");
    assert_eq!(osv["database_specific"]["cvss"], json!(vector.trim()));
    let csaf = csaf(&advisory, &publisher(), published());
    assert_valid(&CSAF_VALIDATOR, &csaf);
    assert!(csaf["vulnerabilities"][0].get("scores").is_none());
}

#[test]
fn osv_carries_the_advisory() {
    let document = osv(&with_cvss31(), published());
    assert_eq!(document["id"], "x_DF-2026-0001");
    assert_eq!(document["database_specific"]["advisory_id"], "DF-2026-0001");
    assert_eq!(document["database_specific"]["severity"], "critical");
    assert_eq!(
        document["aliases"],
        json!(["CVE-2026-1234", "CVE-2026-1235"])
    );
    assert_eq!(document["published"], "2026-06-09T14:00:00.000000Z");
    // Edited before disclosure: the record is modified when it is published.
    assert_eq!(document["modified"], document["published"]);
    assert_eq!(
        document["severity"],
        json!([{ "type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }])
    );
    let details = document["details"].as_str().expect("details");
    assert!(details.starts_with("A crafted `Content-Frob` header"));
    assert!(details.ends_with("## Mitigations\n\nSet `max_header_size = 8192` in frob.toml."));
    assert_eq!(
        document["affected"],
        json!([{ "database_specific": {
            "product": "frob",
            "affected_versions": ["1.0 to 1.4.2", "frob 2.0.0 to 2.3.0"],
            "fixed_versions": ["1.4.3", "2.3.1"],
        } }])
    );

    let v4 = osv(&with_cvss40(), published());
    assert_eq!(v4["severity"][0]["type"], "CVSS_V4");
    let bare = osv(&bare(), published());
    assert!(bare.get("aliases").is_none());
    assert!(bare.get("severity").is_none());
}

#[test]
fn csaf_carries_the_advisory() {
    let document = csaf(&with_cvss31(), &publisher(), published());
    let tracking = &document["document"]["tracking"];
    assert_eq!(tracking["id"], "DF-2026-0001");
    assert_eq!(tracking["status"], "final");
    assert_eq!(tracking["version"], "1");
    assert_eq!(tracking["revision_history"][0]["number"], "1");
    assert_eq!(document["document"]["publisher"]["category"], "vendor");
    assert_eq!(
        document["product_tree"]["full_product_names"],
        json!([
            { "name": "frob 1.0 to 1.4.2, frob 2.0.0 to 2.3.0", "product_id": "CSAFPID-0001" },
            { "name": "frob 1.4.3, frob 2.3.1", "product_id": "CSAFPID-0002" },
        ])
    );
    let vulnerabilities = document["vulnerabilities"].as_array().expect("array");
    let cves: Vec<&Value> = vulnerabilities.iter().map(|v| &v["cve"]).collect();
    assert_eq!(cves, [&json!("CVE-2026-1234"), &json!("CVE-2026-1235")]);
    let first = &vulnerabilities[0];
    assert_eq!(
        first["product_status"],
        json!({ "known_affected": ["CSAFPID-0001"], "fixed": ["CSAFPID-0002"] })
    );
    let score = &first["scores"][0]["cvss_v3"];
    assert_eq!(score["version"], "3.1");
    assert_eq!(score["baseScore"], json!(9.8));
    assert_eq!(score["baseSeverity"], "CRITICAL");
    assert_eq!(score["attackVector"], "NETWORK");
    let categories: Vec<&Value> = first["remediations"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| &r["category"])
        .collect();
    assert_eq!(categories, [&json!("vendor_fix"), &json!("mitigation")]);

    let v4 = csaf(&with_cvss40(), &publisher(), published());
    assert_eq!(v4["vulnerabilities"].as_array().map(Vec::len), Some(1));
    assert!(v4["vulnerabilities"][0].get("scores").is_none());

    let bare = csaf(&bare(), &publisher(), published());
    let only = &bare["vulnerabilities"][0];
    assert!(only.get("cve").is_none());
    assert_eq!(only["ids"][0]["text"], "xsa.12_3");
    assert_eq!(
        only["product_status"],
        json!({ "known_affected": ["CSAFPID-0001"] })
    );
    assert_eq!(only["remediations"][0]["category"], "none_available");
    assert_eq!(
        bare["product_tree"]["full_product_names"][0]["name"],
        "frob < 2.3.1"
    );
}

#[test]
fn a_version_that_names_the_product_is_not_prefixed_again() {
    let mut advisory = with_cvss31();
    advisory.content.affected = vec!["FROB 1.0".to_owned(), "frobnicator 2.0".to_owned()];
    advisory.content.fixed = vec!["frob".to_owned()];
    let document = csaf(&advisory, &publisher(), published());
    assert_eq!(
        document["product_tree"]["full_product_names"],
        json!([
            { "name": "FROB 1.0, frob frobnicator 2.0", "product_id": "CSAFPID-0001" },
            { "name": "frob", "product_id": "CSAFPID-0002" },
        ])
    );
}

#[test]
fn a_repeated_cve_makes_one_vulnerability() {
    // CSAF's mandatory test 6.1.23: a CVE may be used by one vulnerability only.
    let mut advisory = with_cvss31();
    advisory.content.cves = vec!["CVE-2026-1234".to_owned(), "CVE-2026-1234".to_owned()];
    let document = csaf(&advisory, &publisher(), published());
    assert_eq!(
        document["vulnerabilities"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        osv(&advisory, published())["aliases"],
        json!(["CVE-2026-1234"])
    );
}

#[test]
fn same_input_same_bytes() {
    for advisory in [with_cvss31(), with_cvss40(), bare()] {
        let first = serde_json::to_string(&csaf(&advisory, &publisher(), published()));
        let second = serde_json::to_string(&csaf(&advisory, &publisher(), published()));
        assert_eq!(first.expect("serialises"), second.expect("serialises"));
        let first = serde_json::to_string(&osv(&advisory, published()));
        let second = serde_json::to_string(&osv(&advisory, published()));
        assert_eq!(first.expect("serialises"), second.expect("serialises"));
    }
}

#[test]
fn file_names_come_from_the_id() {
    assert_eq!(osv_file_name(&with_cvss31()), "DF-2026-0001.osv.json");
    assert_eq!(csaf_file_name(&with_cvss31()), "df-2026-0001.json");
    assert_eq!(osv_file_name(&bare()), "xsa.12_3.osv.json");
    assert_eq!(csaf_file_name(&bare()), "xsa_12_3.json");
}

// The validators must be able to say no, or the tests above prove nothing.

#[test]
fn the_osv_validator_rejects_a_broken_document() {
    let good = osv(&with_cvss31(), published());
    assert_valid(&OSV_VALIDATOR, &good);

    // The advisory id as is: `DF-` is not a registered OSV prefix, which is
    // why the export writes `x_DF-2026-0001`.
    let mut raw_id = good.clone();
    raw_id["id"] = json!("DF-2026-0001");
    assert!(!errors(&OSV_VALIDATOR, &raw_id).is_empty());

    let mut local_time = good.clone();
    local_time["published"] = json!("2026-06-09T16:00:00+02:00");
    assert!(!errors(&OSV_VALIDATOR, &local_time).is_empty());

    let mut v4_as_v3 = good.clone();
    v4_as_v3["severity"][0]["score"] =
        json!("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
    assert!(!errors(&OSV_VALIDATOR, &v4_as_v3).is_empty());

    let mut package_without_ecosystem = good;
    package_without_ecosystem["affected"][0]["package"] = json!({ "name": "frob" });
    assert!(!errors(&OSV_VALIDATOR, &package_without_ecosystem).is_empty());
}

#[test]
fn the_csaf_validator_rejects_a_broken_document() {
    let good = csaf(&with_cvss31(), &publisher(), published());
    assert_valid(&CSAF_VALIDATOR, &good);

    let mut bad_status = good.clone();
    bad_status["document"]["tracking"]["status"] = json!("published");
    assert!(!errors(&CSAF_VALIDATOR, &bad_status).is_empty());

    // Formats are checked, not only shapes.
    let mut bad_namespace = good.clone();
    bad_namespace["document"]["publisher"]["namespace"] = json!("security team");
    assert!(!errors(&CSAF_VALIDATOR, &bad_namespace).is_empty());
    let mut bad_date = good.clone();
    bad_date["document"]["tracking"]["initial_release_date"] = json!("9 June 2026");
    assert!(!errors(&CSAF_VALIDATOR, &bad_date).is_empty());

    let mut no_publisher = good.clone();
    if let Some(document) = no_publisher["document"].as_object_mut() {
        document.remove("publisher");
    }
    assert!(!errors(&CSAF_VALIDATOR, &no_publisher).is_empty());

    // These reach into the FIRST CVSS 3.1 schema, so they fail only if the
    // registered resource is really used.
    let mut no_base_score = good.clone();
    if let Some(score) = no_base_score["vulnerabilities"][0]["scores"][0]["cvss_v3"].as_object_mut()
    {
        score.remove("baseScore");
    }
    assert!(!errors(&CSAF_VALIDATOR, &no_base_score).is_empty());
    let mut bad_severity = good.clone();
    bad_severity["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseSeverity"] = json!("SEVERE");
    assert!(!errors(&CSAF_VALIDATOR, &bad_severity).is_empty());

    // A security advisory without a product tree is valid JSON Schema-wise:
    // the CSAF schema makes only `document` required, and the profile's
    // rules live in the standard's mandatory tests. `profile_problems`
    // checks the ones this export relies on.
    let mut no_tree = good;
    if let Some(document) = no_tree.as_object_mut() {
        document.remove("product_tree");
    }
    assert!(errors(&CSAF_VALIDATOR, &no_tree).is_empty());
    assert!(!profile_problems(&no_tree).is_empty());
}

/// The `csaf_security_advisory` profile rules (CSAF 2.0 section 4.5 and
/// mandatory tests 6.1.1, 6.1.27.4–6, 6.1.27.11 and 6.1.29) that the schema
/// cannot express.
fn profile_problems(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let defined: Vec<&Value> = document["product_tree"]["full_product_names"]
        .as_array()
        .map(|names| names.iter().map(|name| &name["product_id"]).collect())
        .unwrap_or_default();
    if document.get("product_tree").is_none() {
        problems.push("no product_tree".to_owned());
    }
    let Some(vulnerabilities) = document["vulnerabilities"].as_array() else {
        problems.push("no vulnerabilities".to_owned());
        return problems;
    };
    for (index, vulnerability) in vulnerabilities.iter().enumerate() {
        for field in ["notes", "product_status"] {
            if vulnerability.get(field).is_none() {
                problems.push(format!("vulnerability {index} has no {field}"));
            }
        }
        let mut used: Vec<&Value> = Vec::new();
        if let Some(status) = vulnerability["product_status"].as_object() {
            used.extend(status.values().filter_map(Value::as_array).flatten());
        }
        for list in ["scores", "remediations"] {
            for item in vulnerability[list].as_array().into_iter().flatten() {
                let key = if list == "scores" {
                    "products"
                } else {
                    "product_ids"
                };
                match item[key].as_array() {
                    Some(ids) => used.extend(ids),
                    None => {
                        problems.push(format!("vulnerability {index}: {list} without products"))
                    }
                }
            }
        }
        for id in used {
            if !defined.contains(&id) {
                problems.push(format!("vulnerability {index} uses undefined product {id}"));
            }
        }
    }
    problems
}

#[rstest]
#[case("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CRITICAL")]
#[case("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, "CRITICAL")]
#[case("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, "LOW")]
#[case("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "MEDIUM")]
#[case("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "HIGH")]
#[case("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9, "MEDIUM")]
#[case("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 6.5, "MEDIUM")]
#[case("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "CRITICAL")]
#[case("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "NONE")]
// Metrics in another order and temporal metrics do not change the base score.
#[case(
    "CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H/E:P/RL:O",
    9.8,
    "CRITICAL"
)]
fn cvss31_base_scores(#[case] vector: &str, #[case] score: f64, #[case] severity: &str) {
    let parsed = CvssV3::parse(vector).expect("a valid vector");
    assert_eq!(parsed.base_score(), score, "{vector}");
    assert_eq!(cvss::severity_name(score), severity);
    let object = parsed.csaf_object();
    assert_eq!(object["baseScore"], json!(score));
    assert_eq!(object["baseSeverity"], severity);
}

#[rstest]
#[case(
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    true
)]
#[case(
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/U:Red",
    true
)]
#[case("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N", false)]
#[case(
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:Red/E:A",
    false
)]
#[case(
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/E:A",
    false
)]
#[case("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", false)]
fn cvss40_grammar(#[case] vector: &str, #[case] ok: bool) {
    assert_eq!(cvss::is_v4(vector), ok);
}

/// The CVSS 3 minor version's words come from `names::named_enum!`, like
/// every other closed set's; `Minor` is private to `export`, so its round
/// trip runs here.
#[test]
fn cvss_minor_round_trips_through_its_name() {
    crate::names::tests::round_trip(
        &cvss::Minor::ALL,
        r#"unknown CVSS 3 version "bogus" (expected one of: 3.0, 3.1)"#,
    );
    let parsed = CvssV3::parse("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").expect("valid");
    assert_eq!(parsed.minor.as_str(), "3.0");
}
