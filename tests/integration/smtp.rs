//! The server does what the rules say, seen through a minimal SMTP
//! client written here so that no library hides what went over the wire.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::smtp::{Rules, SmtpServer};

/// A bound on every read, so a silent server fails a test instead of
/// hanging it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const WAIT: Duration = Duration::from_secs(10);

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects and returns the client with the greeting's code.
    fn connect(server: &SmtpServer) -> (Client, u16) {
        Self::connect_with(server, READ_TIMEOUT)
    }

    fn connect_with(server: &SmtpServer, read_timeout: Duration) -> (Client, u16) {
        let stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        stream
            .set_read_timeout(Some(read_timeout))
            .expect("timeout");
        stream
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        let mut client = Client {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        };
        let greeting = client.reply().expect("greeting");
        (client, greeting)
    }

    /// Reads one reply, multi-line or not, and returns its code.
    fn reply(&mut self) -> std::io::Result<u16> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            assert!(line.len() >= 4, "short reply line {line:?}");
            if line.as_bytes()[3] == b' ' || line.trim_end().len() == 3 {
                return Ok(line[..3].parse().expect("reply code"));
            }
        }
    }

    fn command(&mut self, line: &str) -> std::io::Result<u16> {
        self.writer.write_all(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }

    /// EHLO, MAIL FROM, one RCPT TO each, and returns the RCPT codes.
    fn envelope(&mut self, from: &str, to: &[&str]) -> Vec<u16> {
        assert_eq!(self.command("EHLO client.test").expect("EHLO"), 250);
        let mail = self.command(&format!("MAIL FROM:<{from}>")).expect("MAIL");
        assert_eq!(mail, 250);
        to.iter()
            .map(|rcpt| self.command(&format!("RCPT TO:<{rcpt}>")).expect("RCPT"))
            .collect()
    }

    /// DATA with `body` (CRLF lines), dot-stuffed; returns the reply to
    /// the final dot, or the error reading it.
    fn data(&mut self, body: &[u8]) -> std::io::Result<u16> {
        assert_eq!(self.command("DATA")?, 354);
        let mut wire = Vec::with_capacity(body.len() + 16);
        for line in body.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                wire.push(b'.');
            }
            wire.extend_from_slice(line);
        }
        wire.extend_from_slice(b".\r\n");
        self.writer.write_all(&wire)?;
        self.reply()
    }

    fn quit(mut self) {
        let _ = self.command("QUIT");
    }
}

fn message(id: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{id}>\r\nFrom: list@project.example\r\nSubject: test\r\n\r\n\
         .a line that starts with a dot\r\nbody \u{e9}\r\n"
    )
    .into_bytes()
}

/// Sends one message over a fresh connection; returns the RCPT codes and
/// the DATA reply (`None` if RCPT was refused).
fn deliver(server: &SmtpServer, to: &str, body: &[u8]) -> (u16, Option<u16>) {
    let (mut client, greeting) = Client::connect(server);
    assert_eq!(greeting, 220);
    let rcpt = client.envelope("list@project.example", &[to])[0];
    if rcpt != 250 {
        client.quit();
        return (rcpt, None);
    }
    let data = client.data(body).expect("DATA reply");
    client.quit();
    (rcpt, Some(data))
}

#[test]
fn accepted_message_is_recorded_with_its_id_and_exact_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = SmtpServer::start(dir.path(), &Rules::new());
    let body = message("one@project.example");
    assert_eq!(
        deliver(&server, "alice@project.example", &body),
        (250, Some(250))
    );
    let received = server.wait_for(1, WAIT);
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.seq, 1);
    assert_eq!(r.mail_from, "list@project.example");
    assert_eq!(r.rcpt, ["alice@project.example"]);
    assert_eq!(r.message_id.as_deref(), Some("<one@project.example>"));
    assert_eq!(r.outcome, "accepted");
    assert_eq!(server.message(r), body);
    assert_eq!(r.size, body.len() as u64);
}

