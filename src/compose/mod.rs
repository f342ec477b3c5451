//! Templates to rendered text: the subject and body of every kind of mail
//! the list sends.
//!
//! Domain code: no IO. The default templates are embedded from
//! `templates/` at build time; the application may hand in overrides it
//! read from `templates_dir`, file by file. Templates render with strict
//! undefined (a misspelt variable is an error, found at preview and at
//! scheduling time, never at send time) and have no loader, no environment
//! and no file access: all they see is the context they are given.
//!
//! A template file is `Subject: …`, an empty line, then the body.

mod context;

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use thiserror::Error;

pub use context::{
    AdvisoryView, ChangeView, ListView, MemberView, advisory_context, member_context,
    reply_context, report_context,
};

/// Every kind of mail, and so every template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Notice,
    Update,
    Reminder,
    Disclosure,
    Cancellation,
    Confirm,
    Welcome,
    Missed,
    KeyExpiry,
    /// To maintainers: copies that failed, are uncertain or were missed,
    /// keys about to expire, a clock that jumped.
    Report,
    /// To a member who sent signed commands: what was done, or which rule
    /// refused it.
    Reply,
    /// To each of the foundation's observers: counts across every list,
    /// never an advisory's content or a member's address.
    Digest,
    /// A team member's post, re-sealed to each of the team: this is the
    /// preface; the post itself follows whole.
    TeamPost,
    /// A report that opened a case, re-sealed to each of the team: this
    /// is the preface (the case, the sender, whether our MTA vouched for
    /// them); the report follows whole.
    CaseReport,
    /// To a reporter, content-free: the receipt, "a new message waits",
    /// the acknowledgement, the case closed. Sent signed and in clear to a
    /// reporter without a key, so it never says anything of the case but
    /// its name and the policy.
    CaseNotice,
    /// A case's mail with content (the acknowledgement's text, a reply to
    /// the reporter, an invitation, the proposed timeline, why a case was
    /// rejected): only ever encrypted to one participant.
    CaseMail,
}

crate::names::named_enum! {
    /// The template's name, which is also its file name without `.txt`.
    pub fn name for Kind, "mail kind" {
        Notice => "notice",
        Update => "update",
        Reminder => "reminder",
        Disclosure => "disclosure",
        Cancellation => "cancellation",
        Confirm => "confirm",
        Welcome => "welcome",
        Missed => "missed",
        KeyExpiry => "key-expiry",
        Report => "report",
        Reply => "reply",
        Digest => "digest",
        TeamPost => "team-post",
        CaseReport => "case-report",
        CaseNotice => "case-notice",
        CaseMail => "case-mail",
    }
}

impl Kind {
    /// The kinds rendered from an advisory.
    pub const ADVISORY: [Kind; 5] = [
        Kind::Notice,
        Kind::Update,
        Kind::Reminder,
        Kind::Disclosure,
        Kind::Cancellation,
    ];

    /// Whether this kind may only ever leave encrypted to one member.
    /// Everything but the public disclosure and the content-free notices
    /// to a reporter without a key is.
    pub fn is_embargoed(self) -> bool {
        !matches!(self, Kind::Disclosure | Kind::CaseNotice)
    }

    /// The file name in `templates/` or `templates_dir`.
    pub fn file_name(self) -> String {
        format!("{}.txt", self.name())
    }

    fn default_source(self) -> &'static str {
        match self {
            Kind::Notice => include_str!("../../templates/notice.txt"),
            Kind::Update => include_str!("../../templates/update.txt"),
            Kind::Reminder => include_str!("../../templates/reminder.txt"),
            Kind::Disclosure => include_str!("../../templates/disclosure.txt"),
            Kind::Cancellation => include_str!("../../templates/cancellation.txt"),
            Kind::Confirm => include_str!("../../templates/confirm.txt"),
            Kind::Welcome => include_str!("../../templates/welcome.txt"),
            Kind::Missed => include_str!("../../templates/missed.txt"),
            Kind::KeyExpiry => include_str!("../../templates/key-expiry.txt"),
            Kind::Report => include_str!("../../templates/report.txt"),
            Kind::Reply => include_str!("../../templates/reply.txt"),
            Kind::Digest => include_str!("../../templates/digest.txt"),
            Kind::TeamPost => include_str!("../../templates/team-post.txt"),
            Kind::CaseReport => include_str!("../../templates/case-report.txt"),
            Kind::CaseNotice => include_str!("../../templates/case-notice.txt"),
            Kind::CaseMail => include_str!("../../templates/case-mail.txt"),
        }
    }
}

/// A subject and body, ready for the mail module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

impl Kind {
    /// The kinds that tell a member about an advisory before it is
    /// public: a member with a live copy of one was told, and these are
    /// what a disclosure or a cancellation stops.
    pub const TOLD: [Kind; 3] = [Kind::Notice, Kind::Update, Kind::Reminder];
}

