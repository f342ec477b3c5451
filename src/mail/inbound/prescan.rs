//! The cheap pass over a message's raw bytes before mail-parser sees it.
//!
//! mail-parser keeps every header field of every part, and every part, in
//! memory; a message far under the size limit can still hold a million
//! header fields (168 MB once parsed). This pass walks the lines once,
//! keeping nothing but counters and the declared boundaries, and refuses a
//! message whose header blocks (the message's own, every MIME part's, and
//! every nested `message/rfc822`'s) are too many or too large, or whose
//! parts are too many. It errs on the side of counting too much: a body
//! line that merely looks like a boundary starts a header block here.
//!
//! A multipart or `message/*` part must not be base64 or quoted-printable
//! encoded (RFC 2045 6.4): mail-parser would decode it and parse what it
//! finds, out of this pass's sight, so such a message is refused.

use super::{Dropped, Limits};
use crate::mail::raw::find;

/// What the header field being read declared, once it is complete.
#[derive(Default)]
struct Block {
    /// Bytes in this header block so far.
    bytes: usize,
    /// The current field, unfolded, kept only while it may matter.
    field: Vec<u8>,
    /// The block declared a `message/rfc822` (or `message/global`) body.
    nested: bool,
    /// The block declared a multipart body.
    multipart: bool,
    /// The block declared a base64 or quoted-printable encoding.
    encoded: bool,
}

struct Scan<'l> {
    limits: &'l Limits,
    /// `--` and each declared boundary.
    boundaries: Vec<Vec<u8>>,
    fields: usize,
    multiparts: usize,
    boundary_lines: usize,
}

/// Refuses, before parsing, a message over the size, header or part
/// limits.
pub(super) fn prescan(bytes: &[u8], limits: &Limits) -> Result<(), Dropped> {
    if bytes.len() > limits.max_bytes {
        return Err(Dropped::TooLarge(limits.max_bytes));
    }
    let mut scan = Scan {
        limits,
        boundaries: Vec::new(),
        fields: 0,
        multiparts: 0,
        boundary_lines: 0,
    };
    // `Some` while inside a header block.
    let mut block = Some(Block::default());
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        block = match block {
            Some(current) => scan.header_line(current, line)?,
            None => scan.body_line(line),
        };
    }
    if let Some(current) = block {
        scan.end_block(current)?;
    }
    let max_parts = limits.max_parts;
    if scan.multiparts > max_parts || scan.boundary_lines > 2 * max_parts + 2 {
        return Err(Dropped::TooManyParts(max_parts));
    }
    Ok(())
}

