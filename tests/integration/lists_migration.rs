//! A one-list database the previous release wrote migrates in place.
//!
//! The database is not one this version made: it is the SQL dump of what
//! the release before many lists (commit 14fac01) wrote, with the old
//! binary's own outputs beside it (`tests/fixtures/single-list-v0/`, made
//! by its `make.sh`). Today's binary opens it, migrates it once, reads it
//! the same, carries on where the old one stopped, puts a second list next
//! to it, and survives being killed during the migration.

use std::process::Stdio;

use serde_json::Value;

use crate::common::gnupg::GnuPg;
use crate::common::mail::{Headers, REQUEST_ADDRESS, signed_mime_by};
use crate::common::old_release::{
    LISTS_MIGRATION, MADE_UNTIL, OLD_MIGRATIONS, TABLES, all_migrations, assert_sound, bytes,
    migrations, old_json, old_text, restore, row_counts, skip_on_postgres, sqlite,
};
use crate::common::{Env, Run, path, who};

/// Runs `embargo ARGS` at `now`, insisting that it succeeds.
fn ok_at(env: &Env, now: &str, args: &[&str]) -> Run {
    let run = env.run_at(now, args);
    assert_eq!(
        run.code, 0,
        "embargo {args:?}:\n{}\n{}",
        run.stdout, run.stderr
    );
    run
}

/// `embargo ARGS` at `now`, its output as JSON.
fn json_at(env: &Env, now: &str, args: &[&str]) -> Value {
    let run = ok_at(env, now, args);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|err| panic!("embargo {args:?} printed no JSON ({err}): {}", run.stdout))
}

/// The first open of a database the previous release wrote failed with
/// "FOREIGN KEY constraint failed": the migration dropped `members` and
/// `advisories`, which other rows reference, and renamed rebuilt copies
/// into their place, which SQLite does not count as resolving those
/// references (and `init` always makes a member: every database failed).
/// Now the first open migrates it once, leaves it sound with every row
/// where it was, and today's binary reads it as the old binary did.
#[test]
fn the_migration_no_longer_fails_on_rows_that_reference_members_and_advisories() {
    if skip_on_postgres() {
        return;
    }
    let env = restore();
    let db = env.database();
    let before = row_counts(&db);
    assert_eq!(migrations(&db), format!("{OLD_MIGRATIONS}|0"));

    let lists = json_at(&env, MADE_UNTIL, &["list", "ls", "--json"]);
    let lists = lists.as_array().expect("a JSON array");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(lists[0]["name"], "security-announce");
    assert_eq!(lists[0]["address"], "security-announce@project.example");
    assert_eq!(migrations(&db), format!("{}|1", all_migrations()));
    assert_sound(&db);
    assert_eq!(row_counts(&db), before, "rows of {TABLES:?}");
    // Children (certificates, revisions, ACKs, exports) belong to their
    // parent row's list and have no list_id of their own.
    for table in TABLES
        .iter()
        .filter(|t| !["member_certs", "advisory_revisions", "acks", "exports"].contains(t))
    {
        assert_eq!(
            sqlite(
                &db,
                &format!("SELECT count(*) FROM {table} WHERE list_id <> 1;")
            ),
            "0",
            "{table} has rows of another list"
        );
    }
    // Nothing of the rebuild is left behind, and the one-row table is gone.
    assert_eq!(
        sqlite(
            &db,
            "SELECT name FROM sqlite_master WHERE name = 'list' \
             OR name LIKE '%\\_old' ESCAPE '\\' OR name LIKE '%\\_new' ESCAPE '\\';"
        ),
        ""
    );
    let installed =
        format!("SELECT installed_on FROM _sqlx_migrations WHERE version = {LISTS_MIGRATION};");
    let first_install = sqlite(&db, &installed);

    // The same answers as the old binary, entry for entry (the audit
    // entries with their hashes): no output format changed on purpose.
    for (args, file) in [
        (&["member", "list", "--json"][..], "members.json"),
        (
            &["member", "show", "carol@advisor.example", "--json"],
            "member-carol.json",
        ),
        (&["advisory", "list", "--json"], "advisories.json"),
        (
            &["advisory", "acks", "EMB-2026-0003", "--json"],
            "acks-EMB-2026-0003.json",
        ),
        (&["audit", "list", "--json"], "audit.json"),
        (&["queue", "list", "--all", "--json"], "queue.json"),
    ] {
        assert_eq!(
            json_at(&env, MADE_UNTIL, args),
            old_json(file),
            "embargo {args:?}"
        );
    }
    for n in 1..=5 {
        let id = format!("EMB-2026-000{n}");
        let now = json_at(&env, MADE_UNTIL, &["advisory", "show", &id, "--json"]);
        assert_eq!(now, old_json(&format!("advisory-{id}.json")), "{id}");
    }
    let queue = ok_at(&env, MADE_UNTIL, &["queue", "list", "--all"]).stdout;
    assert_eq!(queue, old_text("queue.txt"));
    let verify = ok_at(&env, MADE_UNTIL, &["audit", "verify"]).stdout;
    assert_eq!(verify, old_text("audit-verify.txt"));

    // Opening it again runs nothing again.
    assert_eq!(migrations(&db), format!("{}|1", all_migrations()));
    assert_eq!(sqlite(&db, &installed), first_install);
}