/// Why a template could not be used. Each names the template file.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template {template}: the first line must be \"Subject: …\" followed by an empty line")]
    Layout { template: String },
    #[error("template {template} line {line}: {detail}")]
    Syntax {
        template: String,
        line: usize,
        detail: String,
    },
    #[error("template {template} line {line}: undefined variable {variables}")]
    Undefined {
        template: String,
        line: usize,
        variables: String,
    },
    #[error("template {template} line {line}: {detail}")]
    Render {
        template: String,
        line: usize,
        detail: String,
    },
}

/// The loaded templates.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// The embedded defaults, with `overrides` (kind and source, as read
    /// from `templates_dir`) taking their place. Every template is parsed
    /// now, so a syntax error is found before anything is scheduled.
    pub fn new(overrides: Vec<(Kind, String)>) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // No loader: a template cannot include, import or extend a file.
        for kind in Kind::ALL {
            let source = overrides
                .iter()
                .rev()
                .find(|(k, _)| *k == kind)
                .map_or_else(|| kind.default_source().to_owned(), |(_, s)| s.clone());
            let (subject, body) = split(kind, &source)?;
            for (part, text) in [("subject", subject), ("body", body)] {
                env.add_template_owned(format!("{}.{part}", kind.name()), text)
                    .map_err(|err| syntax(kind, part, &err))?;
            }
        }
        Ok(Self { env })
    }

    /// Renders `kind` with `context`.
    pub fn render(
        &self,
        kind: Kind,
        context: &serde_json::Value,
    ) -> Result<Rendered, TemplateError> {
        let subject = self.render_part(kind, "subject", context)?;
        let body = self.render_part(kind, "body", context)?;
        Ok(Rendered {
            subject: crate::text::fold_line(&subject),
            body: normalize_body(&body),
        })
    }

    fn render_part(
        &self,
        kind: Kind,
        part: &str,
        context: &serde_json::Value,
    ) -> Result<String, TemplateError> {
        let name = format!("{}.{part}", kind.name());
        let template = self
            .env
            .get_template(&name)
            .map_err(|err| syntax(kind, part, &err))?;
        template
            .render(minijinja::value::Serde(context))
            .map_err(|err| {
                let line = line_in_file(part, err.line().unwrap_or(0));
                if err.kind() == minijinja::ErrorKind::UndefinedError {
                    let missing: BTreeSet<String> = template
                        .undeclared_variables(true)
                        .into_iter()
                        .filter(|path| !defined(context, path))
                        .collect();
                    TemplateError::Undefined {
                        template: kind.file_name(),
                        line,
                        variables: if missing.is_empty() {
                            "(an attribute of a value in the context)".to_owned()
                        } else {
                            missing.into_iter().collect::<Vec<_>>().join(", ")
                        },
                    }
                } else {
                    TemplateError::Render {
                        template: kind.file_name(),
                        line,
                        detail: err
                            .detail()
                            .map_or_else(|| err.kind().to_string(), str::to_owned),
                    }
                }
            })
    }
}

/// Splits a template file into its subject line and its body.
fn split(kind: Kind, source: &str) -> Result<(String, String), TemplateError> {
    let source = source.replace("\r\n", "\n");
    let layout = || TemplateError::Layout {
        template: kind.file_name(),
    };
    let (first, rest) = source.split_once('\n').ok_or_else(layout)?;
    let subject = first
        .strip_prefix("Subject:")
        .ok_or_else(layout)?
        .trim()
        .to_owned();
    let body = rest.strip_prefix('\n').ok_or_else(layout)?.to_owned();
    Ok((subject, body))
}

/// Template lines count from the file: the subject is line 1, the body
/// starts on line 3.
fn line_in_file(part: &str, line: usize) -> usize {
    match part {
        "subject" => 1,
        _ => line + 2,
    }
}

fn syntax(kind: Kind, part: &str, err: &minijinja::Error) -> TemplateError {
    TemplateError::Syntax {
        template: kind.file_name(),
        line: line_in_file(part, err.line().unwrap_or(0)),
        detail: err
            .detail()
            .map_or_else(|| err.kind().to_string(), str::to_owned),
    }
}

/// Whether a dotted path such as `advisory.title` resolves in `context`.
fn defined(context: &serde_json::Value, path: &str) -> bool {
    let mut value = context;
    for key in path.split('.') {
        match value.get(key) {
            Some(inner) => value = inner,
            None => return false,
        }
    }
    true
}

/// Bodies use LF line ends, no trailing white space on the last line, and
/// end with exactly one line feed.
fn normalize_body(text: &str) -> String {
    let mut body = text.replace("\r\n", "\n");
    while body.ends_with('\n') {
        body.pop();
    }
    body.push('\n');
    body
}

#[cfg(test)]
mod tests;
