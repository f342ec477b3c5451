//! Observers (added, refused, removed, audited in the home list) and
//! `embargo instance report` over two lists.

use crate::common::two_lists::{HOME, KERNEL, OBSERVER, report_json, two_lists};
use crate::common::{Env, path, who};

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

    // The same figures as text, each set in its own order.
    let text = env
        .run_at("2026-06-04T12:00:01Z", &["instance", "report"])
        .stdout;
    for line in [
        "list security-announce\n  members: pending 1, active 2, suspended 0, removed 0\n  \
         advisories: draft 1, scheduled 0, notified 1, disclosed 0, cancelled 0\n  \
         embargo length, disclosed: none\n  \
         embargo length, open: 1 advisory, median 9.1 days, longest 9.1 days\n  \
         active holds: 1\n  \
         copies that did not arrive: failed 0, uncertain 0, missed 0\n  \
         breaches of the acknowledgement clock (72 hours): 1\n",
        "list kernel\n",
        "all 2 lists\n  members: pending 1, active 4, suspended 0, removed 0\n",
    ] {
        assert!(text.contains(line), "{line:?} is not in:\n{text}");
    }

    // The acknowledgement clock is 72 hours to the second: not a breach at
    // exactly 72 hours; and a hold that has run out is no longer active.
    let at_72h = report_json(&env, "2026-06-04T12:00:00Z");
    assert_eq!(at_72h["total"]["ack_breaches"], 0);
    let later = report_json(&env, "2026-06-10T14:00:01Z");
    assert_eq!(later["total"]["active_holds"], 0);
    assert_eq!(later["total"]["ack_breaches"], 1);
}
