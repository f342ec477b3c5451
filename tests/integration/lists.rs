//! Many lists in one instance: `list create/show/ls`, `--list`, a
//! daemon serving every list with each list's own key, and inbound mail
//! routed by its envelope recipient.

use std::process::Command;
use std::time::Duration;

use crate::common::daemon::{Daemon, eventually};
use crate::common::mail::{Headers, SIGNED_NOW, signed_mime};
use crate::common::smtp::{Received, Rules, SmtpServer};
use crate::common::{Env, keys, outbox, path, who};

const BETA: &str = "beta-distros@project.example";
const BETA_REQUEST: &str = "beta-distros-request@project.example";

/// The default list (Alice admin, Dave active) and a second list `beta`
/// (Bob admin and committer, Erin active).
fn two_lists() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    let run = crate::common::lists::create(&env, "beta", BETA, who::BOB, &["--role", "committer"]);
    assert_eq!(run.code, 0, "list create beta: {}", run.stderr);
    let erin = env.cert_file(who::ERIN);
    let run = env.ok(&[
        "--list",
        "beta",
        "member",
        "add",
        who::ERIN,
        "--name",
        "Erin",
        "--org",
        "Distro",
        "--kind",
        "distribution",
        "--key",
        path(&erin),
        "--sponsor",
        who::BOB,
        "--json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let token = value["confirmation_token"].as_str().expect("token");
    env.ok(&[
        "--list",
        "beta",
        "member",
        "confirm",
        who::ERIN,
        "--token",
        token,
    ]);
    env
}

/// A new advisory in `list`, announced at once.
fn announce_in(env: &Env, list: &str, id: &str) {
    let body = env.file(&format!("{id}.md"), b"Details.\n");
    env.ok(&[
        "--list",
        list,
        "advisory",
        "new",
        id,
        "--title",
        "An advisory",
        "--severity",
        "low",
        "--product",
        "p",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-09T14:00:00Z",
    ]);
    env.ok(&["--list", list, "advisory", "announce", id]);
}

fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&env.ok(args).stdout).expect("JSON output")
}

