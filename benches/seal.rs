//! Sealing benchmark: one 4 KiB announcement signed once and encrypted to
//! 1,000 and 10,000 members, on one core and on two, with peak memory.
//!
//!     cargo bench --bench seal
//!
//! Targets (issue 3): at least 1,500 members/s on one core, near-linear on
//! two, peak RSS under 150 MB at 10,000. Under `cargo test --all-targets`
//! it runs a small smoke version.
//!
//! Sealed copies are taken in batches of 500 and then let go, as the
//! outbox will store them, so memory stays flat however large the roster.
//! The benchmark turns off anyhow's backtrace capture (`RUST_LIB_BACKTRACE=0`)
//! unless it was set: with `RUST_BACKTRACE=1` in the environment, every
//! error sequoia creates and handles internally captures a backtrace, which
//! costs about 10% here; a daemon under systemd runs without it.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use embargo::app::init::{InitRequest, init};
use embargo::app::seal::{Recipient, Sealed, Sealer, label};
use embargo::clock::FixedClock;
use embargo::compose::{Kind as MailKind, Rendered};
use embargo::config::Config;
use embargo::pgp;
use embargo::roster::{Email, Kind};

/// Copies sealed per batch before they are handed on.
const BATCH: usize = 500;

fn main() -> Result<()> {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet; nothing reads the environment
        // concurrently.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let full = std::env::args().any(|arg| arg == "--bench");
    let sizes: &[usize] = if full { &[1_000, 10_000] } else { &[50] };
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("embargo.toml");
    std::fs::write(
        &config_path,
        "[list]\naddress = \"security-announce@bench.example\"\n",
    )?;
    let config = Config::load(Some(&config_path))?;
    let now = Utc::now();
    let admin = Email::parse("admin@bench.example")?;
    let (admin_cert, _) = pgp::generate_member_key("Admin", &admin, now)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(init(
        &config,
        &FixedClock(now),
        InitRequest {
            admin_email: admin.to_string(),
            admin_name: "Admin".to_owned(),
            admin_org: "Bench".to_owned(),
            admin_kind: Kind::Individual,
            admin_key: admin_cert,
            extra_roles: Vec::new(),
            import_key: None,
        },
    ))?;
    let sealer = Sealer::from_config(&config, now)?;

    // Distinct member certificates, cycled: the cost per member is parsing
    // the stored certificate and encrypting to it, whoever it is. They are
    // stored as the roster stores them: cleaned and binary.
    let policy = pgp::CertPolicy::default();
    let pool_size = if full { 200 } else { 10 };
    let pool: Vec<(Email, Vec<u8>)> = (0..pool_size)
        .map(|i| {
            let email = Email::parse(&format!("member{i}@org{i}.example"))?;
            let (armored, _) = pgp::generate_member_key("Member", &email, now)?;
            let stored = pgp::check_member_cert(&armored, &email, &policy, now)?.bytes;
            Ok((email, stored))
        })
        .collect::<Result<_>>()?;
    let paragraph = "A crafted Frob-Header with an overlong length field overflows a heap buffer in frobnicate(). ";
    let body: String = paragraph
        .repeat(4096 / paragraph.len() + 1)
        .chars()
        .take(4096)
        .collect();
    let rendered = Rendered {
        subject: "[DF-2026-0001] EMBARGOED: Heap overflow in frobnicate()".to_owned(),
        body,
    };

    for &size in sizes {
        let recipients: Vec<Recipient> = (0..size)
            .map(|i| {
                let (email, cert) = &pool[i % pool.len()];
                Recipient {
                    email: email.clone(),
                    fingerprint: format!("{i:040X}"),
                    cert: cert.clone(),
                }
            })
            .collect();
        let mut rates = Vec::new();
        for threads in [1, 2] {
            let workers = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let start = Instant::now();
            let (ok, bytes) = workers.install(|| -> Result<(usize, usize)> {
                let entity = sealer.sign(&rendered)?;
                let mut ok = 0;
                let mut bytes = 0;
                let label = label("DF-2026-0001", 1, MailKind::Notice);
                for batch in recipients.chunks(BATCH) {
                    for sealed in sealer.seal(&entity, batch, "bench-key", &label) {
                        if let Sealed::Message { bytes: message, .. } = sealed {
                            ok += 1;
                            bytes += message.len();
                        }
                    }
                }
                Ok((ok, bytes))
            })?;
            let elapsed = start.elapsed().as_secs_f64();
            if ok != size {
                bail!("only {ok} of {size} sealed");
            }
            let rate = size as f64 / elapsed;
            rates.push(rate);
            println!(
                "seal {size} members on {threads} core(s): {elapsed:.2} s, {rate:.0} members/s, {} KiB per copy",
                bytes / ok / 1024
            );
        }
        println!(
            "  two cores vs one: {:.2}x; peak RSS so far {} MB",
            rates[1] / rates[0],
            peak_rss_mb().context("read peak RSS")?
        );
        if full && rates[0] < 1_500.0 {
            println!("  MISSES the 1,500 members/s one-core target");
        }
    }
    Ok(())
}

/// The process's peak resident set (VmHWM), in MB.
fn peak_rss_mb() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM line")?;
    Ok(kb / 1024)
}
