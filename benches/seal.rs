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
//! unless it was set (`common::quiet_backtraces` says why).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use embargo::app::seal::{Recipient, Sealed, Sealer, label};
use embargo::clock::FixedClock;
use embargo::compose::{Kind as MailKind, Rendered};
use embargo::pgp;
use embargo::roster::Email;

mod common;
use common::{init_list, list_config, peak_rss_mb};

/// Copies sealed per batch before they are handed on.
const BATCH: usize = 500;

fn main() -> Result<()> {
    common::quiet_backtraces();
    let full = common::full_run();
    let sizes: &[usize] = if full { &[1_000, 10_000] } else { &[50] };
    let dir = tempfile::tempdir()?;
    let (_, config) = list_config(dir.path(), "")?;
    let now = Utc::now();
    common::runtime()?.block_on(init_list(&config, &FixedClock(now), Vec::new()))?;
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
            peak_rss_mb(None).context("read peak RSS")?
        );
        if full && rates[0] < 1_500.0 {
            println!("  MISSES the 1,500 members/s one-core target");
        }
    }
    Ok(())
}
