//! `embargo ingest` under `/usr/bin/time`: peak memory, dropped, unchanged.

use std::io::Write as _;
use std::process::{Command, Stdio};

use super::{Env, who};

/// What one `embargo ingest` run did.
pub struct Ingested {
    pub code: i32,
    /// Peak resident set size, KiB, as GNU time reports it.
    pub rss_kib: u64,
    pub stderr: String,
}

/// Runs `embargo ingest` exactly as [`Env::command`] sets it up, under
/// `/usr/bin/time`, with `message` on stdin.
pub fn ingest_measured(env: &Env, message: &[u8]) -> Ingested {
    let base = env.command();
    let rss_file = env.dir.path().join("ingest.rss");
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(base.get_program())
        .args(base.get_args())
        .arg("ingest");
    if let Some(dir) = base.get_current_dir() {
        command.current_dir(dir);
    }
    for (name, value) in base.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run embargo ingest under /usr/bin/time");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = message.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait for ingest");
    let _ = writer.join();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "ingest panicked: {stderr}");
    let rss_kib = std::fs::read_to_string(&rss_file)
        .expect("GNU time's report")
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .expect("a peak RSS figure");
    Ingested {
        code: out.status.code().unwrap_or(-1),
        rss_kib,
        stderr,
    }
}

/// Alice (admin) and Dave (subscriber) active, mail delivered, with the
/// `[inbound]` settings `inbound` (TOML lines).
pub fn list_with(inbound: &str) -> Env {
    let env = Env::with_config(&format!("[inbound]\n{inbound}\n"));
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.ok(&["queue", "run"]);
    env
}

/// Ingests `message`, which must be taken (exit 0), dropped with a log
/// line holding `reason`, and change nothing; answers the peak RSS (KiB).
pub fn dropped_unchanged(env: &Env, what: &str, message: &[u8], reason: &str) -> u64 {
    let before = env.dump();
    let run = ingest_measured(env, message);
    assert_eq!(run.code, 0, "{what}: not taken: {}", run.stderr);
    assert!(
        run.stderr.contains("inbound message dropped") && run.stderr.contains(reason),
        "{what}: no drop for {reason:?} in the log:\n{}",
        run.stderr
    );
    assert_eq!(env.dump(), before, "{what}: the database changed");
    run.rss_kib
}
