//! Getting a sealed message to its recipient: SMTP (lettre) or a maildir.
//!
//! One SMTP transaction and one RCPT per message. The envelope sender is
//! per delivery (VERP) so a bounce names the copy it is about. What the
//! server answered, and when, decides the [`Outcome`]:
//!
//! - a 2xx after the end of DATA: sent;
//! - a 4xx, or the connection failing (refused, reset, TLS) before the end
//!   of DATA: try again later;
//! - a 5xx: failed for good;
//! - no answer after the end of DATA (timeout, connection gone): uncertain,
//!   because the server may have taken the message.
//!
//! A [`Connection`] is one SMTP session reused for many messages; the
//! caller bounds how many run at once. Sockets are opened here with
//! `TCP_NODELAY`: lettre writes the final `.` as its own small write, and
//! with Nagle's algorithm on it waits ~40 ms for the previous segment's
//! acknowledgement on every message.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::address::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;

use crate::config::{Secret, SmtpTls};
use crate::text::single_line;

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the server's reply.
    Sent(String),
    /// Not taken; try again later.
    Retry(String),
    /// Refused for good.
    Failed(String),
    /// The server went silent after the whole message: it may have it.
    Uncertain(String),
}

/// Where an SMTP server is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<(String, Secret)>,
    /// The bound on each step (connect, each command, the end of DATA).
    pub timeout: Duration,
    /// The name we greet with.
    pub hello: String,
}

/// Where mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Smtp(SmtpTarget),
    /// One file per message, written atomically; nothing leaves the host.
    Maildir(PathBuf),
}

impl Transport {
    /// A connection slot for one worker. SMTP connects lazily, on the
    /// first message.
    pub fn connection(&self) -> Connection {
        Connection {
            transport: self.clone(),
            session: None,
        }
    }

    /// Makes sure a maildir exists (cur, new, tmp; mode 0700).
    pub fn prepare(&self) -> std::io::Result<()> {
        if let Transport::Maildir(dir) = self {
            for sub in ["cur", "new", "tmp"] {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .create(dir.join(sub))?;
            }
        }
        Ok(())
    }
}

/// One worker's connection.
pub struct Connection {
    transport: Transport,
    session: Option<AsyncSmtpConnection>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("connected", &self.session.is_some())
            .finish()
    }
}

/// One message to send: the envelope and the complete message bytes
/// (CRLF line ends).
#[derive(Debug)]
pub struct Envelope<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// A stable name for the copy (the maildir file name is built from it,
    /// so writing the same copy twice leaves one file).
    pub key: &'a str,
    pub message: &'a [u8],
}

impl Connection {
    /// Sends one message and says what happened. Never panics on what the
    /// server does.
    pub async fn send(&mut self, envelope: &Envelope<'_>) -> Outcome {
        match &self.transport {
            Transport::Maildir(dir) => {
                let dir = dir.clone();
                let name = maildir_name(envelope.key);
                let message = envelope.message.to_vec();
                match tokio::task::spawn_blocking(move || write_maildir(&dir, &name, &message))
                    .await
                {
                    Ok(Ok(())) => Outcome::Sent("written to the maildir".to_owned()),
                    Ok(Err(err)) => Outcome::Retry(format!("write to the maildir: {err}")),
                    Err(err) => Outcome::Retry(format!("write to the maildir: {err}")),
                }
            }
            Transport::Smtp(target) => {
                let target = target.clone();
                self.send_smtp(&target, envelope).await
            }
        }
    }

    /// Whether this connection sends to `transport` (a session is only
    /// reused for the server and greeting it was opened with).
    pub fn goes_to(&self, transport: &Transport) -> bool {
        &self.transport == transport
    }

    /// Whether an SMTP session is open.
    pub fn is_open(&self) -> bool {
        self.session.is_some()
    }

    /// Ends the session politely.
    pub async fn close(&mut self) {
        if let Some(mut session) = self.session.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), session.quit()).await;
        }
    }

    async fn send_smtp(&mut self, target: &SmtpTarget, envelope: &Envelope<'_>) -> Outcome {
        let (from, to) = match (
            envelope.from.parse::<Address>(),
            envelope.to.parse::<Address>(),
        ) {
            (Ok(from), Ok(to)) => (from, to),
            _ => return Outcome::Failed("an envelope address is not valid".to_owned()),
        };
        if self.session.as_ref().is_some_and(|s| s.has_broken()) {
            self.session = None;
        }
        let mut session = match self.session.take() {
            Some(session) => session,
            None => match connect(target).await {
                Ok(session) => session,
                Err(outcome) => return outcome,
            },
        };
        let timeout = target.timeout;
        // Before the end of DATA nothing can have been delivered: any
        // failure here is a plain retry (or a refusal).
        for step in [
            Step::Mail(Mail::new(Some(from), vec![])),
            Step::Rcpt(Rcpt::new(to, vec![])),
            Step::Data,
        ] {
            let result = match &step {
                Step::Mail(command) => bounded(timeout, session.command(command)).await,
                Step::Rcpt(command) => bounded(timeout, session.command(command)).await,
                Step::Data => bounded(timeout, session.command(Data)).await,
            };
            if let Err(failure) = result {
                let outcome = failure.before_data(step.name());
                if failure.has_code() {
                    // The session is fine; reset it for the next message.
                    if bounded(timeout, session.command(Rset)).await.is_ok() {
                        self.session = Some(session);
                    }
                }
                return outcome;
            }
        }
        match bounded(timeout, session.message(envelope.message)).await {
            Ok(reply) => {
                self.session = Some(session);
                Outcome::Sent(reply)
            }
            Err(failure) => {
                let outcome = failure.after_data();
                if failure.has_code() && bounded(timeout, session.command(Rset)).await.is_ok() {
                    self.session = Some(session);
                }
                outcome
            }
        }
    }
}

