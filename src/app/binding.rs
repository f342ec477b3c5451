//! Which attached certificate each command of a message uses. Issue 9's
//! review found two SPONSOR commands in one message both given the first
//! attachment: the second member was stored, and confirmed, with the first
//! member's key. Here every command that takes a certificate gets exactly
//! one, by a rule that never guesses, or a refusal saying why.

use crate::inbound::Command;
use crate::pgp::{self, AttachedCert};
use crate::roster::Email;

/// The certificate a command that takes one will use, or why none can be.
pub(crate) type Binding = Option<std::result::Result<AttachedCert, String>>;

/// Splits the attachments into single certificates; an attachment that is
/// no certificate (or a flood of them) is named in the reply and not used.
pub(crate) fn attached_certs(attachments: &[Vec<u8>]) -> (Vec<AttachedCert>, Vec<String>) {
    let mut certs: Vec<AttachedCert> = Vec::new();
    let mut problems = Vec::new();
    for (number, bytes) in attachments.iter().enumerate() {
        match pgp::split_attached(bytes) {
            Ok(found) => {
                for cert in found {
                    if !certs.iter().any(|c| c.fingerprint == cert.fingerprint) {
                        certs.push(cert);
                    }
                }
            }
            Err(err) => problems.push(format!("attachment {} was not used: {err}", number + 1)),
        }
    }
    (certs, problems)
}

/// Binds every command that takes a certificate to exactly one attached
/// certificate: the one whose fingerprint it names; else the one whose
/// user IDs name the address it is for (the new member's, or the signer's
/// own for SET-KEY); else the only one attached, when only one command
/// takes a certificate. Anything else is ambiguous and refused, as is one
/// certificate bound to two commands. Returns the bindings by command and
/// the fingerprints no command uses.
pub(crate) fn bind_certs(
    commands: &[Command],
    signer: &Email,
    certs: &[AttachedCert],
) -> (Vec<Binding>, Vec<String>) {
    let takers = commands.iter().filter(|c| c.takes_key()).count();
    let mut bindings: Vec<Binding> = commands
        .iter()
        .map(|command| {
            command
                .takes_key()
                .then(|| bind_one(command, signer, certs, takers))
        })
        .collect();
    let uses = |fingerprint: &str, bindings: &[Binding]| {
        bindings
            .iter()
            .filter(|b| matches!(b, Some(Ok(cert)) if cert.fingerprint == fingerprint))
            .count()
    };
    let shared: Vec<String> = certs
        .iter()
        .filter(|cert| uses(&cert.fingerprint, &bindings) > 1)
        .map(|cert| cert.fingerprint.clone())
        .collect();
    for binding in &mut bindings {
        if let Some(Ok(cert)) = binding
            && shared.contains(&cert.fingerprint)
        {
            *binding = Some(Err(format!(
                "certificate {} would serve more than one command; name each command's certificate with a Key: <fingerprint> line",
                cert.fingerprint
            )));
        }
    }
    let unused = certs
        .iter()
        .filter(|cert| uses(&cert.fingerprint, &bindings) == 0)
        .map(|cert| cert.fingerprint.clone())
        .collect();
    (bindings, unused)
}

