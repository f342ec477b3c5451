//! A fuzzing harness for the reading half of `embargo ingest`: the
//! inbound-mail parser (`mail::read_inbound`, `mail::signed_content`), the
//! OpenPGP checks it leads to (`pgp::signature_issuers`,
//! `pgp::verify_signed`, `pgp::open_cleartext`, `pgp::open_encrypted`), the
//! command reader (`inbound::parse`) and bounce addresses
//! (`inbound::verp::check`). It looks for panics and hangs; it does not
//! judge what the functions answer.
//!
//! ```text
//! RUST_LIB_BACKTRACE=0 cargo run --release --example fuzz_ingest -- --minutes 30
//! cargo run --release --example fuzz_ingest -- --replay tests/data/fuzz-corpus/crash-*.eml
//! ```
//!
//! Flags: `--minutes N` (default 10, fractions allowed), `--seed S` (the
//! mutator's seed, default 1), `--corpus DIR` (default
//! `tests/data/fuzz-corpus`), `--timeout-secs N` (per input, default 2),
//! `--keep-going` (do not stop at the first crash or hang), `--replay
//! FILE…` (run the target once per file, in process, and print what it
//! saw).
//!
//! There is no libFuzzer on stable Rust, so this is a plain program:
//!
//! - Seeds are `tests/data/inbound/*.eml`, the `*.eml` kept in the corpus
//!   directory by earlier runs, and messages built here: PGP/MIME signed,
//!   signed and encrypted, and cleartext-signed by GnuPG (run once at
//!   start, when it is installed), the same shapes with garbage signatures,
//!   delivery status notifications to VERP addresses, and command texts.
//! - Mutations come from a SplitMix64 generator seeded by `--seed`: bit and
//!   byte changes, inserted, deleted and duplicated ranges, splices, MIME
//!   and OpenPGP tokens, long lines, repeated header blocks, parts nested
//!   in themselves, re-encoded ranges and ASCII-armor blocks decoded,
//!   mutated and re-armored with a correct checksum (so the packet parser,
//!   not the armor reader, sees the damage).
//! - Without coverage instrumentation, an input is kept when it shows a new
//!   *outcome feature*: the `Inbound` variant or `Dropped` reason, each
//!   OpenPGP function's result (error text with digits blanked), what the
//!   signed content held, how many commands of each kind were read, and a
//!   size bucket.
//! - The target runs in a worker process (this program again, with
//!   `--worker`), fed through a pipe. A panic is caught there and reported;
//!   a stack overflow or abort kills only the worker; an input that runs
//!   past the deadline is killed with it. The parent holds every input, so
//!   each of these is saved: `crash-<hash>.eml` (with the message in
//!   `crash-<hash>.txt`) or `slow-<hash>.eml`. The run then stops (or, with
//!   `--keep-going`, starts a new worker) and exits with status 1.
//!
//! At the end the corpus is minimised (smallest inputs first, each kept
//! only if it adds a feature; at most 300 files and 3 MB) and written to
//! the corpus directory as `<hash>.eml`, with a README saying how the run
//! went. The keys the signed seeds use are kept in `keys/` there (made
//! once, with a fixed clock) so a kept input still verifies on the next run.
//!
//! Sequoia's errors are `anyhow` errors: with `RUST_BACKTRACE` set, each
//! would capture a backtrace, which costs about 10%. The worker is started
//! with `RUST_LIB_BACKTRACE=0` unless the variable is already set.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Display;
use std::io::{BufWriter, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;

#[path = "fuzz_ingest/bombs.rs"]
mod bombs;
use chrono::{DateTime, Utc};
use embargo::inbound::{self, verp};
use embargo::mail::{self, Dropped, Inbound, Limits};
use embargo::pgp::{self, ListKey};
use embargo::roster::Email;
use sha2::{Digest, Sha256};

/// The limits `embargo ingest` uses by default.
const LIMITS: Limits = Limits {
    max_bytes: 10 << 20,
    max_depth: 20,
    max_parts: 500,
    max_headers: 1000,
    max_header_bytes: 64 * 1024,
};
/// The OpenPGP bounds `embargo ingest` derives from those limits.
const BOUNDS: pgp::Bounds = pgp::Bounds {
    max_bytes: 10 << 20,
    max_depth: 8,
    max_packets: 65536,
};
/// Mutants are cut to this size: bigger inputs only slow the run down.
const MAX_INPUT: usize = 1 << 20;
/// The fixed clock: keys are made at 2026-01-01T00:00:00Z, GnuPG signs an
/// hour later, signatures are checked an hour after that.
const KEYS_MADE: i64 = 1_767_225_600;
const GPG_TIME: &str = "20260101T010000!";
const VERIFY_AT: i64 = KEYS_MADE + 2 * 3600;
const MEMBER: &str = "member@fuzz.example";
const LIST: &str = "security-announce@fuzz.example";
const LIST_REQUEST: &str = "security-announce-request@fuzz.example";
const BOUNCE_LOCAL: &str = "list";
const BOUNCE_DOMAIN: &str = "example.org";
const BOUNCE_SECRET: &[u8] = b"fuzz-bounce-secret";
const KEEP_FILES: usize = 300;
const KEEP_BYTES: usize = 3 << 20;
/// An input whose worker's peak memory passes this is a finding, saved as
/// `big-<hash>.eml`.
const MAX_RSS: u64 = 100 << 20;
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!(
                "usage: fuzz_ingest [--minutes N] [--seed S] [--corpus DIR] [--timeout-secs N] [--keep-going] [--replay FILE...]"
            );
            return ExitCode::from(2);
        }
    };
    let result = match &args.mode {
        Mode::Worker => worker_main(&args.corpus),
        Mode::Replay(files) => replay(&args.corpus, files),
        Mode::Fuzz => fuzz(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------
// Arguments

enum Mode {
    Fuzz,
    Worker,
    Replay(Vec<PathBuf>),
}

struct Args {
    minutes: f64,
    seed: u64,
    corpus: PathBuf,
    timeout: Duration,
    keep_going: bool,
    mode: Mode,
}

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Args {
            minutes: 10.0,
            seed: 1,
            corpus: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-corpus"),
            timeout: Duration::from_secs(2),
            keep_going: false,
            mode: Mode::Fuzz,
        };
        while let Some(flag) = argv.next() {
            let mut value = |what: &str| argv.next().ok_or_else(|| format!("{flag} needs {what}"));
            match flag.as_str() {
                "--minutes" => {
                    args.minutes = value("a number")?
                        .parse()
                        .map_err(|_| "--minutes needs a number".to_owned())?;
                }
                "--seed" => {
                    args.seed = value("a number")?
                        .parse()
                        .map_err(|_| "--seed needs a whole number".to_owned())?;
                }
                "--corpus" => args.corpus = PathBuf::from(value("a directory")?),
                "--timeout-secs" => {
                    let secs: f64 = value("a number")?
                        .parse()
                        .map_err(|_| "--timeout-secs needs a number".to_owned())?;
                    args.timeout = Duration::from_secs_f64(secs.max(0.01));
                }
                "--keep-going" => args.keep_going = true,
                "--worker" => args.mode = Mode::Worker,
                "--replay" => {
                    args.mode = Mode::Replay(argv.by_ref().map(PathBuf::from).collect());
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if !(args.minutes.is_finite() && args.minutes >= 0.0) {
            return Err("--minutes must be zero or more".to_owned());
        }
        Ok(args)
    }
}

// ---------------------------------------------------------------------------
// Keys and the fixed clock

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("a fixed time in range")
}

fn email(text: &str) -> Email {
    Email::parse(text).expect("a fixed, valid address")
}

/// The member's and the list's keys, as files in `<corpus>/keys`.
struct Keys {
    member_secret: Vec<u8>,
    member_cert: Vec<u8>,
    list_secret: Vec<u8>,
    list: ListKey,
}

impl Keys {
    fn paths(corpus: &Path) -> (PathBuf, PathBuf) {
        let dir = corpus.join("keys");
        (dir.join("member-secret.asc"), dir.join("list-secret.asc"))
    }

    fn load(corpus: &Path) -> Result<Self, String> {
        let (member, list) = Self::paths(corpus);
        let read = |path: &Path| {
            std::fs::read(path).map_err(|err| format!("read {}: {err}", path.display()))
        };
        let member_secret = read(&member)?;
        let list_secret = read(&list)?;
        let member_cert = pgp::public_cert_armored(&member_secret)
            .map_err(|err| format!("{}: {err}", member.display()))?;
        let list =
            ListKey::read(&list_secret).map_err(|err| format!("{}: {err}", list.display()))?;
        Ok(Self {
            member_secret,
            member_cert,
            list_secret,
            list,
        })
    }

    /// Loads the keys, making and writing them on the first run.
    fn load_or_make(corpus: &Path) -> Result<Self, String> {
        let (member, list) = Self::paths(corpus);
        if member.exists() && list.exists() {
            return Self::load(corpus);
        }
        let made = at(KEYS_MADE);
        let (_, member_secret) = pgp::generate_member_key("Fuzz Member", &email(MEMBER), made)
            .map_err(|err| format!("make the member key: {err}"))?;
        let list_key =
            ListKey::generate("Fuzz List", &email(LIST), &email(LIST_REQUEST), None, made)
                .map_err(|err| format!("make the list key: {err}"))?;
        let list_secret = list_key
            .to_secret_armored()
            .map_err(|err| format!("write the list key: {err}"))?;
        let dir = member.parent().expect("keys/ has a parent");
        std::fs::create_dir_all(dir).map_err(|err| format!("create {}: {err}", dir.display()))?;
        for (path, bytes) in [(&member, &member_secret), (&list, &list_secret)] {
            std::fs::write(path, bytes)
                .map_err(|err| format!("write {}: {err}", path.display()))?;
        }
        Self::load(corpus)
    }
}

/// What the target needs besides the input.
struct Fixture {
    cert: Vec<u8>,
    list_key: ListKey,
    now: DateTime<Utc>,
}

impl Fixture {
    fn new(keys: &Keys) -> Self {
        Self {
            cert: keys.member_cert.clone(),
            list_key: keys.list.clone(),
            now: at(VERIFY_AT),
        }
    }
}

// ---------------------------------------------------------------------------
// The target

/// Outcome features of one run: `name=value` strings.
#[derive(Default)]
struct Features(Vec<String>);

impl Features {
    fn add(&mut self, name: &str, value: impl Display) {
        self.0.push(format!("{name}={value}"));
    }
}

/// 0, 1, 2, 3, then powers of two.
fn bucket(n: usize) -> String {
    if n < 4 {
        n.to_string()
    } else {
        format!("2^{}", usize::BITS - 1 - n.leading_zeros())
    }
}

/// An error message with its numbers and key IDs blanked and its length
/// cut, so that offsets, lengths and issuers do not make every error new.
fn shape(error: impl Display) -> String {
    let text: String = error.to_string().chars().take(100).collect();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        if !c.is_ascii_alphanumeric() {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let word = &rest[..end];
        if word.len() >= 8 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push('H');
        } else {
            let mut in_digits = false;
            for c in word.chars() {
                if !c.is_ascii_digit() {
                    out.push(c);
                } else if !in_digits {
                    out.push('#');
                }
                in_digits = c.is_ascii_digit();
            }
        }
        rest = &rest[end..];
    }
    out
}

fn dropped_name(dropped: &Dropped) -> &'static str {
    match dropped {
        Dropped::TooLarge(_) => "too-large",
        Dropped::TooDeep(_) => "too-deep",
        Dropped::TooManyParts(_) => "too-many-parts",
        Dropped::TooManyHeaders(_) => "too-many-headers",
        Dropped::HeaderTooLarge(_) => "header-too-large",
        Dropped::EncodedContainer => "encoded-container",
        Dropped::Unparsable => "unparsable",
    }
}

