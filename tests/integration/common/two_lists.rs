//! Two lists with a known shape and a canary in every advisory field,
//! for the foundation's view (`instance report`, the observers' digest):
//! what the counts must be, and strings that must never show.

use super::commands::command;
use super::{Env, NOW, Run, ingest, path, revoked_update, who};

/// The home list (the `[list]` table's) and the second list.
pub const HOME: &str = "security-announce";
pub const KERNEL: &str = "kernel";

/// The observer: on no roster.
pub const OBSERVER: &str = who::CAROL;

/// A unique string in every advisory field of both lists, and the
/// advisory ids (which are canaries too).
pub const HOME_ID: &str = "CanaryHomeId-7731";
pub const DRAFT_ID: &str = "CanaryDraftId-7732";
pub const KERNEL_ID: &str = "CanaryKernelId-7733";
pub const CANARIES: [&str; 24] = [
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
pub const MEMBERS: [&str; 4] = [who::ALICE, who::DAVE, who::ERIN, who::FRANK];

/// Runs `embargo --list LIST ARGS` at `at` and insists that it succeeds.
pub fn ok_in(env: &Env, list: &str, at: &str, args: &[&str]) -> Run {
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
pub fn two_lists() -> Env {
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
pub fn report_json(env: &Env, at: &str) -> serde_json::Value {
    let run = env.run_at(at, &["instance", "report", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("instance report --json")
}

/// Asserts that `text` holds no canary and no member's address.
pub fn assert_no_canary(what: &str, text: &str) {
    let lower = text.to_lowercase();
    for canary in CANARIES.iter().chain(MEMBERS.iter()) {
        assert!(
            !lower.contains(&canary.to_lowercase()),
            "{what} contains {canary}:\n{text}"
        );
    }
}