fn bind_one(
    command: &Command,
    signer: &Email,
    certs: &[AttachedCert],
    takers: usize,
) -> std::result::Result<AttachedCert, String> {
    if let Some(named) = command.named_key() {
        let full = matches!(named.len(), 40 | 64) && named.chars().all(|c| c.is_ascii_hexdigit());
        if !full {
            return Err(format!(
                "{named:?} is not a full fingerprint (40 or 64 hex digits); short key IDs are not accepted"
            ));
        }
        return certs
            .iter()
            .find(|cert| cert.fingerprint.eq_ignore_ascii_case(named))
            .cloned()
            .ok_or_else(|| format!("no attached certificate has the fingerprint {named}"));
    }
    let address = match command {
        Command::Sponsor { email, .. } => email.to_ascii_lowercase(),
        _ => signer.normalized().to_owned(),
    };
    let naming: Vec<&AttachedCert> = certs
        .iter()
        .filter(|cert| cert.emails.contains(&address))
        .collect();
    match (naming.as_slice(), certs) {
        ([only], _) => Ok((*only).clone()),
        ([], []) => Err("attach the certificate (application/pgp-keys)".to_owned()),
        ([], [only]) if takers == 1 => Ok(only.clone()),
        ([], _) => Err(format!(
            "no attached certificate names {address}; say which one with a Key: <fingerprint> line"
        )),
        (many, _) => Err(format!(
            "{} attached certificates name {address}; say which one with a Key: <fingerprint> line",
            many.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(fingerprint: &str, emails: &[&str]) -> AttachedCert {
        AttachedCert {
            fingerprint: fingerprint.to_owned(),
            bytes: fingerprint.as_bytes().to_vec(),
            emails: emails.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    fn sponsor(email: &str, key: Option<&str>) -> Command {
        Command::Sponsor {
            email: email.to_owned(),
            name: None,
            org: None,
            kind: None,
            statement: None,
            key: key.map(str::to_owned),
        }
    }

    const A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    fn signer() -> Email {
        Email::parse("alice@project.example").expect("address")
    }

    fn bound(binding: &Binding) -> Option<&str> {
        match binding {
            Some(Ok(cert)) => Some(&cert.fingerprint),
            _ => None,
        }
    }

    #[test]
    fn two_sponsors_each_get_the_certificate_that_names_them() {
        let certs = [cert(A, &["sam@x.example"]), cert(B, &["kim@y.example"])];
        let commands = [
            sponsor("kim@y.example", None),
            sponsor("sam@x.example", None),
        ];
        let (bindings, unused) = bind_certs(&commands, &signer(), &certs);
        assert_eq!(bound(&bindings[0]), Some(B));
        assert_eq!(bound(&bindings[1]), Some(A));
        assert!(unused.is_empty());
    }

    #[test]
    fn a_single_certificate_serves_only_a_single_command() {
        let certs = [cert(A, &["someone@else.example"])];
        let one = bind_certs(&[sponsor("sam@x.example", None)], &signer(), &certs).0;
        assert_eq!(bound(&one[0]), Some(A));
        let two = bind_certs(
            &[
                sponsor("sam@x.example", None),
                sponsor("kim@y.example", None),
            ],
            &signer(),
            &certs,
        )
        .0;
        assert!(two.iter().all(|b| matches!(b, Some(Err(_)))), "{two:?}");
    }

    #[test]
    fn a_key_line_names_the_certificate_and_short_ids_are_refused() {
        let certs = [cert(A, &["sam@x.example"]), cert(B, &["sam@x.example"])];
        let ambiguous = bind_certs(&[sponsor("sam@x.example", None)], &signer(), &certs);
        assert!(matches!(&ambiguous.0[0], Some(Err(e)) if e.contains("2 attached")));
        let named = bind_certs(&[sponsor("sam@x.example", Some(B))], &signer(), &certs);
        assert_eq!(bound(&named.0[0]), Some(B));
        assert_eq!(named.1, vec![A.to_owned()]);
        let short = bind_certs(
            &[sponsor("sam@x.example", Some("BBBBBBBB"))],
            &signer(),
            &certs,
        );
        assert!(matches!(&short.0[0], Some(Err(e)) if e.contains("short key IDs")));
        let absent = bind_certs(
            &[sponsor("sam@x.example", Some(&"C".repeat(40)))],
            &signer(),
            &certs,
        );
        assert!(matches!(&absent.0[0], Some(Err(e)) if e.contains("no attached certificate")));
    }

    #[test]
    fn one_certificate_named_by_two_commands_serves_neither() {
        let certs = [cert(A, &["sam@x.example", "alice@project.example"])];
        let commands = [
            sponsor("sam@x.example", None),
            Command::SetKey { key: None },
        ];
        let (bindings, unused) = bind_certs(&commands, &signer(), &certs);
        assert!(
            bindings.iter().all(|b| matches!(b, Some(Err(_)))),
            "{bindings:?}"
        );
        assert_eq!(unused, vec![A.to_owned()]);
    }

    #[test]
    fn commands_without_a_certificate_bind_nothing() {
        let certs = [cert(A, &["sam@x.example"])];
        let (bindings, unused) = bind_certs(&[Command::Unsubscribe], &signer(), &certs);
        assert!(bindings[0].is_none());
        assert_eq!(unused, vec![A.to_owned()]);
    }
}