fn inbound_name(inbound: &Inbound) -> &'static str {
    match inbound {
        Inbound::Signed { .. } => "signed",
        Inbound::Encrypted { .. } => "encrypted",
        Inbound::Cleartext { .. } => "cleartext",
        Inbound::Bounce { .. } => "bounce",
        Inbound::Unsigned => "unsigned",
    }
}

/// The whole chain `embargo ingest` runs on a message, short of the
/// database: every branch is taken whatever the signature says.
fn target(fixture: &Fixture, bytes: &[u8], f: &mut Features) {
    let size = bucket(bytes.len());
    f.add("size", &size);
    match mail::read_inbound(bytes, &LIMITS) {
        Ok(inbound) => {
            f.add("inbound", inbound_name(&inbound));
            f.add(inbound_name(&inbound), format!("size {size}"));
            follow(fixture, inbound, 0, f);
        }
        Err(dropped) => f.add("dropped", dropped_name(&dropped)),
    }
    // Command extraction on arbitrary text.
    commands("raw", &String::from_utf8_lossy(bytes), f);
}

fn follow(fixture: &Fixture, inbound: Inbound, depth: u8, f: &mut Features) {
    match inbound {
        Inbound::Signed { signed, signature } => {
            match pgp::signature_issuers(&signature, &BOUNDS) {
                Ok(issuers) => f.add("issuers", bucket(issuers.handles.len())),
                Err(err) => f.add("issuers", shape(err)),
            }
            match pgp::verify_signed(&fixture.cert, &signed, &signature, fixture.now, &BOUNDS) {
                Ok(_) => f.add("verify", "good"),
                Err(err) => f.add("verify", shape(err)),
            }
            content("signed", &signed, f);
        }
        Inbound::Encrypted { payload } => encrypted(fixture, &payload, depth, f),
        Inbound::Cleartext { armored } => {
            let first = pgp::open_cleartext(&armored, None, fixture.now, &BOUNDS);
            match &first {
                Ok(opened) => f.add("clear.issuers", bucket(opened.issuers.handles.len())),
                Err(err) => f.add("clear.issuers", shape(err)),
            }
            match pgp::open_cleartext(&armored, Some(&fixture.cert), fixture.now, &BOUNDS) {
                Ok(opened) => {
                    f.add("clear.verified", opened.verified.is_some());
                    commands("clear", &String::from_utf8_lossy(&opened.content), f);
                }
                Err(err) => f.add("clear.verify", shape(err)),
            }
        }
        Inbound::Bounce { recipients, status } => {
            f.add("bounce.recipients", bucket(recipients.len()));
            f.add(
                "bounce.status",
                status.as_deref().map_or("none", status_class),
            );
            for recipient in &recipients {
                let found = verp::check(recipient, BOUNCE_LOCAL, BOUNCE_DOMAIN, BOUNCE_SECRET);
                f.add("verp", found.map_or("none", |_| "ours"));
            }
        }
        Inbound::Unsigned => {}
    }
}

fn status_class(status: &str) -> &'static str {
    match status.trim().as_bytes().first() {
        Some(b'5') => "5",
        Some(b'4') => "4",
        Some(b'2') => "2",
        Some(_) => "other",
        None => "empty",
    }
}

/// A signed, then encrypted message (one pass or two layers, as
/// `authenticate` reads them).
fn encrypted(fixture: &Fixture, payload: &[u8], depth: u8, f: &mut Features) {
    let first =
        match pgp::open_encrypted(&fixture.list_key, None, payload, None, fixture.now, &BOUNDS) {
            Ok(opened) => opened,
            Err(err) => return f.add("enc.open", shape(err)),
        };
    f.add("enc.issuers", bucket(first.issuers.handles.len()));
    if first.issuers.handles.is_empty() {
        if depth > 0 {
            return;
        }
        match mail::read_inbound(&first.content, &LIMITS) {
            Ok(inner) => {
                f.add("enc.inner", inbound_name(&inner));
                if matches!(inner, Inbound::Signed { .. }) {
                    follow(fixture, inner, depth + 1, f);
                }
            }
            Err(dropped) => f.add("enc.inner", dropped_name(&dropped)),
        }
        return;
    }
    let opened = pgp::open_encrypted(
        &fixture.list_key,
        None,
        payload,
        Some(&fixture.cert),
        fixture.now,
        &BOUNDS,
    );
    match opened {
        Ok(opened) => {
            f.add("enc.verified", opened.verified.is_some());
            content("enc", &opened.content, f);
        }
        Err(err) => f.add("enc.verify", shape(err)),
    }
}