#[test]
fn messages_of_a_few_mib_pass() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = SmtpServer::start(dir.path(), &Rules::new());
    let mut body = message("big@project.example");
    let line = format!("{}\r\n", "A".repeat(76));
    body.extend(line.as_bytes().iter().cycle().take(line.len() * 45_000));
    assert!(body.len() > 3 * 1024 * 1024);
    assert_eq!(deliver(&server, "bob@x.example", &body), (250, Some(250)));
    let received = server.wait_for(1, WAIT);
    assert_eq!(server.message(&received[0]), body);
}

#[test]
fn temporary_rcpt_failure_then_accept_over_two_connections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = Rules::new().recipient("Bob@Vendor.example", &["451", "accept"]);
    let server = SmtpServer::start(dir.path(), &rules);
    let body = message("retry@project.example");
    assert_eq!(deliver(&server, "bob@vendor.example", &body), (451, None));
    assert!(server.received().is_empty());
    assert_eq!(
        deliver(&server, "bob@vendor.example", &body),
        (250, Some(250))
    );
    let events = server.events();
    assert_eq!(events[0]["event"], "rcpt");
    assert_eq!(events[0]["rcpt"], "bob@vendor.example");
    assert_eq!(events[0]["code"], 451);
    let received = server.wait_for(1, WAIT);
    assert_eq!(received[0].rcpt, ["bob@vendor.example"]);
}

#[test]
fn permanent_rcpt_failure_repeats_and_records_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = Rules::new().recipient("gone@vendor.example", &["550"]);
    let server = SmtpServer::start(dir.path(), &rules);
    let body = message("gone@project.example");
    for _ in 0..2 {
        assert_eq!(deliver(&server, "gone@vendor.example", &body), (550, None));
    }
    // Other recipients are untouched by the rule.
    assert_eq!(
        deliver(&server, "ok@vendor.example", &body),
        (250, Some(250))
    );
    let refusals: Vec<_> = server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "rcpt" && e["code"] == 550)
        .collect();
    assert_eq!(refusals.len(), 2);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt, ["ok@vendor.example"]);
}

#[test]
fn first_connection_refused_with_421_then_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = Rules::new().connect(&["421", "accept"]);
    let server = SmtpServer::start(dir.path(), &rules);
    let (mut client, greeting) = Client::connect(&server);
    assert_eq!(greeting, 421);
    let after = client.reply().expect_err("closed after 421");
    assert_eq!(after.kind(), ErrorKind::UnexpectedEof);
    let body = message("after421@project.example");
    assert_eq!(deliver(&server, "carol@x.example", &body), (250, Some(250)));
    let events = server.events();
    assert_eq!(events[0]["event"], "connect");
    assert_eq!(events[0]["code"], 421);
    assert_eq!(server.wait_for(1, WAIT).len(), 1);
}

#[test]
fn drop_after_data_closes_without_reply_and_records_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = Rules::new().recipient("dave@vendor.example", &["drop-after-data", "accept"]);
    let server = SmtpServer::start(dir.path(), &rules);
    let body = message("dropped@project.example");
    let (mut client, _) = Client::connect(&server);
    assert_eq!(
        client.envelope("list@project.example", &["dave@vendor.example"]),
        [250]
    );
    let error = client.data(&body).expect_err("no reply after DATA");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
        ),
        "{error}"
    );
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].outcome, "dropped");
    assert_eq!(server.message(&received[0]), body);
    assert!(server.accepted().is_empty());

    assert_eq!(
        deliver(&server, "dave@vendor.example", &body),
        (250, Some(250))
    );
    let accepted = server.wait_for(1, WAIT);
    assert_eq!(accepted[0].seq, 2);
    assert_eq!(
        accepted[0].message_id.as_deref(),
        Some("<dropped@project.example>")
    );
}

