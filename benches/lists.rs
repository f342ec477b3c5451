//! Many lists on PostgreSQL against one big list on SQLite (issue 11):
//! 100 lists of 100 members each, announced for the same instant and
//! served by two `embargo serve` processes sharing one PostgreSQL
//! database, against one list of 10,000 members on SQLite served by one
//! daemon, on the same machine in the same run. Each figure is the spread
//! from the instant to the last copy accepted by Postfix's `smtp-sink`
//! (the newest `sent_at`, recorded after the server's 250), and each
//! daemon's peak RSS.
//!
//!     bench/lists                                  # 100 × 100 against 1 × 10,000
//!     LISTS_SHAPE=20x50 bench/lists                # other shapes
//!     LISTS_KEEP=1 bench/lists                     # keep the PostgreSQL database
//!
//! `bench/lists` starts a throwaway PostgreSQL cluster and passes its
//! admin URL in `EMBARGO_BENCH_POSTGRES`; without it only the SQLite half
//! runs. Under `cargo test --benches` it runs a 3 × 5 smoke version.
//! Targets: the PostgreSQL spread within 1.5× the SQLite one; peak RSS
//! under 150 MB per daemon.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use embargo::app::App;
use embargo::app::advisory::{AdvisoryInput, Force};
use embargo::app::init::InitRequest;
use embargo::app::lists::{CreateList, Instance};
use embargo::clock::{Clock, SystemClock};
use embargo::roster::{Email, Kind, Role};

mod common;
use common::{ADMIN, Sink, add_seeded_member, init_list, list_config, peak_rss_mb, sqlite};

fn main() -> Result<()> {
    common::quiet_backtraces();
    let full = common::full_run();
    let (lists, members) = match std::env::var("LISTS_SHAPE") {
        Ok(text) => {
            let (l, m) = text
                .split_once('x')
                .context("LISTS_SHAPE is LISTSxMEMBERS")?;
            (l.trim().parse()?, m.trim().parse()?)
        }
        Err(_) if full => (100usize, 100usize),
        Err(_) => (3, 5),
    };
    let runtime = common::runtime()?;
    let sink = Sink::start()?;
    let single = runtime.block_on(sqlite_half(&sink, lists * members))?;
    println!(
        "1 list × {} members on SQLite, 1 daemon: last copy {:.2} s after the instant; peak RSS {} MB",
        lists * members,
        single.spread,
        single.peaks[0]
    );
    let Ok(admin_url) = std::env::var("EMBARGO_BENCH_POSTGRES") else {
        println!("(no EMBARGO_BENCH_POSTGRES: the PostgreSQL half did not run; use bench/lists)");
        return Ok(());
    };
    let many = runtime.block_on(postgres_half(&sink, &admin_url, lists, members))?;
    let ratio = many.spread / single.spread.max(0.001);
    println!(
        "{lists} lists × {members} members on PostgreSQL, 2 daemons: last copy {:.2} s after the instant ({ratio:.2}× the single list); peak RSS {} MB and {} MB",
        many.spread, many.peaks[0], many.peaks[1]
    );
    if full {
        if ratio > 1.5 {
            println!("  MISSES the 1.5× target");
        }
        if single.peaks.iter().chain(&many.peaks).any(|&mb| mb >= 150) {
            println!("  MISSES the 150 MB RSS target");
        }
    }
    Ok(())
}

/// One half's figures.
struct Figures {
    spread: f64,
    peaks: Vec<u64>,
}

/// Seconds of lead between announcing and the instant, enough to seal.
fn lead(copies: usize) -> chrono::Duration {
    chrono::Duration::seconds(5 + (copies / 800) as i64)
}

fn smtp(sink: &Sink) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        sink.port
    )
}

