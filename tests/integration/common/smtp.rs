//! The real SMTP server process the delivery tests talk to on 127.0.0.1.
//!
//! It is `tests/smtp/server.py` (aiosmtpd under Debian's
//! `/usr/bin/python3`), answering each connection and each recipient
//! as a test's [`Rules`] say, and recording every message whose DATA
//! completes. [`SmtpServer`] starts it on a free port, reads what it
//! recorded, and stops it when dropped.
//!
//! The server writes into the folder given to [`SmtpServer::start`]:
//! `rules.json` (what it was told), `server.stderr`, `msg-<seq>.eml` (each
//! message's bytes as received, dot-unstuffed, CRLF line ends) and
//! `log.jsonl`, one JSON object a line, each flushed and fsynced:
//!
//! - `{"seq", "mail_from", "rcpt", "message_id", "outcome", "file", "size",
//!   "at"}` for each completed DATA; `outcome` is `accepted`, `dropped`,
//!   `hung`, `451` or `554`;
//! - `{"event": "rcpt", "rcpt", "code", "at"}` for each refused RCPT;
//! - `{"event": "connect", "code": 421, "at"}` for each refused connection.
//!
//! A server started again on the same folder appends to the same log and
//! numbers on from the highest `seq` there, so a test can restart it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Debian's interpreter, which has `python3-aiosmtpd`; the one on `PATH`
/// may be another Python without it.
const PYTHON: &str = "/usr/bin/python3";

/// How long the server may take to print `READY`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the waiting helpers read `log.jsonl` again.
const POLL: Duration = Duration::from_millis(20);

/// How many free ports to try: another process may take the one we picked
/// between our probe and the server's bind.
const BIND_ATTEMPTS: usize = 5;

/// The server's exit status when it cannot bind its port.
const EXIT_BIND_FAILED: i32 = 3;

/// What the server does with one RCPT of a scripted recipient, by the name
/// [`Rules::recipient`] takes.
///
/// | name              | effect                                                        |
/// |-------------------|---------------------------------------------------------------|
/// | `accept`          | RCPT 250, DATA 250; recorded as `accepted`                    |
/// | `451`             | RCPT `451 4.3.0`; logged as a `rcpt` event                    |
/// | `550`             | RCPT `550 5.1.1`; logged as a `rcpt` event                    |
/// | `drop-after-data` | reads all of DATA, records `dropped`, closes without a reply  |
/// | `hang-after-data` | reads all of DATA, records `hung`, never replies              |
/// | `451-data`        | answers the end of DATA with `451 4.3.0`; recorded as `451`   |
/// | `554-data`        | answers the end of DATA with `554 5.6.0`; recorded as `554`   |
///
/// When a message has several recipients, the most disruptive DATA action
/// among them wins (drop, then hang, then 554, then 451).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Accept,
    Code451,
    Code550,
    DropAfterData,
    HangAfterData,
    Data451,
    Data554,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Accept,
        Action::Code451,
        Action::Code550,
        Action::DropAfterData,
        Action::HangAfterData,
        Action::Data451,
        Action::Data554,
    ];

    /// The name used in the rules file.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Code451 => "451",
            Action::Code550 => "550",
            Action::DropAfterData => "drop-after-data",
            Action::HangAfterData => "hang-after-data",
            Action::Data451 => "451-data",
            Action::Data554 => "554-data",
        }
    }

    /// The action called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// The script the server follows: a queue of actions for connections and
/// one per recipient address. Each queue is consumed in order and its last
/// action repeats; an address without a queue is accepted.
///
/// ```ignore
/// Rules::new()
///     .connect(&["421", "421", "accept"])
///     .recipient("x@example.org", &["451", "accept"])
/// ```
#[derive(Clone, Debug, Default)]
pub struct Rules {
    connect: Vec<String>,
    recipients: BTreeMap<String, Vec<String>>,
}

impl Rules {
    /// Accept every connection and every recipient.
    pub fn new() -> Self {
        Self::default()
    }

    /// How to greet successive connections: `"accept"`, or `"421"` to greet
    /// with 421 and close. Panics on any other name.
    pub fn connect(mut self, actions: &[&str]) -> Self {
        assert!(!actions.is_empty(), "connect: no actions");
        for action in actions {
            assert!(
                matches!(*action, "accept" | "421"),
                "connect: unknown action {action:?}, expected \"accept\" or \"421\""
            );
        }
        self.connect = actions.iter().map(ToString::to_string).collect();
        self
    }

    /// How to answer successive RCPTs of `address` (compared without
    /// regard to case); see [`Action`] for the names. Panics on an unknown
    /// name.
    pub fn recipient(mut self, address: &str, actions: &[&str]) -> Self {
        assert!(!actions.is_empty(), "{address}: no actions");
        for action in actions {
            assert!(
                Action::from_name(action).is_some(),
                "{address}: unknown action {action:?}, expected one of {:?}",
                Action::ALL.map(Action::as_str)
            );
        }
        self.recipients.insert(
            address.to_lowercase(),
            actions.iter().map(ToString::to_string).collect(),
        );
        self
    }

    /// The rules as the server reads them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "connect": self.connect, "recipients": self.recipients })
    }
}

