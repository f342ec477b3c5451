//! The `embargo` binary: parse the command line, run it, print the error
//! chain and pick the exit code (0 success, 1 failure, 2 usage error).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Everything this program creates (database, WAL, key files) is private
    // to its user, before any file is opened.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    quiet_on_closed_pipe();
    let cli = embargo::cli::Cli::parse();
    init_tracing();
    warn_about_ignored_test_hooks();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(embargo::commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if closed_pipe(&err) => ExitCode::from(141),
        Err(err) if err.downcast_ref::<embargo::commands::Exit>().is_some() => {
            let code = err
                .downcast_ref::<embargo::commands::Exit>()
                .map_or(1, |exit| exit.code);
            eprintln!("error: {err}");
            ExitCode::from(code)
        }
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether `err` comes from writing to a pipe whose reader went away.
fn closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `embargo member list | head` closes our stdout early; `println!` then
/// panics with "Broken pipe". Exit quietly with the status a shell expects
/// (128 + SIGPIPE) instead of printing a panic.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// A release build has no test hooks: a hook variable left in the
/// environment (a copied test script, a unit file) changes nothing, and
/// the operator is told so rather than left believing the clock is pinned.
fn warn_about_ignored_test_hooks() {
    for name in embargo::clock::ignored_test_hooks(&|name| std::env::var_os(name)) {
        let instead = if name == embargo::clock::CRASH_AT_ENV {
            "no crash point is armed"
        } else {
            "the system clock is used"
        };
        tracing::warn!(
            variable = name,
            "{name} is set but ignored: this build has no test hooks (the `test-hooks` cargo feature); {instead}"
        );
    }
}

/// Logs go to stderr; the level comes from `EMBARGO_LOG` (default `warn`).
/// Colour only on a terminal: cron mail and journald get plain text.
fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("EMBARGO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
