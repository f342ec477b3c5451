//! Snapshot tests of every default template with fixed dates, and the
//! strictness rules.

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use crate::advisory::{Advisory, AdvisoryId, Change, Content, Permission, Severity, Status};

fn list() -> ListView {
    ListView {
        name: "Example Project pre-disclosure list".to_owned(),
        address: "security-announce@project.example".to_owned(),
        request_address: "security-announce-request@project.example".to_owned(),
    }
}

fn advisory() -> Advisory {
    let at = Utc
        .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .expect("valid");
    Advisory {
        id: AdvisoryId::parse("DF-2026-0001").expect("valid id"),
        status: Status::Scheduled,
        revision: 2,
        content: Content {
            title: "Heap overflow in frobnicate() header parsing".to_owned(),
            severity: Severity::High,
            cvss: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".to_owned()),
            cves: vec!["CVE-2026-1234".to_owned()],
            product: "frob".to_owned(),
            affected: vec!["frob >= 2.0, < 2.4.1".to_owned()],
            fixed: vec!["frob 2.4.1".to_owned()],
            description:
                "A crafted Frob-Header overflows a heap buffer.\nRemote code execution is possible."
                    .to_owned(),
            mitigations: Some("Drop Frob-Header at the proxy.".to_owned()),
            permitted: vec![Permission::Deploy, Permission::ShipBinaries],
            patch_date: NaiveDate::from_ymd_opt(2026, 6, 8),
            disclose_at: Utc
                .with_ymd_and_hms(2026, 6, 9, 14, 0, 0)
                .single()
                .expect("valid"),
        },
        announce_at: Some(at),
        created_at: at,
        updated_at: at,
    }
}

fn member() -> MemberView {
    MemberView {
        name: "Sam Roe".to_owned(),
        email: "security@distro.example".to_owned(),
        org: "Example Distro".to_owned(),
        fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567".to_owned(),
        sponsor: "alice@project.example".to_owned(),
    }
}

fn render(kind: Kind) -> String {
    let templates = Templates::new(Vec::new()).expect("default templates");
    let changes = vec![Change {
        field: "disclose_at".to_owned(),
        old: "2026-06-08 14:00 UTC".to_owned(),
        new: "2026-06-09 14:00 UTC".to_owned(),
    }];
    let context = if Kind::ADVISORY.contains(&kind) {
        advisory_context(&list(), &advisory(), &changes, 24)
    } else if kind == Kind::Reply {
        reply_context(
            &list(),
            &member(),
            &["ACK DF-2026-0001 not-affected: recorded".to_owned()],
        )
    } else if kind == Kind::Digest {
        report_context(
            &list(),
            "observers' digest of 2026-06-08 08:00 UTC",
            &[
                "all lists: members 12 active, 1 pending; advisories 2 notified".to_owned(),
                "  breaches of the acknowledgement clock (72 hours): 3".to_owned(),
            ],
        )
    } else if kind == Kind::CaseNotice {
        report_context(
            &list(),
            "CASE-2026-0001: we received your report",
            &[
                "We will acknowledge it within 24 hours.".to_owned(),
                "Reply to this message to add to your report.".to_owned(),
            ],
        )
    } else if kind == Kind::CaseMail {
        report_context(
            &list(),
            "CASE-2026-0001: acknowledged",
            &[
                "Thank you, we can reproduce it.".to_owned(),
                "-- Alice Doe".to_owned(),
            ],
        )
    } else if kind == Kind::CaseReport {
        report_context(
            &list(),
            "a new report: CASE-2026-0001",
            &[
                "from reporter@example.org".to_owned(),
                "sender verified: DKIM passed for example.org".to_owned(),
            ],
        )
    } else if kind == Kind::Report {
        report_context(
            &list(),
            "delivery report",
            &[
                "DF-2026-0001 notice to dave@vendor.example: failed (550 5.1.1 no such user)"
                    .to_owned(),
            ],
        )
    } else {
        member_context(
            &list(),
            &member(),
            &[
                ("token", "ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2".to_owned()),
                ("expires", "2026-06-08 12:00 UTC".to_owned()),
                ("key_expires", "2026-06-10 00:00 UTC".to_owned()),
            ],
        )
    };
    let rendered = templates.render(kind, &context).expect("renders");
    format!("Subject: {}\n\n{}", rendered.subject, rendered.body)
}

#[test]
fn every_default_template_renders_as_recorded() {
    for kind in Kind::ALL {
        insta::assert_snapshot!(kind.name(), render(kind));
    }
}

#[test]
fn a_misspelt_variable_names_template_line_and_variable() {
    let broken = "Subject: [{{ advisory.id }}]\n\nline one\n{{ advisory.titel }}\n".to_owned();
    let templates = Templates::new(vec![(Kind::Notice, broken)]).expect("parses");
    let context = advisory_context(&list(), &advisory(), &[], 1);
    let err = templates
        .render(Kind::Notice, &context)
        .expect_err("undefined");
    assert_eq!(
        err,
        TemplateError::Undefined {
            template: "notice.txt".to_owned(),
            line: 4,
            variables: "advisory.titel".to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        "template notice.txt line 4: undefined variable advisory.titel"
    );
}

#[test]
fn a_syntax_error_is_found_when_loading() {
    let broken = "Subject: x\n\nfine\n{% if %}\n".to_owned();
    let err = Templates::new(vec![(Kind::Update, broken)]).expect_err("syntax");
    assert!(
        matches!(&err, TemplateError::Syntax { template, line: 4, .. } if template == "update.txt"),
        "{err}"
    );
}

#[test]
fn a_template_without_a_subject_line_is_refused() {
    let err =
        Templates::new(vec![(Kind::Missed, "no subject here\n".to_owned())]).expect_err("layout");
    assert!(matches!(err, TemplateError::Layout { .. }));
}

#[test]
fn templates_cannot_read_files_or_the_environment() {
    for probe in [
        "{% include '/etc/passwd' %}",
        "{{ env.HOME }}",
        "{% include 'other.txt' %}",
    ] {
        let source = format!("Subject: x\n\n{probe}\n");
        let outcome = Templates::new(vec![(Kind::Missed, source)])
            .and_then(|t| t.render(Kind::Missed, &member_context(&list(), &member(), &[])));
        assert!(outcome.is_err(), "{probe} rendered: {outcome:?}");
    }
}

#[test]
fn a_subject_is_always_one_line() {
    let source = "Subject: {{ member.name }}\n\nbody\n".to_owned();
    let templates = Templates::new(vec![(Kind::Welcome, source)]).expect("parses");
    let mut sneaky = member();
    sneaky.name = "Sam\r\nBcc: eve@evil.example".to_owned();
    let rendered = templates
        .render(Kind::Welcome, &member_context(&list(), &sneaky, &[]))
        .expect("renders");
    assert_eq!(rendered.subject, "Sam Bcc: eve@evil.example");
}
