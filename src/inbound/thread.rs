//! How a re-sealed post threads without showing its Message-IDs (issue 12).
//!
//! A team post's real Message-ID, In-Reply-To and References stay inside
//! the encryption. Outside, every id is replaced by its stand-in: an
//! HMAC-SHA256 of the id under the list's secret, at the list's domain.
//! Every copy of one post carries the same stand-in, and a reply to it
//! names the stand-in of what it answers, so mail clients thread the outer
//! headers as they would the real ones; nobody without the secret can
//! tell which real ids they stand for, or confirm a guess. A member's
//! reply names the stand-in (its client reads the outer headers): the
//! list maps it back by computing the stand-ins of the ids it knows.

use super::verp::hmac;

/// Most ids an outer References header carries (the newest ones).
pub const MAX_REFERENCES: usize = 20;

/// The stand-in for one Message-ID: `<t.HEX@DOMAIN>`, 32 hex digits.
pub fn stand_in(secret: &[u8], id: &str, domain: &str) -> String {
    let id = bare(id);
    let mac = hmac(secret, id.as_bytes());
    format!("<t.{}@{domain}>", hex::encode(&mac[..16]))
}

/// An id without its angle brackets and surrounding white space.
fn bare(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(id)
        .trim()
}

/// The ids of an In-Reply-To or References value, in order: each
/// `<...>` outside comments, anything between ids skipped.
pub fn ids(value: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut open: Option<usize> = None;
    for (at, c) in value.char_indices() {
        match c {
            '(' if open.is_none() => depth += 1,
            ')' if open.is_none() => depth = depth.saturating_sub(1),
            '<' if depth == 0 => open = Some(at + 1),
            '>' if depth == 0 => {
                if let Some(start) = open.take() {
                    let id = value[start..at].trim();
                    if !id.is_empty() && !id.chars().any(char::is_whitespace) {
                        found.push(id);
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The outer In-Reply-To and References for a post whose real ones are
/// `in_reply_to` and `references` (header values, as written).
pub fn outer_thread(
    secret: &[u8],
    domain: &str,
    in_reply_to: Option<&str>,
    references: Option<&str>,
) -> (Option<String>, Option<String>) {
    let reply = in_reply_to
        .and_then(|value| ids(value).first().copied())
        .map(|id| stand_in(secret, id, domain));
    let all = references.map(ids).unwrap_or_default();
    let newest = &all[all.len().saturating_sub(MAX_REFERENCES)..];
    let refs: Vec<String> = newest
        .iter()
        .map(|id| stand_in(secret, id, domain))
        .collect();
    let refs = if refs.is_empty() {
        // A reply without References threads by In-Reply-To alone.
        reply.clone()
    } else {
        Some(refs.join(" "))
    };
    (reply, refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"the list's secret";
    const DOMAIN: &str = "project.example";

    #[test]
    fn one_id_has_one_stand_in_whatever_its_brackets_and_space() {
        let a = stand_in(SECRET, "<CAF1x2@mail.reporter.example>", DOMAIN);
        assert_eq!(a, stand_in(SECRET, "CAF1x2@mail.reporter.example", DOMAIN));
        assert_eq!(
            a,
            stand_in(SECRET, " < CAF1x2@mail.reporter.example > ", DOMAIN)
        );
        assert!(
            a.starts_with("<t.") && a.ends_with("@project.example>"),
            "{a}"
        );
        assert_eq!(a.len(), "<t.@project.example>".len() + 32);
    }

    #[test]
    fn a_stand_in_shows_nothing_of_its_id_and_depends_on_the_secret() {
        let id = "CVE-2026-1234.openssl-heap-overflow@reporter.example";
        let a = stand_in(SECRET, id, DOMAIN);
        for piece in ["CVE", "openssl", "reporter", "1234"] {
            assert!(!a.contains(piece), "{a} shows {piece}");
        }
        assert_ne!(a, stand_in(b"another secret", id, DOMAIN));
        // Ids differing in case are different ids.
        assert_ne!(a, stand_in(SECRET, &id.to_uppercase(), DOMAIN));
    }

    #[test]
    fn ids_are_read_from_folded_values_with_comments_and_junk() {
        let value = "<a@x.example> (a comment <not@an.id)\r\n\t<b@y.example>junk <c@z.example>";
        assert_eq!(ids(value), ["a@x.example", "b@y.example", "c@z.example"]);
        assert_eq!(ids("no ids here"), Vec::<&str>::new());
        assert_eq!(ids("<unclosed@x.example"), Vec::<&str>::new());
        assert_eq!(
            ids("<with space@x.example> <ok@x.example>"),
            ["ok@x.example"]
        );
    }

    #[test]
    fn the_outer_thread_maps_every_id_and_keeps_the_newest_references() {
        let (reply, refs) = outer_thread(
            SECRET,
            DOMAIN,
            Some("<b@y.example>"),
            Some("<a@x.example> <b@y.example>"),
        );
        assert_eq!(reply, Some(stand_in(SECRET, "b@y.example", DOMAIN)));
        assert_eq!(
            refs,
            Some(format!(
                "{} {}",
                stand_in(SECRET, "a@x.example", DOMAIN),
                stand_in(SECRET, "b@y.example", DOMAIN)
            ))
        );
        let long: Vec<String> = (0..50).map(|n| format!("<id{n}@x.example>")).collect();
        let (_, refs) = outer_thread(SECRET, DOMAIN, None, Some(&long.join(" ")));
        let refs = refs.unwrap_or_default();
        assert_eq!(refs.split(' ').count(), MAX_REFERENCES);
        assert!(refs.ends_with(&stand_in(SECRET, "id49@x.example", DOMAIN)));
        assert!(!refs.contains(&stand_in(SECRET, "id29@x.example", DOMAIN)));
    }

    #[test]
    fn a_first_post_has_no_outer_thread_and_a_bare_reply_threads_by_in_reply_to() {
        assert_eq!(outer_thread(SECRET, DOMAIN, None, None), (None, None));
        assert_eq!(
            outer_thread(SECRET, DOMAIN, Some("junk"), Some("")),
            (None, None)
        );
        let (reply, refs) = outer_thread(SECRET, DOMAIN, Some("<b@y.example>"), None);
        assert_eq!(reply, refs);
        assert!(reply.is_some());
    }
}