#[test]
fn hang_after_data_never_answers_and_stop_still_exits_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = Rules::new().recipient("erin@distro.example", &["hang-after-data"]);
    let mut server = SmtpServer::start(dir.path(), &rules);
    let (mut client, _) = Client::connect_with(&server, Duration::from_millis(500));
    assert_eq!(
        client.envelope("list@project.example", &["erin@distro.example"]),
        [250]
    );
    let error = client
        .data(&message("hung@project.example"))
        .expect_err("silence");
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error}"
    );
    assert_eq!(server.received()[0].outcome, "hung");
    // The client is still connected; SIGTERM must end the server anyway.
    let status = server.stop();
    assert!(status.success(), "{status}");
    drop(client);
}

#[test]
fn data_codes_answer_the_final_dot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = Rules::new()
        .recipient("temp@x.example", &["451-data"])
        .recipient("perm@x.example", &["554-data"]);
    let server = SmtpServer::start(dir.path(), &rules);
    let body = message("codes@project.example");
    assert_eq!(deliver(&server, "temp@x.example", &body), (250, Some(451)));
    assert_eq!(deliver(&server, "perm@x.example", &body), (250, Some(554)));
    let outcomes: Vec<_> = server.received().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["451", "554"]);
}

#[test]
fn concurrent_connections_are_all_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = Rules::new().recipient("flaky@x.example", &["451", "accept"]);
    let server = SmtpServer::start(dir.path(), &rules);
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let server = &server;
            scope.spawn(move || {
                let (mut client, greeting) = Client::connect(server);
                assert_eq!(greeting, 220);
                assert_eq!(client.command("EHLO client.test").expect("EHLO"), 250);
                for n in 0..25 {
                    assert_eq!(client.command("MAIL FROM:<list@x.example>").unwrap(), 250);
                    let to = format!("RCPT TO:<m{thread}-{n}@x.example>");
                    assert_eq!(client.command(&to).expect("RCPT"), 250);
                    let body = message(&format!("{thread}-{n}@project.example"));
                    assert_eq!(client.data(&body).expect("DATA"), 250);
                }
                client.quit();
            });
        }
    });
    let received = server.wait_for(200, WAIT);
    assert_eq!(received.len(), 200);
    let mut seqs: Vec<u64> = received.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    let mut ids: Vec<_> = received
        .iter()
        .filter_map(|r| r.message_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);

    assert_eq!(deliver(&server, "flaky@x.example", b"\r\n"), (451, None));
    let events = server.wait_for_events(WAIT, |events| events.iter().any(|e| e["event"] == "rcpt"));
    assert_eq!(events.len(), 201);
}

#[test]
fn dropping_the_handle_stops_the_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = SmtpServer::start(dir.path(), &Rules::new());
    let proc = std::path::PathBuf::from(format!("/proc/{}", server.child.id()));
    assert!(proc.exists());
    drop(server);
    assert!(!proc.exists(), "server process still present");
}

#[test]
fn a_restarted_server_numbers_on_in_the_same_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = message("restart@project.example");
    let server = SmtpServer::start(dir.path(), &Rules::new());
    assert_eq!(deliver(&server, "a@x.example", &body), (250, Some(250)));
    drop(server);
    let server = SmtpServer::start(dir.path(), &Rules::new());
    assert_eq!(deliver(&server, "b@x.example", &body), (250, Some(250)));
    let received = server.wait_for(2, WAIT);
    let seqs: Vec<_> = received.iter().map(|r| (r.seq, r.file.as_str())).collect();
    assert_eq!(seqs, [(1, "msg-1.eml"), (2, "msg-2.eml")]);
    assert_eq!(received[0].rcpt, ["a@x.example"]);
}

#[test]
#[should_panic(expected = "unknown action")]
fn unknown_action_names_are_refused() {
    let _ = Rules::new().recipient("x@x.example", &["250"]);
}