/// `embargo ingest` with `message` at `now`: the exit status and stderr.
fn ingest_at(env: &Env, now: &str, message: &[u8]) -> (i32, String) {
    use std::io::Write as _;
    let mut child = env
        .command()
        .env("EMBARGO_TEST_NOW", now)
        .arg("ingest")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run embargo ingest");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write the message");
    let out = child.wait_with_output().expect("wait for ingest");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "ingest panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// The copies `queue list --all --json` shows of `kind` for `advisory`,
/// as (recipient, state).
fn copies(env: &Env, now: &str, kind: &str, advisory: &str) -> Vec<(String, String)> {
    let all = json_at(env, now, &["queue", "list", "--all", "--json"]);
    all.as_array()
        .expect("a JSON array")
        .iter()
        .filter(|c| c["kind"] == kind && c["advisory"] == advisory)
        .map(|c| {
            let field = |name: &str| c[name].as_str().unwrap_or_default().to_owned();
            (field("recipient"), field("state"))
        })
        .collect()
}

const ACTIVE: [&str; 5] = [
    "alice@project.example",
    "bob@project.example",
    "carol@advisor.example",
    "dave@vendor.example",
    "erin@distro.example",
];

/// After the migration the list goes on from where the old release
/// stopped: the scheduled notice goes out at its instant, a member's
/// signed command works while the old release's signatures stay used, and
/// the held advisory discloses at the end of its hold, once.
#[test]
fn the_migrated_list_carries_on_where_the_old_release_stopped() {
    if skip_on_postgres() {
        return;
    }
    let env = restore();
    let notice_at = "2026-06-04T12:00:00Z";
    let run = json_at(&env, notice_at, &["queue", "run", "--json"]);
    assert_eq!(run["delivered"]["sent"], 5, "{run}");
    let sent: Vec<(String, String)> = ACTIVE
        .iter()
        .map(|m| (m.to_string(), "sent".to_owned()))
        .collect();
    assert_eq!(copies(&env, notice_at, "notice", "EMB-2026-0002"), sent);
    let maildir = env.dir.path().join("var/maildir/new");
    assert_eq!(std::fs::read_dir(&maildir).expect("maildir").count(), 5);
    // Erin's update that failed under the old release stays failed.
    let updates = copies(&env, notice_at, "update", "EMB-2026-0003");
    assert!(updates.contains(&("erin@distro.example".to_owned(), "failed".to_owned())));

    // Dave's key from the fixture signs a new ACK (PGP/MIME, where the old
    // one was a cleartext signature); it counts.
    let gpg = GnuPg::new();
    let dave = gpg.import("20260604T120000!", &bytes("keys/dave.sec.asc"));
    let text = "Hello list,\n\nList: security-announce@project.example\n\
                ACK EMB-2026-0002 affected patching this week\n\nThanks\n";
    let ack = signed_mime_by(
        &gpg,
        &dave,
        &Headers::new("dave@vendor.example", REQUEST_ADDRESS),
        text,
        "20260604T120400!",
    );
    let ingest_now = "2026-06-04T12:05:00Z";
    let (code, stderr) = ingest_at(&env, ingest_now, &ack);
    assert_eq!(code, 0, "{stderr}");
    let acks = json_at(
        &env,
        ingest_now,
        &["advisory", "acks", "EMB-2026-0002", "--json"],
    );
    let daves = acks
        .as_array()
        .expect("a JSON array")
        .iter()
        .find(|a| a["email"] == "dave@vendor.example")
        .expect("Dave in the acks");
    assert_eq!(daves["status"], "affected");
    assert_eq!(daves["note"], "patching this week");

    // The old release's ACK (signed 23 hours before, so not too old) is a
    // replay, as sent and with LF line ends; so is the new one again.
    let old_ack = bytes("ack.eml");
    let old_ack_lf = String::from_utf8(old_ack.clone())
        .expect("ASCII mail")
        .replace("\r\n", "\n")
        .into_bytes();
    for (what, message) in [
        ("old ACK", old_ack),
        ("old ACK, LF", old_ack_lf),
        ("new ACK", ack),
    ] {
        let before = env.dump();
        let (code, stderr) = ingest_at(&env, ingest_now, &message);
        assert_eq!(code, 0, "{what}: {stderr}");
        assert!(
            stderr.contains("inbound message dropped") && stderr.contains("already used"),
            "{what} was not refused as a replay:\n{stderr}"
        );
        assert_eq!(env.dump(), before, "{what}: the database changed");
    }

    // EMB-2026-0003 was held until 2026-06-10T14:00Z: it discloses then,
    // once, to each active member.
    let hold_ends = "2026-06-10T14:00:00Z";
    let run = json_at(&env, hold_ends, &["queue", "run", "--json"]);
    assert_eq!(
        run["prepared"]["disclosed"],
        serde_json::json!(["EMB-2026-0003"])
    );
    let later = "2026-06-10T14:05:00Z";
    let run = json_at(&env, later, &["queue", "run", "--json"]);
    assert_eq!(run["prepared"]["disclosed"], serde_json::json!([]), "{run}");
    assert_eq!(copies(&env, later, "disclosure", "EMB-2026-0003"), sent);
    let shown = json_at(
        &env,
        later,
        &["advisory", "show", "EMB-2026-0003", "--json"],
    );
    assert_eq!(shown["advisory"]["status"], "disclosed");
    assert!(
        env.dir
            .path()
            .join("var/exports/EMB-2026-0003.osv.json")
            .exists()
    );
    let audit = json_at(&env, later, &["audit", "list", "--json"]);
    let audit = audit.as_array().expect("a JSON array");
    let disclosures = audit
        .iter()
        .filter(|e| e["action"] == "advisory.disclose" && e["subject"] == "advisory:EMB-2026-0003")
        .count();
    assert_eq!(disclosures, 1);
    // The chain went on from the old release's entries, which are intact.
    let old = old_json("audit.json");
    let old = old.as_array().expect("a JSON array");
    assert_eq!(&audit[..old.len()], &old[..]);
    let verify = ok_at(&env, later, &["audit", "verify"]).stdout;
    assert_eq!(
        verify.trim(),
        format!("audit log intact: {} entries", audit.len())
    );
}

