//! `embargo demo`: a throwaway list in a temporary folder, end to end, so a
//! newcomer can see what the tool does before configuring anything.
//!
//! It stands in for the people involved: it makes OpenPGP keys for an
//! admin and a new member itself (a real member brings their own), then
//! drives the same use cases the CLI does.

use anyhow::{Context, Result};

use super::{member, progress};
use crate::advisory::{Permission, Severity};
use crate::app::App;
use crate::app::advisory::{AdvisoryInput, Force};
use crate::app::advisory_view::Preview;
use crate::app::init::{InitRequest, init};
use crate::app::list::stand_in_key;
use crate::app::roster::AddMember;
use crate::cli::{DemoArgs, MemberCommand};
use crate::clock;
use crate::compose::Kind as MailKind;
use crate::config::Config;
use crate::roster::{Email, Kind, Role};

const CONFIG: &str = r#"# A throwaway list made by `embargo demo`.
[list]
address = "security-announce@project.example"
name = "Example Project pre-disclosure list"

[storage]
data_dir = "var"

[team]
address = "security@project.example"

[cases]
authserv_id = "mail.project.example"
"#;

pub async fn run(args: DemoArgs) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("embargo-demo-")
        .tempdir()
        .context("make a temporary folder")?;
    let config_path = dir.path().join("embargo.toml");
    std::fs::write(&config_path, CONFIG).context("write the demo config")?;
    let config = Config::load(Some(&config_path))?;
    let clock = clock::from_env()?;
    let now = clock.now();

    step(&format!("A throwaway list in {}", dir.path().display()));
    let admin = Email::parse("alice@project.example")?;
    let member = Email::parse("security@distro.example")?;
    let (admin_cert, _admin_secret) = stand_in_key("Alice Admin", &admin, now)?;
    let (member_cert, member_secret) = stand_in_key("Sam Roe", &member, now)?;
    println!(
        "Made OpenPGP keys for {admin} (the operator) and {member} (a distribution's security team)."
    );

    step("embargo init: the list database, the list key, and the first admin");
    let outcome = init(
        &config,
        clock.as_ref(),
        InitRequest {
            admin_email: admin.to_string(),
            admin_name: "Alice Admin".to_owned(),
            admin_org: "Example Project".to_owned(),
            admin_kind: Kind::Individual,
            admin_key: admin_cert,
            extra_roles: vec![Role::Committer, Role::Maintainer],
            import_key: None,
            list_name: None,
        },
    )
    .await?;
    println!(
        "List key {} made; {} is admin, maintainer and committer.",
        outcome.list_fingerprint, admin
    );

    let app = open_app(config, clock).await?;
    step("embargo member add: a committer sponsors a new subscriber");
    let added = app
        .add_member(AddMember {
            email: member.to_string(),
            name: "Sam Roe".to_owned(),
            org: "Example Distro".to_owned(),
            kind: Kind::Distribution,
            cert: member_cert,
            sponsor: admin.to_string(),
            statement: Some(
                "Sam runs Example Distro's security team; we have worked together since 2019."
                    .to_owned(),
            ),
            roles: Vec::new(),
            by: None,
        })
        .await?;
    println!(
        "{} is pending. Their confirmation token is {}.",
        added.member.email, added.token
    );

    step("embargo member confirm: the member proves they hold the address and the key");
    let confirmed = app.confirm_member(member.as_str(), &added.token).await?;
    println!("{} is {}.", confirmed.email, confirmed.status);

    step("embargo member list");
    let result = member::dispatch(
        app,
        MemberCommand::List {
            status: None,
            json: false,
        },
    )
    .await;
    result?;

    let app = open_app(Config::load(Some(&config_path))?, clock::from_env()?).await?;
    step("embargo advisory new: a maintainer drafts an embargoed advisory");
    let disclose = now + chrono::Duration::days(7);
    let (advisory, _) = app
        .new_advisory(
            "DF-2026-0001",
            &AdvisoryInput {
                title: Some("Heap overflow in frobnicate() header parsing".to_owned()),
                severity: Some(Severity::High),
                cves: Some(vec!["CVE-2026-1234".to_owned()]),
                product: Some("frob".to_owned()),
                affected: Some(vec!["frob < 2.4.1".to_owned()]),
                fixed: Some(vec!["frob 2.4.1".to_owned()]),
                body: Some(b"A crafted Frob-Header overflows a heap buffer; remote code execution is possible.\n".to_vec()),
                permitted: Some(vec![Permission::Deploy]),
                disclose_at: Some(crate::clock::format_instant(disclose)),
                ..AdvisoryInput::default()
            },
            &Force::default(),
        )
        .await?;
    println!(
        "{} drafted; public at {}.",
        advisory.id,
        crate::advisory::time::format_utc(disclose)
    );

    step("embargo advisory announce: schedule the notice and check every member's key");
    let (_, _, unreachable) = app
        .announce_advisory("DF-2026-0001", None, &Force::default())
        .await?;
    println!(
        "Scheduled. Members who would get `missed` instead: {}.",
        unreachable.len()
    );

    step("embargo advisory preview --sealed: the exact message the distribution receives");
    if let Preview::Sealed(bytes) = app
        .preview_advisory(
            "DF-2026-0001",
            crate::compose::Kind::Notice,
            Some(member.as_str()),
            true,
        )
        .await?
    {
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines().take_while(|line| !line.is_empty()) {
            if !line.starts_with(' ') {
                println!("  {line}");
            }
        }
        println!(
            "  … then an OpenPGP message only {member}'s key can open ({} bytes in all).",
            bytes.len()
        );
        println!("  The title, CVE and product appear nowhere outside the encrypted part.");
    }

    step("embargo queue run: everything due is sealed and delivered (no [smtp]: into a maildir)");
    let app = std::sync::Arc::new(app);
    let (_, tally) = app.queue_run().await?;
    let maildir = app.config.delivery.maildir.join("new");
    println!(
        "{} messages written to {}: Sam's confirmation and welcome, and the notice to each member.",
        tally.sent,
        maildir.display()
    );

    step("Sam opens the notice: decrypt with Sam's key, verify the list's signature");
    let notice_id = app
        .queue_rows(true)
        .await?
        .into_iter()
        .find(|row| row.kind == MailKind::Notice && row.recipient == member.as_str())
        .map(|row| row.message_id)
        .context("Sam's notice is in the outbox")?;
    let copy = find_message(&maildir, &notice_id)?;
    let opened = app.open_as_member(&member_secret, &copy)?;
    let signer = &opened.signer;
    println!(
        "Decrypted; the list key {signer} signed it. Inside, the real subject: {}",
        opened.subject.as_deref().unwrap_or("(none)")
    );
    for line in opened.text.lines().take(4) {
        println!("  | {line}");
    }

    cases(&app, &config_path, now).await?;

    step(
        "The embargo ends: the advisory publishes itself (the clock moved to the disclosure time)",
    );
    let later = disclose + chrono::Duration::seconds(1);
    let at_disclosure = std::sync::Arc::new(
        open_app(
            Config::load(Some(&config_path))?,
            Box::new(clock::FixedClock(later)),
        )
        .await?,
    );
    let (prepared, tally) = at_disclosure.queue_run().await?;
    println!(
        "Disclosed {}: {} signed public copies sent; OSV and CSAF written to {}:",
        prepared.disclosed.join(", "),
        tally.sent,
        at_disclosure.config.export.dir.display()
    );
    let mut exports: Vec<String> = std::fs::read_dir(&at_disclosure.config.export.dir)
        .context("read the export folder")?
        .filter_map(|entry| {
            entry
                .ok()
                .map(|e| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    exports.sort();
    for name in exports {
        println!("  {name}");
    }
    drop(at_disclosure);
    let Ok(app) = std::sync::Arc::try_unwrap(app) else {
        anyhow::bail!("the demo's list is still in use");
    };

    step("embargo audit verify");
    let entries = app.audit_entries().await?;
    app.close().await;
    let count = crate::audit::verify(entries)?;
    println!("The audit log holds {count} hash-chained entries and is intact.");

    if args.keep {
        let kept = dir.keep();
        println!(
            "\nKept the demo list in {}; try:\n  embargo --config {}/embargo.toml member show {member}",
            kept.display(),
            kept.display()
        );
    } else {
        println!(
            "\nDone. The temporary list was deleted (run `embargo demo --keep` to look around)."
        );
    }
    Ok(())
}

/// The team's own list: a report arrives, the reporter gets the receipt,
/// the clock reminds maintainers at 12 h, a maintainer acknowledges.
async fn cases(
    app: &std::sync::Arc<App>,
    config_path: &std::path::Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    step("A vulnerability report arrives at security@project.example (the team's own list)");
    let team = Email::parse("security@project.example")?;
    let report = "Authentication-Results: mail.project.example;\r\n\
         \tdkim=pass (2048-bit key) header.d=researcher.example header.i=@researcher.example\r\n\
         From: Rita Researcher <rita@researcher.example>\r\n\
         To: security@project.example\r\n\
         Subject: Heap overflow in the frobnicator\r\n\
         Message-ID: <report-1@researcher.example>\r\n\
         \r\n\
         parse_frob() reads past its buffer on a 70-byte header; a proof of concept follows.\r\n";
    let case = match app.ingest_team(report.as_bytes(), Some(&team)).await? {
        crate::app::inbound::Ingested::Report { case, copies } => {
            println!(
                "{case} opened. The report is kept only encrypted to the list key, and re-sealed to each of the team ({copies} member)."
            );
            case
        }
        other => anyhow::bail!("the demo's report was not taken: {other:?}"),
    };
    let (_, tally) = app.queue_run().await?;
    let maildir = app.config.delivery.maildir.join("new");
    let receipt = std::fs::read_dir(&maildir)
        .context("read the maildir")?
        .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .find(|text| text.contains("To: rita@researcher.example"))
        .context("the receipt is in the maildir")?;
    println!(
        "{} messages sent. Our mail server vouched for researcher.example (DKIM), so Rita got a receipt, signed by the list, that says nothing of her report:",
        tally.sent
    );
    let mut shown = Vec::new();
    for line in receipt
        .lines()
        .filter(|line| line.starts_with("Subject:") || line.starts_with("Reply-To:"))
    {
        if !shown.contains(&line) {
            println!("  | {line}");
            shown.push(line);
        }
    }
    let opened = app
        .case_list(true)
        .await?
        .first()
        .and_then(|c| clock::parse_instant(&c.opened_at))
        .unwrap_or(now);

    step("12 hours later, nobody has answered: the clock reminds the maintainers");
    let later = |hours| opened + chrono::Duration::hours(hours);
    let at_twelve = open_app(
        Config::load(Some(config_path))?,
        Box::new(clock::FixedClock(later(12))),
    )
    .await?;
    let at_twelve = std::sync::Arc::new(at_twelve);
    at_twelve.queue_run().await?;
    for case in at_twelve.case_list(true).await? {
        println!(
            "  {} {} clock: {} (fired: {})",
            case.id,
            case.state,
            case.clock,
            case.fired.join(", ")
        );
    }
    drop(at_twelve);

    step("embargo case ack: a maintainer acknowledges; the reporter gets the text");
    let at_thirteen = open_app(
        Config::load(Some(config_path))?,
        Box::new(clock::FixedClock(later(13))),
    )
    .await?;
    let acted = at_thirteen
        .case_ack(
            &case,
            "Thank you, Rita. We can reproduce it and are working on a fix.",
            "alice@project.example",
        )
        .await?;
    println!(
        "{} acknowledged; the reporter's copy is {} (she sent no key).",
        acted.case,
        if acted.reporter_encrypted {
            "encrypted"
        } else {
            "a content-free notice: the text waits for her key"
        }
    );
    for case in at_thirteen.case_list(false).await? {
        println!("  {} {} clock: {}", case.id, case.state, case.clock);
    }
    at_thirteen.close().await;
    Ok(())
}

/// The maildir file holding the message with this Message-ID.
fn find_message(dir: &std::path::Path, message_id: &str) -> Result<Vec<u8>> {
    let needle = format!("Message-ID: {message_id}");
    for entry in std::fs::read_dir(dir).context("read the maildir")? {
        let bytes = std::fs::read(entry.context("read the maildir")?.path())?;
        if String::from_utf8_lossy(&bytes).contains(&needle) {
            return Ok(bytes);
        }
    }
    anyhow::bail!("no message {message_id} in {}", dir.display())
}

fn step(title: &str) {
    println!("\n== {title}");
}

/// Opens the demo's list, drawing progress when stderr is a terminal, as
/// the other commands do.
async fn open_app(config: Config, clock: Box<dyn clock::Clock>) -> Result<App> {
    let mut app = App::open(config, clock).await?;
    progress::attach(&mut app);
    Ok(app)
}
