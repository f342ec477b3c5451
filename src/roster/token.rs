//! Confirmation tokens.
//!
//! A new member proves control of their address and key by returning a
//! token that only reached them encrypted. The roster stores only the
//! token's SHA-256, so a copy of the database does not let anyone confirm.

use sha2::{Digest, Sha256};

/// The SHA-256 of a token as lower-case hex, the form the store keeps.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// Compares two hex hashes in time that does not depend on where they
/// first differ.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Formats 16 random bytes as a token people can copy: 125 of their bits
/// as five groups of five base32 characters (no 0/O or 1/I to confuse).
pub fn format(random: [u8; 16]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = String::new();
    for byte in random {
        bits = (bits << 8) | u32::from(byte);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            out.push(char::from(ALPHABET[((bits >> nbits) & 31) as usize]));
        }
    }
    out.truncate(25);
    out.as_bytes()
        .chunks(5)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_readable_and_hash_stably() {
        let token = format([0xAB; 16]);
        assert_eq!(token.len(), 25 + 4);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(hash(&token), hash(&format!(" {token}\n")));
        assert!(hashes_match(&hash(&token), &hash(&token)));
        assert!(!hashes_match(&hash(&token), &hash("other")));
    }
}
