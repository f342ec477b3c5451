//! Roster benchmark: `embargo member list --json` on a 10,000-member roster
//! and `embargo member add`, each timed as a whole process run of the
//! release binary, as an operator or a script would run them.
//!
//!     cargo bench --bench roster            # 10,000 members
//!     ROSTER_SIZE=50000 cargo bench --bench roster
//!     ROSTER_DIR=/tmp/roster cargo bench --bench roster   # keep and reuse the seeded list
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs a small
//! smoke version so the benchmark itself stays working.
//! Targets (issue 2): list under 50 ms, add under 20 ms.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use embargo::app::App;
use embargo::clock::{Clock, SystemClock};
use embargo::pgp;
use embargo::roster::{Email, Role};

mod common;
use common::{add_seeded_member, init_list, list_config, ms};

fn main() -> Result<()> {
    let full = common::full_run();
    let size: usize = match std::env::var("ROSTER_SIZE") {
        Ok(text) => text.parse().context("ROSTER_SIZE")?,
        Err(_) if full => 10_000,
        Err(_) => 100,
    };
    let runs = if full { 30 } else { 3 };
    common::runtime()?.block_on(bench(size, runs))
}

async fn bench(size: usize, runs: usize) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = match std::env::var_os("ROSTER_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => temp.path().to_path_buf(),
    };
    std::fs::create_dir_all(&dir)?;
    let (config_path, config) = list_config(&dir, "")?;
    let clock = SystemClock;
    let now = clock.now();
    if config.storage.database.exists() {
        // A kept list from an earlier run: drop the members the add timing
        // made, then time against it as it is.
        let app = App::open(config, Box::new(SystemClock)).await?;
        let size = app.list_members(None).await?.len() - 1;
        app.close().await;
        return time_cli(&dir, &config_path, size, runs, now).await;
    }
    init_list(&config, &clock, vec![Role::Committer]).await?;

    let started = Instant::now();
    let app = App::open(config, Box::new(SystemClock)).await?;
    for i in 0..size {
        add_seeded_member(&app, i, now).await?;
    }
    app.close().await;
    eprintln!(
        "seeded {size} members in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    time_cli(&dir, &config_path, size, runs, now).await
}

async fn time_cli(
    dir: &Path,
    config_path: &Path,
    size: usize,
    runs: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let binary = env!("CARGO_BIN_EXE_embargo");
    let list = time_runs(runs, || {
        let start = Instant::now();
        let out = Command::new(binary)
            .args(["--config"])
            .arg(config_path)
            .args(["member", "list", "--json"])
            .stdout(Stdio::piped())
            .output()?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            bail!(
                "member list failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
        if listed.len() != size + 1 {
            bail!(
                "member list printed {} members, expected {}",
                listed.len(),
                size + 1
            );
        }
        Ok(elapsed)
    })?;
    report(
        &format!("member list --json ({} members)", size + 1),
        &list,
        Duration::from_millis(50),
    );

    let mut keys = Vec::new();
    for i in 0..runs {
        let email = Email::parse(&format!("new{i}-{}@bench.example", now.timestamp_micros()))?;
        let (cert, _) = pgp::generate_member_key("New", &email, now)?;
        let path = dir.join(format!("new{i}.asc"));
        std::fs::write(&path, cert)?;
        keys.push((email, path));
    }
    let mut next = keys.iter();
    let add = time_runs(runs, || {
        let (email, key) = next.next().context("a key for each run")?;
        let start = Instant::now();
        let out = add_command(binary, config_path, email, key).output()?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            bail!(
                "member add failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(elapsed)
    })?;
    report(
        &format!("member add (roster of {})", size + 1),
        &add,
        Duration::from_millis(20),
    );
    Ok(())
}

fn add_command(binary: &str, config: &Path, email: &Email, key: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--config")
        .arg(config)
        .args([
            "member",
            "add",
            email.as_str(),
            "--name",
            "New",
            "--org",
            "Bench",
            "--kind",
            "vendor",
            "--key",
        ])
        .arg(key)
        .args(["--sponsor", common::ADMIN])
        .stdout(Stdio::null());
    command
}

fn time_runs(runs: usize, mut run: impl FnMut() -> Result<Duration>) -> Result<Vec<Duration>> {
    let mut times = (0..runs).map(|_| run()).collect::<Result<Vec<_>>>()?;
    times.sort();
    Ok(times)
}

fn report(what: &str, times: &[Duration], target: Duration) {
    let median = times[times.len() / 2];
    let verdict = if median <= target { "meets" } else { "MISSES" };
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} runs ({verdict} the {} ms target)",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len(),
        target.as_millis()
    );
}