/// What a signed entity holds, and the commands in its text.
fn content(context: &str, entity: &[u8], f: &mut Features) {
    match mail::signed_content(entity, &LIMITS) {
        Ok(content) => {
            f.add(
                &format!("{context}.content"),
                format!(
                    "text {} keys {} to {}",
                    bucket(content.text.len()),
                    bucket(content.keys.len()),
                    bucket(content.to.len())
                ),
            );
            for key in &content.keys {
                match pgp::check_bounds(key, &BOUNDS).and_then(|()| pgp::fingerprint_of(key)) {
                    Ok(_) => f.add(&format!("{context}.key"), "read"),
                    Err(err) => f.add(&format!("{context}.key"), shape(err)),
                }
            }
            commands(context, &content.text, f);
        }
        Err(dropped) => f.add(&format!("{context}.content"), dropped_name(&dropped)),
    }
}

fn commands(context: &str, text: &str, f: &mut Features) {
    let parsed = inbound::parse(text);
    assert!(
        parsed.commands.len() <= inbound::MAX_COMMANDS,
        "inbound::parse returned {} commands",
        parsed.commands.len()
    );
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for command in &parsed.commands {
        let kind = match command {
            inbound::Command::Sponsor {
                name,
                org,
                kind,
                statement,
                ..
            } => {
                let fields = [name, org, kind, statement];
                format!("SPONSOR+{}", fields.iter().filter(|x| x.is_some()).count())
            }
            inbound::Command::Ack { status, note, .. } => {
                format!(
                    "ACK:{}{}",
                    status.as_str(),
                    if note.is_some() { "+note" } else { "" }
                )
            }
            other => other.name().to_owned(),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    for (kind, count) in kinds {
        f.add(&format!("{context}.cmd.{kind}"), bucket(count));
    }
    f.add(
        &format!("{context}.malformed"),
        bucket(parsed.malformed.len()),
    );
    f.add(&format!("{context}.list"), parsed.list.is_some());
}

// ---------------------------------------------------------------------------
// The worker process

/// The last panic's message and place, set by the worker's panic hook.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

const REPLY_DONE: u8 = 0;
const REPLY_PANIC: u8 = 1;

/// Reads inputs from stdin (a little-endian u32 length, then the bytes)
/// and answers each on stdout: a kind byte, the time taken in nanoseconds
/// (u64), then a u32 length and the features (one per line) or the panic
/// message.
fn worker_main(corpus: &Path) -> Result<ExitCode, String> {
    let fixture = Fixture::new(&Keys::load(corpus)?);
    panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{message}{place}"));
    }));
    let mut stdin = std::io::stdin().lock();
    let mut stdout = BufWriter::new(std::io::stdout().lock());
    loop {
        let mut length = [0u8; 4];
        if stdin.read_exact(&mut length).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        let mut input = vec![0u8; u32::from_le_bytes(length) as usize];
        stdin
            .read_exact(&mut input)
            .map_err(|err| format!("worker: read an input: {err}"))?;
        reset_peak_rss();
        let started = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut features = Features::default();
            target(&fixture, &input, &mut features);
            features
        }));
        let nanos = started.elapsed().as_nanos() as u64;
        let rss = peak_rss();
        let (kind, body) = match result {
            Ok(features) => (REPLY_DONE, features.0.join("\n")),
            Err(_) => {
                let message = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
                (REPLY_PANIC, message.unwrap_or_default())
            }
        };
        if write_reply(&mut stdout, kind, nanos, rss, &body).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// Resets the worker's peak resident set size (VmHWM) to what it holds
/// now, so that the peak read after an input is that input's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The worker's peak resident set size since the last reset, in bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib * 1024)
}

fn write_reply(
    to: &mut impl Write,
    kind: u8,
    nanos: u64,
    rss: u64,
    body: &str,
) -> std::io::Result<()> {
    to.write_all(&[kind])?;
    to.write_all(&nanos.to_le_bytes())?;
    to.write_all(&rss.to_le_bytes())?;
    to.write_all(&(body.len() as u32).to_le_bytes())?;
    to.write_all(body.as_bytes())?;
    to.flush()
}

/// What one input did in the worker.
enum Run {
    Done {
        took: Duration,
        rss: u64,
        features: Vec<String>,
    },
    /// The worker's peak memory while reading the input passed
    /// `MAX_RSS`.
    Bloated {
        rss: u64,
    },
    Panicked {
        message: String,
    },
    Hung,
    Died {
        status: String,
    },
}

struct Reply {
    kind: u8,
    took: Duration,
    rss: u64,
    body: String,
}

