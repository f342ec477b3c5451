//! Ingest benchmark: `embargo ingest` on a typical 10 KiB signed command
//! (PGP/MIME, an ACK with a quoted reply around it), timed as a whole
//! process run of the release binary, the way an MTA's pipe runs it. Each
//! run gets its own freshly signed message (a repeated one would be
//! refused as a replay, which is cheaper). The run includes verifying the
//! signature, recording the answer and sealing the encrypted reply.
//!
//!     cargo bench --bench ingest
//!
//! Under `cargo test --all-targets` it runs a 3-run smoke version.
//! Target (issue 5): under 30 ms.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use embargo::advisory::Severity;
use embargo::app::App;
use embargo::app::advisory::{AdvisoryInput, Force};
use embargo::app::roster::AddMember;
use embargo::clock::{Clock, SystemClock};
use embargo::pgp::{self, ListKey, ListSigner};
use embargo::roster::{Email, Kind, Role};

mod common;
use common::{count, init_list, list_config, ms};

fn main() -> Result<()> {
    let full = common::full_run();
    let runs = if full { 30 } else { 3 };
    common::runtime()?.block_on(bench(runs, full))
}

async fn bench(runs: usize, full: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (config_path, config) = list_config(dir.path(), "")?;
    let database = config.storage.database.clone();
    let now = SystemClock.now();
    let admin = init_list(&config, &SystemClock, vec![Role::Committer]).await?;
    let member = Email::parse("security@distro.example")?;
    let (member_cert, member_secret) = pgp::generate_member_key("Sam", &member, now)?;
    let app = App::open(config, Box::new(SystemClock)).await?;
    let added = app
        .add_member(AddMember {
            email: member.to_string(),
            name: "Sam".to_owned(),
            org: "Distro".to_owned(),
            kind: Kind::Distribution,
            cert: member_cert,
            sponsor: admin.to_string(),
            statement: None,
            roles: Vec::new(),
            by: None,
        })
        .await?;
    app.confirm_member(member.as_str(), &added.token).await?;
    let force = Force {
        force: true,
        reason: Some(embargo::text::Reason::parse("benchmark")?),
    };
    app.new_advisory(
        "BENCH-1",
        &AdvisoryInput {
            title: Some("Ingest benchmark".to_owned()),
            severity: Some(Severity::High),
            product: Some("bench".to_owned()),
            body: Some(b"Body.\n".to_vec()),
            disclose_at: Some(embargo::clock::format_instant(
                now + chrono::Duration::days(7),
            )),
            ..AdvisoryInput::default()
        },
        &force,
    )
    .await?;
    app.announce_advisory("BENCH-1", None, &force).await?;
    // Deliver the notice (into the maildir), so Sam's ACK is for an
    // advisory that reached him and is recorded, not refused.
    let app = std::sync::Arc::new(app);
    app.queue_run().await?;
    let app = std::sync::Arc::try_unwrap(app)
        .map_err(|_| anyhow::anyhow!("the app is still shared after the queue run"))?;
    app.close().await;

    let key = ListKey::read(&member_secret)?;
    let signer = ListSigner::new(&key, None, now)?;
    let messages: Vec<Vec<u8>> = (0..runs)
        .map(|run| signed_command(&signer, run, now))
        .collect::<Result<_>>()?;
    let size = messages[0].len();

    let binary = env!("CARGO_BIN_EXE_embargo");
    // The floor: an unsigned message, dropped after parsing (process start,
    // config, database open, MIME parse).
    let junk = b"From: someone@example.org\r\nSubject: hi\r\n\r\nCONFIRM X\r\n".to_vec();
    let mut floor = Vec::with_capacity(runs);
    for _ in 0..runs {
        floor.push(time_ingest(binary, &config_path, &junk)?);
    }
    floor.sort();
    let mut times = Vec::with_capacity(runs);
    for message in &messages {
        times.push(time_ingest(binary, &config_path, message)?);
    }
    let replies = count(
        &database,
        "SELECT count(*) FROM announcements WHERE kind = 'reply'",
    )?;
    if replies != runs as i64 {
        bail!("{replies} replies for {runs} commands: not every command was carried out");
    }
    // Each run's ACK updates Sam's one answer; a refused ACK stores none.
    let acks = count(&database, "SELECT count(*) FROM acks")?;
    if acks != 1 {
        bail!("{acks} stored answers: the ACKs were refused, not recorded");
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "embargo ingest, {size}-byte signed ACK, {runs} runs: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    println!(
        "  floor (an unsigned message dropped after parsing): median {:.1} ms",
        ms(floor[floor.len() / 2])
    );
    if full && median > Duration::from_millis(30) {
        println!("  MISSES the 30 ms target");
    }
    Ok(())
}

fn time_ingest(binary: &str, config: &std::path::Path, message: &[u8]) -> Result<Duration> {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("ingest")
        .env_remove("EMBARGO_TEST_NOW")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("run embargo ingest")?;
    child.stdin.take().context("stdin")?.write_all(message)?;
    let out = child.wait_with_output()?;
    let took = started.elapsed();

    if !out.status.success() {
        bail!("ingest failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(took)
}

/// A PGP/MIME signed ACK padded with quoted text to about 10 KiB.
fn signed_command(
    signer: &ListSigner,
    run: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>> {
    let mut text = format!(
        "Hi,\r\n\r\nList: security-announce@bench.example\r\nACK BENCH-1 not-affected run {run}: we ship 2.x only\r\n\r\nThanks,\r\nSam\r\n\r\n"
    );
    while text.len() < 10_000 {
        text.push_str("> On the notice you sent: this line quotes the embargoed advisory back, as mail clients do.\r\n");
    }
    let part = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{text}"
    );
    let signed = part.trim_end_matches("\r\n").as_bytes().to_vec();
    let signature = signer.sign_detached(&signed, now)?;
    let mut message = b"From: Sam <security@distro.example>\r\nTo: security-announce-request@bench.example\r\nSubject: ack\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; boundary=\"sig\"; micalg=pgp-sha512; protocol=\"application/pgp-signature\"\r\n\r\n--sig\r\n".to_vec();
    message.extend_from_slice(&signed);
    message.extend_from_slice(b"\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n");
    message.extend_from_slice(&signature);
    message.extend_from_slice(b"\r\n--sig--\r\n");
    Ok(message)
}
