//! The man page and the shell completions, generated from the clap
//! definitions in this module tree so they can never disagree with
//! `--help`.
//!
//! This is the only home of `clap_mangen` and `clap_complete`, as `cli`
//! is of clap. The functions write to any `Write`: the CLI prints them to
//! stdout (`embargo man`, `embargo completions SHELL`) and the Debian
//! package is built from that output (`scripts/package`).

use std::io::Write;

use clap::{CommandFactory, ValueEnum};
use clap_mangen::roff::{Roff, bold, italic, roman};

use super::Cli;

/// A shell that `embargo completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

/// Writes the completion script for `shell`.
pub fn completions(shell: ShellArg, out: &mut dyn Write) {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let shell = match shell {
        ShellArg::Bash => clap_complete::Shell::Bash,
        ShellArg::Zsh => clap_complete::Shell::Zsh,
        ShellArg::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, name, out);
}

/// Writes the man page, embargo(1), as roff.
///
/// clap_mangen renders one command per page, and its SUBCOMMANDS section
/// names only the nouns, each as a page of its own (`embargo-member(1)`).
/// One page is easier to find and to package than thirty, so a COMMANDS
/// section takes its place, with every verb (`embargo member add`), its
/// synopsis, what it does and its options.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    command.build();
    let version = command.get_version().unwrap_or_default().to_owned();
    let man = clap_mangen::Man::new(command.clone())
        .title("EMBARGO")
        .section("1")
        .source(format!("embargo {version}"))
        .manual("User Commands");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    for noun in visible_subcommands(&command) {
        leaf_entries(&mut roff, "embargo", noun);
    }
    roff.control("SH", ["FILES"]);
    roff.control("TP", []);
    roff.text([bold("/etc/embargo/embargo.toml")]);
    roff.text([roman(
        "The configuration the Debian package installs; name it with --config \
         or EMBARGO_CONFIG (without either, config/embargo.toml is read).",
    )]);
    roff.control("TP", []);
    roff.text([bold("/var/lib/embargo")]);
    roff.text([roman(
        "The list's data (database, list key, maildir) in the packaged configuration.",
    )]);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "embargo help commands lists the signed mail commands members can send.",
    )]);
    roff.to_writer(out)?;
    man.render_version_section(out)
}

fn visible_subcommands(command: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    command.get_subcommands().filter(|sub| !sub.is_hide_set())
}

/// One entry per command that does something: a noun without verbs
/// (`serve`) or each verb of a noun (`member add`).
fn leaf_entries(roff: &mut Roff, parent: &str, command: &clap::Command) {
    let path = format!("{parent} {}", command.get_name());
    if command.has_subcommands() {
        for verb in visible_subcommands(command) {
            leaf_entries(roff, &path, verb);
        }
        return;
    }
    roff.control("TP", []);
    let mut synopsis = vec![bold(path)];
    for arg in command.get_positionals().filter(|arg| !arg.is_hide_set()) {
        synopsis.push(roman(" "));
        synopsis.push(italic(value_name(arg)));
    }
    roff.text(synopsis);
    if let Some(about) = command.get_long_about().or_else(|| command.get_about()) {
        roff.text([roman(about.to_string())]);
    }
    let options: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !arg.is_global_set() && arg.get_long().is_some())
        .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version"))
        .collect();
    if options.is_empty() {
        return;
    }
    roff.control("RS", []);
    for arg in options {
        roff.control("TP", []);
        let mut flag = vec![bold(format!("--{}", arg.get_long().unwrap_or_default()))];
        if arg.get_action().takes_values() {
            flag.push(roman(" "));
            flag.push(italic(value_name(arg)));
        }
        roff.text(flag);
        if let Some(help) = arg.get_help() {
            roff.text([roman(help.to_string())]);
        }
    }
    roff.control("RE", []);
}

/// What an argument's value is called: its `value_name`, or its id.
fn value_name(arg: &clap::Arg) -> String {
    arg.get_value_names()
        .map(|names| names.join(" "))
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
}

/// Every command that does something, as typed (`embargo member add`):
/// what the man page's COMMANDS section lists, for tests and scripts that
/// check the generated files name them all.
pub fn command_paths() -> Vec<String> {
    fn walk(parent: &str, command: &clap::Command, paths: &mut Vec<String>) {
        let path = format!("{parent} {}", command.get_name());
        if command.has_subcommands() {
            for verb in visible_subcommands(command) {
                walk(&path, verb, paths);
            }
        } else {
            paths.push(path);
        }
    }
    let command = Cli::command();
    let mut paths = Vec::new();
    for noun in visible_subcommands(&command) {
        walk("embargo", noun, &mut paths);
    }
    paths
}