enum Step {
    Mail(Mail),
    Rcpt(Rcpt),
    Data,
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Mail(_) => "MAIL FROM",
            Step::Rcpt(_) => "RCPT TO",
            Step::Data => "DATA",
        }
    }
}

/// An SMTP step that did not succeed.
enum Failure {
    /// The server answered with a negative code.
    Code { code: u16, text: String },
    /// The connection failed, or the reply could not be read.
    Broken(String),
    /// No reply within the bound.
    Timeout,
}

impl Failure {
    fn from_error(err: &lettre::transport::smtp::Error) -> Self {
        match err.status() {
            Some(code) => Failure::Code {
                code: u16::from(code),
                text: reply_text(&err.to_string()),
            },
            None if err.is_timeout() => Failure::Timeout,
            None => Failure::Broken(reply_text(&err.to_string())),
        }
    }

    fn has_code(&self) -> bool {
        matches!(self, Failure::Code { .. })
    }

    fn describe(&self, step: &str) -> String {
        match self {
            Failure::Code { text, .. } => format!("{step}: {text}"),
            Failure::Broken(text) => format!("{step}: connection failed: {text}"),
            Failure::Timeout => format!("{step}: no reply in time"),
        }
    }

    fn before_data(&self, step: &str) -> Outcome {
        match self {
            Failure::Code { code, .. } if *code >= 500 => Outcome::Failed(self.describe(step)),
            _ => Outcome::Retry(self.describe(step)),
        }
    }

    fn after_data(&self) -> Outcome {
        let step = "end of DATA";
        match self {
            Failure::Code { code, .. } if *code >= 500 => Outcome::Failed(self.describe(step)),
            Failure::Code { .. } => Outcome::Retry(self.describe(step)),
            Failure::Broken(_) | Failure::Timeout => Outcome::Uncertain(self.describe(step)),
        }
    }
}

async fn bounded<F>(timeout: Duration, step: F) -> Result<String, Failure>
where
    F: Future<
        Output = Result<
            lettre::transport::smtp::response::Response,
            lettre::transport::smtp::Error,
        >,
    >,
{
    match tokio::time::timeout(timeout, step).await {
        Ok(Ok(response)) => Ok(reply_text(&format!(
            "{} {}",
            response.code(),
            response.message().collect::<Vec<_>>().join(" ")
        ))),
        Ok(Err(err)) => Err(Failure::from_error(&err)),
        Err(_) => Err(Failure::Timeout),
    }
}

/// A server's reply as one short line we can store and show.
fn reply_text(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    single_line("reply", flat.trim(), 300).unwrap_or_else(|_| "(unprintable reply)".to_owned())
}

/// Waits at most `timeout` for the server's greeting, over implicit TLS
/// or plain TCP alike; `Err` says in one line why there was none.
async fn greeted<F>(timeout: Duration, greeting: F) -> Result<AsyncSmtpConnection, String>
where
    F: Future<Output = Result<AsyncSmtpConnection, lettre::transport::smtp::Error>>,
{
    match tokio::time::timeout(timeout, greeting).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(err)) => Err(Failure::from_error(&err).describe("greeting")),
        Err(_) => Err("no greeting in time".to_owned()),
    }
}

