//! Fan-out benchmark: how long from an announcement's scheduled instant to
//! the last copy accepted by a real SMTP server (Postfix's `smtp-sink` on
//! loopback), with `embargo serve` (the release binary) as a child process,
//! and the daemon's peak RSS.
//!
//!     bench/fanout                      # 1,000 and 10,000 members
//!     FANOUT_SIZES=2000 bench/fanout
//!     FANOUT_DIR=/tmp/fanout bench/fanout   # keep and reuse the seeded lists
//!
//! The copies are sealed when the advisory is announced (before the
//! instant); the spread measured is the daemon's work at the instant: the
//! roster re-check and SMTP. The end is the last copy's `sent_at`, which the
//! daemon records after the server's 250 (so it is an upper bound).
//! Under `cargo test --all-targets` it runs a 30-member smoke version.
//! Targets (issue 4): 1,000 members within 2 s, 10,000 within 10 s, peak
//! RSS under 150 MB.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use embargo::app::App;
use embargo::app::advisory::{AdvisoryInput, Force};
use embargo::clock::{Clock, SystemClock};
use embargo::config::Config;
use embargo::roster::Role;

mod common;
use common::{Sink, add_seeded_member, count, init_list, list_config, peak_rss_mb, sqlite};

fn main() -> Result<()> {
    common::quiet_backtraces();
    let full = common::full_run();
    let sizes: Vec<usize> = match std::env::var("FANOUT_SIZES") {
        Ok(text) => text
            .split(',')
            .map(|s| s.trim().parse().context("FANOUT_SIZES"))
            .collect::<Result<_>>()?,
        Err(_) if full => vec![1_000, 10_000],
        Err(_) => vec![30],
    };
    let runtime = common::runtime()?;
    for size in sizes {
        runtime.block_on(bench(size, full))?;
    }
    Ok(())
}

async fn bench(size: usize, full: bool) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = match std::env::var_os("FANOUT_DIR") {
        Some(dir) => PathBuf::from(dir).join(size.to_string()),
        None => temp.path().to_path_buf(),
    };
    std::fs::create_dir_all(&dir)?;
    let sink = Sink::start()?;
    let concurrency = std::env::var("FANOUT_CONCURRENCY").unwrap_or_else(|_| "16".to_owned());
    let (config_path, config) = list_config(
        &dir,
        &format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             [delivery]\nconcurrency = {concurrency}\n",
            sink.port
        ),
    )?;
    if !config.storage.database.exists() {
        seed(&config, size).await?;
    }

    // Member mail from seeding (confirm, welcome) goes out first.
    let app = std::sync::Arc::new(App::open(config.clone(), Box::new(SystemClock)).await?);
    let started = Instant::now();
    let (_, flushed) = app.queue_run().await?;
    if flushed.sent > 0 {
        eprintln!(
            "  (member mail from seeding: {} copies sent in {:.1} s by `queue run`)",
            flushed.sent,
            started.elapsed().as_secs_f64()
        );
    }

    // The announcement, sealed now for an instant a little ahead.
    let now = SystemClock.now();
    let lead = chrono::Duration::seconds(5 + (size / 1000) as i64);
    let at = now + lead;
    let id = format!("BENCH-{}", now.format("%Y%m%d%H%M%S"));
    let body = b"Benchmark advisory body.\nSecond line.\n".to_vec();
    app.new_advisory(
        &id,
        &AdvisoryInput {
            title: Some("Fan-out benchmark".to_owned()),
            severity: Some(embargo::advisory::Severity::High),
            product: Some("bench".to_owned()),
            body: Some(body),
            disclose_at: Some(embargo::clock::format_instant(
                now + chrono::Duration::days(7),
            )),
            ..AdvisoryInput::default()
        },
        &Force {
            force: true,
            reason: Some(embargo::text::Reason::parse("benchmark")?),
        },
    )
    .await?;
    let sealing = Instant::now();
    app.announce_advisory(
        &id,
        Some(&embargo::clock::format_instant(at)),
        &Force {
            force: true,
            reason: Some(embargo::text::Reason::parse("benchmark")?),
        },
    )
    .await?;
    let sealed_in = sealing.elapsed();
    let sealed: i64 = count(
        &config.storage.database,
        &format!(
            "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             JOIN advisories v ON v.id = a.advisory_id WHERE v.ident = '{id}' AND d.state = 'queued'"
        ),
    )?;
    if SystemClock.now() >= at {
        bail!("sealing took longer than the lead ({lead}); raise it");
    }
    drop(app);

    let binary = env!("CARGO_BIN_EXE_embargo");
    let mut daemon = Command::new(binary)
        .arg("serve")
        .env("EMBARGO_CONFIG", &config_path)
        .env("EMBARGO_LOG", "warn")
        .env_remove("EMBARGO_TEST_NOW")
        .stdout(Stdio::null())
        .spawn()
        .context("start embargo serve")?;
    let deadline = Instant::now() + Duration::from_secs(120) + lead.to_std()?;
    let query = format!(
        "SELECT count(*), min(d.sent_at), max(d.sent_at) FROM deliveries d \
         JOIN announcements a ON a.id = d.announcement_id JOIN advisories v ON v.id = a.advisory_id \
         WHERE v.ident = '{id}' AND a.kind = 'notice' AND d.state = 'sent'"
    );
    let (first, last, peak) = loop {
        let row = sqlite(&config.storage.database, &query)?;
        let parts: Vec<&str> = row.trim().split('|').collect();
        let done: i64 = parts.first().and_then(|n| n.parse().ok()).unwrap_or(0);
        let peak = peak_rss_mb(Some(daemon.id())).unwrap_or(0);
        if done >= sealed {
            break (parse(parts[1])?, parse(parts[2])?, peak);
        }
        if Instant::now() > deadline {
            let _ = daemon.kill();
            bail!("only {done} of {sealed} copies were sent in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait()?;
    if !status.success() {
        bail!("embargo serve exited with {status}");
    }
    let spread = (last - at).num_milliseconds() as f64 / 1000.0;
    let early = (first - at).num_milliseconds();
    println!(
        "fan-out to {size} members ({sealed} copies, concurrency {concurrency}): sealed in {:.2} s before the instant; \
         first copy {early} ms after the instant, last {spread:.2} s after; {:.0} copies/s; daemon peak RSS {peak} MB",
        sealed_in.as_secs_f64(),
        sealed as f64 / spread.max(0.001)
    );
    if early < 0 {
        bail!("a copy went out {} ms before its instant", -early);
    }
    if full {
        let target = if size <= 1_000 {
            2.0
        } else {
            10.0 * size as f64 / 10_000.0
        };
        if spread > target {
            println!("  MISSES the {target:.0} s target");
        }
        if peak >= 150 {
            println!("  MISSES the 150 MB RSS target");
        }
    }
    Ok(())
}

async fn seed(config: &Config, size: usize) -> Result<()> {
    let clock = SystemClock;
    let now = clock.now();
    init_list(config, &clock, vec![Role::Committer]).await?;
    let started = Instant::now();
    let app = App::open(config.clone(), Box::new(SystemClock)).await?;
    for i in 0..size {
        let (email, token) = add_seeded_member(&app, i, now).await?;
        app.confirm_member(email.as_str(), &token).await?;
    }
    app.close().await;
    eprintln!(
        "  (seeded {size} active members in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn parse(text: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text.trim())
        .with_context(|| format!("a timestamp: {text:?}"))?
        .with_timezone(&Utc))
}