fn read_reply(from: &mut impl Read) -> std::io::Result<Reply> {
    let mut head = [0u8; 21];
    from.read_exact(&mut head)?;
    let nanos = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
    let rss = u64::from_le_bytes(head[9..17].try_into().expect("8 bytes"));
    let length = u32::from_le_bytes(head[17..21].try_into().expect("4 bytes")) as usize;
    let mut body = vec![0u8; length];
    from.read_exact(&mut body)?;
    Ok(Reply {
        kind: head[0],
        took: Duration::from_nanos(nanos),
        rss,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A worker process, and a thread reading its answers so that the parent
/// can wait for one with a deadline.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Reply>,
}

impl Worker {
    fn spawn(corpus: &Path) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|err| format!("find this program: {err}"))?;
        let mut command = Command::new(exe);
        command
            .arg("--corpus")
            .arg(corpus)
            .arg("--worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
            command.env("RUST_LIB_BACKTRACE", "0");
        }
        let mut child = command
            .spawn()
            .map_err(|err| format!("start the worker: {err}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (send, replies) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(reply) = read_reply(&mut stdout) {
                if send.send(reply).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            replies,
        })
    }

    fn run(&mut self, input: &[u8], timeout: Duration) -> Run {
        let sent = self
            .stdin
            .write_all(&(input.len() as u32).to_le_bytes())
            .and_then(|()| self.stdin.write_all(input))
            .and_then(|()| self.stdin.flush());
        if sent.is_err() {
            return Run::Died {
                status: self.reap(),
            };
        }
        match self.replies.recv_timeout(timeout) {
            Ok(reply) if reply.kind == REPLY_DONE && reply.rss > MAX_RSS => {
                Run::Bloated { rss: reply.rss }
            }
            Ok(reply) if reply.kind == REPLY_DONE => Run::Done {
                took: reply.took,
                rss: reply.rss,
                features: reply.body.lines().map(str::to_owned).collect(),
            },
            Ok(reply) => Run::Panicked {
                message: reply.body,
            },
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Run::Hung
            }
            Err(RecvTimeoutError::Disconnected) => Run::Died {
                status: self.reap(),
            },
        }
    }

    fn reap(&mut self) -> String {
        match self.child.wait() {
            Ok(status) => describe(status),
            Err(err) => format!("unknown ({err})"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(6)) => "killed by SIGABRT (an abort or a stack overflow)".to_owned(),
        (_, Some(9)) => "killed by SIGKILL (out of memory?)".to_owned(),
        (_, Some(signal)) => format!("killed by signal {signal}"),
        (Some(code), _) => format!("exited with status {code}"),
        (None, None) => "ended".to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Replay

fn replay(corpus: &Path, files: &[PathBuf]) -> Result<ExitCode, String> {
    let fixture = Fixture::new(&Keys::load(corpus)?);
    for file in files {
        let bytes = std::fs::read(file).map_err(|err| format!("read {}: {err}", file.display()))?;
        let started = Instant::now();
        let mut features = Features::default();
        target(&fixture, &bytes, &mut features);
        println!(
            "{} ({} bytes, {:.1} ms)",
            file.display(),
            bytes.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        for feature in features.0 {
            println!("  {feature}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------
// Seeds

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            !name.starts_with("crash-") && !name.starts_with("slow-") && !name.starts_with("big-")
        })
        .collect();
    files.sort();
    files
}

const COMMAND_TEXT: &str = "Hello,

List: security-announce@fuzz.example
SPONSOR sam@distro.example
Name: Sam Roe
Org: Distro
Kind: distribution
Statement: runs security for Distro
CONFIRM ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2
SET-KEY
UNSUBSCRIBE
ACK DF-2026-0001 not-affected we ship 1.3
ack DF-2026-0002 Fixed
APPROVE dave@vendor.example
SUSPEND erin@distro.example
HOLD DF-2026-0001 2026-12-03T14:00:00Z waiting for the vendor
> CONFIRM quoted-is-ignored
-- 
Alice
";

const MALFORMED_TEXT: &str = "list: security-announce-request@fuzz.example
sponsor
Organisation: nobody
confirm
ACK DF-1 maybe
HOLD DF-1 2026-12-01T00:00:00Z
APPROVE
suspend
setkey
";

fn crlf(text: &str) -> Vec<u8> {
    mail::crlf(text.as_bytes())
}

fn headers(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Thu, 01 Jan 2026 01:00:00 +0000\r\nMessage-ID: <fuzz.{}@fuzz.example>\r\nMIME-Version: 1.0\r\n",
        subject.len()
    )
    .into_bytes()
}

fn text_part(text: &str) -> Vec<u8> {
    [
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            .as_slice(),
        &crlf(text),
    ]
    .concat()
}

/// A multipart entity; each part ends in CRLF, and the CRLF before each
/// delimiter belongs to the delimiter (RFC 2046 5.1.1).
fn multipart(subtype: &str, params: &str, boundary: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!(
        "Content-Type: multipart/{subtype};{params}\r\n boundary=\"{boundary}\"\r\n\r\nThis is a MIME message.\r\n"
    )
    .into_bytes();
    for part in parts {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

fn signed_entity(signed: &[u8], signature: &[u8]) -> Vec<u8> {
    let sig_part = [
        b"Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n".as_slice(),
        b"Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n",
        &mail::crlf(signature),
    ]
    .concat();
    multipart(
        "signed",
        " micalg=pgp-sha512;\r\n protocol=\"application/pgp-signature\";",
        "=_fuzz_signed",
        &[signed, &sig_part],
    )
}

fn encrypted_entity(armored: &[u8]) -> Vec<u8> {
    let version = b"Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n";
    let payload = [
        b"Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n".as_slice(),
        &mail::crlf(armored),
    ]
    .concat();
    multipart(
        "encrypted",
        " protocol=\"application/pgp-encrypted\";",
        "=_fuzz_encrypted",
        &[version, &payload],
    )
}

fn text_message(head: &[u8], body: &[u8]) -> Vec<u8> {
    [
        head,
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        &mail::crlf(body),
    ]
    .concat()
}

/// The signed first part of the attachment seeds: text and a certificate,
/// with its own (protected) To header.
fn mixed_with_key(cert: &[u8]) -> Vec<u8> {
    let key_part = [
        b"Content-Type: application/pgp-keys; name=\"key.asc\"\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n".as_slice(),
        &mail::crlf(cert),
    ]
    .concat();
    let mixed = multipart(
        "mixed",
        "",
        "=_fuzz_mixed",
        &[&text_part("SET-KEY\n"), &key_part],
    );
    [format!("To: <{LIST_REQUEST}>\r\n").as_bytes(), &mixed].concat()
}

fn dsn(to: &str, status: &str) -> Vec<u8> {
    let notice =
        text_part("I'm sorry to have to inform you that your message could not be delivered.\n");
    let report = crlf(&format!(
        "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.vendor.example\n\nFinal-Recipient: rfc822; dave@vendor.example\nAction: failed\nStatus: {status}\n"
    ));
    let original = crlf("Content-Type: text/rfc822-headers\n\nMessage-ID: <x@fuzz.example>\n");
    let entity = multipart(
        "report",
        " report-type=delivery-status;",
        "=_fuzz_report",
        &[&notice, &report, &original],
    );
    let head = format!(
        "From: MAILER-DAEMON@mx.vendor.example\r\nTo: {to}\r\nDelivered-To: {to}\r\nX-Original-To: <{to}>\r\nEnvelope-To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
    );
    [head.as_bytes(), &entity].concat()
}

/// Seeds that need no keys: garbage signatures, bounces, plain commands,
/// encodings.
fn plain_seeds() -> Vec<(String, Vec<u8>)> {
    let head = headers(MEMBER, LIST_REQUEST, "commands");
    let garbage_sig = b"-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQQAAAAAAAAAAAAAAAAAAAAAAAAAAAUCaVXWkAAKCRAAAAAAAAAA\nAAAAAP8AAAAA\n=AAAA\n-----END PGP SIGNATURE-----\n";
    let signed = text_part(COMMAND_TEXT);
    let cleartext = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{COMMAND_TEXT}- -- escaped\n{}",
        std::str::from_utf8(garbage_sig).expect("ASCII")
    );
    let garbage_message = b"-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n0kABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PGP MESSAGE-----\n";
    let ours = verp::address(BOUNCE_LOCAL, BOUNCE_DOMAIN, BOUNCE_SECRET, 12);
    let b64 = base64::engine::general_purpose::STANDARD.encode(crlf(COMMAND_TEXT));
    let base64_part = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
    );
    let qp_part = "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSPONSOR sam@distro.example=\r\n\r\nName: S=E9bastien=20\r\nSUS=\r\nPEND x@y\r\n";
    let mixed = multipart(
        "mixed",
        "",
        "=_fuzz_enc",
        &[base64_part.as_bytes(), qp_part.as_bytes()],
    );
    let forwarded_inner = [head.as_slice(), &signed_entity(&signed, garbage_sig)].concat();
    let forwarded = multipart(
        "mixed",
        "",
        "=_fuzz_fwd",
        &[
            &text_part("see below\n"),
            &[
                b"Content-Type: message/rfc822\r\n\r\n".as_slice(),
                &forwarded_inner,
            ]
            .concat(),
        ],
    );
    vec![
        ("signed-garbage".to_owned(), forwarded_inner.clone()),
        (
            "cleartext-garbage".to_owned(),
            text_message(&head, cleartext.as_bytes()),
        ),
        (
            "encrypted-garbage".to_owned(),
            [head.as_slice(), &encrypted_entity(garbage_message)].concat(),
        ),
        (
            "dsn-forged".to_owned(),
            dsn("list-bounces+12-abcdef0123456789@example.org", "5.1.1"),
        ),
        ("dsn-ours".to_owned(), dsn(&ours, "4.2.2")),
        (
            "plain-commands".to_owned(),
            text_message(&head, COMMAND_TEXT.as_bytes()),
        ),
        (
            "plain-malformed".to_owned(),
            text_message(&head, MALFORMED_TEXT.as_bytes()),
        ),
        (
            "plain-flood".to_owned(),
            text_message(&head, "UNSUBSCRIBE\n".repeat(25).as_bytes()),
        ),
        (
            "encodings".to_owned(),
            [
                b"Subject: =?utf-8?b?Q09ORklSTSB4?= =?iso-8859-1?q?caf=E9?=\r\n".as_slice(),
                &signed_entity(&mixed, garbage_sig),
            ]
            .concat(),
        ),
        (
            "forwarded".to_owned(),
            [head.as_slice(), &forwarded].concat(),
        ),
        ("bare-commands".to_owned(), COMMAND_TEXT.as_bytes().to_vec()),
    ]
}

/// A throw-away GnuPG home holding the fuzz keys.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new(keys: &Keys) -> Result<Self, String> {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().map_err(|err| format!("GnuPG home: {err}"))?;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|err| format!("GnuPG home: {err}"))?;
        let gpg = Self { home };
        gpg.run(&["--import"], &keys.member_secret)?;
        gpg.run(&["--import"], &keys.list_secret)?;
        Ok(gpg)
    }

    /// Runs gpg at the fixed time, `input` on stdin; answers its stdout.
    fn run(&self, args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args([
                "--batch",
                "--yes",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
            ])
            .args(["--passphrase", "", "--faked-system-time", GPG_TIME])
            .args(["--ignore-time-conflict", "--ignore-valid-from"])
            .args(["--trust-model", "always"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("run gpg: {err}"))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child
            .wait_with_output()
            .map_err(|err| format!("run gpg: {err}"))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(format!(
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(out.stdout)
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .stderr(Stdio::null())
            .status();
    }
}

/// Seeds signed by the fuzz member's key: PGP/MIME signed (text, and text
/// with an attached key), signed and encrypted in one pass and in two
/// layers, and cleartext-signed.
fn gpg_seeds(keys: &Keys) -> Result<Vec<(String, Vec<u8>)>, String> {
    let gpg = Gpg::new(keys)?;
    let head = headers(MEMBER, LIST_REQUEST, "signed commands");
    let sign = |data: &[u8]| gpg.run(&["--local-user", MEMBER, "--armor", "--detach-sign"], data);
    let text = text_part(COMMAND_TEXT);
    let signed_text = signed_entity(&text, &sign(&text)?);
    let with_key = mixed_with_key(&keys.member_cert);
    let signed_with_key = signed_entity(&with_key, &sign(&with_key)?);
    let clear = gpg.run(
        &["--local-user", MEMBER, "--clearsign"],
        COMMAND_TEXT.as_bytes(),
    )?;
    let one_pass = gpg.run(
        &[
            "--local-user",
            MEMBER,
            "--recipient",
            LIST,
            "--armor",
            "--sign",
            "--encrypt",
        ],
        &text,
    )?;
    let two_layers = gpg.run(&["--recipient", LIST, "--armor", "--encrypt"], &signed_text)?;
    Ok(vec![
        (
            "signed".to_owned(),
            [head.as_slice(), &signed_text].concat(),
        ),
        (
            "signed-with-key".to_owned(),
            [head.as_slice(), &signed_with_key].concat(),
        ),
        ("cleartext".to_owned(), text_message(&head, &clear)),
        (
            "encrypted-one-pass".to_owned(),
            [head.as_slice(), &encrypted_entity(&one_pass)].concat(),
        ),
        (
            "encrypted-two-layers".to_owned(),
            [head.as_slice(), &encrypted_entity(&two_layers)].concat(),
        ),
    ])
}

// ---------------------------------------------------------------------------
// Mutations

/// SplitMix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A range inside `0..len`, of at most `max` bytes, usually short.
    fn range(&mut self, len: usize, max: usize) -> (usize, usize) {
        let start = self.below(len + 1);
        let scale = 1 << self.below(13);
        let size = self.below((len - start).min(max).min(scale) + 1);
        (start, start + size)
    }
}

/// Tokens that mean something to a MIME or OpenPGP reader.
const TOKENS: &[&[u8]] = &[
    b"\r\n--",
    b"--",
    b"\r\n--=_fuzz_signed--\r\n",
    b"\r\n--=_fuzz_signed\r\n",
    b"boundary=",
    b"boundary=\"\"",
    b"; boundary=\"b\"",
    b"\r\n--b\r\n",
    b"\r\n--b--\r\n",
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n",
    b"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
    b"Content-Type: message/delivery-status\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/plain\r\n",
    b"Content-Type: text/plain; charset=utf-16\r\n",
    b"Content-Type: text/plain; charset=\"iso-2022-jp\"\r\n",
    b"Content-Type: application/pgp-signature\r\n",
    b"Content-Type: application/pgp-keys\r\n",
    b"Content-Type: application/pgp-encrypted\r\n",
    b"Content-Type: ",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: 8bit\r\n",
    b"=?utf-8?b?",
    b"=?utf-8?q?",
    b"?=",
    b"=\r\n",
    b"=3D",
    b"=2D=2D",
    b"-----BEGIN PGP SIGNED MESSAGE-----",
    b"-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n",
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN PGP SIGNATURE-----\r\n\r\n",
    b"-----END PGP SIGNATURE-----",
    b"-----BEGIN PGP MESSAGE-----\r\n\r\n",
    b"-----END PGP MESSAGE-----",
    b"-----BEGIN PGP PUBLIC KEY BLOCK-----\r\n\r\n",
    b"Hash: SHA512\r\n",
    b"Version: 1\r\n",
    b"- ",
    b"\r\n\r\n",
    b"\n\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n ",
    b"\r\n\t",
    b"\0",
    b"\xff",
    b"\xc3(",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\xef\xbb\xbf",
    b"\xf8\x88\x80\x80\x80",
    b"To: ",
    b"To: <security-announce-request@fuzz.example>\r\n",
    b"Delivered-To: ",
    b"X-Original-To: <>\r\n",
    b"Status: 5.1.1\r\n",
    b"Status:",
    b"list-bounces+12-abcdef0123456789@example.org",
    b"list-bounces+",
    b"@example.org",
    b"\"",
    b";",
    b":",
    b"<",
    b">",
    b"(",
    b")",
    b"\\",
];

/// Command lines for the text of a message.
const COMMAND_LINES: &[&[u8]] = &[
    b"SPONSOR mallory@evil.example\r\n",
    b"sponsor\r\n",
    b"Name: Mallory\r\n",
    b"Org: Evil\r\n",
    b"Organization: Evil\r\n",
    b"Kind: vendor\r\n",
    b"Statement: trust me\r\n",
    b"CONFIRM ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2\r\n",
    b"confirm\r\n",
    b"SET-KEY\r\n",
    b"SETKEY\r\n",
    b"UNSUBSCRIBE\r\n",
    b"ACK DF-2026-0001 not-affected we ship 1.3\r\n",
    b"ACK DF-2026-0001 received\r\n",
    b"ack DF-1 maybe\r\n",
    b"APPROVE dave@vendor.example\r\n",
    b"SUSPEND dave@vendor.example\r\n",
    b"suspend\r\n",
    b"HOLD DF-2026-0001 2026-12-03T14:00:00Z waiting for the vendor\r\n",
    b"HOLD DF-1 x\r\n",
    b"List: security-announce@fuzz.example\r\n",
    b"LIST:\r\n",
    b"> CONFIRM quoted\r\n",
    b"\xc2\xa0CONFIRM nbsp\r\n",
    b"\xe2\x80\xa8ACK DF-1 fixed\r\n",
];

const NUMBERS: &[&[u8]] = &[
    b"0",
    b"1",
    b"-1",
    b"+1",
    b"00",
    b"4294967296",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"99999999999999999999",
    b"1e9",
];

const INTERESTING_BYTES: &[u8] = &[
    0, 0xff, 0x7f, 0x80, b'\r', b'\n', b'-', b':', b';', b'=', b'"', b' ', b'\t',
];

/// Positions just after a line end, and 0.
fn line_start(bytes: &[u8], rng: &mut Rng) -> usize {
    let at = rng.below(bytes.len() + 1);
    bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(0, |i| at + i + 1)
}

fn insert(bytes: &mut Vec<u8>, at: usize, what: &[u8]) -> bool {
    if bytes.len() + what.len() > MAX_INPUT {
        return false;
    }
    bytes.splice(at..at, what.iter().copied());
    true
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Applies one mutation; false when it could not apply.
fn mutate_once(bytes: &mut Vec<u8>, other: &[u8], rng: &mut Rng) -> bool {
    let len = bytes.len();
    match rng.below(22) {
        0 | 1 if len > 0 => {
            let at = rng.below(len);
            bytes[at] ^= 1 << rng.below(8);
            true
        }
        2 if len > 0 => {
            let at = rng.below(len);
            bytes[at] = if rng.one_in(2) {
                rng.pick(INTERESTING_BYTES)
            } else {
                rng.next() as u8
            };
            true
        }
        3 => {
            let random: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
            insert(bytes, rng.below(len + 1), &random)
        }
        4 | 5 if len > 0 => {
            let (a, b) = rng.range(len, len);
            bytes.drain(a..b);
            b > a
        }
        6 if len > 0 => {
            let (a, b) = rng.range(len, 1 << 16);
            let copy = bytes[a..b].to_vec();
            insert(bytes, rng.below(len + 1), &copy)
        }
        7 if !other.is_empty() => splice(bytes, other, rng),
        8..=10 => {
            let at = if rng.one_in(2) {
                line_start(bytes, rng)
            } else {
                rng.below(len + 1)
            };
            insert(bytes, at, rng.pick(TOKENS))
        }
        11 => {
            let at = line_start(bytes, rng);
            insert(bytes, at, rng.pick(COMMAND_LINES))
        }
        12 => long_line(bytes, rng),
        13 => repeat_header_block(bytes, rng),
        14 => nest_in_itself(bytes, rng),
        15 => wrap_in_multipart(bytes, rng),
        16 if len > 0 => line_ends(bytes, rng),
        17 => number(bytes, rng),
        18 if len > 0 => {
            let (a, b) = rng.range(len, 64);
            bytes[a..b].iter_mut().for_each(|c| {
                if c.is_ascii_alphabetic() {
                    *c ^= 0x20;
                }
            });
            b > a
        }
        19 => encode_range(bytes, rng),
        20 | 21 => armor(bytes, rng),
        _ => false,
    }
}

fn splice(bytes: &mut Vec<u8>, other: &[u8], rng: &mut Rng) -> bool {
    let at = rng.below(bytes.len() + 1);
    if rng.one_in(2) {
        let from = rng.below(other.len());
        bytes.truncate(at);
        let room = MAX_INPUT.saturating_sub(at);
        bytes.extend_from_slice(&other[from..other.len().min(from + room)]);
        true
    } else {
        let (a, b) = rng.range(other.len(), 1 << 16);
        insert(bytes, at, &other[a..b])
    }
}

fn long_line(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let unit: &[u8] = match rng.below(4) {
        0 => b"a",
        1 => b"-",
        2 => b" ",
        _ => rng.pick(TOKENS),
    };
    let count = (1 << (10 + rng.below(7))) / unit.len().max(1);
    let line = unit.repeat(count.max(1));
    let at = rng.below(bytes.len() + 1);
    insert(bytes, at, &line)
}

fn header_end(bytes: &[u8]) -> usize {
    find(bytes, b"\r\n\r\n")
        .or_else(|| find(bytes, b"\n\n"))
        .unwrap_or(bytes.len())
}

/// Repeats some lines of the header block 2 to 1,000 times.
fn repeat_header_block(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let end = header_end(bytes);
    let head = &bytes[..end];
    let a = line_start(head, rng).min(end);
    let b = match line_start(&head[a..], rng) {
        0 => end,
        next => a + next,
    };
    if b <= a {
        return false;
    }
    let most = rng.pick(&[8usize, 100, 1000]);
    let times = 2 + rng.below(most);
    let block = bytes[a..b].repeat(times.min(MAX_INPUT / (b - a)));
    insert(bytes, b, &block)
}

/// Inserts a copy of some lines inside themselves: a part in a part, the
/// same boundaries twice.
fn nest_in_itself(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let a = line_start(bytes, rng).min(bytes.len());
    let b = match line_start(&bytes[a..], rng) {
        0 => bytes.len(),
        next => a + next,
    };
    let copy = bytes[a..b].to_vec();
    let mid = a + rng.below(b - a + 1);
    let mut ok = false;
    for _ in 0..1 + rng.below(3) {
        ok |= insert(bytes, mid, &copy);
    }
    ok
}

fn wrap_in_multipart(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let boundary = format!("w{}", rng.below(4));
    let subtype = rng.pick(&["mixed", "signed", "encrypted", "report", "alternative"]);
    let head =
        format!("Content-Type: multipart/{subtype}; boundary={boundary}\r\n\r\n--{boundary}\r\n");
    let tail = format!("\r\n--{boundary}--\r\n");
    if bytes.len() + head.len() + tail.len() > MAX_INPUT {
        return false;
    }
    bytes.splice(0..0, head.bytes());
    bytes.extend_from_slice(tail.as_bytes());
    true
}

fn line_ends(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let (a, b) = rng.range(bytes.len(), 1 << 14);
    let (from, to): (&[u8], &[u8]) = rng.pick(&[
        (b"\r\n".as_slice(), b"\n".as_slice()),
        (b"\n", b"\r\n"),
        (b"\r\n", b"\r"),
        (b"\n", b"\r"),
        (b"\r\n", b"\n\r"),
    ]);
    let mut out = Vec::with_capacity(b - a);
    let mut i = a;
    while i < b {
        if bytes[i..b].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    bytes.splice(a..b, out);
    true
}

/// Replaces a run of digits with an edge-case number.
fn number(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let at = rng.below(bytes.len() + 1);
    let Some(start) = bytes[at..]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|i| at + i)
    else {
        return false;
    };
    let end = bytes[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(bytes.len(), |i| start + i);
    let with = rng.pick(NUMBERS).to_vec();
    bytes.splice(start..end, with);
    true
}

/// Re-encodes a range as base64 or quoted-printable, and sometimes says so
/// in the nearest header block above it.
fn encode_range(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let (a, b) = rng.range(bytes.len(), 1 << 12);
    let base64 = rng.one_in(2);
    let encoded = if base64 {
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes[a..b]);
        text.as_bytes()
            .chunks(76)
            .flat_map(|line| [line, b"\r\n"].concat())
            .collect::<Vec<u8>>()
    } else {
        quoted_printable(&bytes[a..b], rng)
    };
    if bytes.len() - (b - a) + encoded.len() > MAX_INPUT {
        return false;
    }
    bytes.splice(a..b, encoded);
    if rng.one_in(2)
        && let Some(blank) = bytes[..a].windows(4).rposition(|w| w == b"\r\n\r\n")
    {
        let header: &[u8] = if base64 {
            b"Content-Transfer-Encoding: base64\r\n"
        } else {
            b"Content-Transfer-Encoding: quoted-printable\r\n"
        };
        insert(bytes, blank + 2, header);
    }
    true
}

fn quoted_printable(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2);
    let mut column = 0;
    for &byte in data {
        let plain = (byte.is_ascii_graphic() && byte != b'=') || byte == b' ';
        if plain && !rng.one_in(8) {
            out.push(byte);
            column += 1;
        } else {
            out.extend_from_slice(format!("={byte:02X}").as_bytes());
            column += 3;
        }
        if column >= 73 {
            out.extend_from_slice(b"=\r\n");
            column = 0;
        }
    }
    out
}

/// CRC-24 of RFC 4880 6.1, for the armor checksum.
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00b7_04ce;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4cfb;
            }
        }
    }
    crc & 0x00ff_ffff
}

