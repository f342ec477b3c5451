//! One dispatch per noun: turns parsed arguments into `app` calls and
//! prints the results. Reading files named on the command line happens
//! here, so `app` works on bytes.

mod advisory;
mod audit;
mod case;
mod demo;
mod flags;
mod init;
mod instance;
mod list;
mod member;
mod progress;
mod queue;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::app::App;
use crate::cli::{Cli, Command, KindArg, RoleArg};
use crate::clock;
use crate::config::Config;
use crate::roster::{Kind, Role};

/// Runs one parsed command line. Refused input is named by its flag.
pub async fn run(cli: Cli) -> Result<()> {
    dispatch(cli).await.map_err(flags::render)
}

async fn dispatch(cli: Cli) -> Result<()> {
    let config = cli.config.as_deref();
    let list = cli.list.as_deref();
    match cli.command {
        Command::Init(args) => init::init(load_config(config)?, list, args).await,
        Command::List(command) => list::dispatch(load_config(config)?, command).await,
        Command::Instance(command) => instance::dispatch(load_config(config)?, command).await,
        Command::Key(command) => init::key(open(config, list).await?, command).await,
        Command::Member(command) => member::dispatch(open(config, list).await?, command).await,
        Command::Advisory(command) => advisory::dispatch(open(config, list).await?, command).await,
        Command::Case(command) => case::dispatch(open(config, list).await?, command).await,
        Command::Audit(command) => audit::dispatch(open(config, list).await?, command).await,
        Command::Queue(command) => queue::dispatch(open(config, list).await?, command).await,
        Command::Serve(args) => {
            let config = load_config(config)?;
            queue::serve(config, clock::running_from_env()?, args).await
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Ingest(args) => ingest(config, list, args.recipient.as_deref()).await,
        Command::Help { topic } => help(topic.as_deref()),
        Command::Completions { shell } => generated(|out| {
            crate::cli::generate::completions(shell, out);
            Ok(())
        }),
        Command::Man => generated(crate::cli::generate::man_page),
    }
}

/// An exit status other than 1, with the message to print (the MTA reads
/// 75, EX_TEMPFAIL, as "try again later").
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// `embargo ingest`: one message on stdin. Anything that goes wrong on our
/// side is a temporary failure, so the MTA keeps the message and retries;
/// what the message itself is never makes us fail.
async fn ingest(config: Option<&Path>, list: Option<&str>, recipient: Option<&str>) -> Result<()> {
    let result = async {
        let app = open_for_mail(config, list, recipient).await?;
        let recipient = recipient
            .map(|text| crate::roster::Email::parse(text).context("--recipient"))
            .transpose()?;
        let to_team = recipient
            .as_ref()
            .is_some_and(|recipient| app.is_team_address(recipient));
        let limit = app.config.inbound.max_bytes;
        let mut bytes = Vec::new();
        {
            use std::io::Read as _;
            std::io::stdin()
                .lock()
                .take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .context("read the message from stdin")?;
            // Drain the rest so the MTA's pipe does not fail; it is dropped.
            std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())
                .context("read the message from stdin")?;
        }
        let outcome = if to_team {
            app.ingest_team(&bytes, recipient.as_ref()).await
        } else {
            app.ingest(&bytes).await
        };
        app.finish();
        outcome
    }
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) => Err(Exit {
            code: 75,
            message: format!("temporary failure, the MTA should retry: {err:#}"),
        }
        .into()),
    }
}

fn help(topic: Option<&str>) -> Result<()> {
    match topic {
        Some("commands") => {
            print!("{}", crate::inbound::HELP);
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("no help on {other:?}; try `embargo help commands` or `embargo --help`")
        }
        None => {
            use clap::CommandFactory as _;
            crate::cli::Cli::command()
                .print_long_help()
                .context("print help")?;
            Ok(())
        }
    }
}

/// Prints a generated file (completions, the man page) to stdout. These
/// need neither a config nor a list, so they work on a machine that only
/// has the binary, as when the Debian package is built.
fn generated(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<()> {
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write(&mut out).context("write to stdout")?;
    out.flush().context("write to stdout")?;
    Ok(())
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    Config::load(path)
}

/// Opens the list (`--list`, or the only one), drawing progress on
/// stderr when it is a terminal.
async fn open(path: Option<&Path>, list: Option<&str>) -> Result<App> {
    let config = load_config(path)?;
    let mut app = App::open_list(config, list, clock::from_env()?).await?;
    progress::attach(&mut app);
    Ok(app)
}

/// Opens the list a message is for: `--list`, else the list whose address
/// or request address is the envelope recipient, else the only list.
async fn open_for_mail(
    path: Option<&Path>,
    list: Option<&str>,
    recipient: Option<&str>,
) -> Result<App> {
    let config = load_config(path)?;
    let instance = crate::app::lists::Instance::open(config).await?;
    let row = match (list, recipient) {
        (Some(_), Some(recipient)) => {
            // `--list` (or EMBARGO_LIST, from the environment the MTA
            // passed on) naming one list while the envelope says another:
            // the named list would drop the other's mail as not its own,
            // and the message would be lost. Keep it with the MTA instead.
            let row = instance.select(list).await?;
            let address = crate::roster::Email::parse(recipient).context("--recipient")?;
            if let Some(other) = instance.by_recipient(&address).await?
                && other.id != row.id
            {
                anyhow::bail!(
                    "--list {} names another list than the recipient {address} (list {})",
                    row.name,
                    other.name
                );
            }
            row
        }
        (Some(_), None) | (None, None) => instance.select(list).await?,
        (None, Some(recipient)) => {
            let address = crate::roster::Email::parse(recipient).context("--recipient")?;
            match instance.by_recipient(&address).await? {
                Some(row) => row,
                None => anyhow::bail!(
                    "no list here has the address {address} (check the MTA's routing to embargo ingest)"
                ),
            }
        }
    };
    instance.app(&row, clock::from_env()?).await
}

/// Reads a file named on the command line, saying which flag named it.
fn read_file(path: &PathBuf, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("read {what} {}", path.display()))
}

fn kind(arg: KindArg) -> Kind {
    match arg {
        KindArg::Vendor => Kind::Vendor,
        KindArg::Distribution => Kind::Distribution,
        KindArg::User => Kind::User,
        KindArg::Individual => Kind::Individual,
    }
}

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Admin => Role::Admin,
        RoleArg::Maintainer => Role::Maintainer,
        RoleArg::Committer => Role::Committer,
        RoleArg::Advisor => Role::Advisor,
        RoleArg::Subscriber => Role::Subscriber,
    }
}

/// Prints `value` as one compact JSON document and a newline (pipe it to
/// `jq` to read it): compact output keeps `member list --json` fast on
/// large rosters.
fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    serde_json::to_writer(&mut out, value).context("write JSON")?;
    writeln!(out).context("write JSON")?;
    out.flush().context("write JSON")?;
    Ok(())
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}
