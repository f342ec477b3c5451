//! Cases from report to disclosure: the receipt and the rule it obeys,
//! the reporter's key, reports encrypted to the list key, follow-ups and
//! the case's reply address, the team's desk (`case ack/invite/close/
//! reject`), posts to a case's participants, and the advisory made from
//! a case (credit, timeline, AGREE, the disclosure to the reporter).

use mail_parser::MessageParser;

use crate::common::lists::ingest_to;
use crate::common::mail::{
    Attachment, Headers, SIGNED_IN_AN_HOUR, SIGNED_NOW, signed_encrypted_mime, signed_mime,
};
use crate::common::outbox::maildir;
use crate::common::team::*;
use crate::common::{Env, keys, path, who};

/// Our MTA's authserv-id, as `[cases] authserv_id` names it.
const AUTHSERV: &str = "mail.project.example";

/// A report's own header block's Authentication-Results as Postfix with
/// OpenDKIM writes it: DKIM passed for `domain`.
fn opendkim_pass(domain: &str) -> String {
    format!(
        "Authentication-Results: {AUTHSERV};\r\n\tdkim=pass (2048-bit key; unprotected) header.d={domain} header.i=@{domain} header.b=\"AbCdEfGh\";\r\n\tdkim-atps=neutral\r\n"
    )
}

fn vouching_env() -> Env {
    let env = team_env();
    append_config(&env, &format!("[cases]\nauthserv_id = \"{AUTHSERV}\"\n"));
    env
}

/// Every message the outbox delivered to `to`, as text.
fn mail_to(env: &Env, to: &str) -> Vec<String> {
    maildir(env)
        .into_iter()
        .map(|file| String::from_utf8_lossy(&std::fs::read(file).expect("mail")).into_owned())
        .filter(|eml| {
            MessageParser::default()
                .parse(eml.as_bytes())
                .and_then(|m| {
                    m.to()
                        .and_then(|to| to.first())
                        .and_then(|a| a.address())
                        .map(|a| a.eq_ignore_ascii_case(to))
                })
                .unwrap_or(false)
        })
        .collect()
}