/// Finds an ASCII-armor block (not a cleartext-signed text), decodes it,
/// mutates the packets and armors them again with a right checksum (or
/// none), so the damage reaches the packet parser.
fn armor(bytes: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let begins: Vec<usize> = bytes
        .windows(15)
        .enumerate()
        .filter(|(_, w)| *w == b"-----BEGIN PGP ")
        .map(|(i, _)| i)
        .filter(|&i| !bytes[i..].starts_with(b"-----BEGIN PGP SIGNED"))
        .collect();
    if begins.is_empty() {
        return false;
    }
    let begin = rng.pick(&begins);
    let Some(body_start) = bytes[begin..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| begin + i + 1)
    else {
        return false;
    };
    let Some(end) = find(&bytes[body_start..], b"-----END PGP ").map(|i| body_start + i) else {
        return false;
    };
    let body = &bytes[body_start..end];
    // Armor headers end at the first empty line.
    let data_start = if body.starts_with(b"\r\n") {
        2
    } else if body.starts_with(b"\n") {
        1
    } else {
        find(body, b"\n\r\n")
            .map(|i| i + 3)
            .into_iter()
            .chain(find(body, b"\n\n").map(|i| i + 2))
            .min()
            .unwrap_or(0)
    };
    let mut text: Vec<u8> = Vec::new();
    for line in body[data_start..].split(|&b| b == b'\n') {
        if line.starts_with(b"=") {
            break;
        }
        text.extend(
            line.iter()
                .filter(|b| b.is_ascii_alphanumeric() || **b == b'+' || **b == b'/'),
        );
    }
    if text.len() % 4 == 1 {
        text.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let Ok(mut packets) = engine.decode(&text) else {
        return false;
    };
    mutate_packets(&mut packets, rng);
    let newline: &[u8] = if body.contains(&b'\r') {
        b"\r\n"
    } else {
        b"\n"
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(&packets);
    let mut armored = body[..data_start].to_vec();
    if data_start == 0 {
        armored.extend_from_slice(newline);
    }
    for line in encoded.as_bytes().chunks(64) {
        armored.extend_from_slice(line);
        armored.extend_from_slice(newline);
    }
    if !rng.one_in(4) {
        let crc = crc24(&packets).to_be_bytes();
        let sum = base64::engine::general_purpose::STANDARD.encode(&crc[1..]);
        armored.push(b'=');
        armored.extend_from_slice(sum.as_bytes());
        armored.extend_from_slice(newline);
    }
    if bytes.len() - (end - body_start) + armored.len() > MAX_INPUT {
        return false;
    }
    bytes.splice(body_start..end, armored);
    true
}

fn mutate_packets(packets: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..1 + rng.below(4) {
        let len = packets.len();
        // Headers and lengths sit near the start: aim there half the time.
        let at = if rng.one_in(2) {
            rng.below(len.min(16))
        } else {
            rng.below(len)
        };
        match rng.below(6) {
            0 if len > 0 => packets[at] ^= 1 << rng.below(8),
            1 if len > 0 => {
                packets[at] = rng.pick(&[0u8, 0xff, 0x7f, 0x80, 0xc0, 0xc2, 0x88, 0x04, 0x05])
            }
            2 if len > 0 => packets.truncate(at),
            3 => {
                let random: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
                packets.splice(at..at, random);
            }
            4 if len > 0 => {
                let (a, b) = rng.range(len, 256);
                let copy = packets[a..b].to_vec();
                packets.splice(at..at, copy);
            }
            5 if len > 0 => {
                let (a, b) = rng.range(len, 64);
                packets.drain(a..b);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// The fuzz loop

fn hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

struct Entry {
    bytes: Vec<u8>,
    features: Vec<String>,
}

/// Inputs kept because each showed a feature no earlier input did.
#[derive(Default)]
struct Corpus {
    entries: Vec<Entry>,
    features: HashSet<String>,
    hashes: HashSet<String>,
}

impl Corpus {
    /// Keeps the input if it shows something new (or `always`).
    fn consider(&mut self, bytes: &[u8], features: Vec<String>, always: bool) -> bool {
        let mut new = false;
        for feature in &features {
            new |= self.features.insert(feature.clone());
        }
        if (new || always) && self.hashes.insert(hash(bytes)) {
            self.entries.push(Entry {
                bytes: bytes.to_vec(),
                features,
            });
            return true;
        }
        false
    }

    /// Picks an input to mutate: a third of the time one of the newest.
    fn pick(&self, rng: &mut Rng) -> &[u8] {
        let n = self.entries.len();
        let index = if rng.one_in(3) {
            n - 1 - rng.below(n.min(32))
        } else {
            rng.below(n)
        };
        &self.entries[index].bytes
    }

    /// The smallest inputs that between them show every feature (greedy,
    /// smallest first), within the file and byte caps.
    fn minimised(&self) -> Vec<&Entry> {
        let mut order: Vec<&Entry> = self.entries.iter().collect();
        order.sort_by_key(|e| (e.bytes.len(), hash(&e.bytes)));
        let mut covered: HashSet<&str> = HashSet::new();
        let mut kept = Vec::new();
        let mut total = 0;
        for entry in order {
            if kept.len() == KEEP_FILES || total + entry.bytes.len() > KEEP_BYTES {
                break;
            }
            let mut new = false;
            for feature in &entry.features {
                new |= covered.insert(feature);
            }
            if new {
                total += entry.bytes.len();
                kept.push(entry);
            }
        }
        kept
    }
}

#[derive(Default)]
struct Stats {
    execs: u64,
    slowest: Duration,
    slowest_input: String,
    max_rss: u64,
    max_rss_input: String,
    crashes: Vec<String>,
    hangs: Vec<String>,
}

fn seeds(args: &Args, keys: &Keys) -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let inbound_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/inbound");
    for dir in [inbound_dir.as_path(), args.corpus.as_path()] {
        for path in eml_files(dir) {
            if let Ok(bytes) = std::fs::read(&path) {
                seeds.push((path.display().to_string(), bytes));
            }
        }
    }
    match gpg_seeds(keys) {
        Ok(signed) => seeds.extend(signed),
        Err(err) => eprintln!("note: no GnuPG-signed seeds ({err}); garbage signatures only"),
    }
    match Gpg::new(keys).and_then(|gpg| bombs::bombs(&gpg)) {
        Ok(bombs) => seeds.extend(bombs),
        Err(err) => eprintln!("note: no compression bombs ({err})"),
    }
    seeds.extend(bombs::header_floods());
    seeds.extend(plain_seeds());
    seeds
}

fn fuzz(args: &Args) -> Result<ExitCode, String> {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        println!(
            "note: RUST_LIB_BACKTRACE is unset; the worker runs with RUST_LIB_BACKTRACE=0 (about 10% faster when RUST_BACKTRACE is set)"
        );
    }
    std::fs::create_dir_all(&args.corpus)
        .map_err(|err| format!("create {}: {err}", args.corpus.display()))?;
    let keys = Keys::load_or_make(&args.corpus)?;
    let seeds = seeds(args, &keys);
    let mut worker = Worker::spawn(&args.corpus)?;
    let mut corpus = Corpus::default();
    let mut stats = Stats::default();
    let mut rng = Rng(args.seed);
    let started = Instant::now();
    let budget = Duration::from_secs_f64(args.minutes * 60.0);
    println!(
        "fuzz_ingest: seed {}, {} seeds, {:.1} minutes, timeout {:?}, corpus {}",
        args.seed,
        seeds.len(),
        args.minutes,
        args.timeout,
        args.corpus.display()
    );
    let mut inputs = seeds.into_iter().map(|(_, bytes)| bytes);
    let mut next_progress = PROGRESS_EVERY;
    let mut stop = false;
    while !stop {
        let (input, is_seed) = match inputs.next() {
            Some(seed) => (seed, true),
            None if started.elapsed() < budget => (mutant(&corpus, &mut rng), false),
            None => break,
        };
        stats.execs += 1;
        match worker.run(&input, args.timeout) {
            Run::Done {
                took,
                rss,
                features,
            } => {
                if took > stats.slowest {
                    stats.slowest = took;
                    stats.slowest_input = format!("{} bytes, {}", input.len(), hash(&input));
                }
                if rss > stats.max_rss {
                    stats.max_rss = rss;
                    stats.max_rss_input = format!("{} bytes, {}", input.len(), hash(&input));
                }
                corpus.consider(&input, features, is_seed);
            }
            finding => {
                stop = !args.keep_going;
                report(args, &input, finding, &mut stats)?;
                if !stop {
                    worker = Worker::spawn(&args.corpus)?;
                }
            }
        }
        if started.elapsed() >= next_progress {
            next_progress += PROGRESS_EVERY;
            progress(started, &stats, &corpus);
        }
    }
    drop(worker);
    progress(started, &stats, &corpus);
    let kept = write_corpus(args, &corpus, &stats, started.elapsed())?;
    println!(
        "done: {} executions in {:.1} min ({:.0}/s); {} inputs in memory, {} features; {} written to {}; {} crashes, {} hangs; slowest {:.1} ms ({}); peak RSS {:.1} MB ({})",
        stats.execs,
        started.elapsed().as_secs_f64() / 60.0,
        stats.execs as f64 / started.elapsed().as_secs_f64(),
        corpus.entries.len(),
        corpus.features.len(),
        kept,
        args.corpus.display(),
        stats.crashes.len(),
        stats.hangs.len(),
        stats.slowest.as_secs_f64() * 1e3,
        stats.slowest_input,
        stats.max_rss as f64 / f64::from(1u32 << 20),
        stats.max_rss_input
    );
    if stats.crashes.is_empty() && stats.hangs.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

fn mutant(corpus: &Corpus, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = corpus.pick(rng).to_vec();
    if corpus.entries.is_empty() {
        return Vec::new();
    }
    let scale = 1 << rng.below(4);
    let rounds = 1 + rng.below(scale);
    for _ in 0..rounds {
        let other = if rng.one_in(4) { corpus.pick(rng) } else { &[] };
        mutate_once(&mut bytes, other, rng);
    }
    bytes.truncate(MAX_INPUT);
    bytes
}

fn report(args: &Args, input: &[u8], finding: Run, stats: &mut Stats) -> Result<(), String> {
    let name = hash(input);
    let write = |file: String, bytes: &[u8]| {
        let path = args.corpus.join(file);
        std::fs::write(&path, bytes)
            .map(|()| path.clone())
            .map_err(|err| format!("write {}: {err}", path.display()))
    };
    match finding {
        Run::Panicked { message } => {
            let path = write(format!("crash-{name}.eml"), input)?;
            write(
                format!("crash-{name}.txt"),
                format!("panic: {message}\n").as_bytes(),
            )?;
            println!(
                "CRASH: panic: {message}\n  input saved to {}",
                path.display()
            );
            stats
                .crashes
                .push(format!("{} (panic: {message})", path.display()));
        }
        Run::Died { status } => {
            let path = write(format!("crash-{name}.eml"), input)?;
            write(
                format!("crash-{name}.txt"),
                format!("worker {status}\n").as_bytes(),
            )?;
            println!(
                "CRASH: the worker {status}\n  input saved to {}",
                path.display()
            );
            stats
                .crashes
                .push(format!("{} (worker {status})", path.display()));
        }
        Run::Bloated { rss } => {
            let path = write(format!("big-{name}.eml"), input)?;
            println!(
                "MEMORY: the worker peaked at {} MB reading it\n  input saved to {}",
                rss >> 20,
                path.display()
            );
            stats
                .crashes
                .push(format!("{} (peak RSS {} MB)", path.display(), rss >> 20));
        }
        Run::Hung => {
            let path = write(format!("slow-{name}.eml"), input)?;
            println!(
                "HANG: no answer within {:?}\n  input saved to {}",
                args.timeout,
                path.display()
            );
            stats.hangs.push(path.display().to_string());
        }
        Run::Done { .. } => {}
    }
    Ok(())
}

fn progress(started: Instant, stats: &Stats, corpus: &Corpus) {
    let elapsed = started.elapsed();
    println!(
        "[{:02}:{:02}] execs {} ({:.0}/s), corpus {}, features {}, crashes {}, hangs {}, slowest {:.1} ms, peak RSS {:.1} MB",
        elapsed.as_secs() / 60,
        elapsed.as_secs() % 60,
        stats.execs,
        stats.execs as f64 / elapsed.as_secs_f64().max(1e-9),
        corpus.entries.len(),
        corpus.features.len(),
        stats.crashes.len(),
        stats.hangs.len(),
        stats.slowest.as_secs_f64() * 1e3,
        stats.max_rss as f64 / f64::from(1u32 << 20)
    );
}

/// Writes the minimised corpus as `<hash>.eml` (removing kept inputs of
/// earlier runs that are no longer in it) and the README; answers how many
/// files were written.
fn write_corpus(
    args: &Args,
    corpus: &Corpus,
    stats: &Stats,
    took: Duration,
) -> Result<usize, String> {
    let dir = &args.corpus;
    let kept = corpus.minimised();
    let names: HashSet<String> = kept
        .iter()
        .map(|e| format!("{}.eml", hash(&e.bytes)))
        .collect();
    for path in eml_files(dir) {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let ours = name.len() == 20 && name[..16].bytes().all(|b| b.is_ascii_hexdigit());
        if ours && !names.contains(&name) {
            std::fs::remove_file(&path)
                .map_err(|err| format!("remove {}: {err}", path.display()))?;
        }
    }
    let mut bytes = 0;
    for entry in &kept {
        bytes += entry.bytes.len();
        let path = dir.join(format!("{}.eml", hash(&entry.bytes)));
        std::fs::write(&path, &entry.bytes)
            .map_err(|err| format!("write {}: {err}", path.display()))?;
    }
    let readme = readme(args, corpus, stats, took, kept.len(), bytes);
    let path = dir.join("README.md");
    std::fs::write(&path, readme).map_err(|err| format!("write {}: {err}", path.display()))?;
    Ok(kept.len())
}

fn readme(
    args: &Args,
    corpus: &Corpus,
    stats: &Stats,
    took: Duration,
    files: usize,
    bytes: usize,
) -> String {
    let findings = if stats.crashes.is_empty() && stats.hangs.is_empty() {
        "none".to_owned()
    } else {
        stats
            .crashes
            .iter()
            .chain(&stats.hangs)
            .map(|f| format!("\n- {f}"))
            .collect()
    };
    format!(
        "# Fuzzing corpus for `embargo ingest`

Inputs kept by `examples/fuzz_ingest.rs`, a fuzzing harness over the
inbound-mail parser (`mail::read_inbound`, `mail::signed_content`), the
OpenPGP checks it leads to (`pgp::signature_issuers`, `pgp::verify_signed`,
`pgp::open_cleartext`, `pgp::open_encrypted`), command extraction
(`inbound::parse`) and VERP bounce addresses (`inbound::verp::check`).
See the module documentation of the example for how it works.

Each `<hash>.eml` (the first 16 hex digits of its SHA-256) is an input
that showed an outcome no smaller kept input showed: the `Inbound` variant
or `Dropped` reason, what each OpenPGP function answered, what the signed
content held, how many commands of each kind were read, a size bucket. The
harness keeps every input that shows a new outcome while it runs, then
writes the smallest set that covers them all (smallest first, at most
{KEEP_FILES} files and {KEEP_BYTES} bytes); a rerun reads these files as
seeds and replaces them. A `crash-<hash>.eml` (with its panic message in
`crash-<hash>.txt`) or `slow-<hash>.eml` is an input that panicked, killed
the worker or ran past the deadline; it is never removed by the harness.

`keys/` holds throw-away keys made by the harness (`{MEMBER}` and
`{LIST}`, made at 2026-01-01T00:00:00Z; signatures are checked at
02:00 that day). They protect nothing; they are kept so that the signed
inputs here still verify when the harness runs again.

## The last run

- finished: {finished}
- seed: {seed}, timeout per input: {timeout:?}
- ran for: {minutes:.1} minutes
- executions: {execs} ({rate:.0} per second)
- features seen: {features}; inputs kept in memory: {entries}
- written here: {files} files, {bytes} bytes
- slowest input: {slowest:.1} ms ({slowest_input})
- peak memory of the worker on one input: {rss:.1} MB ({rss_input}); over 100 MB is a finding (`big-<hash>.eml`)
- crashes and hangs: {findings}

## Running it again

```sh
RUST_LIB_BACKTRACE=0 cargo run --release --example fuzz_ingest -- --minutes 30 --seed 2
# one input, in process, with the outcome it shows:
cargo run --release --example fuzz_ingest -- --replay tests/data/fuzz-corpus/<file>.eml
```
",
        finished = Utc::now().format("%Y-%m-%d %H:%M UTC"),
        seed = args.seed,
        timeout = args.timeout,
        minutes = took.as_secs_f64() / 60.0,
        execs = stats.execs,
        rate = stats.execs as f64 / took.as_secs_f64().max(1e-9),
        features = corpus.features.len(),
        entries = corpus.entries.len(),
        slowest = stats.slowest.as_secs_f64() * 1e3,
        slowest_input = stats.slowest_input,
        rss = stats.max_rss as f64 / f64::from(1u32 << 20),
        rss_input = stats.max_rss_input,
    )
}