/// One completed DATA, as recorded in `log.jsonl`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Received {
    pub seq: u64,
    pub mail_from: String,
    pub rcpt: Vec<String>,
    /// The unfolded value of the Message-ID header, angle brackets included.
    pub message_id: Option<String>,
    /// `accepted`, `dropped`, `hung`, `451` or `554`.
    pub outcome: String,
    /// The `.eml` file's name inside the server's folder.
    pub file: String,
    /// The message's length in bytes.
    pub size: u64,
    /// When the server recorded it (Unix time, seconds).
    pub at: f64,
    /// The connection it came over, numbered from 1 in the order made.
    pub session: u64,
    /// How many connections were open when it was recorded.
    pub open: u64,
}

/// A running `server.py`; dropping it stops the process.
pub struct SmtpServer {
    /// The server process (a test checks it is gone after a drop).
    pub child: Child,
    port: u16,
    dir: PathBuf,
}

/// Why one launch did not give a listening server.
enum LaunchError {
    /// The port was taken; another may work.
    PortTaken,
    /// Anything else, with what the server said.
    Failed(String),
}

impl SmtpServer {
    /// Starts a server that follows `rules` and records into `dir` (made if
    /// missing), on a free port of 127.0.0.1. Panics with the server's
    /// stderr if it does not come up within 10 seconds.
    pub fn start(dir: &Path, rules: &Rules) -> SmtpServer {
        std::fs::create_dir_all(dir).expect("create the SMTP server folder");
        let rules_file = dir.join("rules.json");
        std::fs::write(&rules_file, rules.to_json().to_string()).expect("write rules.json");
        for _ in 0..BIND_ATTEMPTS {
            let port = free_port();
            match launch(dir, &rules_file, port) {
                Ok(child) => {
                    return SmtpServer {
                        child,
                        port,
                        dir: dir.to_owned(),
                    };
                }
                Err(LaunchError::PortTaken) => continue,
                Err(LaunchError::Failed(why)) => panic!("SMTP test server failed: {why}"),
            }
        }
        panic!("SMTP test server found no free port in {BIND_ATTEMPTS} attempts");
    }

    /// The port it listens on, at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every line of `log.jsonl` so far, messages and refusals alike.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let text = match std::fs::read_to_string(self.dir.join("log.jsonl")) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("read log.jsonl: {e}"),
        };
        // A line without its newline is still being written; leave it for
        // the next read.
        let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        complete
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("log.jsonl: {e}: {line}"))
            })
            .collect()
    }

    /// Every completed DATA so far, whatever its outcome, in order.
    pub fn received(&self) -> Vec<Received> {
        self.events()
            .into_iter()
            .filter(|event| event.get("seq").is_some())
            .map(|event| serde_json::from_value(event).expect("a message record"))
            .collect()
    }

    /// The completed DATAs the server answered with 250.
    pub fn accepted(&self) -> Vec<Received> {
        let mut received = self.received();
        received.retain(|r| r.outcome == "accepted");
        received
    }

    /// The bytes of a recorded message.
    pub fn message(&self, received: &Received) -> Vec<u8> {
        std::fs::read(self.dir.join(&received.file))
            .unwrap_or_else(|e| panic!("read {}: {e}", received.file))
    }

    /// Waits until at least `count` messages were accepted, or `timeout`
    /// passed, and returns the accepted messages it has then.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let accepted = self.accepted();
            let now = Instant::now();
            if accepted.len() >= count || now >= deadline {
                return accepted;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Waits until `done` holds for the events, or `timeout` passed, and
    /// returns the events it has then.
    pub fn wait_for_events(
        &self,
        timeout: Duration,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events();
            let now = Instant::now();
            if done(&events) || now >= deadline {
                return events;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Stops the server: SIGTERM, then SIGKILL if it has not exited within
    /// five seconds. Returns how it exited; calling it again is harmless.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(status) = self.child.try_wait().expect("poll the SMTP server") {
            return status;
        }
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll the SMTP server") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        self.child.wait().expect("reap the SMTP server")
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("probe for a free port")
        .port()
}

/// Runs the server on `port` and waits for its `READY` line.
fn launch(dir: &Path, rules: &Path, port: u16) -> Result<Child, LaunchError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/server.py");
    let stderr_path = dir.join("server.stderr");
    let stderr = File::create(&stderr_path).expect("create server.stderr");
    let mut child = Command::new(PYTHON)
        .arg(&script)
        .arg("--port")
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir)
        .arg("--rules")
        .arg(rules)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("run {PYTHON} (needs python3-aiosmtpd): {e}"));

    // A thread reads stdout so the wait below can time out; it ends when
    // the server closes stdout by exiting.
    let stdout = child.stdout.take().expect("server stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let said = |why: &str| format!("{why}; stderr:\n{}", read_lossy(&stderr_path));
    match lines.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line == format!("READY {port}") => Ok(child),
        Ok(line) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(LaunchError::Failed(said(&format!(
                "unexpected output {line:?}"
            ))))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(LaunchError::Failed(said("not ready after 10 seconds")))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = child.wait().expect("reap the SMTP server");
            if status.code() == Some(EXIT_BIND_FAILED) {
                Err(LaunchError::PortTaken)
            } else {
                Err(LaunchError::Failed(said(&format!("exited with {status}"))))
            }
        }
    }
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}
