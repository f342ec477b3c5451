//! `Authentication-Results` (RFC 8601): what our own MTA found out about a
//! message's sender. Domain code: no IO.
//!
//! A report's receipt goes to its sender only when our MTA says DKIM, SPF
//! or DMARC passed for the From domain; otherwise a forged From would make
//! us mail a stranger (backscatter). Only headers that carry our own
//! authserv-id count: anyone can write an `Authentication-Results` header
//! into a message, and the MTA must remove ones that claim our id before
//! adding its own (OpenDKIM's `RemoveARFrom`, OpenDMARC's
//! `AuthservIDWithJobID` off); the caller hands over the header values in
//! the order they appear.
//!
//! Comments (nested parentheses) and quoted strings are read as the RFC
//! says, so `dkim=fail (dkim=pass header.d=x; )` is a failure, not a pass.
//! A domain is aligned with the From domain when it is the same or a
//! parent of it with at least two labels (`reporter.example` for
//! `lists.reporter.example`, never `example`): relaxed alignment without a
//! public suffix list, which errs towards no receipt.

/// Longest header value read; longer ones count as nothing.
const MAX_VALUE: usize = 8 * 1024;
/// Deepest nesting of comments read.
const MAX_COMMENT_DEPTH: usize = 8;

/// One parsed `Authentication-Results` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// Who wrote it (as written; compared without regard to case).
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// One method's result: `dkim=pass header.d=example.org`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower case, without a version.
    pub method: String,
    /// Lower case.
    pub result: String,
    /// `(ptype.property, value)`, the name in lower case.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Which check vouched for the From domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vouch {
    Dmarc,
    Dkim,
    Spf,
}

impl Vouch {
    pub fn as_str(self) -> &'static str {
        match self {
            Vouch::Dmarc => "dmarc",
            Vouch::Dkim => "dkim",
            Vouch::Spf => "spf",
        }
    }
}

/// Whether any of `headers` (values of `Authentication-Results`, our own
/// MTA's among them) written by `authserv_id` says DMARC, DKIM or SPF
/// passed for `from_domain`; the first check that did, in that order.
pub fn vouched_for(headers: &[&str], authserv_id: &str, from_domain: &str) -> Option<Vouch> {
    let ours: Vec<AuthResults> = headers
        .iter()
        .filter_map(|value| parse(value))
        .filter(|parsed| parsed.authserv_id.eq_ignore_ascii_case(authserv_id.trim()))
        .collect();
    let passes: Vec<&MethodResult> = ours
        .iter()
        .flat_map(|parsed| &parsed.results)
        .filter(|r| r.result == "pass")
        .collect();
    let passed = |method: &'static str| passes.iter().filter(move |r| r.method == method);
    if passed("dmarc").any(|r| {
        r.property("header.from")
            .is_some_and(|domain| same_domain(domain, from_domain))
    }) {
        return Some(Vouch::Dmarc);
    }
    if passed("dkim").any(|r| {
        r.property("header.d")
            .is_some_and(|domain| aligned(domain, from_domain))
    }) {
        return Some(Vouch::Dkim);
    }
    if passed("spf").any(|r| {
        r.property("smtp.mailfrom")
            .map(|sender| sender.rsplit_once('@').map_or(sender, |(_, domain)| domain))
            .is_some_and(|domain| aligned(domain, from_domain))
    }) {
        return Some(Vouch::Spf);
    }
    None
}