impl Scan<'_> {
    /// One line of a header block; answers the block still being read, or
    /// `None` when the block ended and a body begins.
    fn header_line(&mut self, mut block: Block, line: &[u8]) -> Result<Option<Block>, Dropped> {
        block.bytes += line.len() + 2;
        if block.bytes > self.limits.max_header_bytes {
            return Err(Dropped::HeaderTooLarge(self.limits.max_header_bytes));
        }
        if line.is_empty() {
            self.end_field(&mut block)?;
            let nested = block.nested;
            self.end_block(block)?;
            // A nested message's body starts with its own header block.
            return Ok(nested.then(Block::default));
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if !block.field.is_empty() {
                block.field.extend_from_slice(line);
            }
            return Ok(Some(block));
        }
        self.end_field(&mut block)?;
        self.fields += 1;
        if self.fields > self.limits.max_headers {
            return Err(Dropped::TooManyHeaders(self.limits.max_headers));
        }
        // Only two fields matter here; others are counted, not kept.
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        if name.eq_ignore_ascii_case(b"content-type")
            || name.eq_ignore_ascii_case(b"content-transfer-encoding")
        {
            block.field.extend_from_slice(line);
        }
        Ok(Some(block))
    }

    /// One body line: a line that starts with a declared boundary (and is
    /// not the closing one) starts the next part's header block.
    fn body_line(&mut self, line: &[u8]) -> Option<Block> {
        if !line.starts_with(b"--") {
            return None;
        }
        self.boundary_lines += 1;
        let opens = self.boundaries.iter().any(|boundary| {
            line.strip_prefix(boundary.as_slice())
                .is_some_and(|rest| !rest.starts_with(b"--"))
        });
        opens.then(Block::default)
    }

    fn end_block(&mut self, mut block: Block) -> Result<(), Dropped> {
        self.end_field(&mut block)?;
        if block.encoded && (block.nested || block.multipart) {
            return Err(Dropped::EncodedContainer);
        }
        Ok(())
    }

    /// Reads what a completed Content-Type or Content-Transfer-Encoding
    /// field declares.
    fn end_field(&mut self, block: &mut Block) -> Result<(), Dropped> {
        let field = std::mem::take(&mut block.field);
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            return Ok(());
        };
        let (name, value) = (&field[..colon], &field[colon + 1..]);
        let lower = value.to_ascii_lowercase();
        if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            block.encoded |=
                find(&lower, b"base64").is_some() || find(&lower, b"quoted-printable").is_some();
            return Ok(());
        }
        if find(&lower, b"message/rfc822").is_some() || find(&lower, b"message/global").is_some() {
            block.nested = true;
        }
        if find(&lower, b"multipart/").is_none() {
            return Ok(());
        }
        block.multipart = true;
        self.multiparts += 1;
        if self.multiparts > self.limits.max_parts {
            return Err(Dropped::TooManyParts(self.limits.max_parts));
        }
        if let Some(at) = find(&lower, b"boundary=") {
            let rest = &value[at + b"boundary=".len()..];
            let boundary: Vec<u8> = match rest.strip_prefix(b"\"") {
                Some(quoted) => quoted.iter().take_while(|&&b| b != b'"').copied().collect(),
                None => rest
                    .iter()
                    .take_while(|&&b| b != b';' && !b.is_ascii_whitespace())
                    .copied()
                    .collect(),
            };
            let mut marker = b"--".to_vec();
            marker.extend_from_slice(&boundary);
            self.boundaries.push(marker);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        max_depth: 20,
        max_parts: 500,
        max_headers: 40,
        max_header_bytes: 4096,
    };

    /// What members' clients send passes: folded and quoted boundaries, a
    /// signature delimiter and armor lines in bodies, a forwarded message
    /// in 7bit.
    #[test]
    fn ordinary_messages_pass() {
        let message = b"From: a@b\r\nTo: c@d\r\nContent-Type: multipart/mixed;\r\n\tboundary=\"=_x y\"\r\n\r\npreamble\r\n--=_x y\r\nContent-Type: text/plain\r\n\r\nhello\r\n-- \r\nsig\r\n-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n--=_x y\r\nContent-Type: message/rfc822\r\n\r\nFrom: e@f\r\nSubject: fwd\r\n\r\nbody\r\n--=_x y--\r\n";
        assert_eq!(prescan(message, &LIMITS), Ok(()));
    }

    /// Body lines count toward no header block unless they follow a
    /// declared boundary; fields after one do, and so do a nested
    /// message's.
    #[test]
    fn header_blocks_are_found_where_parts_start() {
        let body: String = (0..100).map(|n| format!("Note{n}: x\r\n")).collect();
        let plain = format!("Subject: s\r\n\r\n{body}");
        assert_eq!(prescan(plain.as_bytes(), &LIMITS), Ok(()));
        let part = format!(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n{body}\r\nx\r\n--b--\r\n"
        );
        assert_eq!(
            prescan(part.as_bytes(), &LIMITS),
            Err(Dropped::TooManyHeaders(40))
        );
        let nested = format!("Content-Type: message/rfc822\r\n\r\n{body}\r\nx\r\n");
        assert_eq!(
            prescan(nested.as_bytes(), &LIMITS),
            Err(Dropped::TooManyHeaders(40))
        );
        let encoded = b"Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n\r\nLS1i\r\n";
        assert_eq!(prescan(encoded, &LIMITS), Err(Dropped::EncodedContainer));
        let long = format!("Subject: {}\r\n\r\nx\r\n", "y".repeat(5000));
        assert_eq!(
            prescan(long.as_bytes(), &LIMITS),
            Err(Dropped::HeaderTooLarge(4096))
        );
    }
}
