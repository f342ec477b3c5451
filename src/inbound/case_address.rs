//! A case's own reply address: `LOCAL+case-YYYY-NNNN-TOKEN@DOMAIN` of the
//! team address `LOCAL@DOMAIN`, where the token is an HMAC over the
//! case's name with the list's secret, so only an address we gave out
//! names a case. The MTA delivers it to the team address's pipe with
//! `recipient_delimiter = +`.

use crate::cases::CaseId;
use crate::roster::Email;

/// What a recipient of the team's pipe names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamRecipient {
    /// The team address itself.
    Team,
    /// A case's reply address whose token checks out.
    Case(CaseId),
    /// The team address with a suffix that names no case of ours (a
    /// forged, mistyped or stale token): mail to it is a new report.
    Unknown,
}

/// The token for case `id`: 16 hex digits of the HMAC.
pub fn token(secret: &[u8], id: CaseId) -> String {
    let message = format!("case reply address {id}");
    hex::encode(&super::verp::hmac(secret, message.as_bytes())[..8])
}

/// The reply address of case `id`.
pub fn address(team: &Email, secret: &[u8], id: CaseId) -> String {
    format!(
        "{}+{}-{}@{}",
        team.local_part(),
        id.to_string().to_ascii_lowercase(),
        token(secret, id),
        team.domain()
    )
}

/// Whether `recipient` is the team address (`None`: it is not), and
/// which case it names. Without `secret` any suffix is `Unknown`.
pub fn read(team: &Email, recipient: &str, secret: Option<&[u8]>) -> Option<TeamRecipient> {
    let (user, host) = recipient.trim().rsplit_once('@')?;
    if !host.eq_ignore_ascii_case(team.domain()) {
        return None;
    }
    let user = user.to_ascii_lowercase();
    let local = team.local_part().to_ascii_lowercase();
    if user == local {
        return Some(TeamRecipient::Team);
    }
    let suffix = user.strip_prefix(&local)?.strip_prefix('+')?;
    let Some(secret) = secret else {
        return Some(TeamRecipient::Unknown);
    };
    Some(case_of(suffix, secret).map_or(TeamRecipient::Unknown, TeamRecipient::Case))
}

/// The case a suffix `case-yyyy-nnnn-TOKEN` names, if its token checks.
fn case_of(suffix: &str, secret: &[u8]) -> Option<CaseId> {
    let (name, presented) = suffix.rsplit_once('-')?;
    let id = CaseId::parse(name)?;
    super::verp::same_token(&token(secret, id), presented).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Email {
        Email::parse("Security@Project.example").expect("team")
    }

    #[test]
    fn a_case_address_names_its_case_and_nothing_else_does() {
        let secret = b"list secret";
        let id = CaseId::parse("CASE-2026-0007").expect("id");
        let address = address(&team(), secret, id);
        assert!(address.starts_with("Security+case-2026-0007-"), "{address}");
        assert!(address.ends_with("@project.example"), "{address}");
        assert_eq!(
            read(&team(), &address, Some(secret)),
            Some(TeamRecipient::Case(id))
        );
        // Any case of the address, as MTAs may lower it.
        assert_eq!(
            read(&team(), &address.to_ascii_uppercase(), Some(secret)),
            Some(TeamRecipient::Case(id))
        );
        assert_eq!(
            read(&team(), "security@PROJECT.example", Some(secret)),
            Some(TeamRecipient::Team)
        );
        // Another list's secret, another case's token, a cut token, no
        // token, garbage: no case.
        let other = CaseId::parse("CASE-2026-0008").expect("id");
        let token_of_7 = token(secret, id);
        for forged in [
            address.replace("0007", "0008"),
            format!("security+case-2026-0008-{token_of_7}@project.example"),
            address[..address.len() - "@project.example".len() - 1].to_owned() + "@project.example",
            "security+case-2026-0007@project.example".to_owned(),
            "security+anything@project.example".to_owned(),
            "security+@project.example".to_owned(),
        ] {
            assert_eq!(
                read(&team(), &forged, Some(secret)),
                Some(TeamRecipient::Unknown),
                "{forged}"
            );
        }
        assert_eq!(
            read(&team(), &address, Some(b"another secret")),
            Some(TeamRecipient::Unknown)
        );
        assert_eq!(
            read(
                &team(),
                &super::address(&team(), secret, other),
                Some(secret)
            ),
            Some(TeamRecipient::Case(other))
        );
        // Not the team's at all.
        for stranger in [
            "security@elsewhere.example",
            "securityx+case@project.example",
            "sec@project.example",
            "no at sign",
        ] {
            assert_eq!(read(&team(), stranger, Some(secret)), None, "{stranger}");
        }
    }
}
