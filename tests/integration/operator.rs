//! What an operator gets besides the commands: the man page and shell
//! completions (generated from the clap definitions, needing no list), and
//! progress bars drawn only on a terminal. The Debian package itself is
//! built and checked by lintian in `scripts/package`, which
//! `scripts/test` runs.

use std::path::Path;
use std::process::{Command, Output};

use embargo::cli::generate::command_paths;

const EMBARGO: &str = env!("CARGO_BIN_EXE_embargo");

/// The demo runs at this pinned instant, in the past as the other tests'
/// (its member decrypts on the system clock). On the system clock the demo
/// checks the notice's signature at the instant it started, which fails
/// when the second turns over while it runs: left for its own fix.
const NOW: &str = "2026-06-01T12:00:00Z";

/// Runs `embargo ARGS` where there is no list at all: an empty folder and
/// a config path that does not exist. Generated files must not need one.
fn run_without_a_list(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("make a temporary folder");
    Command::new(EMBARGO)
        .args(args)
        .current_dir(dir.path())
        .env("EMBARGO_CONFIG", dir.path().join("missing.toml"))
        .env("EMBARGO_TEST_NOW", NOW)
        .output()
        .expect("run embargo")
}

fn stdout_of(args: &[&str]) -> String {
    let output = run_without_a_list(args);
    assert!(
        output.status.success(),
        "embargo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stderr.is_empty(), "embargo {args:?} wrote to stderr");
    String::from_utf8(output.stdout).expect("generated text is UTF-8")
}

/// The nouns (`member`) and one-word commands (`serve`).
fn nouns() -> Vec<String> {
    let mut nouns: Vec<String> = command_paths()
        .iter()
        .filter_map(|path| path.split_whitespace().nth(1).map(str::to_owned))
        .collect();
    nouns.dedup();
    nouns
}

#[test]
fn man_renders_the_page_with_every_command() {
    let dir = tempfile::tempdir().expect("make a temporary folder");
    let page = dir.path().join("embargo.1");
    std::fs::write(&page, stdout_of(&["man"])).expect("write the page");
    let output = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("run man (package man-db)");
    assert!(output.status.success(), "man -l failed: {output:?}");
    let rendered = String::from_utf8_lossy(&output.stdout);
    // groff may space words out; compare with single spaces.
    let text = rendered.split_whitespace().collect::<Vec<_>>().join(" ");
    for heading in ["NAME", "SYNOPSIS", "OPTIONS", "COMMANDS"] {
        assert!(rendered.contains(heading), "no {heading} in:\n{rendered}");
    }
    assert!(text.contains("embargo - Run a sponsor-gated"), "{rendered}");
    let paths = command_paths();
    assert!(paths.len() > 25, "too few commands: {paths:?}");
    for path in &paths {
        assert!(
            text.contains(path.as_str()),
            "{path} missing from:\n{rendered}"
        );
    }
    for command in [
        "embargo member add",
        "embargo queue run",
        "embargo completions",
    ] {
        assert!(paths.iter().any(|p| p == command), "{command} not listed");
    }
}

#[test]
fn bash_completions_load_and_complete_embargo() {
    let script = stdout_of(&["completions", "bash"]);
    let output = Command::new("bash")
        .args(["--norc", "-c", "source /dev/stdin && complete -p embargo"])
        .stdin_file(&script)
        .output()
        .expect("run bash");
    assert!(output.status.success(), "bash could not load: {output:?}");
    let complete = String::from_utf8_lossy(&output.stdout);
    assert!(complete.contains("-F _embargo embargo"), "{complete}");
    // What bash would offer after `embargo `: every noun.
    let offered = Command::new("bash")
        .args([
            "--norc",
            "-c",
            "source /dev/stdin && COMP_WORDS=(embargo '') COMP_CWORD=1 COMP_LINE='embargo ' \
             COMP_POINT=8 && _embargo embargo '' embargo && printf '%s\\n' \"${COMPREPLY[@]}\"",
        ])
        .stdin_file(&script)
        .output()
        .expect("run bash");
    let offered = String::from_utf8_lossy(&offered.stdout);
    for noun in nouns() {
        assert!(
            offered.lines().any(|w| w == noun),
            "{noun} not offered: {offered}"
        );
    }
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    for shell in ["zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(
            script.contains("embargo"),
            "{shell} script names no embargo"
        );
        for noun in nouns() {
            assert!(script.contains(&noun), "{shell} script lacks {noun}");
        }
        for verb in ["add", "suspend", "announce", "disclose", "hold", "verify"] {
            assert!(script.contains(verb), "{shell} script lacks {verb}");
        }
    }
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef embargo"));
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    for shell in ["tcsh", "powershell", "BASH"] {
        let output = run_without_a_list(&["completions", shell]);
        assert_eq!(output.status.code(), Some(2), "{shell}: {output:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("invalid value '{shell}'"))
                && stderr.contains("[possible values: bash, zsh, fish]"),
            "{stderr}"
        );
    }
    for args in [&["completions"][..], &["completions", ""]] {
        let missing = run_without_a_list(args);
        assert_eq!(missing.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&missing.stderr);
        assert!(stderr.contains("<SHELL>"), "{stderr}");
    }
}

/// `embargo demo` seals (announce, then `queue run`) like the real
/// commands. With stderr a pipe, as in cron mail, journald and every
/// other test, no bar and no escape code may appear.
#[test]
fn no_progress_is_drawn_when_stderr_is_not_a_terminal() {
    let output = run_without_a_list(&["demo"]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("sealing the"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes on a pipe: {stderr:?}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("sealing the") && !stdout.contains('\u{1b}'));
}

/// Under a pseudo-terminal (util-linux `script`) the same run draws the
/// sealing's progress on stderr.
#[test]
fn progress_is_drawn_when_stderr_is_a_terminal() {
    let dir = tempfile::tempdir().expect("make a temporary folder");
    // Only stderr reaches the terminal; stdout (the demo's story) is
    // dropped, so whatever `script` records was drawn on stderr.
    let inner = format!("{} demo >/dev/null", shell_quote(Path::new(EMBARGO)));
    let output = Command::new("timeout")
        .args(["120", "script", "-qec", &inner, "/dev/null"])
        .current_dir(dir.path())
        .env("TERM", "xterm")
        .env("EMBARGO_TEST_NOW", NOW)
        .env("EMBARGO_CONFIG", dir.path().join("missing.toml"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script (package util-linux)");
    assert!(output.status.success(), "{output:?}");
    let drawn = String::from_utf8_lossy(&output.stdout);
    assert!(drawn.contains("sealing the notice"), "{drawn:?}");
    assert!(drawn.contains("copies"), "{drawn:?}");
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Feeding a string to a child's stdin, for the bash tests.
trait StdinFile {
    fn stdin_file(&mut self, text: &str) -> &mut Self;
}

impl StdinFile for Command {
    fn stdin_file(&mut self, text: &str) -> &mut Self {
        let mut file = tempfile::tempfile().expect("make a temporary file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write the script");
        std::io::Seek::rewind(&mut file).expect("rewind the script");
        self.stdin(file)
    }
}
