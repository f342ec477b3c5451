//! The foundation's view: observers (added, refused, removed, audited in
//! the home list), `embargo instance report` over two lists, and the
//! encrypted digest — on its schedule, for the observer alone, and never
//! carrying anything of an advisory or a member's address.

use mail_parser::{MessageParser, MimeHeaders};

use crate::common::commands::command;
use crate::common::gnupg::GnuPg;
use crate::common::outbox::{maildir, of_kind};
use crate::common::{Env, NOW, Run, ingest, keys, path, revoked_update, who};

/// The home list (the `[list]` table's) and the second list.
const HOME: &str = "security-announce";
const KERNEL: &str = "kernel";

/// The observer: on no roster.
const OBSERVER: &str = who::CAROL;

/// A unique string in every advisory field of both lists, and the
/// advisory ids (which are canaries too).
const HOME_ID: &str = "CanaryHomeId-7731";
const DRAFT_ID: &str = "CanaryDraftId-7732";
const KERNEL_ID: &str = "CanaryKernelId-7733";
const CANARIES: [&str; 24] = [
    HOME_ID,
    DRAFT_ID,
    KERNEL_ID,
    "CanaryTitleHome4411",
    "CanaryTitleDraft4412",
    "CanaryTitleKernel4413",
    "CanaryBodyHome5511",
    "CanaryBodyDraft5512",
    "CanaryBodyKernel5513",
    "CVE-2026-7700411",
    "CVE-2026-7700412",
    "CVE-2026-7700413",
    "canaryproducthome6611",
    "canaryproductdraft6612",
    "canaryproductkernel6613",
    "CanaryAffected8811",
    "CanaryFixed8812",
    "CanaryMitigation8813",
    "CanaryHoldReason9911",
    "CanaryDiscloseReason9912",
    "CanaryAffectedKernel8821",
    "CanaryFixedKernel8822",
    "CanaryMitigationKernel8823",
    "CanaryAckNote9913",
];

/// Every member's address on either list.
const MEMBERS: [&str; 4] = [who::ALICE, who::DAVE, who::ERIN, who::FRANK];