fn normal(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn same_domain(a: &str, b: &str) -> bool {
    let (a, b) = (normal(a), normal(b));
    !a.is_empty() && a == b
}

/// `domain` is `from` or a parent of it with at least two labels.
fn aligned(domain: &str, from: &str) -> bool {
    let (domain, from) = (normal(domain), normal(from));
    if domain.is_empty() || from.is_empty() {
        return false;
    }
    if domain == from {
        return true;
    }
    domain.contains('.')
        && !domain.starts_with('.')
        && from
            .strip_suffix(&domain)
            .is_some_and(|head| head.ends_with('.') && head.len() > 1)
}

/// Reads one header value; `None` when it is not well formed (or too
/// long, or nests comments too deeply).
pub fn parse(value: &str) -> Option<AuthResults> {
    if value.len() > MAX_VALUE {
        return None;
    }
    let tokens = lex(value)?;
    let mut segments = tokens.split(|token| *token == Token::Semi);
    let head = segments.next()?;
    let authserv_id = match head {
        [Token::Word(id)] | [Token::Quoted(id)] => id.clone(),
        [Token::Word(id) | Token::Quoted(id), Token::Word(version)]
            if version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            id.clone()
        }
        _ => return None,
    };
    let mut results = Vec::new();
    for segment in segments {
        if let [Token::Word(none)] = segment
            && none.eq_ignore_ascii_case("none")
        {
            continue;
        }
        results.push(method_result(segment)?);
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// `method[/version] = result [reason=value] [ptype.property=value]...`
fn method_result(tokens: &[Token]) -> Option<MethodResult> {
    let mut rest = tokens;
    let method = match rest {
        [Token::Word(method), Token::Slash, Token::Word(_), tail @ ..] => {
            rest = tail;
            method
        }
        [Token::Word(method), tail @ ..] => {
            rest = tail;
            method
        }
        _ => return None,
    };
    let result = match rest {
        [Token::Eq, Token::Word(result), tail @ ..] => {
            rest = tail;
            result
        }
        _ => return None,
    };
    let mut properties = Vec::new();
    while !rest.is_empty() {
        match rest {
            [
                Token::Word(name),
                Token::Eq,
                Token::Word(value) | Token::Quoted(value),
                tail @ ..,
            ] => {
                let name = name.to_ascii_lowercase();
                if name != "reason" {
                    properties.push((name, value.clone()));
                }
                rest = tail;
            }
            _ => return None,
        }
    }
    Some(MethodResult {
        method: method.to_ascii_lowercase(),
        result: result.to_ascii_lowercase(),
        properties,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Eq,
    Slash,
    Semi,
}

/// Splits a value into tokens, dropping white space and comments.
fn lex(value: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => skip_comment(&mut chars)?,
            '"' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => text.push(chars.next()?),
                        other => text.push(other),
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '=' | '/' | ';' => {
                chars.next();
                tokens.push(match c {
                    '=' => Token::Eq,
                    '/' => Token::Slash,
                    _ => Token::Semi,
                });
            }
            ')' => return None,
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '=' | '/' | ';') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Some(tokens)
}

/// Skips one comment, nested ones and quoted pairs included.
fn skip_comment(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<()> {
    let mut depth = 0usize;
    loop {
        match chars.next()? {
            '(' => {
                depth += 1;
                if depth > MAX_COMMENT_DEPTH {
                    return None;
                }
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(());
                }
            }
            '\\' => {
                chars.next()?;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: &str = "mail.project.example";
    const FROM: &str = "reporter.example";

    // As OpenDKIM behind Postfix writes it.
    const OPENDKIM_PASS: &str = "mail.project.example; dkim=pass (2048-bit key; unprotected) \
        header.d=reporter.example header.i=@reporter.example header.a=rsa-sha256 \
        header.s=default header.b=AbCdEf12";
    // As OpenDMARC writes it.
    const OPENDMARC_PASS: &str = "mail.project.example; dmarc=pass (p=none dis=none) \
        header.from=reporter.example";
    const SPF_PASS: &str = "mail.project.example; spf=pass (sender SPF authorized) \
        smtp.mailfrom=alice@reporter.example";

    fn vouch(headers: &[&str]) -> Option<Vouch> {
        vouched_for(headers, US, FROM)
    }

    #[test]
    fn each_check_that_passed_for_the_from_domain_vouches() {
        assert_eq!(vouch(&[OPENDKIM_PASS]), Some(Vouch::Dkim));
        assert_eq!(vouch(&[OPENDMARC_PASS]), Some(Vouch::Dmarc));
        assert_eq!(vouch(&[SPF_PASS]), Some(Vouch::Spf));
        assert_eq!(
            vouch(&[SPF_PASS, OPENDKIM_PASS, OPENDMARC_PASS]),
            Some(Vouch::Dmarc)
        );
    }

    #[test]
    fn a_pass_for_another_domain_or_a_result_other_than_pass_does_not() {
        for value in [
            // The attacker signs with a domain of their own.
            "mail.project.example; dkim=pass header.d=attacker.example",
            "mail.project.example; dkim=fail header.d=reporter.example",
            "mail.project.example; dkim=neutral header.d=reporter.example",
            "mail.project.example; dmarc=fail header.from=reporter.example",
            "mail.project.example; dmarc=pass header.from=attacker.example",
            "mail.project.example; spf=softfail smtp.mailfrom=reporter.example",
            "mail.project.example; spf=pass smtp.mailfrom=bob@attacker.example",
            "mail.project.example; none",
            // A pass without the domain it is for.
            "mail.project.example; dkim=pass",
        ] {
            assert_eq!(vouch(&[value]), None, "{value}");
        }
    }

    #[test]
    fn only_headers_with_our_authserv_id_count() {
        let foreign = OPENDKIM_PASS.replace(US, "mx.attacker.example");
        assert_eq!(vouch(&[&foreign]), None);
        // A prefix or suffix of our id is another id.
        let longer = OPENDKIM_PASS.replace(US, "mail.project.example.attacker.example");
        assert_eq!(vouch(&[&longer]), None);
        // Quoted, versioned and in another case, it is ours.
        let quoted = OPENDKIM_PASS.replace(US, "\"MAIL.Project.example\" 1");
        assert_eq!(vouch(&[&quoted]), Some(Vouch::Dkim));
    }

    #[test]
    fn a_pass_inside_a_comment_or_a_quoted_string_is_not_a_result() {
        for value in [
            "mail.project.example; dkim=fail (dkim=pass header.d=reporter.example; ) header.d=reporter.example",
            "mail.project.example; dkim=fail reason=\"dkim=pass header.d=reporter.example\"",
            "mail.project.example (; dkim=pass header.d=reporter.example); dkim=fail header.d=reporter.example",
            "mail.project.example; dkim=fail ((nested (dkim=pass)) header.d=reporter.example) header.d=reporter.example",
        ] {
            assert_eq!(vouch(&[value]), None, "{value}");
        }
    }

    #[test]
    fn case_white_space_and_versions_do_not_matter() {
        for value in [
            "mail.project.example; DKIM=PASS Header.D=Reporter.Example",
            "mail.project.example;dkim=pass header.d=reporter.example.",
            "mail.project.example ;  dkim / 1 = pass  header.d = reporter.example",
            "mail.project.example;\r\n\tdkim=pass\r\n\theader.d=reporter.example",
        ] {
            assert_eq!(vouch(&[value]), Some(Vouch::Dkim), "{value}");
        }
    }

    #[test]
    fn a_parent_domain_aligns_but_a_public_suffix_or_a_lookalike_does_not() {
        let signed_by = |domain: &str, from: &str| {
            vouched_for(&[&format!("{US}; dkim=pass header.d={domain}")], US, from)
        };
        assert_eq!(
            signed_by("reporter.example", "lists.reporter.example"),
            Some(Vouch::Dkim)
        );
        assert_eq!(signed_by("example", "reporter.example"), None);
        assert_eq!(signed_by("porter.example", "reporter.example"), None);
        assert_eq!(
            signed_by("lists.reporter.example", "reporter.example"),
            None
        );
        assert_eq!(signed_by(".example", "reporter.example"), None);
        assert_eq!(signed_by("", "reporter.example"), None);
    }

    #[test]
    fn malformed_values_are_nothing() {
        for value in [
            "",
            ";",
            "mail.project.example; dkim=pass (unclosed header.d=reporter.example",
            "mail.project.example; dkim=pass \"unclosed header.d=reporter.example",
            "mail.project.example; dkim=pass) header.d=reporter.example",
            "mail.project.example; dkim pass header.d=reporter.example",
            "mail.project.example; dkim=pass header.d",
            "mail.project.example two; dkim=pass header.d=reporter.example",
        ] {
            assert_eq!(parse(value), None, "{value:?}");
            assert_eq!(vouch(&[value]), None, "{value:?}");
        }
        let deep = format!(
            "{US}; dkim=pass {}x{} header.d=reporter.example",
            "(".repeat(MAX_COMMENT_DEPTH + 1),
            ")".repeat(MAX_COMMENT_DEPTH + 1)
        );
        assert_eq!(parse(&deep), None);
        let long = format!(
            "{US}; dkim=pass header.d=reporter.example {}",
            "x=y ".repeat(MAX_VALUE / 4)
        );
        assert_eq!(parse(&long), None);
    }

    #[test]
    fn a_well_formed_header_reads_into_its_parts() {
        let parsed = parse(OPENDKIM_PASS).expect("parsed");
        assert_eq!(parsed.authserv_id, US);
        assert_eq!(parsed.results.len(), 1);
        let dkim = &parsed.results[0];
        assert_eq!(
            (dkim.method.as_str(), dkim.result.as_str()),
            ("dkim", "pass")
        );
        assert_eq!(dkim.property("header.d"), Some("reporter.example"));
        assert_eq!(dkim.property("header.i"), Some("@reporter.example"));
        assert_eq!(dkim.property("header.s"), Some("default"));
    }
}
