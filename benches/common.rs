//! What the benchmarks share: the run mode, the runtime, a list with its
//! first admin, seeded members, `sqlite3` counts, peak memory and how times
//! are printed. Each bench includes it (`mod common;`) and uses only part
//! of it, so unused items are allowed here rather than in every bench.
//! (`Cargo.toml` sets `autobenches = false`, so this file is not a bench
//! of its own.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use embargo::app::App;
use embargo::app::init::{InitRequest, init};
use embargo::app::roster::AddMember;
use embargo::clock::Clock;
use embargo::config::Config;
use embargo::pgp;
use embargo::roster::{Email, Kind, Role};

/// The first admin of every bench list, and every member's sponsor.
pub const ADMIN: &str = "admin@bench.example";

/// Whether this is a real run (`cargo bench` passes `--bench`) rather than
/// the small smoke version `cargo test --all-targets` runs so that the
/// benchmark itself stays working.
pub fn full_run() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Turns off anyhow's backtrace capture unless it was asked for: with
/// `RUST_BACKTRACE=1` in the environment, every error sequoia creates and
/// handles internally captures a backtrace, which costs about 10% when
/// sealing; a daemon under systemd runs without it. Call it first, before
/// any thread exists.
pub fn quiet_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: called first in `main`: no other thread exists yet, so
        // nothing reads the environment concurrently.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
}

/// The single-threaded runtime the benches drive the library with.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Writes `embargo.toml` into `dir` for the bench list (data under
/// `dir/var`), with `extra` TOML sections after it, and loads it.
pub fn list_config(dir: &Path, extra: &str) -> Result<(PathBuf, Config)> {
    let path = dir.join("embargo.toml");
    std::fs::write(
        &path,
        format!(
            "[list]\naddress = \"security-announce@bench.example\"\n[storage]\ndata_dir = \"var\"\n{extra}"
        ),
    )?;
    let config = Config::load(Some(&path))?;
    Ok((path, config))
}

/// Makes the list, as `embargo init` does, with [`ADMIN`] as its first
/// admin (holding `extra_roles` too, committer to sponsor members).
pub async fn init_list(
    config: &Config,
    clock: &dyn Clock,
    extra_roles: Vec<Role>,
) -> Result<Email> {
    let admin = Email::parse(ADMIN)?;
    let (admin_cert, _) = pgp::generate_member_key("Admin", &admin, clock.now())?;
    init(
        config,
        clock,
        InitRequest {
            admin_email: admin.to_string(),
            admin_name: "Admin".to_owned(),
            admin_org: "Bench".to_owned(),
            admin_kind: Kind::Individual,
            admin_key: admin_cert,
            extra_roles,
            import_key: None,
            list_name: None,
        },
    )
    .await?;
    Ok(admin)
}

/// Adds the `i`th seeded member (their own address and key, one of 97
/// organisations), sponsored by [`ADMIN`]; answers the address and the
/// confirmation token.
pub async fn add_seeded_member(app: &App, i: usize, now: DateTime<Utc>) -> Result<(Email, String)> {
    let email = Email::parse(&format!("member{i:05}@org{}.example", i % 97))?;
    let (cert, _) = pgp::generate_member_key("Member", &email, now)?;
    let added = app
        .add_member(AddMember {
            email: email.to_string(),
            name: format!("Member {i}"),
            org: format!("Org {}", i % 97),
            kind: Kind::Vendor,
            cert,
            sponsor: ADMIN.to_owned(),
            statement: Some("benchmark".to_owned()),
            roles: Vec::new(),
            by: None,
        })
        .await?;
    Ok((email, added.token))
}

/// What `sqlite3` prints for `sql` on `database`.
pub fn sqlite(database: &Path, sql: &str) -> Result<String> {
    let out = Command::new("sqlite3")
        .arg(database)
        .arg(sql)
        .output()
        .context("run sqlite3")?;
    if !out.status.success() {
        bail!("sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A `SELECT count(*) …` on `database`.
pub fn count(database: &Path, sql: &str) -> Result<i64> {
    sqlite(database, sql)?
        .trim()
        .parse()
        .context("a count from sqlite3")
}

/// A process's peak resident set (VmHWM), in MB: `pid`'s, or this
/// process's own.
pub fn peak_rss_mb(pid: Option<u32>) -> Result<u64> {
    let process = pid.map_or_else(|| "self".to_owned(), |pid| pid.to_string());
    let status = std::fs::read_to_string(format!("/proc/{process}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM line")?;
    Ok(kb / 1024)
}

/// A duration in milliseconds, as the figures print it.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Postfix's `smtp-sink` on a free loopback port, stopped when dropped.
pub struct Sink {
    child: std::process::Child,
    pub port: u16,
}

impl Sink {
    pub fn start() -> Result<Self> {
        let binary = ["/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .context("smtp-sink not found: install postfix (bench/fanout does)")?;
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let mut child = Command::new(binary)
                .args(["-u", "nobody", &format!("127.0.0.1:{port}"), "1024"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("start smtp-sink")?;
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Self { child, port });
                }
                if child.try_wait()?.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("smtp-sink did not start")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
