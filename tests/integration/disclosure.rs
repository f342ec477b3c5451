//! The embargo lifts itself: reminder, automatic disclosure with OSV and
//! CSAF exports (validated against the official schemas, offline), holds.

use std::path::Path;

use jsonschema::{Resource, Validator};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;

use crate::common::outbox::{maildir, of_kind};
use crate::common::{Env, path, who};

fn schema(name: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(file).expect("schema file")).expect("JSON")
}

fn osv_validator() -> Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema("osv.schema.json"))
        .expect("OSV schema compiles")
}

fn csaf_validator() -> Validator {
    let resources = ["2.0", "3.0", "3.1"].map(|v| {
        (
            format!("https://www.first.org/cvss/cvss-v{v}.json"),
            Resource::from_contents(schema(&format!("cvss-v{v}.json"))).expect("resource"),
        )
    });
    jsonschema::options()
        .should_validate_formats(true)
        .with_resources(resources.into_iter())
        .build(&schema("csaf-2.0.schema.json"))
        .expect("CSAF schema compiles")
}

fn assert_valid(validator: &Validator, document: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}\n{document:#}", errors.join("\n"));
}

const PUBLIC: &str = "oss-security@lists.example";

/// Alice and Dave active, DF-2026-0010 notified (sent), disclosure at
/// 2026-06-09 14:00 UTC.
fn notified() -> Env {
    let env = Env::with_config(&format!("\n[mail]\npublic_addresses = [\"{PUBLIC}\"]\n"));
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    let body = env.file("body.md", b"The parser overflows on long input.\n");
    env.ok(&[
        "advisory",
        "new",
        "DF-2026-0010",
        "--title",
        "Parser overflow",
        "--severity",
        "high",
        "--cvss",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "--cve",
        "CVE-2026-12345",
        "--product",
        "quux",
        "--affected",
        "quux < 1.2",
        "--fixed",
        "quux 1.2",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-09T14:00:00Z",
    ]);
    env.ok(&["advisory", "announce", "DF-2026-0010"]);
    env.ok(&["queue", "run"]);
    env
}

fn exports(env: &Env) -> Vec<String> {
    crate::common::outbox::exports_in(env.dir.path())
}

fn status(env: &Env) -> String {
    env.sql("SELECT status FROM advisories").trim().to_owned()
}

#[test]
fn the_advisory_publishes_itself_at_the_instant_with_valid_osv_and_csaf() {
    let env = notified();
    let before = env.run_at("2026-06-09T13:59:59Z", &["queue", "run"]);
    assert_eq!(before.code, 0, "{}", before.stderr);
    assert_eq!(status(&env), "notified");
    assert!(exports(&env).is_empty());
    assert!(of_kind(&env, "disclosure").is_empty());

    let after = env.run_at("2026-06-09T14:00:01Z", &["queue", "run"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert_eq!(status(&env), "disclosed");
    let mut recipients: Vec<(String, String)> = of_kind(&env, "disclosure");
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            (who::ALICE.to_owned(), "sent".to_owned()),
            (who::DAVE.to_owned(), "sent".to_owned()),
            (PUBLIC.to_owned(), "sent".to_owned()),
        ]
    );
    // The public copy is signed, not encrypted, with the real subject.
    let public = maildir(&env)
        .into_iter()
        .map(|f| std::fs::read(f).expect("mail"))
        .find(|eml| String::from_utf8_lossy(eml).contains(&format!("To: {PUBLIC}")))
        .expect("public disclosure in the maildir");
    let message = MessageParser::default().parse(&public).expect("parses");
    assert_eq!(message.subject(), Some("[DF-2026-0010] Parser overflow"));
    let root = message
        .part(0)
        .and_then(|p| p.content_type())
        .expect("type");
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("signed"))
    );

    assert_eq!(
        exports(&env),
        vec!["DF-2026-0010.osv.json", "df-2026-0010.json"]
    );
    let read = |name: &str| -> Value {
        let text =
            std::fs::read_to_string(env.dir.path().join("var/exports").join(name)).expect("export");
        serde_json::from_str(&text).expect("JSON")
    };
    let osv = read("DF-2026-0010.osv.json");
    assert_valid(&osv_validator(), &osv);
    // OSV accepts only registered prefixes or `x_` for ids.
    assert_eq!(osv["id"], "x_DF-2026-0010");
    assert_eq!(osv["database_specific"]["advisory_id"], "DF-2026-0010");
    assert_eq!(osv["aliases"][0], "CVE-2026-12345");
    let csaf = read("df-2026-0010.json");
    assert_valid(&csaf_validator(), &csaf);
    assert_eq!(csaf["vulnerabilities"][0]["cve"], "CVE-2026-12345");
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    assert!(audit.contains("advisory.disclose"), "{audit}");
}

#[test]
fn a_hold_needs_a_future_time_and_a_reason_and_changes_nothing_otherwise() {
    let env = notified();
    let dump = env.dump();
    env.run(&["queue", "hold", "DF-2026-0010", "--reason", "x"])
        .fails_with("--until");
    env.run(&[
        "queue",
        "hold",
        "DF-2026-0010",
        "--until",
        "2026-05-01T00:00:00Z",
        "--reason",
        "x",
    ])
    .fails_with("future");
    env.run(&[
        "queue",
        "hold",
        "DF-2026-0010",
        "--until",
        "2026-06-10 14:00",
        "--reason",
        "x",
    ])
    .fails_with("offset");
    env.run(&[
        "queue",
        "hold",
        "DF-9999-0001",
        "--until",
        "2026-06-10T14:00:00Z",
        "--reason",
        "x",
    ])
    .fails_with("no advisory");
    assert_eq!(env.dump(), dump);
}