/// Runs `embargo --list LIST ARGS` at `at` and insists that it succeeds.
fn ok_in(env: &Env, list: &str, at: &str, args: &[&str]) -> Run {
    let mut all = vec!["--list", list];
    all.extend_from_slice(args);
    let run = env.run_at(at, &all);
    assert_eq!(
        run.code, 0,
        "embargo {all:?} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run
}

/// An advisory of `list` whose every text field is a canary (`n` picks
/// which), disclosed at 2026-06-09 14:00 UTC.
fn canary_advisory(env: &Env, list: &str, id: &str, n: usize, extra: &[&str]) {
    let [title, body, cve, product] = [3, 6, 9, 12].map(|at| CANARIES[at + n]);
    let body = env.file(&format!("body-{id}.md"), format!("{body}\n").as_bytes());
    let mut args = vec![
        "advisory",
        "new",
        id,
        "--title",
        title,
        "--severity",
        "high",
        "--product",
        product,
        "--cve",
        cve,
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-09T14:00:00Z",
    ];
    args.extend_from_slice(extra);
    ok_in(env, list, NOW, &args);
}

/// Two lists at [`NOW`] with a known shape.
///
/// Home: Alice (admin) and Dave active, Erin pending; `HOME_ID` announced
/// at NOW (notices sent to Alice and Dave), answered by Dave alone, held
/// until 2026-06-10 14:00 (an open embargo of 9 days 2 hours); `DRAFT_ID`
/// a draft. Kernel: Alice and Frank active, Frank's encryption key revoked
/// so his notice is missed; `KERNEL_ID` announced at NOW and disclosed
/// early two days later (an embargo of 2 days).
fn two_lists() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add(who::ERIN, who::ALICE, &[]);
    let mitigation = env.file(
        "mitigation-home.md",
        format!("{}\n", CANARIES[17]).as_bytes(),
    );
    canary_advisory(
        &env,
        HOME,
        HOME_ID,
        0,
        &[
            "--affected",
            CANARIES[15],
            "--fixed",
            CANARIES[16],
            "--mitigations",
            path(&mitigation),
        ],
    );
    canary_advisory(&env, HOME, DRAFT_ID, 1, &[]);
    env.ok(&["advisory", "announce", HOME_ID]);
    env.ok(&["queue", "run"]);
    // Dave answers; Alice does not (the one breach once the clock runs out).
    let ack = format!("ACK {HOME_ID} affected {}", CANARIES[23]);
    assert_eq!(ingest(&env, &command(who::DAVE, &ack, &[])), 0);
    env.ok(&[
        "queue",
        "hold",
        HOME_ID,
        "--until",
        "2026-06-10T14:00:00Z",
        "--reason",
        CANARIES[18],
    ]);

    let alice_key = env.cert_file(who::ALICE);
    env.ok(&[
        "list",
        "create",
        KERNEL,
        "--address",
        "kernel-distros@project.example",
        "--admin",
        who::ALICE,
        "--name",
        "Alice Admin",
        "--org",
        "Project",
        "--key",
        path(&alice_key),
        "--role",
        "committer",
    ]);
    let frank_key = env.cert_file(who::FRANK);
    let added = ok_in(
        &env,
        KERNEL,
        NOW,
        &[
            "member",
            "add",
            who::FRANK,
            "--name",
            "Frank",
            "--org",
            "Org",
            "--kind",
            "user",
            "--key",
            path(&frank_key),
            "--sponsor",
            who::ALICE,
            "--json",
        ],
    );
    let added: serde_json::Value = serde_json::from_str(&added.stdout).expect("member add --json");
    let token = added["confirmation_token"].as_str().expect("token");
    ok_in(
        &env,
        KERNEL,
        NOW,
        &["member", "confirm", who::FRANK, "--token", token],
    );
    // His confirmation and welcome go out before he revokes the key.
    ok_in(&env, KERNEL, NOW, &["queue", "run"]);
    let revoked = env.file("frank-revoked.asc", &revoked_update(who::FRANK));
    ok_in(
        &env,
        KERNEL,
        NOW,
        &["member", "set-key", who::FRANK, "--key", path(&revoked)],
    );
    let mitigation = env.file(
        "mitigation-kernel.md",
        format!("{}\n", CANARIES[22]).as_bytes(),
    );
    canary_advisory(
        &env,
        KERNEL,
        KERNEL_ID,
        2,
        &[
            "--affected",
            CANARIES[20],
            "--fixed",
            CANARIES[21],
            "--mitigations",
            path(&mitigation),
        ],
    );
    ok_in(&env, KERNEL, NOW, &["advisory", "announce", KERNEL_ID]);
    ok_in(&env, KERNEL, NOW, &["queue", "run"]);
    ok_in(
        &env,
        KERNEL,
        "2026-06-03T12:00:00Z",
        &[
            "advisory",
            "disclose",
            KERNEL_ID,
            "--now",
            "--reason",
            CANARIES[19],
        ],
    );
    env
}

