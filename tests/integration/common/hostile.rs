//! Hostile inbound messages too big to keep in `tests/data/inbound/`.

use super::mail::{DATE_NOW, REQUEST_ADDRESS};
use super::who;

fn hostile_headers(id: &str) -> String {
    format!(
        "From: Alice <{}>\r\nTo: {REQUEST_ADDRESS}\r\nSubject: command\r\nDate: {DATE_NOW}\r\nMessage-ID: <{id}@project.example>\r\nMIME-Version: 1.0\r\n",
        who::ALICE
    )
}

/// A message from Alice whose multiparts nest `depth` deep (boundaries
/// `n1` … `nDEPTH`, outermost first), with an unsigned text/plain
/// `SPONSOR mallory@evil.example` at the bottom. `nested(1000)` is
/// `tests/data/inbound/nested-1000.eml`.
pub fn nested(depth: usize) -> Vec<u8> {
    let mut out = hostile_headers(&format!("nested-{depth}"));
    for level in 1..=depth {
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}\r\n"
        ));
    }
    out.push_str(
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nSPONSOR mallory@evil.example\r\n",
    );
    for level in (1..=depth).rev() {
        out.push_str(&format!("\r\n--n{level}--\r\n"));
    }
    out.into_bytes()
}

/// A message from Alice: one multipart/mixed with `n` parts, each an empty
/// header block and `x`, except the last, an unsigned
/// `SUSPEND dave@vendor.example`.
pub fn many_parts(n: usize) -> Vec<u8> {
    let mut out = hostile_headers(&format!("parts-{n}"));
    out.push_str("Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
    for _ in 1..n {
        out.push_str("--p\r\n\r\nx\r\n");
    }
    out.push_str("--p\r\n\r\nSUSPEND dave@vendor.example\r\n--p--\r\n");
    out.into_bytes()
}

/// A message from Alice whose `X-Padding` header field is exactly `bytes`
/// long (name, value, folding and its final CRLF), folded into lines
/// shorter than 80 bytes, then an unsigned text/plain
/// `SUSPEND dave@vendor.example`.
pub fn huge_header(bytes: usize) -> Vec<u8> {
    let mut field = String::with_capacity(bytes);
    field.push_str("X-Padding: x");
    let mut line = field.len();
    // Leave room for the final CRLF; a fold costs CRLF, a space and an x.
    while field.len() + 2 < bytes {
        if line >= 76 && bytes - 2 - field.len() >= 4 {
            field.push_str("\r\n ");
            line = 1;
        }
        field.push('x');
        line += 1;
    }
    field.push_str("\r\n");
    let mut out = hostile_headers("huge-header");
    out.push_str(&field);
    out.push_str(
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nSUSPEND dave@vendor.example\r\n",
    );
    out.into_bytes()
}