async fn connect(target: &SmtpTarget) -> Result<AsyncSmtpConnection, Outcome> {
    let retry = |what: &str, err: &dyn std::fmt::Display| {
        Outcome::Retry(format!(
            "connect to {}:{}: {what}: {err}",
            target.host, target.port
        ))
    };
    let hello = ClientId::Domain(target.hello.clone());
    let tls = || TlsParameters::new(target.host.clone()).map_err(|err| retry("TLS setup", &err));
    let timeout = target.timeout;
    let mut session = match target.tls {
        SmtpTls::Implicit => {
            let parameters = tls()?;
            let connecting = AsyncSmtpConnection::connect_tokio1(
                (target.host.as_str(), target.port),
                Some(timeout),
                &hello,
                Some(parameters),
                None,
            );
            greeted(timeout, connecting)
                .await
                .map_err(|why| retry("session", &why))?
        }
        SmtpTls::Starttls | SmtpTls::None => {
            let stream = match tokio::time::timeout(
                timeout,
                tokio::net::TcpStream::connect((target.host.as_str(), target.port)),
            )
            .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => return Err(retry("TCP", &err)),
                Err(_) => return Err(retry("TCP", &"timed out")),
            };
            stream.set_nodelay(true).map_err(|err| retry("TCP", &err))?;
            let greeting = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello);
            let mut session = greeted(timeout, greeting)
                .await
                .map_err(|why| retry("session", &why))?;
            if target.tls == SmtpTls::Starttls {
                if !session.can_starttls() {
                    return Err(retry(
                        "STARTTLS",
                        &"the server does not offer it, and it is required",
                    ));
                }
                let parameters = tls()?;
                match tokio::time::timeout(timeout, session.starttls(parameters, &hello)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => return Err(retry("STARTTLS", &err)),
                    Err(_) => return Err(retry("STARTTLS", &"timed out")),
                }
            }
            session
        }
    };
    if let Some((user, password)) = &target.credentials {
        let credentials = Credentials::new(user.clone(), password.expose().to_owned());
        let mechanisms = [Mechanism::Plain, Mechanism::Login];
        match tokio::time::timeout(timeout, session.auth(&mechanisms, &credentials)).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                // Wrong credentials are the operator's to fix; keep trying
                // until the copy's lifetime runs out rather than failing
                // every copy at once.
                return Err(retry("AUTH", &Failure::from_error(&err).describe("AUTH")));
            }
            Err(_) => return Err(retry("AUTH", &"timed out")),
        }
    }
    Ok(session)
}

/// A maildir file name: unique per copy and the same for the same copy.
fn maildir_name(key: &str) -> String {
    let safe: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(120)
        .collect();
    format!("{safe}.embargo")
}

fn write_maildir(dir: &Path, name: &str, message: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join("tmp").join(name);
    let new = dir.join("new").join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    file.write_all(message)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &new)?;
    // The rename is durable only once the folder is.
    std::fs::File::open(dir.join("new"))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Implicit TLS and plain TCP share one greeting wait: a server that
    /// accepts and says nothing is given up on after the timeout, one that
    /// refuses in its greeting is described by its reply, each in one line.
    #[tokio::test]
    async fn a_silent_or_refusing_greeting_is_described_in_one_line() {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let (silent, _) = listener.accept().await.expect("accept");
            let (mut refusing, _) = listener.accept().await.expect("accept");
            refusing
                .write_all(b"554 5.3.2 not now\r\n")
                .await
                .expect("write the greeting");
            (silent, refusing)
        });
        let hello = ClientId::Domain("bench.example".to_owned());
        let mut answers = Vec::new();
        for _ in 0..2 {
            let stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connect");
            let greeting = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello);
            let answer = greeted(Duration::from_millis(300), greeting).await;
            answers.push(answer.err().expect("no session"));
        }
        assert_eq!(answers[0], "no greeting in time");
        assert!(answers[1].starts_with("greeting: "), "{}", answers[1]);
        assert!(answers[1].contains("554"), "{}", answers[1]);
        drop(server.await.expect("the server task"));
    }

    #[test]
    fn replies_are_classified_by_code_and_by_when_they_fail() {
        let code = |code| Failure::Code {
            code,
            text: format!("{code} x"),
        };
        assert!(matches!(
            code(451).before_data("RCPT TO"),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            code(550).before_data("RCPT TO"),
            Outcome::Failed(_)
        ));
        assert!(matches!(
            Failure::Broken("reset".into()).before_data("MAIL FROM"),
            Outcome::Retry(_)
        ));
        assert!(matches!(code(452).after_data(), Outcome::Retry(_)));
        assert!(matches!(code(554).after_data(), Outcome::Failed(_)));
        assert!(matches!(
            Failure::Timeout.after_data(),
            Outcome::Uncertain(_)
        ));
        assert!(matches!(
            Failure::Broken("incomplete response".into()).after_data(),
            Outcome::Uncertain(_)
        ));
    }

    #[test]
    fn maildir_names_are_stable_and_safe() {
        assert_eq!(maildir_name("42-<ab/../c@d>"), "42-ab..cd.embargo");
        let dir = tempfile::tempdir().expect("temp dir");
        let transport = Transport::Maildir(dir.path().to_path_buf());
        transport.prepare().expect("maildir");
        write_maildir(dir.path(), "x.embargo", b"one").expect("write");
        write_maildir(dir.path(), "x.embargo", b"one").expect("write again");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("new"))
            .expect("new")
            .collect();
        assert_eq!(files.len(), 1);
        assert!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .next()
                .is_none()
        );
    }

    #[test]
    fn replies_are_one_printable_line() {
        assert_eq!(reply_text("250 ok\r\nqueued"), "250 ok  queued");
    }
}
