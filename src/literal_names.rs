//! Holds the rule that announcement kinds and member statuses cross the
//! layers as the domain's enums: no string literal outside their homes
//! (`compose/`, `roster/`) and the store's mapping to TEXT (`store/`) may
//! spell one of their names, so a typo such as `"reminde"` cannot compile
//! into a query that silently matches nothing.
//!
//! The scan reads the source as text and picks out string literals with a
//! small tokenizer (comments, char literals, lifetimes, byte and raw
//! strings), because a name in a comment or a doc example is harmless.

use std::path::{Path, PathBuf};

use crate::compose::Kind;
use crate::roster::Status;

/// The homes of the enums and the store's mapping, where the names belong.
const HOMES: [&str; 3] = ["src/compose/", "src/roster/", "src/store/"];

/// Literals that spell a kind's name but are not a kind. Each entry is a
/// file and the kind whose name it may hold there, with the reason.
const ALLOWED: [(&str, Kind, &str); 3] = [
    (
        "src/mail/inbound.rs",
        Kind::Report,
        "the MIME type multipart/report of a bounce",
    ),
    (
        "src/mail/transport.rs",
        Kind::Reply,
        "the SMTP server's reply, named in an error",
    ),
    (
        "src/app/jobs.rs",
        Kind::KeyExpiry,
        "the recurring job's name, stored in the jobs table",
    ),
];

/// Every member status; the match makes a new status a compile error here.
fn statuses() -> [Status; 4] {
    let all = [
        Status::Pending,
        Status::Active,
        Status::Suspended,
        Status::Removed,
    ];
    for status in all {
        match status {
            Status::Pending | Status::Active | Status::Suspended | Status::Removed => {}
        }
    }
    all
}

/// The string literals in `source`, each with its line number. Only the
/// text between the quotes is kept; none of the names needs an escape.
fn string_literals(source: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = source.chars().collect();
    let mut found = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i, &mut line);
        } else if c == '\'' {
            i = skip_char_or_lifetime(&chars, i);
        } else if c == 'r' && matches!(next, Some('"') | Some('#')) && !ident_before(&chars, i) {
            i = read_raw_string(&chars, i + 1, &mut line, &mut found);
        } else if c == '"' {
            i = read_string(&chars, i, &mut line, &mut found);
        } else {
            i += 1;
        }
    }
    found
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && {
        let before = chars[i - 1];
        // `br"…"` is a raw byte string; any other letter makes `r` part of
        // an identifier.
        (before.is_alphanumeric() || before == '_') && before != 'b'
    }
}

fn skip_block_comment(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            if chars[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
    }
    i
}

/// `'x'`, `'\n'`, `'\u{1F600}'` or a lifetime `'a`.
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        let mut j = i + 2;
        while j < chars.len() && chars[j] != '\'' {
            j += 1;
        }
        j + 1
    } else if chars.get(i + 2) == Some(&'\'') {
        i + 3
    } else {
        i + 1
    }
}

fn read_string(
    chars: &[char],
    start: usize,
    line: &mut usize,
    found: &mut Vec<(usize, String)>,
) -> usize {
    let first_line = *line;
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' {
            text.push(chars[i]);
            i += 1;
        }
        if let Some(&c) = chars.get(i) {
            if c == '\n' {
                *line += 1;
            }
            text.push(c);
        }
        i += 1;
    }
    found.push((first_line, text));
    i + 1
}

/// `r"…"` or `r#"…"#` (any number of `#`), from just after the `r`.
fn read_raw_string(
    chars: &[char],
    mut i: usize,
    line: &mut usize,
    found: &mut Vec<(usize, String)>,
) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if chars.get(i) != Some(&'"') {
        return i;
    }
    let first_line = *line;
    let mut text = String::new();
    i += 1;
    while i < chars.len() {
        let closes = chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#'));
        if closes {
            found.push((first_line, text));
            return i + 1 + hashes;
        }
        if chars[i] == '\n' {
            *line += 1;
        }
        text.push(chars[i]);
        i += 1;
    }
    i
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("the source tree is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// What a literal in `file` spells that it must not: a kind's name (unless
/// allowed there, in which case `used` records the allowance) or a status's.
fn offending(file: &str, literal: &str, used: &mut [bool]) -> Option<&'static str> {
    if let Some(kind) = Kind::ALL.into_iter().find(|kind| kind.name() == literal) {
        let allowed = ALLOWED
            .iter()
            .position(|(path, allowed, _)| *path == file && *allowed == kind);
        if let Some(index) = allowed {
            used[index] = true;
        }
        return allowed.is_none().then_some("announcement kind");
    }
    statuses()
        .into_iter()
        .any(|status| status.as_str() == literal)
        .then_some("member status")
}

// A kind or status spelled as a string outside its enum compiled even with
// a typo (`"reminde"` matches no row) and let each layer keep its own list
// of kinds (`TOLD_KINDS` beside two hand copies of it).
#[test]
fn no_string_literal_names_a_kind_or_a_status_outside_its_home() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut hits = Vec::new();
    let mut used = [false; ALLOWED.len()];
    for path in &files {
        let relative = path
            .strip_prefix(root)
            .expect("under the manifest directory")
            .to_string_lossy()
            .replace('\\', "/");
        if HOMES.iter().any(|home| relative.starts_with(home)) {
            continue;
        }
        let source = std::fs::read_to_string(path).expect("a readable source file");
        for (line, literal) in string_literals(&source) {
            if let Some(what) = offending(&relative, &literal, &mut used) {
                hits.push(format!("{relative}:{line}: {what} {literal:?}"));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "use compose::Kind or roster::Status instead of these literals:\n{}",
        hits.join("\n")
    );
    // An allowance nothing needs any more would let a kind back in later.
    for ((path, kind, why), used) in ALLOWED.iter().zip(used) {
        assert!(
            used,
            "{path} no longer spells {:?} ({why}): drop it from ALLOWED",
            kind.name()
        );
    }
}

#[test]
fn the_tokenizer_finds_literals_and_skips_comments_and_chars() {
    let source = "let a = \"alpha\"; // \"beta\"\n\
                  /* \"gamma\" /* nested \"x\" */ */ let c = '\"'; fn f<'a>(x: &'a str) {}\n\
                  let r = r#\"delta \"quoted\"\"#; let b = b\"epsilon\"; let e = \"a\\\"b\";\n\
                  let raw_ident = r#type; let bytes = br\"zeta\";";
    let literals = string_literals(source);
    assert_eq!(
        literals,
        vec![
            (1, "alpha".to_owned()),
            (3, "delta \"quoted\"".to_owned()),
            (3, "epsilon".to_owned()),
            (3, "a\\\"b".to_owned()),
            (4, "zeta".to_owned()),
        ]
    );
}