/// `instance report --json` at `at`.
fn report_json(env: &Env, at: &str) -> serde_json::Value {
    let run = env.run_at(at, &["instance", "report", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("instance report --json")
}

/// Asserts that `text` holds no canary and no member's address.
fn assert_no_canary(what: &str, text: &str) {
    let lower = text.to_lowercase();
    for canary in CANARIES.iter().chain(MEMBERS.iter()) {
        assert!(
            !lower.contains(&canary.to_lowercase()),
            "{what} contains {canary}:\n{text}"
        );
    }
}

#[test]
fn observers_are_added_listed_and_removed_with_each_change_audited_in_the_home_list() {
    let env = Env::new();
    env.init();
    let key = env.cert_file(OBSERVER);
    let run = env.ok(&[
        "instance",
        "observer",
        "add",
        OBSERVER,
        "--key",
        path(&key),
        "--reason",
        "foundation",
    ]);
    assert!(run.stdout.contains(OBSERVER), "{}", run.stdout);
    let listed: serde_json::Value =
        serde_json::from_str(&env.ok(&["instance", "observer", "ls", "--json"]).stdout)
            .expect("observer ls --json");
    let listed = listed.as_array().expect("an array");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["email"], OBSERVER);
    assert_eq!(listed[0]["fingerprint"].as_str().map(str::len), Some(40));

    // The same address again is refused and changes nothing.
    let before = env.dump();
    env.run(&[
        "instance",
        "observer",
        "add",
        OBSERVER,
        "--key",
        path(&key),
        "--reason",
        "again",
    ])
    .fails_with("already an observer");
    assert_eq!(env.dump(), before);

    env.ok(&[
        "instance", "observer", "remove", OBSERVER, "--reason", "left",
    ]);
    let listed = env.ok(&["instance", "observer", "ls", "--json"]).stdout;
    assert_eq!(listed.trim(), "[]");
    let before = env.dump();
    env.run(&[
        "instance", "observer", "remove", OBSERVER, "--reason", "twice",
    ])
    .fails_with("no observer");
    assert_eq!(env.dump(), before);

    let actions =
        env.sql("SELECT action || ' ' || subject || ' ' || reason FROM audit_log ORDER BY seq");
    assert!(
        actions.contains(&format!("observer.add observer:{OBSERVER} foundation"))
            && actions.contains(&format!("observer.remove observer:{OBSERVER} left")),
        "{actions}"
    );
    env.ok(&["audit", "verify"]);
}

/// The class of unusable certificates a member would be refused with
/// (too weak, no live encryption subkey, SHA-1 bindings, not a
/// certificate at all), and a list's own addresses: each is refused,
/// exit 1, nothing stored.
#[test]
fn an_observer_with_a_refused_key_or_a_list_address_is_refused_and_nothing_is_stored() {
    let env = Env::new();
    env.init();
    let garbage = env.file(
        "garbage.asc",
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n",
    );
    let cases = [
        (who::RSA1024, env.cert_file(who::RSA1024)),
        (who::EXPIRED_SUBKEY, env.cert_file(who::EXPIRED_SUBKEY)),
        (who::NO_ENCRYPTION, env.cert_file(who::NO_ENCRYPTION)),
        (who::SHA1_BINDINGS, env.cert_file(who::SHA1_BINDINGS)),
        (OBSERVER, garbage),
    ];
    for (email, key) in &cases {
        let before = env.dump();
        let run = env.run(&[
            "instance",
            "observer",
            "add",
            email,
            "--key",
            path(key),
            "--reason",
            "test",
        ]);
        run.fails_with("certificate");
        assert_eq!(env.dump(), before, "{email} {key:?} changed the database");
    }
    // A list's own address (or its request address) with a good key: the
    // digest would loop back into embargo.
    let key = env.cert_file(OBSERVER);
    for address in [
        "security-announce@project.example",
        "Security-Announce-Request@project.example",
    ] {
        let before = env.dump();
        env.run(&[
            "instance",
            "observer",
            "add",
            address,
            "--key",
            path(&key),
            "--reason",
            "test",
        ])
        .fails_with("is an address of the list security-announce");
        assert_eq!(env.dump(), before, "{address} changed the database");
    }
    let listed = env.ok(&["instance", "observer", "ls", "--json"]).stdout;
    assert_eq!(listed.trim(), "[]");
}

#[test]
fn instance_report_counts_each_list_and_the_total_of_a_known_setup() {
    let env = two_lists();
    // 72 hours and a second after the notices went out.
    let report = report_json(&env, "2026-06-04T12:00:01Z");
    let lists = report["lists"].as_array().expect("lists");
    let names: Vec<&str> = lists.iter().filter_map(|l| l["list"].as_str()).collect();
    assert_eq!(names, [KERNEL, HOME]);
    let (kernel, home, total) = (&lists[0], &lists[1], &report["total"]);
    assert_eq!(report["ack_within_hours"], 72);

    assert_eq!(
        home["members"],
        serde_json::json!({"active": 2, "pending": 1, "suspended": 0, "removed": 0})
    );
    assert_eq!(
        home["advisories"],
        serde_json::json!({"draft": 1, "scheduled": 0, "notified": 1, "disclosed": 0, "cancelled": 0})
    );
    assert_eq!(
        home["embargo_days"],
        serde_json::json!({
            "disclosed": {"count": 0, "median": null, "max": null},
            "open": {"count": 1, "median": 9.1, "max": 9.1}
        })
    );
    assert_eq!(home["active_holds"], 1);
    assert_eq!(
        home["copies"],
        serde_json::json!({"failed": 0, "uncertain": 0, "missed": 0})
    );
    assert_eq!(home["ack_breaches"], 1);

    assert_eq!(
        kernel["members"],
        serde_json::json!({"active": 2, "pending": 0, "suspended": 0, "removed": 0})
    );
    assert_eq!(kernel["advisories"]["disclosed"], 1);
    assert_eq!(
        kernel["embargo_days"]["disclosed"],
        serde_json::json!({"count": 1, "median": 2.0, "max": 2.0})
    );
    assert_eq!(kernel["embargo_days"]["open"]["count"], 0);
    assert_eq!(kernel["active_holds"], 0);
    assert_eq!(kernel["copies"]["missed"], 1);
    assert_eq!(kernel["ack_breaches"], 0);

    assert_eq!(
        total["members"],
        serde_json::json!({"active": 4, "pending": 1, "suspended": 0, "removed": 0})
    );
    assert_eq!(
        total["advisories"],
        serde_json::json!({"draft": 1, "scheduled": 0, "notified": 1, "disclosed": 1, "cancelled": 0})
    );
    assert_eq!(total["embargo_days"]["disclosed"]["count"], 1);
    assert_eq!(total["embargo_days"]["open"]["median"], 9.1);
    assert_eq!(total["active_holds"], 1);
    assert_eq!(total["copies"]["missed"], 1);
    assert_eq!(total["ack_breaches"], 1);

    // The acknowledgement clock is 72 hours to the second: not a breach at
    // exactly 72 hours; and a hold that has run out is no longer active.
    let at_72h = report_json(&env, "2026-06-04T12:00:00Z");
    assert_eq!(at_72h["total"]["ack_breaches"], 0);
    let later = report_json(&env, "2026-06-10T14:00:01Z");
    assert_eq!(later["total"]["active_holds"], 0);
    assert_eq!(later["total"]["ack_breaches"], 1);
}

/// The digest at `at`: every copy of kind digest, (recipient, state).
fn digests(env: &Env) -> Vec<(String, String)> {
    of_kind(env, "digest")
}

/// Decrypts `eml`'s payload in `gpg` at `when`; answers the plaintext, or
/// `None` when GnuPG cannot decrypt it.
fn decrypt(env: &Env, gpg: &GnuPg, when: &str, eml: &[u8]) -> Option<Vec<u8>> {
    let message = MessageParser::default()
        .parse(eml)
        .expect("the digest parses");
    let payload = env.file(
        "digest-payload.asc",
        message.part(2).expect("payload").contents(),
    );
    let out = gpg.output(when, &["--decrypt", path(&payload)], None, true);
    let status = String::from_utf8_lossy(&out.stderr);
    (out.status.success() && status.contains("[GNUPG:] DECRYPTION_OKAY")).then_some(out.stdout)
}

#[test]
fn the_digest_goes_once_per_schedule_encrypted_to_the_observer_alone_and_carries_no_canary() {
    let env = two_lists();
    let key = env.cert_file(OBSERVER);
    env.ok(&[
        "instance",
        "observer",
        "add",
        OBSERVER,
        "--key",
        path(&key),
        "--reason",
        "foundation",
    ]);
    // Weekly on Monday 08:00 UTC: nothing a second early, one copy at the
    // time, none more on the next pass, one more a week later. Only the
    // home list's loop sends it; the kernel list's never does.
    ok_in(&env, HOME, "2026-06-08T07:59:59Z", &["queue", "run"]);
    ok_in(&env, KERNEL, "2026-06-08T08:00:00Z", &["queue", "run"]);
    assert_eq!(digests(&env), []);
    ok_in(&env, HOME, "2026-06-08T08:00:00Z", &["queue", "run"]);
    assert_eq!(digests(&env), [(OBSERVER.to_owned(), "sent".to_owned())]);
    ok_in(&env, HOME, "2026-06-08T08:00:30Z", &["queue", "run"]);
    ok_in(&env, HOME, "2026-06-15T07:59:59Z", &["queue", "run"]);
    assert_eq!(digests(&env).len(), 1);
    ok_in(&env, HOME, "2026-06-15T08:00:00Z", &["queue", "run"]);
    assert_eq!(digests(&env).len(), 2);

    let mail: Vec<Vec<u8>> = maildir(&env)
        .into_iter()
        .map(|file| std::fs::read(file).expect("mail"))
        .filter(|eml| String::from_utf8_lossy(eml).contains(&format!("To: {OBSERVER}")))
        .collect();
    assert_eq!(mail.len(), 2, "two digests reached the observer");
    let eml = &mail[0];
    let raw = String::from_utf8_lossy(eml);
    assert_no_canary("the digest as sent", &raw);
    let message = MessageParser::default()
        .parse(eml.as_slice())
        .expect("parses");
    assert_eq!(message.subject(), Some("[embargo] security announcement"));
    let root = message
        .part(0)
        .and_then(|p| p.content_type())
        .expect("type");
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("encrypted"))
    );

    let when = "20260608T080100";
    let observer = GnuPg::new();
    observer.import(when, keys().secret(OBSERVER));
    let list_key = ok_in(&env, HOME, NOW, &["key", "export"]).stdout;
    let list_fpr = observer.import(when, list_key.as_bytes());
    let plaintext = decrypt(&env, &observer, when, eml).expect("the observer decrypts it");
    let text = String::from_utf8_lossy(&plaintext).replace("\r\n", "\n");
    assert_no_canary("the decrypted digest", &text);
    for line in [
        "list kernel",
        "list security-announce",
        "all 2 lists",
        "active holds: 1",
        "breaches of the acknowledgement clock (72 hours): 1",
    ] {
        assert!(
            text.contains(line),
            "{line:?} is not in the digest:\n{text}"
        );
    }
    // Signed by the home list's key, over exactly the signed part.
    let inner = MessageParser::default()
        .parse(&plaintext)
        .expect("inner MIME");
    let signed = inner.part(1).expect("signed part");
    let data = env.file(
        "digest-signed.bin",
        &plaintext[signed.offset_header as usize..signed.offset_end as usize],
    );
    let sig = env.file("digest.sig", inner.part(2).expect("signature").contents());
    let verified = observer.output(when, &["--verify", path(&sig), path(&data)], None, true);
    let status = String::from_utf8_lossy(&verified.stderr);
    assert!(status.contains(&format!("VALIDSIG {list_fpr}")), "{status}");

    // Nobody else can read it: not a member, not the list's admin.
    for other in [who::DAVE, who::ALICE] {
        let gpg = GnuPg::new();
        gpg.import(when, keys().secret(other));
        assert!(
            decrypt(&env, &gpg, when, eml).is_none(),
            "{other} decrypted the digest"
        );
    }
}

#[test]
fn instance_report_text_and_json_carry_no_canary_of_any_list() {
    let env = two_lists();
    for at in [NOW, "2026-06-04T12:00:01Z", "2026-06-12T00:00:00Z"] {
        let text = env.run_at(at, &["instance", "report"]);
        assert_eq!(text.code, 0, "{}", text.stderr);
        assert!(text.stdout.contains("list kernel"), "{}", text.stdout);
        assert_no_canary("instance report", &text.stdout);
        assert_no_canary("instance report --json", &report_json(&env, at).to_string());
    }
}