/// A second list made next to the migrated one has its own audit chain
/// from 1, its own roster and advisories (the same address and advisory
/// id as the first list's included), and the first list reads as before.
#[test]
fn a_second_list_next_to_the_migrated_one_is_separate() {
    if skip_on_postgres() {
        return;
    }
    let env = restore();
    let carol = env.cert_file(who::CAROL);
    ok_at(
        &env,
        MADE_UNTIL,
        &[
            "list",
            "create",
            "second",
            "--address",
            "second-announce@project.example",
            "--admin",
            who::CAROL,
            "--name",
            "Carol Second",
            "--org",
            "Advisors",
            "--key",
            path(&carol),
            "--role",
            "committer",
        ],
    );
    let second = |args: &[&str]| {
        let mut all = vec!["--list", "second"];
        all.extend_from_slice(args);
        json_at(&env, MADE_UNTIL, &all)
    };
    let dave = env.cert_file(who::DAVE);
    let add = ok_at(
        &env,
        MADE_UNTIL,
        &[
            "--list",
            "second",
            "member",
            "add",
            "dave@vendor.example",
            "--name",
            "Dave Again",
            "--org",
            "Vendor",
            "--kind",
            "vendor",
            "--key",
            path(&dave),
            "--sponsor",
            who::CAROL,
        ],
    );
    assert!(add.stdout.contains("dave@vendor.example"), "{}", add.stdout);
    let body = env.file("second.md", b"Second list only.\n");
    ok_at(
        &env,
        MADE_UNTIL,
        &[
            "--list",
            "second",
            "advisory",
            "new",
            "EMB-2026-0001",
            "--title",
            "Only on the second list",
            "--severity",
            "low",
            "--product",
            "other",
            "--body",
            path(&body),
            "--disclose-at",
            "2026-06-09T14:00:00Z",
        ],
    );

    let audit = second(&["audit", "list", "--json"]);
    let audit = audit.as_array().expect("a JSON array");
    assert_eq!(audit[0]["seq"], 1);
    assert_eq!(audit[0]["prev_hash"], "0".repeat(64));
    assert_eq!(audit.len(), 4, "{audit:?}");
    let members: Vec<Value> = second(&["member", "list", "--json"])
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|m| m["email"].clone())
        .collect();
    assert_eq!(
        members,
        vec![Value::from(who::CAROL), Value::from("dave@vendor.example")]
    );
    let advisories = second(&["advisory", "list", "--json"]);
    assert_eq!(advisories.as_array().map(Vec::len), Some(1), "{advisories}");
    assert_eq!(advisories[0]["content"]["title"], "Only on the second list");

    // The first list, named now that there are two, is as the old release
    // left it.
    let first = |args: &[&str]| {
        let mut all = vec!["--list", "security-announce"];
        all.extend_from_slice(args);
        json_at(&env, MADE_UNTIL, &all)
    };
    assert_eq!(
        first(&["member", "list", "--json"]),
        old_json("members.json")
    );
    assert_eq!(
        first(&["advisory", "list", "--json"]),
        old_json("advisories.json")
    );
    assert_eq!(first(&["audit", "list", "--json"]), old_json("audit.json"));
    let verify = ok_at(
        &env,
        MADE_UNTIL,
        &["--list", "security-announce", "audit", "verify"],
    );
    assert_eq!(verify.stdout, old_text("audit-verify.txt"));
    let unnamed = env.run_at(MADE_UNTIL, &["member", "list"]);
    unnamed.fails_with("security-announce");
    unnamed.fails_with("second");
    assert_sound(&env.database());
}
