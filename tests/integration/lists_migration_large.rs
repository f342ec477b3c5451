//! The migration of a previous release's database with a large roster.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::old_release::{
    MADE_UNTIL, assert_sound, restore, row_counts, skip_on_postgres, sqlite,
};

/// Members added to the fixture's roster, each with a certificate, a
/// signing key, a retired key and an ACK: every kind of row that
/// references a member.
const MEMBERS: u32 = 20_000;

/// Far more than the migration needs (about 1.6 s on an idle two-core
/// machine), far less than it took before (170 s).
const BOUND: Duration = Duration::from_secs(60);

/// The migration to many lists took minutes on a large roster (170 s for
/// 20,000 members): filling the rebuilt roster, SQLite looked up each
/// member's references (a sponsor among the members, an ACK, a retired
/// key) through no index, once per member. Those references now have an
/// index while the migration runs, and the first open takes seconds.
#[test]
fn migrating_a_large_roster_no_longer_takes_minutes() {
    if skip_on_postgres() {
        return;
    }
    let env = restore();
    let db = env.database();
    sqlite(
        &db,
        &format!(
            "PRAGMA foreign_keys = OFF;
             BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MEMBERS})
             INSERT INTO members (id, email, email_norm, name, org, kind, roles, status,
                 fingerprint, sponsor_id, statement, needs_sponsor, created_at, updated_at,
                 confirmed_at, summary)
             SELECT 100 + i, 'm' || i || '@bulk.example', 'm' || i || '@bulk.example', 'M',
                 'O', 'vendor', 'subscriber', 'active', printf('%040X', i), 1, 'bulk', 0,
                 '{MADE_UNTIL}', '{MADE_UNTIL}', '{MADE_UNTIL}', '{{}}'
             FROM n;
             INSERT INTO member_certs (member_id, cert)
             SELECT id, randomblob(700) FROM members WHERE id > 100;
             INSERT INTO member_keys (fingerprint, member_id)
             SELECT fingerprint, id FROM members WHERE id > 100;
             INSERT INTO retired_member_keys (fingerprint, member_id, cert, retired_at)
             SELECT printf('%040X', id + 1000000), id, randomblob(10), '{MADE_UNTIL}'
             FROM members WHERE id > 100;
             INSERT INTO acks (advisory_id, member_id, status, note, at)
             SELECT 3, id, 'received', NULL, '{MADE_UNTIL}' FROM members WHERE id > 100;
             COMMIT;"
        ),
    );
    let rows = row_counts(&db);

    let mut embargo = env.command();
    embargo.env("EMBARGO_TEST_NOW", MADE_UNTIL);
    let started = Instant::now();
    let out = Command::new("timeout")
        .args(["-s", "KILL", &BOUND.as_secs().to_string()])
        .arg(embargo.get_program())
        .args(["list", "ls", "--json"])
        .envs(embargo.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env_remove("EMBARGO_LOG")
        .current_dir(env.dir.path())
        .output()
        .expect("run timeout (coreutils)");
    let took = started.elapsed();
    eprintln!("migrating {MEMBERS} more members took {took:?}");
    assert!(
        out.status.success() && took < BOUND,
        "the first open failed or took {took:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lists: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list ls --json");
    assert_eq!(lists[0]["active_members"], 5 + MEMBERS);
    assert_sound(&db);
    assert_eq!(row_counts(&db), rows);
    // The indexes made for the migration alone are gone.
    assert_eq!(
        sqlite(
            &db,
            "SELECT name FROM sqlite_master WHERE name LIKE 'migration%';"
        ),
        ""
    );
}
