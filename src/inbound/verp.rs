//! VERP bounce addresses: `<list>-bounces+<delivery>-<token>@<domain>`,
//! where the token is an HMAC-SHA256 over the delivery id with the list's
//! bounce secret, so only a bounce to an address we made counts.

use sha2::{Digest, Sha256};

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The token for one delivery: 16 hex digits of the HMAC.
pub fn token(secret: &[u8], delivery: i64) -> String {
    hex::encode(&hmac(secret, delivery.to_string().as_bytes())[..8])
}

/// The envelope sender for one delivery.
pub fn address(local: &str, domain: &str, secret: &[u8], delivery: i64) -> String {
    format!(
        "{local}-bounces+{delivery}-{}@{domain}",
        token(secret, delivery)
    )
}

/// The delivery a bounce address names, if its token checks out.
pub fn check(address: &str, local: &str, domain: &str, secret: &[u8]) -> Option<i64> {
    let (user, host) = address.trim().rsplit_once('@')?;
    if !host.eq_ignore_ascii_case(domain) {
        return None;
    }
    let prefix = format!("{}-bounces+", local.to_ascii_lowercase());
    let rest = user.to_ascii_lowercase();
    let rest = rest.strip_prefix(&prefix)?;
    let (id, presented) = rest.split_once('-')?;
    let id: i64 = id.parse().ok()?;
    same_token(&token(secret, id), presented).then_some(id)
}

/// Whether a presented token is the expected one, compared in constant
/// time.
pub(crate) fn same_token(expected: &str, presented: &str) -> bool {
    expected.len() == presented.len()
        && expected
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The list address a VERP address was made from (`LOCAL@DOMAIN` of
/// `LOCAL-bounces+ID-TOKEN@DOMAIN`), in lower case, or `None` when it is
/// no VERP address. The MTA hands a bounce over with the VERP address as
/// the envelope recipient, so this is how it finds its list; the token is
/// not checked here but by that list, with its own secret ([`check`]).
pub fn list_address(address: &str) -> Option<String> {
    let (user, host) = address.trim().rsplit_once('@')?;
    let (local, rest) = user
        .to_ascii_lowercase()
        .split_once("-bounces+")
        .map(|(l, r)| (l.to_owned(), r.to_owned()))?;
    if local.is_empty() || rest.is_empty() || host.is_empty() {
        return None;
    }
    Some(format!("{local}@{}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_our_own_tokens_check_out() {
        let secret = b"secret";
        let made = address("list", "example.org", secret, 42);
        assert_eq!(check(&made, "list", "example.org", secret), Some(42));
        assert_eq!(
            check(&made.to_uppercase(), "list", "example.org", secret),
            Some(42)
        );
        assert_eq!(check(&made, "list", "example.org", b"other"), None);
        let forged = made.replace("+42-", "+43-");
        assert_eq!(check(&forged, "list", "example.org", secret), None);
        assert_eq!(
            check("list-bounces+42@example.org", "list", "example.org", secret),
            None
        );
        assert_eq!(check(&made, "list", "evil.example", secret), None);
    }

    #[test]
    fn a_verp_address_names_the_list_address_it_was_made_from() {
        let made = address("Alpha", "Project.Example", b"secret", 42);
        assert_eq!(
            list_address(&made).as_deref(),
            Some("alpha@project.example")
        );
        assert_eq!(
            list_address(&made.to_uppercase()).as_deref(),
            Some("alpha@project.example")
        );
        for other in [
            "alpha@project.example",
            "alpha-request@project.example",
            "-bounces+1-ab@project.example",
            "alpha-bounces+@project.example",
            "alpha-bounces+1-ab@",
            "alpha-bounces+1-ab",
        ] {
            assert_eq!(list_address(other), None, "{other}");
        }
    }
}
