//! The hash-chained audit log and its tamper detection, with the real
//! `sqlite3` shell doing the tampering.

use crate::common::{Env, who};

fn env_with_history() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    env.add(
        who::DAVE,
        who::BOB,
        &["--statement", "Dave handles Vendor's PSIRT"],
    );
    env.ok(&["member", "suspend", who::BOB, "--reason", "on leave"]);
    env
}

#[test]
fn an_untouched_log_verifies_and_lists_every_change() {
    let env = env_with_history();
    let run = env.ok(&["audit", "verify"]);
    assert!(
        run.stdout.contains("audit log intact: 6 entries"),
        "{}",
        run.stdout
    );
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&env.ok(&["audit", "list", "--json"]).stdout).expect("json");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "list.init",
            "member.add",
            "member.add",
            "member.confirm",
            "member.add",
            "member.suspend"
        ]
    );
    assert_eq!(entries[5]["reason"], "on leave");
    assert_eq!(entries[4]["actor"], "member:bob@project.example");
}

#[test]
fn an_edited_row_is_named() {
    let env = env_with_history();
    env.sql("UPDATE audit_log SET reason = 'routine' WHERE seq = 6");
    let run = env.run(&["audit", "verify"]);
    run.fails_with("entry 6");
    assert!(run.stderr.contains("edited"), "{}", run.stderr);
}

#[test]
fn a_tampered_hash_is_named() {
    let env = env_with_history();
    // Someone edits entry 3 and overwrites its hash with another value.
    env.sql("UPDATE audit_log SET detail = '{}', hash = 'ff' || substr(hash, 3) WHERE seq = 3");
    env.run(&["audit", "verify"]).fails_with("entry 3");
}

#[test]
fn a_deleted_row_is_named() {
    let env = env_with_history();
    env.sql("DELETE FROM audit_log WHERE seq = 3");
    env.run(&["audit", "verify"]).fails_with("entry 4");
}

#[test]
fn reordered_rows_are_caught() {
    let env = env_with_history();
    env.sql(
        "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; \
         UPDATE audit_log SET seq = 3 WHERE seq = -1;",
    );
    env.run(&["audit", "verify"]).fails_with("entry 2");
}
