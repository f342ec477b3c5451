//! `embargo serve` as a child process, and bounded polling for a condition.
//!
//! The test owns the process: dropping a [`Daemon`] kills it.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::Env;

/// A running `embargo serve`.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts the daemon for `env` with extra environment variables; its
    /// log (at info level) goes to `log`.
    pub fn start(env: &Env, vars: &[(&str, &str)], log: &str) -> Self {
        let log = env.dir.path().join(log);
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = env.command();
        command
            .arg("serve")
            .env("EMBARGO_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file);
        for (name, value) in vars {
            command.env(name, value);
        }
        let child = command.spawn().expect("start embargo serve");
        Self {
            child: Some(child),
            log,
        }
    }

    /// Waits (bounded) for the daemon to exit on its own.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.child.as_ref().expect("running").id();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        self.wait(Duration::from_secs(20))
    }

    /// Kills the daemon with SIGKILL, at whatever it is doing.
    pub fn kill(&mut self) {
        let pid = self.child.as_ref().expect("running").id();
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }

    /// Whether the daemon is still running (it has not exited).
    pub fn is_running(&mut self) -> bool {
        let child = self.child.as_mut().expect("running");
        child.try_wait().expect("wait").is_none()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` every 20 ms until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