async fn sqlite_half(sink: &Sink, size: usize) -> Result<Figures> {
    let dir = tempfile::tempdir()?;
    let (config_path, config) = list_config(dir.path(), &smtp(sink))?;
    let clock = SystemClock;
    init_list(&config, &clock, vec![Role::Committer]).await?;
    let app = App::open(config.clone(), Box::new(SystemClock)).await?;
    seed(&app, 0, size).await?;
    let app = std::sync::Arc::new(app);
    app.queue_run().await?;
    let at = SystemClock.now() + lead(size);
    announce(&app, at).await?;
    drop(app);
    let count = |sql: &str| sqlite(&config.storage.database, sql);
    let expected = size + 1;
    let figures = serve_until_sent(&config_path, 1, at, expected, count)?;
    Ok(figures)
}

async fn postgres_half(
    sink: &Sink,
    admin_url: &str,
    lists: usize,
    members: usize,
) -> Result<Figures> {
    let name = format!("embargo_bench_{}", std::process::id());
    psql(admin_url, &format!("DROP DATABASE IF EXISTS {name}"))?;
    psql(admin_url, &format!("CREATE DATABASE {name}"))?;
    let url = database_url(admin_url, &name);
    let dir = tempfile::tempdir()?;
    let result = async {
        let (config_path, config) = list_config(
            dir.path(),
            &format!("{}[store]\nurl = \"{url}\"\n", smtp(sink)),
        )?;
        let clock = SystemClock;
        let seeding = Instant::now();
        init_list(&config, &clock, vec![Role::Committer]).await?;
        let instance = Instance::open(config.clone()).await?;
        for i in 1..lists {
            let (cert, _) =
                embargo::pgp::generate_member_key("Admin", &Email::parse(ADMIN)?, clock.now())?;
            instance
                .create_list(
                    &clock,
                    CreateList {
                        name: format!("list{i:03}"),
                        address: format!("list{i:03}@bench.example"),
                        request_address: None,
                        admin: InitRequest {
                            admin_email: ADMIN.to_owned(),
                            admin_name: "Admin".to_owned(),
                            admin_org: "Bench".to_owned(),
                            admin_kind: Kind::Individual,
                            admin_key: cert,
                            extra_roles: vec![Role::Committer],
                            import_key: None,
                            list_name: Some(format!("list{i:03}")),
                        },
                    },
                )
                .await?;
        }
        let rows = instance.lists().await?;
        let mut apps = Vec::new();
        for (n, row) in rows.iter().enumerate() {
            let app = instance.app(row, Box::new(SystemClock)).await?;
            seed(&app, n * members, members).await?;
            apps.push(std::sync::Arc::new(app));
        }
        for app in &apps {
            app.queue_run().await?;
        }
        eprintln!(
            "  (seeded {lists} lists of {members} members on PostgreSQL in {:.1} s)",
            seeding.elapsed().as_secs_f64()
        );
        let at = SystemClock.now() + lead(lists * members);
        for app in &apps {
            announce(app, at).await?;
        }
        drop(apps);
        instance.close().await;
        let count = |sql: &str| psql(&url, sql);
        serve_until_sent(&config_path, 2, at, lists * (members + 1), count)
    }
    .await;
    if std::env::var_os("LISTS_KEEP").is_some() {
        eprintln!("  (LISTS_KEEP: the database {name} is kept)");
    } else {
        let _ = psql(
            admin_url,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
    result
}

/// Adds `count` active members, numbered from `first`.
async fn seed(app: &App, first: usize, count: usize) -> Result<()> {
    let now = SystemClock.now();
    for i in first..first + count {
        let (email, token) = add_seeded_member(app, i, now).await?;
        app.confirm_member(email.as_str(), &token).await?;
    }
    Ok(())
}

/// A new advisory, announced (sealed now) for the instant `at`.
async fn announce(app: &App, at: DateTime<Utc>) -> Result<()> {
    let now = SystemClock.now();
    let force = Force {
        force: true,
        reason: Some(embargo::text::Reason::parse("benchmark")?),
    };
    app.new_advisory(
        "BENCH-1",
        &AdvisoryInput {
            title: Some("Lists benchmark".to_owned()),
            severity: Some(embargo::advisory::Severity::High),
            product: Some("bench".to_owned()),
            body: Some(b"Benchmark advisory body.\n".to_vec()),
            disclose_at: Some(embargo::clock::format_instant(
                now + chrono::Duration::days(7),
            )),
            ..AdvisoryInput::default()
        },
        &force,
    )
    .await?;
    app.announce_advisory("BENCH-1", Some(&embargo::clock::format_instant(at)), &force)
        .await?;
    if SystemClock.now() >= at {
        bail!("sealing took longer than the lead; raise it");
    }
    Ok(())
}

/// Starts `daemons` `embargo serve` processes and waits until `expected`
/// notices are sent; answers the spread from `at` and each peak RSS.
fn serve_until_sent(
    config: &Path,
    daemons: usize,
    at: DateTime<Utc>,
    expected: usize,
    query: impl Fn(&str) -> Result<String>,
) -> Result<Figures> {
    let mut children: Vec<Child> = (0..daemons)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_embargo"))
                .arg("serve")
                .env("EMBARGO_CONFIG", config)
                .env("EMBARGO_LOG", "warn")
                .env_remove("EMBARGO_TEST_NOW")
                .stdout(Stdio::null())
                .spawn()
                .context("start embargo serve")
        })
        .collect::<Result<_>>()?;
    let sql = "SELECT count(*), max(d.sent_at) FROM deliveries d \
               JOIN announcements a ON a.id = d.announcement_id \
               WHERE a.kind = 'notice' AND d.state = 'sent'";
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut peaks = vec![0; daemons];
    let last = loop {
        for (peak, child) in peaks.iter_mut().zip(&children) {
            *peak = (*peak).max(peak_rss_mb(Some(child.id())).unwrap_or(0));
        }
        let row = query(sql)?;
        let parts: Vec<&str> = row.trim().split('|').collect();
        let done: usize = parts.first().and_then(|n| n.parse().ok()).unwrap_or(0);
        if done >= expected {
            break parse(parts.get(1).copied().unwrap_or_default())?;
        }
        if Instant::now() > deadline {
            for child in &mut children {
                let _ = child.kill();
            }
            bail!("only {done} of {expected} notices were sent in time");
        }
        // The figures come from the recorded `sent_at`, not from when
        // this loop notices: polling less often takes less CPU from the
        // daemons being measured (each psql call starts a server process).
        std::thread::sleep(Duration::from_millis(250));
    };
    for child in &mut children {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    for child in &mut children {
        let status = child.wait()?;
        if !status.success() {
            bail!("embargo serve exited with {status}");
        }
    }
    let duplicates = query(
        "SELECT count(*) FROM (SELECT d.recipient, a.list_id FROM deliveries d \
         JOIN announcements a ON a.id = d.announcement_id WHERE a.kind = 'notice' \
         GROUP BY a.list_id, d.recipient HAVING count(*) > 1) AS twice",
    )?;
    if duplicates.trim() != "0" {
        bail!("{} recipients have two notices", duplicates.trim());
    }
    // Where the time went: the first copy, the median, the 90th.
    let times = query(
        "SELECT d.sent_at FROM deliveries d JOIN announcements a \
         ON a.id = d.announcement_id WHERE a.kind = 'notice' ORDER BY d.sent_at",
    )?;
    let times: Vec<&str> = times.lines().collect();
    let after = |i: usize| -> Result<f64> {
        let t = parse(times.get(i).copied().unwrap_or_default())?;
        Ok((t - at).num_milliseconds() as f64 / 1000.0)
    };
    if !times.is_empty() {
        eprintln!(
            "  (first copy {:.2} s after the instant, half by {:.2} s, 90% by {:.2} s)",
            after(0)?,
            after(times.len() / 2)?,
            after(times.len() * 9 / 10)?
        );
    }
    Ok(Figures {
        spread: (last - at).num_milliseconds() as f64 / 1000.0,
        peaks,
    })
}

/// Runs SQL through `psql` (unaligned, `|`-separated, as `sqlite3`).
fn psql(url: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-At",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .output()
        .context("run psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The admin URL with its database replaced by `name`.
fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    format!("{base}/{name}{query}")
}

fn parse(text: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text.trim())
        .with_context(|| format!("a timestamp: {text:?}"))?
        .with_timezone(&Utc))
}