fn emails(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|m| m["email"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_second_list_has_its_own_key_roster_and_audit_chain() {
    let env = two_lists();
    let lists = json(&env, &["list", "ls", "--json"]);
    let names: Vec<&str> = lists
        .as_array()
        .expect("array")
        .iter()
        .map(|l| l["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["beta", "security-announce"]);
    let beta = json(&env, &["list", "show", "beta", "--json"]);
    assert_eq!(beta["address"], BETA);
    assert_eq!(beta["request_address"], BETA_REQUEST);
    assert_eq!(beta["active_members"], 2);
    let own = json(&env, &["list", "show", "security-announce", "--json"]);
    assert_ne!(beta["fingerprint"], own["fingerprint"]);
    assert!(
        env.dir.path().join("var/lists/beta/list-key.asc").is_file(),
        "beta's key lives in its own folder"
    );

    // Each roster holds only its own members.
    let own_members = json(
        &env,
        &["--list", "security-announce", "member", "list", "--json"],
    );
    assert_eq!(emails(&own_members), [who::ALICE, who::DAVE]);
    let beta_members = json(&env, &["--list", "beta", "member", "list", "--json"]);
    assert_eq!(emails(&beta_members), [who::BOB, who::ERIN]);

    // Each key export is the list's own certificate.
    let own_key = env
        .ok(&["--list", "security-announce", "key", "export"])
        .stdout;
    let beta_key = env.ok(&["--list", "beta", "key", "export"]).stdout;
    assert_ne!(own_key, beta_key);

    // Each audit chain starts at 1 and verifies on its own.
    let audit = json(&env, &["--list", "beta", "audit", "list", "--json"]);
    let entries = audit.as_array().expect("entries");
    assert_eq!(entries[0]["seq"], 1);
    assert_eq!(entries[0]["action"], "list.init");
    assert!(
        entries
            .iter()
            .all(|e| !e.to_string().contains(who::DAVE) && !e.to_string().contains(who::ALICE)),
        "beta's log names nobody of the other list"
    );
    env.ok(&["--list", "beta", "audit", "verify"]);
    env.ok(&["--list", "security-announce", "audit", "verify"]);
}

#[test]
fn without_list_an_instance_of_several_lists_names_them_and_changes_nothing() {
    let env = two_lists();
    let before = env.dump();
    let run = env.run(&["member", "list"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("2 lists (beta, security-announce)") && run.stderr.contains("--list"),
        "{}",
        run.stderr
    );
    for args in [
        &["--list", "gamma", "member", "list"][..],
        &["--list", "Beta", "queue", "list"][..],
        &[
            "--list",
            "gamma",
            "member",
            "suspend",
            who::DAVE,
            "--reason",
            "x",
        ][..],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("the lists are: beta, security-announce"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(before, env.dump(), "a refused command changed nothing");
}

#[test]
fn a_list_address_in_use_is_refused_either_way_round_and_in_any_case() {
    let env = two_lists();
    let before = env.dump();
    let carol = env.cert_file(who::CAROL);
    for (name, address, request) in [
        ("gamma", "BETA-distros@project.example", None),
        ("gamma", "security-announce@project.example", None),
        ("gamma", "fresh@project.example", Some(BETA_REQUEST)),
        ("gamma", BETA_REQUEST, None),
        (
            "gamma",
            "fresh@project.example",
            Some("Security-Announce-Request@project.example"),
        ),
        ("beta", "fresh@project.example", None),
        ("Not A Name", "fresh@project.example", None),
    ] {
        let mut args = vec![
            "list",
            "create",
            name,
            "--address",
            address,
            "--admin",
            who::CAROL,
            "--name",
            "Carol",
            "--org",
            "Advisor",
            "--key",
            path(&carol),
        ];
        if let Some(request) = request {
            args.extend(["--request-address", request]);
        }
        let run = env.run(&args);
        assert_eq!(run.code, 1, "{args:?} was accepted: {}", run.stdout);
        assert!(
            run.stderr.contains("refused") || run.stderr.contains("not a list name"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(before, env.dump(), "a refused list changed nothing");
    assert!(
        !env.dir.path().join("var/lists/gamma").exists(),
        "a refused list leaves no folder behind"
    );
}

/// Decrypts a sealed copy as `email` and answers the fingerprint of the
/// key that signed what is inside.
fn signer_of(env: &Env, email: &str, list: &str, eml: &[u8]) -> String {
    let home = tempfile::tempdir().expect("GnuPG home");
    let gpg = |args: &[&str], input: Option<&std::path::Path>| {
        let mut command = Command::new("gpg");
        command
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
            .args(["--passphrase", "", "--status-fd", "1"])
            .args(args);
        if let Some(input) = input {
            command.arg(input);
        }
        command.output().expect("run gpg")
    };
    let secret = env.file(&format!("{email}.secret.asc"), keys().secret(email));
    let cert = env.file(
        &format!("{list}.asc"),
        env.ok(&["--list", list, "key", "export"]).stdout.as_bytes(),
    );
    for file in [&secret, &cert] {
        assert!(gpg(&["--import"], Some(file)).status.success());
    }
    let message = mail_parser::MessageParser::default()
        .parse(eml)
        .expect("parses");
    let payload = env.file(
        &format!("{email}.payload.asc"),
        message.part(2).expect("encrypted part").contents(),
    );
    let decrypted = gpg(&["--decrypt"], Some(&payload));
    assert!(
        decrypted.status.success(),
        "{email} cannot decrypt its copy"
    );
    let inner = mail_parser::MessageParser::default()
        .parse(&decrypted.stdout)
        .expect("inner MIME");
    let signed = inner.part(1).expect("signed part");
    let data = env.file(
        &format!("{email}.signed"),
        &decrypted.stdout[signed.offset_header as usize..signed.offset_end as usize],
    );
    let sig = env.file(
        &format!("{email}.sig"),
        inner.part(2).expect("signature").contents(),
    );
    let verified = Command::new("gpg")
        .arg("--homedir")
        .arg(home.path())
        .args(["--batch", "--status-fd", "1", "--verify"])
        .arg(&sig)
        .arg(&data)
        .output()
        .expect("gpg --verify");
    let status = String::from_utf8_lossy(&verified.stdout).into_owned();
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
    status
        .lines()
        .find_map(|line| line.strip_prefix("[GNUPG:] VALIDSIG "))
        .and_then(|rest| rest.split(' ').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no good signature: {status}"))
}

#[test]
fn one_daemon_serves_every_list_each_copy_sealed_with_its_own_lists_key() {
    let env = two_lists();
    announce_in(&env, "security-announce", "OWN-2026-0001");
    announce_in(&env, "beta", "BETA-2026-0001");

    let mut daemon = Daemon::start(&env, &[], "serve.log");
    let notice_ids: Vec<String> = env
        .sql(
            "SELECT d.message_id FROM deliveries d JOIN announcements a \
             ON a.id = d.announcement_id WHERE a.kind = 'notice' ORDER BY d.id",
        )
        .lines()
        .map(|id| id.trim_matches(['<', '>']).to_owned())
        .collect();
    // Each list's admin and member: Alice and Dave, Bob and Erin.
    assert_eq!(notice_ids.len(), 4, "one notice sealed per list's member");
    let recipients = env.sql(
        "SELECT l.name || ':' || d.recipient FROM deliveries d JOIN announcements a \
         ON a.id = d.announcement_id JOIN lists l ON l.id = d.list_id \
         WHERE a.kind = 'notice' ORDER BY 1",
    );
    assert_eq!(
        recipients.lines().collect::<Vec<_>>(),
        [
            format!("beta:{}", who::BOB),
            format!("beta:{}", who::ERIN),
            format!("security-announce:{}", who::ALICE),
            format!("security-announce:{}", who::DAVE),
        ]
    );
    let notices = || {
        outbox::maildir(&env)
            .into_iter()
            .filter_map(|file| std::fs::read(file).ok())
            .filter_map(|bytes| {
                let message = mail_parser::MessageParser::default().parse(&bytes)?;
                let id = message.message_id()?.to_owned();
                if !notice_ids.contains(&id) {
                    return None;
                }
                let to = message.to()?.first()?.address()?.to_owned();
                [who::DAVE, who::ERIN]
                    .contains(&to.as_str())
                    .then_some((to, bytes.clone()))
            })
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(30), "both lists' notices", || {
        notices().len() >= 2
    });
    daemon.stop();
    let log = daemon.log_text();
    assert!(
        log.contains("serving") && log.contains("beta") && log.contains("security-announce"),
        "the daemon says which lists it serves:\n{log}"
    );

    let fingerprint = |list: &str| {
        json(&env, &["list", "show", list, "--json"])["fingerprint"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let found = notices();
    assert_eq!(found.len(), 2, "one notice each, nobody of the other list");
    for (to, bytes) in found {
        let list = if to == who::DAVE {
            "security-announce"
        } else {
            "beta"
        };
        let signer = signer_of(&env, &to, list, &bytes);
        let list_fpr = fingerprint(list);
        assert!(
            list_fpr.ends_with(&signer) || signer.ends_with(&list_fpr) || signer == list_fpr,
            "{to}'s copy is signed by {signer}, not by {list}'s key {list_fpr}"
        );
    }
}

// Each list's delivery run used to start `[delivery] concurrency` workers
// of its own, each opening its own SMTP connection: a daemon of a hundred
// lists made a hundred times the connections, and each list's outcomes
// trickled in one transaction at a time (bench/lists missed its target by
// 1.6–2.1×). The workers are now the process's, shared by every list.
#[test]
fn a_daemon_serving_three_lists_sends_every_copy_over_at_most_concurrency_connections() {
    let env = two_lists();
    let run = crate::common::lists::create(
        &env,
        "gamma",
        "gamma-users@project.example",
        who::FRANK,
        &["--role", "committer"],
    );
    assert_eq!(run.code, 0, "list create gamma: {}", run.stderr);
    crate::common::lists::add_active(&env, "gamma", who::CAROL, who::FRANK, &[]);
    let mut server = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&env.config)
            .expect("config");
        write!(
            file,
            "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\n[delivery]\nconcurrency = 2\n",
            server.port()
        )
        .expect("write config");
    }
    for (list, id) in [
        ("security-announce", "OWN-2026-0001"),
        ("beta", "BETA-2026-0001"),
        ("gamma", "GAMMA-2026-0001"),
    ] {
        announce_in(&env, list, id);
    }
    let notices = env.sql(
        "SELECT d.recipient || ' ' || d.message_id FROM deliveries d JOIN announcements a \
         ON a.id = d.announcement_id WHERE a.kind = 'notice' ORDER BY 1",
    );
    let notices: Vec<(String, String)> = notices
        .lines()
        .filter_map(|row| row.split_once(' '))
        .map(|(to, id)| (to.to_owned(), id.to_owned()))
        .collect();
    assert_eq!(notices.len(), 6, "two members on each of three lists");
    let is_notice = |r: &Received| {
        notices
            .iter()
            .any(|(_, id)| r.message_id.as_deref() == Some(id.as_str()))
    };

    let mut daemon = Daemon::start(&env, &[], "serve.log");
    eventually(Duration::from_secs(60), "every list's notices", || {
        server.accepted().iter().filter(|r| is_notice(r)).count() >= notices.len()
    });
    daemon.stop();
    server.stop();
    let received = server.received();

    let mut sent: Vec<(String, String)> = received
        .iter()
        .filter(|r| is_notice(r))
        .map(|r| (r.rcpt.join(","), r.message_id.clone().unwrap_or_default()))
        .collect();
    sent.sort();
    assert_eq!(sent, notices, "every member of every list, once");
    let most_open = received.iter().map(|r| r.open).max().unwrap_or(0);
    assert!(
        most_open <= 2,
        "at most [delivery] concurrency = 2 connections at once, saw {most_open}: {received:#?}"
    );
    let mut sessions: Vec<u64> = received.iter().map(|r| r.session).collect();
    sessions.sort_unstable();
    sessions.dedup();
    assert!(
        sessions.len() <= 2,
        "the lists share the daemon's connections (the same server and greeting), \
         not one set per list: {} sessions for {} copies",
        sessions.len(),
        received.len()
    );
}

#[test]
fn serve_lists_serves_only_the_named_lists_and_refuses_unknown_names() {
    let env = two_lists();
    announce_in(&env, "beta", "BETA-2026-0001");

    let run = env.run(&["serve", "--lists", "beta,gamma"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("gamma")
            && run
                .stderr
                .contains("the lists are: beta, security-announce"),
        "{}",
        run.stderr
    );

    // Serving only the default list leaves beta's notice queued.
    let mut command = env.command();
    let log = env.dir.path().join("own.log");
    let mut child = command
        .args(["serve", "--lists", "security-announce"])
        .env("EMBARGO_LOG", "info")
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("serve");
    eventually(
        Duration::from_secs(20),
        "the daemon to start serving",
        || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("serving")
        },
    );
    // Give it passes to (wrongly) send beta's copy: the queue says it
    // is still queued afterwards.
    eventually(Duration::from_secs(20), "a few passes", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("embargo serve is running")
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let queue = env.ok(&["--list", "beta", "queue", "list"]).stdout;
    assert!(
        queue.contains(who::ERIN) && queue.contains("queued"),
        "{queue}"
    );
    let to_erin = outbox::maildir(&env)
        .into_iter()
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .filter(|text| text.contains(who::ERIN))
        .count();
    assert_eq!(
        to_erin, 0,
        "nothing of beta went out from a daemon serving only security-announce"
    );
}

#[test]
fn inbound_mail_is_routed_by_its_envelope_recipient() {
    let env = two_lists();
    env.ok(&["--list", "security-announce", "queue", "run"]);
    env.ok(&["--list", "beta", "queue", "run"]);
    // Erin unsubscribes from beta, by a command bound to beta, delivered
    // to beta's request address.
    let message = signed_mime(
        who::ERIN,
        &Headers::new(who::ERIN, BETA_REQUEST),
        &format!("List: {BETA}\nUNSUBSCRIBE\n"),
        &[],
        SIGNED_NOW,
    );
    let run = |recipient: &str| {
        let mut child = env
            .command()
            .args(["ingest", "--recipient", recipient])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ingest");
        {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(&message)
                .expect("write");
        }
        let out = child.wait_with_output().expect("ingest");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // To an address no list has: the MTA keeps it and retries.
    let (code, stderr) = run("nobody@project.example");
    assert_eq!(code, 75, "{stderr}");
    assert!(stderr.contains("no list here has the address"), "{stderr}");
    // Without a recipient, with two lists: kept too, naming the lists.
    let (code, stderr) = {
        let out = env
            .command()
            .arg("ingest")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("ingest");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, 75, "{stderr}");
    assert!(stderr.contains("--list"), "{stderr}");

    let (code, stderr) = run(BETA_REQUEST);
    assert_eq!(code, 0, "{stderr}");
    let erin = json(
        &env,
        &["--list", "beta", "member", "show", who::ERIN, "--json"],
    );
    assert_eq!(erin["status"], "removed", "{erin}");
    // The default list's roster did not move.
    let own = json(
        &env,
        &["member", "list", "--list", "security-announce", "--json"],
    );
    assert_eq!(emails(&own), [who::ALICE, who::DAVE]);
}

#[test]
fn a_lists_own_table_overrides_the_instance_defaults_for_that_list_only() {
    let env = Env::with_config(
        "\n[lists.beta]\nname = \"Beta distros\"\n\n[lists.beta.embargo]\nmax_days = 3\n",
    );
    env.init();
    let run = crate::common::lists::create(&env, "beta", BETA, who::BOB, &[]);
    assert_eq!(run.code, 0, "list create beta: {}", run.stderr);
    let beta = json(&env, &["list", "show", "beta", "--json"]);
    assert_eq!(beta["display_name"], "Beta distros");
    let own = json(&env, &["list", "show", "security-announce", "--json"]);
    assert_eq!(own["display_name"], "Test list");

    // Eight days of embargo: past beta's three-day maximum, within the
    // instance's default.
    let body = env.file("body.md", b"Details.\n");
    let new = |list: &str| {
        env.run(&[
            "--list",
            list,
            "advisory",
            "new",
            "X-2026-0001",
            "--title",
            "T",
            "--severity",
            "low",
            "--product",
            "p",
            "--body",
            path(&body),
            "--disclose-at",
            "2026-06-09T14:00:00Z",
        ])
    };
    assert_eq!(new("security-announce").code, 0);
    let before = env.dump();
    let run = new("beta");
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("maximum of 3 days"), "{}", run.stderr);
    assert_eq!(before, env.dump());
}
