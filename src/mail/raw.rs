//! Byte-level helpers on raw mail, for every part of `mail/` that reads or
//! rewrites a message as bytes: line ends as signatures see them, and
//! finding a byte string. Each used to be copied into the file that needed
//! it (two `crlf`s, three `find`s); one copy keeps the rule the same for
//! outbound read-back and inbound verification alike.

/// Line ends as signatures see them: CRLF throughout. A lone LF becomes
/// CRLF; a CRLF, and a lone CR, are kept as they are. Readers that stored
/// LF-only mail convert back with it before a signature is checked.
pub fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut previous = 0u8;
    for &byte in bytes {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    out
}

/// Where `needle` (never empty) first stands in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_adds_cr_only_where_a_line_feed_lacks_one() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b"\n\n"), b"\r\n\r\n");
        assert_eq!(crlf(b"lone\rcr\r\n"), b"lone\rcr\r\n");
        assert_eq!(crlf(b""), b"");
        let once = crlf(b"x\ny\n");
        assert_eq!(crlf(&once), once, "applying it twice changes nothing");
    }

    #[test]
    fn find_answers_the_first_place() {
        assert_eq!(find(b"ab\r\n\r\ncd\r\n\r\n", b"\r\n\r\n"), Some(2));
        assert_eq!(find(b"abc", b"abcd"), None);
        assert_eq!(find(b"abc", b"d"), None);
    }
}