fn header(eml: &str, name: &str) -> String {
    let message = MessageParser::default()
        .parse(eml.as_bytes())
        .expect("parses");
    message
        .headers_raw()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

fn case_json(env: &Env, id: &str) -> serde_json::Value {
    serde_json::from_str(&env.ok(&["case", "show", id, "--json"]).stdout).expect("json")
}

fn reply_address(env: &Env, id: &str) -> String {
    case_json(env, id)["reply_address"]
        .as_str()
        .expect("a reply address")
        .to_owned()
}

fn list_cert(env: &Env) -> Vec<u8> {
    env.ok(&["key", "export"]).stdout.into_bytes()
}

fn frank_report(extra: &[(&str, String)], attachments: &[Attachment]) -> Vec<u8> {
    let mut headers = Headers::new(who::FRANK, TEAM);
    headers.subject = "A vulnerability".to_owned();
    for (name, value) in extra {
        headers.extra.push(((*name).to_owned(), value.clone()));
    }
    signed_mime(
        who::FRANK,
        &headers,
        &format!("{REPORT_CANARY}: the frobnicator overflows.\n"),
        attachments,
        SIGNED_NOW,
    )
}

/// Frank's report with his key attached, from a domain our MTA vouched
/// for.
fn frank_keyed_report() -> Vec<u8> {
    frank_report(
        &[(
            "Authentication-Results",
            opendkim_pass_value("user.example"),
        )],
        &[Attachment::pgp_keys(keys().public(who::FRANK))],
    )
}

/// CASE-2026-0001 from a reporter without a key, CASE-2026-0002 from
/// Frank, with his; both from domains our MTA vouched for.
fn two_cases(env: &Env) {
    let keyless = report_from(
        REPORTER,
        "keyless@reporter.example",
        &opendkim_pass("reporter.example"),
    );
    assert_eq!(ingest_to(env, TEAM, &keyless), 0);
    assert_eq!(ingest_to(env, TEAM, &frank_keyed_report()), 0);
}

fn audit_actions(env: &Env, prefix: &str) -> Vec<String> {
    env.sql(&format!(
        "SELECT action FROM audit_log WHERE action LIKE '{prefix}%' ORDER BY seq"
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

fn case_messages(env: &Env) -> usize {
    env.sql("SELECT count(*) FROM case_messages")
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_vouched_report_gets_one_content_free_receipt_and_an_unvouched_one_none() {
    let env = vouching_env();
    let verified = report_from(
        REPORTER,
        "v1@reporter.example",
        &opendkim_pass("reporter.example"),
    );
    assert_eq!(ingest_to(&env, TEAM, &verified), 0);
    // The same report, but the pass is for another domain, or no header.
    let other = report_from(
        "someone@elsewhere.example",
        "v2@elsewhere.example",
        &opendkim_pass("reporter.example"),
    );
    assert_eq!(ingest_to(&env, TEAM, &other), 0);
    let bare = report_from("third@third.example", "v3@third.example", "");
    assert_eq!(ingest_to(&env, TEAM, &bare), 0);
    assert_eq!(cases(&env).len(), 3);
    env.ok(&["queue", "run"]);

    let receipts = mail_to(&env, REPORTER);
    assert_eq!(receipts.len(), 1, "one receipt to the vouched reporter");
    assert!(mail_to(&env, "someone@elsewhere.example").is_empty());
    assert!(mail_to(&env, "third@third.example").is_empty());
    let receipt = &receipts[0];
    // Content-free: the case and the promise, nothing of the report; signed
    // by the list, not encrypted (no key of theirs).
    assert!(receipt.contains("CASE-2026-0001"), "{receipt}");
    assert!(receipt.contains("within 24 hours"), "{receipt}");
    assert!(!receipt.contains(REPORT_CANARY));
    assert!(!receipt.contains("frobnicator"));
    assert!(receipt.contains("multipart/signed"), "{receipt}");
    assert!(!receipt.contains("multipart/encrypted"));
    // Replies go to the case's own address.
    let reply_to = header(receipt, "Reply-To");
    assert_eq!(reply_to, reply_address(&env, "CASE-2026-0001"));
    assert!(
        reply_to.starts_with("security+case-2026-0001-"),
        "{reply_to}"
    );
    // The team saw which sender was verified.
    let json = case_json(&env, "CASE-2026-0001");
    assert_eq!(json["reporter_verified"], true);
    assert_eq!(
        case_json(&env, "CASE-2026-0002")["reporter_verified"],
        false
    );
}

#[test]
fn a_report_to_thousands_of_recipients_gets_at_most_one_receipt_and_only_to_its_from() {
    let env = vouching_env();
    let report = |count: usize, id: &str| {
        let many: Vec<String> = (0..count)
            .map(|n| format!("victim{n}@victims.example"))
            .collect();
        format!(
            "{}From: {REPORTER}\r\nReply-To: replyto@victims.example\r\nSender: sender@victims.example\r\n\
             To: {TEAM}, {}\r\nCc: cc@victims.example\r\nSubject: x\r\nMessage-ID: <{id}@reporter.example>\r\n\r\n{REPORT_CANARY}\r\n",
            opendkim_pass("reporter.example"),
            many.join(", ")
        )
    };
    // 10,000 recipients: a header block over ingest's limits, dropped unread
    // before parsing; nothing is opened or sent.
    assert_eq!(ingest_to(&env, TEAM, report(10_000, "ten").as_bytes()), 0);
    assert!(cases(&env).is_empty());
    // 2,000 fit: one case, one receipt, to the From alone.
    assert_eq!(ingest_to(&env, TEAM, report(2_000, "two").as_bytes()), 0);
    assert_eq!(cases(&env).len(), 1);
    env.ok(&["queue", "run"]);
    let outside: Vec<String> = env
        .sql("SELECT recipient FROM deliveries WHERE member_id IS NULL")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(outside, [REPORTER]);
    assert_eq!(mail_to(&env, REPORTER).len(), 1);
}

#[test]
fn a_reporter_key_attached_or_in_autocrypt_makes_the_receipt_encrypted_to_them_alone() {
    for (label, message) in [
        ("attached", frank_keyed_report()),
        (
            "autocrypt",
            frank_report(
                &[
                    (
                        "Authentication-Results",
                        opendkim_pass_value("user.example"),
                    ),
                    (
                        "Autocrypt",
                        autocrypt(who::FRANK, keys().binary(who::FRANK)),
                    ),
                ],
                &[],
            ),
        ),
    ] {
        let env = vouching_env();
        assert_eq!(ingest_to(&env, TEAM, &message), 0, "{label}");
        let json = case_json(&env, "CASE-2026-0001");
        assert_eq!(
            json["reporter_key"].as_str(),
            Some(crate::common::commands::fingerprint(&env, who::FRANK).as_str()),
            "{label}"
        );
        env.ok(&["queue", "run"]);
        let receipts = mail_to(&env, who::FRANK);
        assert_eq!(receipts.len(), 1, "{label}");
        assert!(receipts[0].contains("multipart/encrypted"), "{label}");
        assert!(
            !receipts[0].contains("CASE-2026-0001: we received"),
            "{label}"
        );
        let read = decrypted_copies_of(&env, who::FRANK);
        assert_eq!(read.len(), 1, "{label}");
        assert!(
            String::from_utf8_lossy(&read[0]).contains("CASE-2026-0001"),
            "{label}"
        );
    }
    // A key that names another address is not the reporter's.
    let env = vouching_env();
    let message = frank_report(
        &[(
            "Authentication-Results",
            opendkim_pass_value("user.example"),
        )],
        &[Attachment::pgp_keys(keys().public(who::DAVE))],
    );
    assert_eq!(ingest_to(&env, TEAM, &message), 0);
    assert_eq!(
        case_json(&env, "CASE-2026-0001")["reporter_key"],
        serde_json::Value::Null
    );
    env.ok(&["queue", "run"]);
    let receipts = mail_to(&env, who::FRANK);
    assert_eq!(receipts.len(), 1);
    assert!(receipts[0].contains("multipart/signed"));
}

fn opendkim_pass_value(domain: &str) -> String {
    format!(
        "{AUTHSERV};\r\n\tdkim=pass (2048-bit key; unprotected) header.d={domain} header.i=@{domain}"
    )
}

fn autocrypt(addr: &str, key: &[u8]) -> String {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(key);
    let folded: Vec<&str> = data
        .as_bytes()
        .chunks(72)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!("addr={addr}; keydata=\r\n {}", folded.join("\r\n "))
}

#[test]
fn a_report_and_a_team_post_encrypted_to_the_list_key_reach_the_team_readable() {
    let env = team_env();
    let cert = list_cert(&env);
    let mut headers = Headers::new(who::FRANK, TEAM);
    headers.subject = "...".to_owned();
    let report = signed_encrypted_mime(
        who::FRANK,
        &cert,
        &headers,
        &format!("{REPORT_CANARY}: encrypted to the list.\n"),
        &[Attachment::pgp_keys(keys().public(who::FRANK))],
        SIGNED_NOW,
    );
    assert_eq!(ingest_to(&env, TEAM, &report), 0);
    let mut headers = Headers::new(who::BOB, TEAM);
    headers.subject = "...".to_owned();
    let post = signed_encrypted_mime(
        who::BOB,
        &cert,
        &headers,
        &format!("{SECRET_BODY}\n"),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest_to(&env, TEAM, &post), 0);
    // The key inside the encrypted report is the reporter's.
    assert!(
        case_json(&env, "CASE-2026-0001")["reporter_key"].is_string(),
        "the key attached inside the encryption was read"
    );
    assert_eq!(audit_actions(&env, "team.post"), ["team.post"]);
    env.ok(&["queue", "run"]);
    for member in [who::ALICE, who::BOB, who::CAROL] {
        let read: Vec<String> = decrypted_copies_of(&env, member)
            .iter()
            .map(|inner| String::from_utf8_lossy(inner).into_owned())
            .collect();
        assert!(
            read.iter().any(|text| text.contains(REPORT_CANARY)),
            "{member} reads the report"
        );
        assert!(
            read.iter().any(|text| text.contains("CanaryTeamPostBody")),
            "{member} reads the post"
        );
        assert!(!read.iter().any(|text| text.contains("BEGIN PGP MESSAGE")));
    }
}

#[test]
fn replies_by_in_reply_to_or_the_case_address_join_the_case_and_a_forged_or_stale_token_opens_a_new_one()
 {
    let env = vouching_env();
    let report = report_from(
        REPORTER,
        "first@reporter.example",
        &opendkim_pass("reporter.example"),
    );
    assert_eq!(ingest_to(&env, TEAM, &report), 0);
    env.ok(&["queue", "run"]);
    let receipt = mail_to(&env, REPORTER).pop().expect("a receipt");
    let receipt_id = header(&receipt, "Message-ID");
    let address = reply_address(&env, "CASE-2026-0001");
    let messages = case_messages(&env);

    // 1. A reply to the team address naming the receipt.
    let reply = format!(
        "From: {REPORTER}\r\nTo: {TEAM}\r\nSubject: Re: x\r\nMessage-ID: <second@reporter.example>\r\nIn-Reply-To: {receipt_id}\r\n\r\nCanaryFollowUp one\r\n"
    );
    assert_eq!(ingest_to(&env, TEAM, reply.as_bytes()), 0);
    // 2. A reply to the case's address, in any case of letters.
    let reply = format!(
        "From: {REPORTER}\r\nTo: {address}\r\nSubject: Re: x\r\nMessage-ID: <third@reporter.example>\r\n\r\nCanaryFollowUp two\r\n"
    );
    assert_eq!(
        ingest_to(&env, &address.to_ascii_uppercase(), reply.as_bytes()),
        0
    );
    // The same follow-up again (an MTA retry): kept once.
    assert_eq!(
        ingest_to(&env, &address.to_ascii_uppercase(), reply.as_bytes()),
        0
    );
    assert_eq!(cases(&env).len(), 1, "both joined CASE-2026-0001");
    assert_eq!(case_messages(&env), messages + 2);
    assert_eq!(
        audit_actions(&env, "case.follow-up"),
        ["case.follow-up", "case.follow-up"]
    );

    // 3. A forged token, another case's token, a cut token: new reports.
    let token = address
        .split('@')
        .next()
        .and_then(|local| local.rsplit('-').next())
        .expect("token")
        .to_owned();
    let forged = [
        address.replace(&token, "0123456789abcdef"),
        address.replace("case-2026-0001", "case-2026-0002"),
        address.replace(&token, &token[..8]),
        format!("security+case-2026-0001-{token}x@project.example"),
    ];
    for (n, to) in forged.iter().enumerate() {
        let message = format!(
            "From: {REPORTER}\r\nTo: {to}\r\nSubject: x\r\nMessage-ID: <forged{n}@reporter.example>\r\n\r\nCanaryForged\r\n"
        );
        assert_eq!(ingest_to(&env, to, message.as_bytes()), 0, "{to}");
    }
    assert_eq!(cases(&env).len(), 1 + forged.len(), "each opened a case");

    // 4. A stale token: the case is closed, so the reply is a new report.
    env.ok(&[
        "case",
        "close",
        "CASE-2026-0001",
        "--reason",
        "duplicate",
        "--by",
        who::BOB,
    ]);
    let late = format!(
        "From: {REPORTER}\r\nTo: {address}\r\nSubject: Re: x\r\nMessage-ID: <late@reporter.example>\r\n\r\nCanaryLate\r\n"
    );
    assert_eq!(ingest_to(&env, &address, late.as_bytes()), 0);
    assert_eq!(cases(&env).len(), 2 + forged.len());
}

#[test]
fn case_ack_stops_the_clock_and_the_reporter_reads_the_text_only_with_a_key() {
    let env = vouching_env();
    two_cases(&env);
    let text = env.file("ack.txt", b"CanaryAckText: we reproduced it.\n");
    for case in ["CASE-2026-0001", "CASE-2026-0002"] {
        let run = env.ok(&[
            "case",
            "ack",
            case,
            "--message",
            path(&text),
            "--by",
            who::BOB,
        ]);
        assert!(run.stdout.contains("acknowledged"), "{}", run.stdout);
    }
    // The clock stopped: no reminder, escalation or breach a day later.
    env.run_at("2026-06-03T00:00:00Z", &["queue", "run"]);
    assert!(audit_actions(&env, "case.remind").is_empty());
    assert!(audit_actions(&env, "case.breach").is_empty());
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&env.ok(&["case", "list", "--json"]).stdout).expect("json");
    assert_eq!(list.len(), 2);
    for case in &list {
        assert!(case["acknowledged_at"].is_string(), "{case}");
        assert!(
            case["clock"]
                .as_str()
                .unwrap_or_default()
                .starts_with("acknowledged after"),
            "{case}"
        );
        assert_eq!(case["breached"], false);
    }
    // The keyless reporter never receives the text, in any message.
    let to_keyless = mail_to(&env, REPORTER);
    assert_eq!(to_keyless.len(), 2, "the receipt and the acknowledgement");
    for eml in &to_keyless {
        assert!(!eml.contains("CanaryAckText"), "{eml}");
        assert!(!eml.contains(REPORT_CANARY));
        assert!(eml.contains("multipart/signed"));
    }
    assert!(to_keyless.iter().any(|eml| eml.contains("acknowledged")));
    // Frank reads it, encrypted to him alone.
    let read: Vec<String> = decrypted_copies_of(&env, who::FRANK)
        .iter()
        .map(|inner| String::from_utf8_lossy(inner).into_owned())
        .collect();
    assert!(read.iter().any(|text| text.contains("CanaryAckText")));
    for eml in mail_to(&env, who::FRANK) {
        assert!(!eml.contains("CanaryAckText"));
    }
    // The team has a copy of what went out.
    let bob: Vec<String> = decrypted_copies_of(&env, who::BOB)
        .iter()
        .map(|inner| String::from_utf8_lossy(inner).into_owned())
        .collect();
    assert_eq!(
        bob.iter()
            .filter(|text| text.contains("CanaryAckText"))
            .count(),
        2
    );
    assert_eq!(audit_actions(&env, "case.ack"), ["case.ack", "case.ack"]);
}

#[test]
fn the_desk_refuses_bad_input_with_a_clear_error_and_changes_nothing() {
    let env = vouching_env();
    let report = report_from(
        REPORTER,
        "d1@reporter.example",
        &opendkim_pass("reporter.example"),
    );
    assert_eq!(ingest_to(&env, TEAM, &report), 0);
    let text = env.file("ack.txt", b"Thanks.\n");
    let empty = env.file("empty.txt", b"  \n");
    let eve_key = env.cert_file(who::RSA2048);
    let sign_only = env.cert_file(who::NO_ENCRYPTION);
    let (text, empty) = (path(&text), path(&empty));
    let (eve_key, sign_only) = (path(&eve_key), path(&sign_only));
    let words = |args: &[&str]| {
        args.iter()
            .map(|a| (*a).to_owned())
            .collect::<Vec<String>>()
    };
    let ack = |case: &str, message: &str, by: &str| {
        words(&["case", "ack", case, "--message", message, "--by", by])
    };
    let invite = |email: &str, key: &str, reason: &str| {
        let (case, by) = ("CASE-2026-0001", who::BOB);
        words(&[
            "case", "invite", case, email, "--key", key, "--reason", reason, "--by", by,
        ])
    };
    let end = |verb: &str, by: &str| {
        words(&["case", verb, "CASE-2026-0001", "--reason", "r", "--by", by])
    };
    let run = |args: &[String]| env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let refusals: Vec<(Vec<String>, &str)> = vec![
        (
            ack("CASE-2026-0009", text, who::BOB),
            "no case CASE-2026-0009",
        ),
        (ack("CASE-26-1", text, who::BOB), "not a case id"),
        (
            ack("CASE-2026-0001", text, who::DAVE),
            "not an active member of the security team",
        ),
        (
            ack("CASE-2026-0001", text, who::ERIN),
            "not an active member of the security team",
        ),
        (
            ack("CASE-2026-0001", text, "nobody@nowhere.example"),
            "not an active member",
        ),
        (ack("CASE-2026-0001", empty, who::BOB), "empty"),
        (
            ack("CASE-2026-0001", "/nonexistent/ack.txt", who::BOB),
            "message file",
        ),
        (invite(who::RSA2048, sign_only, "r"), "--key"),
        (invite("someone@else.example", eve_key, "r"), "--key"),
        (invite(who::RSA2048, eve_key, " "), "reason"),
        (end("reject", who::DAVE), "not an active member"),
        (words(&["case", "show", "CASE-2027-0001"]), "no case"),
    ];
    let before = env.dump();
    for (args, needle) in &refusals {
        run(args).fails_with(needle);
        assert_eq!(env.dump(), before, "{args:?} changed stored state");
    }
    // Twice: the second acknowledgement and anything on a closed case.
    assert_eq!(run(&ack("CASE-2026-0001", text, who::BOB)).code, 0);
    let acked = env.dump();
    run(&ack("CASE-2026-0001", text, who::CAROL)).fails_with("acknowledged already");
    assert_eq!(env.dump(), acked);
    assert_eq!(run(&end("reject", who::CAROL)).code, 0);
    let rejected = env.dump();
    for args in [end("close", who::BOB), invite(who::RSA2048, eve_key, "r")] {
        run(&args).fails_with("not open");
        assert_eq!(env.dump(), rejected);
    }
}

#[test]
fn a_team_post_to_a_case_reaches_its_participants_and_an_invitee_sees_only_their_case() {
    let env = vouching_env();
    two_cases(&env);
    let key = env.cert_file(who::RSA2048);
    env.ok(&[
        "case",
        "invite",
        "CASE-2026-0001",
        who::RSA2048,
        "--key",
        path(&key),
        "--reason",
        "maintains the parser",
        "--by",
        who::BOB,
    ]);
    let shown = case_json(&env, "CASE-2026-0001");
    assert_eq!(shown["participants"][0]["email"], who::RSA2048);
    assert_eq!(audit_actions(&env, "case.invite"), ["case.invite"]);

    let post = |case: &str, canary: &str, ack: bool| {
        let address = reply_address(&env, case);
        let mut headers = Headers::new(who::BOB, &address);
        headers.subject = "Re: your report".to_owned();
        let text = if ack {
            format!("{canary}\nACK\n")
        } else {
            format!("{canary}\n")
        };
        let message = signed_mime(who::BOB, &headers, &text, &[], SIGNED_NOW);
        assert_eq!(ingest_to(&env, &address, &message), 0);
    };
    post("CASE-2026-0001", "CanaryCaseOnePost", true);
    post("CASE-2026-0002", "CanaryCaseTwoPost", false);
    env.ok(&["queue", "run"]);

    // CASE-2026-0001 is acknowledged by the ACK line; the other is not.
    assert!(case_json(&env, "CASE-2026-0001")["acknowledged_at"].is_string());
    assert!(case_json(&env, "CASE-2026-0002")["acknowledged_at"].is_null());

    let read = |member: &str| -> Vec<String> {
        decrypted_copies_of(&env, member)
            .iter()
            .map(|inner| String::from_utf8_lossy(inner).into_owned())
            .collect()
    };
    // The invitee: the welcome and case one's post, nothing of case two.
    let invitee = read(who::RSA2048);
    assert!(invitee.iter().any(|t| t.contains("CanaryCaseOnePost")));
    assert!(!invitee.iter().any(|t| t.contains("CanaryCaseTwoPost")));
    assert!(!invitee.iter().any(|t| t.contains("CASE-2026-0002")));
    assert!(!invitee.iter().any(|t| t.contains(REPORT_CANARY)));
    // Frank, case two's reporter: its post, encrypted; nothing of case one.
    let frank = read(who::FRANK);
    assert!(frank.iter().any(|t| t.contains("CanaryCaseTwoPost")));
    assert!(!frank.iter().any(|t| t.contains("CanaryCaseOnePost")));
    // The keyless reporter: told there is a message, never its text.
    let keyless_mail = mail_to(&env, REPORTER);
    assert!(
        keyless_mail
            .iter()
            .any(|eml| eml.contains("a new message from the security team")),
        "a content-free notice"
    );
    for eml in &keyless_mail {
        assert!(!eml.contains("CanaryCaseOnePost") && !eml.contains("CanaryCaseTwoPost"));
    }
    // The team reads both posts.
    for member in [who::ALICE, who::BOB, who::CAROL] {
        let team = read(member);
        assert!(
            team.iter().any(|t| t.contains("CanaryCaseOnePost")),
            "{member}"
        );
        assert!(
            team.iter().any(|t| t.contains("CanaryCaseTwoPost")),
            "{member}"
        );
    }
    // The outside world saw no case text in any outer header.
    for file in maildir(&env) {
        let eml = String::from_utf8_lossy(&std::fs::read(file).expect("mail")).into_owned();
        let head = eml.split("\r\n\r\n").next().unwrap_or_default();
        assert!(!head.contains("Canary"), "{head}");
        if head.contains("multipart/encrypted") {
            assert!(
                head.contains("Subject: Encrypted message") || !head.contains("CASE-"),
                "{head}"
            );
        }
    }
}

#[test]
fn an_advisory_from_a_case_credits_the_reporter_records_their_agree_and_closes_at_disclosure() {
    let env = Env::with_config(&format!(
        "\n[team]\naddress = \"{TEAM}\"\n[cases]\nauthserv_id = \"{AUTHSERV}\"\n"
    ));
    env.init();
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    let keyed = frank_keyed_report();
    assert_eq!(ingest_to(&env, TEAM, &keyed), 0);
    let body = env.file("body.md", b"The parser overflows.\n");
    let new = |id: &str, extra: &[&str]| {
        let mut args = vec![
            "advisory",
            "new",
            id,
            "--title",
            "Parser overflow",
            "--severity",
            "high",
            "--product",
            "frob",
            "--body",
            path(&body),
            "--patch-date",
            "2026-06-08",
            "--disclose-at",
            "2026-06-09T14:00:00Z",
        ];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    // Refused before anything is written: an unknown case, a contradiction.
    let before = env.dump();
    new("DF-2026-0001", &["--from-case", "CASE-2026-0042"]).fails_with("no case");
    assert_eq!(env.dump(), before);
    let run = new(
        "DF-2026-0001",
        &["--from-case", "CASE-2026-0001", "--credit", "Frank Finder"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A case becomes one advisory.
    let linked = env.dump();
    new("DF-2026-0002", &["--from-case", "CASE-2026-0001"]).fails_with("already");
    assert_eq!(env.dump(), linked);

    env.ok(&["queue", "run"]);
    let timeline: Vec<String> = decrypted_copies_of(&env, who::FRANK)
        .iter()
        .map(|inner| String::from_utf8_lossy(inner).into_owned())
        .filter(|text| text.contains("proposed timeline"))
        .collect();
    assert_eq!(timeline.len(), 1);
    assert!(timeline[0].contains("2026-06-08") && timeline[0].contains("2026-06-09 14:00"));
    assert!(timeline[0].contains("Frank Finder"));
    let show = env.ok(&["advisory", "show", "DF-2026-0001"]).stdout;
    assert!(show.contains("the reporter has not agreed"), "{show}");

    // An unsigned AGREE from the reporter's address counts as a reply...
    let address = reply_address(&env, "CASE-2026-0001");
    let unsigned = format!(
        "From: {}\r\nTo: {address}\r\nSubject: Re\r\nMessage-ID: <agree1@user.example>\r\n\r\nAGREE\r\n",
        who::FRANK
    );
    assert_eq!(ingest_to(&env, &address, unsigned.as_bytes()), 0);
    let show: serde_json::Value = serde_json::from_str(
        &env.ok(&["advisory", "show", "DF-2026-0001", "--json"])
            .stdout,
    )
    .expect("json");
    assert_eq!(show["reporter_agreed"], "unsigned");
    // ...and their signed AGREE (made after the timeline, an hour later),
    // verified against the key they sent, as signed.
    let mut headers = Headers::new(who::FRANK, &address);
    headers.subject = "Re: the proposed timeline".to_owned();
    let signed = signed_mime(who::FRANK, &headers, "AGREE\n", &[], SIGNED_IN_AN_HOUR);
    assert_eq!(
        ingest_at(&env, "2026-06-01T13:01:00Z", &address, &signed),
        0
    );
    let show = env.ok(&["advisory", "show", "DF-2026-0001"]).stdout;
    assert!(show.contains("the reporter agreed (signed"), "{show}");
    assert!(show.contains("CASE-2026-0001"), "{show}");

    // The team moves the patch date: a new timeline goes to the reporter,
    // and the agreement to the old one no longer counts.
    let moved = env.run_at(
        "2026-06-01T14:00:00Z",
        &[
            "advisory",
            "edit",
            "DF-2026-0001",
            "--patch-date",
            "2026-06-07",
        ],
    );
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    let show = env.ok(&["advisory", "show", "DF-2026-0001"]).stdout;
    assert!(show.contains("the reporter has not agreed"), "{show}");
    let sent = env.run_at("2026-06-01T14:00:30Z", &["queue", "run"]);
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let timelines: Vec<String> = decrypted_copies_of(&env, who::FRANK)
        .iter()
        .map(|inner| String::from_utf8_lossy(inner).into_owned())
        .filter(|text| text.contains("new timeline"))
        .collect();
    assert_eq!(timelines.len(), 1);
    assert!(timelines[0].contains("2026-06-07"), "{}", timelines[0]);
    // The old signed AGREE, replayed under another Message-ID, agreed to
    // the old timeline: it counts as an unsigned reply at most.
    let replayed = String::from_utf8_lossy(&signed)
        .replace(&headers.message_id, "<replayed@attacker.example>")
        .into_bytes();
    assert_eq!(
        ingest_at(&env, "2026-06-01T14:01:00Z", &address, &replayed),
        0
    );
    let show: serde_json::Value = serde_json::from_str(
        &env.ok(&["advisory", "show", "DF-2026-0001", "--json"])
            .stdout,
    )
    .expect("json");
    assert_eq!(show["reporter_agreed"], "unsigned");

    // The disclosure: the reporter hears it when the public does, the
    // case closes, and the exports credit the finder.
    env.ok(&["advisory", "announce", "DF-2026-0001"]);
    env.ok(&["queue", "run"]);
    env.run_at("2026-06-09T14:00:01Z", &["queue", "run"]);
    let disclosures = env.sql(
        "SELECT d.recipient FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'disclosure' AND d.member_id IS NULL",
    );
    assert_eq!(disclosures.trim(), who::FRANK);
    assert_eq!(case_json(&env, "CASE-2026-0001")["state"], "closed");
    let exports = crate::common::outbox::exports_in(env.dir.path());
    let osv = exports
        .iter()
        .find(|name| name.ends_with(".json") && !name.contains("csaf"))
        .expect("an OSV export");
    let osv: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.dir.path().join("var/exports").join(osv)).expect("osv"),
    )
    .expect("json");
    assert_eq!(
        osv["credits"],
        serde_json::json!([{ "name": "Frank Finder", "type": "FINDER" }])
    );
}

#[test]
fn nothing_of_a_case_is_logged_or_stored_in_clear() {
    let env = vouching_env();
    let canaries = [
        REPORT_CANARY,
        "CanaryFollowUpText",
        "CanaryCasePostText",
        "CanaryAckText",
        "CanaryRejectReason",
    ];
    let mut logged = String::new();
    let keyed = frank_keyed_report();
    let (code, log) = ingest_logged(&env, TEAM, &keyed);
    assert_eq!(code, 0, "{log}");
    logged.push_str(&log);
    let address = reply_address(&env, "CASE-2026-0001");
    let follow_up = format!(
        "From: {}\r\nTo: {address}\r\nSubject: CanaryFollowUpText\r\nMessage-ID: <f@user.example>\r\n\r\nCanaryFollowUpText\r\n",
        who::FRANK
    );
    let (code, log) = ingest_logged(&env, &address, follow_up.as_bytes());
    assert_eq!(code, 0, "{log}");
    logged.push_str(&log);
    let mut headers = Headers::new(who::BOB, &address);
    headers.subject = "CanaryCasePostText".to_owned();
    let post = signed_mime(
        who::BOB,
        &headers,
        "CanaryCasePostText\nACK\n",
        &[],
        SIGNED_NOW,
    );
    let (code, log) = ingest_logged(&env, &address, &post);
    assert_eq!(code, 0, "{log}");
    logged.push_str(&log);
    let keyless = report_from(
        REPORTER,
        "n2@reporter.example",
        &opendkim_pass("reporter.example"),
    );
    let (code, log) = ingest_logged(&env, TEAM, &keyless);
    assert_eq!(code, 0, "{log}");
    logged.push_str(&log);
    let text = env.file("ack.txt", b"CanaryAckText\n");
    env.ok(&[
        "case",
        "ack",
        "CASE-2026-0002",
        "--message",
        path(&text),
        "--by",
        who::CAROL,
    ]);
    env.ok(&[
        "case",
        "reject",
        "CASE-2026-0002",
        "--reason",
        "CanaryRejectReason",
        "--by",
        who::CAROL,
    ]);
    let run = env
        .command()
        .env("EMBARGO_LOG", "trace")
        .args(["queue", "run"])
        .output()
        .expect("queue run");
    assert!(run.status.success());
    logged.push_str(&String::from_utf8_lossy(&run.stdout));
    logged.push_str(&String::from_utf8_lossy(&run.stderr));
    assert!(
        logged.contains("CASE-2026-0001"),
        "the log says what happened"
    );
    for canary in canaries {
        assert!(!logged.contains(canary), "{canary} logged:\n{logged}");
    }
    assert_database_holds_none_of(&env, &canaries);
    // The audit log keeps the reason of a rejection (the team's own words,
    // like every audited reason), but never a report's or post's text.
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    for canary in [
        REPORT_CANARY,
        "CanaryFollowUpText",
        "CanaryCasePostText",
        "CanaryAckText",
    ] {
        assert!(!audit.contains(canary), "{canary} audited");
    }
}

/// "Reply with your key to read it" holds: what a reporter without a key
/// was only told of (a team post to the case, the acknowledgement) goes
/// to them, encrypted, once a reply brings their key, and not before.
#[test]
fn what_a_keyless_reporter_was_told_of_reaches_them_encrypted_once_they_send_a_key() {
    let env = vouching_env();
    // Frank reports without a key.
    let report = report_from(
        who::FRANK,
        "held1@user.example",
        &opendkim_pass("user.example"),
    );
    assert_eq!(ingest_to(&env, TEAM, &report), 0);
    let address = reply_address(&env, "CASE-2026-0001");
    let mut headers = Headers::new(who::BOB, &address);
    headers.subject = "Re: your report".to_owned();
    let post = signed_mime(
        who::BOB,
        &headers,
        "CanaryHeldPost: which version?\n",
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest_to(&env, &address, &post), 0);
    let text = env.file("ack.txt", b"CanaryHeldAck: reproduced.\n");
    env.ok(&[
        "case",
        "ack",
        "CASE-2026-0001",
        "--message",
        path(&text),
        "--by",
        who::CAROL,
    ]);
    env.ok(&["queue", "run"]);
    let before: Vec<String> = mail_to(&env, who::FRANK);
    assert_eq!(before.len(), 3, "the receipt and two notices");
    for eml in &before {
        assert!(!eml.contains("CanaryHeld"), "{eml}");
        assert!(!eml.contains("multipart/encrypted"));
    }

    // His reply brings his key: both held texts reach him, encrypted to it.
    let mut headers = Headers::new(who::FRANK, &address);
    headers.subject = "Re: here is my key".to_owned();
    let reply = signed_mime(
        who::FRANK,
        &headers,
        "Here is my key.\n",
        &[Attachment::pgp_keys(keys().public(who::FRANK))],
        SIGNED_NOW,
    );
    assert_eq!(ingest_to(&env, &address, &reply), 0);
    env.ok(&["queue", "run"]);
    let read: Vec<String> = decrypted_copies_of(&env, who::FRANK)
        .iter()
        .map(|inner| String::from_utf8_lossy(inner).into_owned())
        .collect();
    assert_eq!(read.len(), 2, "one message for each held text");
    assert!(read.iter().any(|t| t.contains("CanaryHeldPost")));
    assert!(read.iter().any(|t| t.contains("CanaryHeldAck")));
    for eml in mail_to(&env, who::FRANK) {
        assert!(!eml.contains("CanaryHeld"), "never in clear");
    }
    // Released once: another reply (and another pass) sends nothing again.
    let again = format!(
        "From: {}\r\nTo: {address}\r\nSubject: thanks\r\nMessage-ID: <thanks@user.example>\r\n\r\nThanks.\r\n",
        who::FRANK
    );
    assert_eq!(ingest_to(&env, &address, again.as_bytes()), 0);
    env.ok(&["queue", "run"]);
    assert_eq!(decrypted_copies_of(&env, who::FRANK).len(), 2);
    assert_database_holds_none_of(&env, &["CanaryHeldPost", "CanaryHeldAck"]);
}

/// Regression: `ACK` and `AGREE` were read anywhere in a message, so a
/// team member's reply quoting an earlier `ACK` the way Outlook quotes
/// (a copy below a `From:` line, no `>`) acknowledged the case, and a
/// reporter's "not yet" above a pasted copy of an earlier `AGREE` agreed.
/// They are read from the sender's own text only, as commands are.
#[test]
fn an_ack_or_agree_in_a_copy_of_earlier_mail_does_not_count() {
    let env = vouching_env();
    assert_eq!(ingest_to(&env, TEAM, &frank_keyed_report()), 0);
    let address = reply_address(&env, "CASE-2026-0001");
    let post = |text: &str| {
        let mut headers = Headers::new(who::BOB, &address);
        headers.subject = "Re: the report".to_owned();
        signed_mime(who::BOB, &headers, text, &[], SIGNED_NOW)
    };
    for copied in [
        "Still looking.\n\nFrom: Carol <carol@advisor.example>\nACK\n",
        "Still looking.\n\n-----Original Message-----\nACK\n",
        "Still looking.\n\nOn Monday Carol wrote:\nACK\n",
        "Still looking.\n> ACK\n",
        "Still looking.\n-- \nACK\n",
    ] {
        assert_eq!(ingest_to(&env, &address, &post(copied)), 0, "{copied:?}");
        assert!(
            case_json(&env, "CASE-2026-0001")["acknowledged_at"].is_null(),
            "{copied:?} acknowledged the case"
        );
    }
    // Its own line does.
    assert_eq!(ingest_to(&env, &address, &post("Reproduced.\nACK\n")), 0);
    assert!(case_json(&env, "CASE-2026-0001")["acknowledged_at"].is_string());

    let body = env.file("body.md", b"Details.\n");
    env.ok(&[
        "advisory",
        "new",
        "DF-2026-0001",
        "--title",
        "t",
        "--severity",
        "high",
        "--product",
        "p",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-09T14:00:00Z",
        "--from-case",
        "CASE-2026-0001",
    ]);
    let reply = |n: usize, text: &str| {
        format!(
            "From: {}\r\nTo: {address}\r\nSubject: Re\r\nMessage-ID: <agree{n}@user.example>\r\n\r\n{text}",
            who::FRANK
        )
    };
    for (n, copied) in [
        "Not yet, sorry.\r\n\r\nFrom: Frank <frank@user.example>\r\nAGREE\r\n",
        "Not yet, sorry.\r\n\r\n-----Original Message-----\r\nAGREE\r\n",
        "Not yet, sorry.\r\n> AGREE\r\n",
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(ingest_to(&env, &address, reply(n, copied).as_bytes()), 0);
        assert!(
            case_json(&env, "CASE-2026-0001")["reporter_agreed"].is_null(),
            "{copied:?} agreed"
        );
    }
    assert_eq!(
        ingest_to(&env, &address, reply(9, "AGREE\r\n").as_bytes()),
        0
    );
    assert_eq!(
        case_json(&env, "CASE-2026-0001")["reporter_agreed"],
        "unsigned"
    );
}
