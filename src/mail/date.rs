//! The outer `Date:` of a stored copy, set when it is sent.
//!
//! Copies are sealed when their mail is scheduled, hours before they go
//! out. The outer headers are outside both the signature and the
//! encryption, so the `Date:` can be restamped at send time without
//! touching anything a member verifies; the protected inner headers keep
//! what was signed.

use chrono::{DateTime, Utc};

use super::raw::find;

/// Returns `message` with its header block's `Date:` field (and any
/// folded continuation lines) replaced by `date`, or one added at the top
/// when there is none. The body is never touched.
pub fn with_date(message: &[u8], date: DateTime<Utc>) -> Vec<u8> {
    let stamp = format!("Date: {}\r\n", date.format("%a, %d %b %Y %H:%M:%S +0000"));
    let header_end = find(message, b"\r\n\r\n").map_or(message.len(), |at| at + 2);
    let headers = &message[..header_end];
    let mut out = Vec::with_capacity(message.len() + stamp.len());
    let mut stamped = false;
    let mut skipping = false;
    for line in headers.split_inclusive(|&byte| byte == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if skipping && continuation {
            continue;
        }
        skipping = false;
        if !stamped && line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"date:") {
            out.extend_from_slice(stamp.as_bytes());
            stamped = true;
            skipping = true;
            continue;
        }
        out.extend_from_slice(line);
    }
    if !stamped {
        let mut fresh = stamp.into_bytes();
        fresh.extend_from_slice(&out);
        out = fresh;
    }
    out.extend_from_slice(&message[header_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        crate::clock::parse_instant(text).expect("instant")
    }

    #[test]
    fn the_outer_date_of_a_pre_sealed_copy_is_the_send_time() {
        let sealed = b"From: list\r\nDate: Mon, 01 Jun 2026 09:00:00 +0000\r\n\
                       Message-ID: <a@b>\r\n\r\nDate: in the body stays\r\n";
        let sent = with_date(sealed, at("2026-06-01T13:00:01Z"));
        assert_eq!(
            String::from_utf8(sent).expect("utf-8"),
            "From: list\r\nDate: Mon, 01 Jun 2026 13:00:01 +0000\r\n\
             Message-ID: <a@b>\r\n\r\nDate: in the body stays\r\n"
        );
    }

    #[test]
    fn a_folded_date_is_replaced_whole_and_a_missing_one_is_added() {
        let folded = b"DATE: Mon,\r\n 01 Jun 2026\r\n\t09:00:00 +0000\r\nTo: x\r\n\r\nbody";
        let sent = String::from_utf8(with_date(folded, at("2026-06-02T00:00:00Z"))).expect("utf-8");
        assert_eq!(
            sent,
            "Date: Tue, 02 Jun 2026 00:00:00 +0000\r\nTo: x\r\n\r\nbody"
        );
        let bare = b"To: x\r\n\r\nDate: body";
        let sent = String::from_utf8(with_date(bare, at("2026-06-02T00:00:00Z"))).expect("utf-8");
        assert_eq!(
            sent,
            "Date: Tue, 02 Jun 2026 00:00:00 +0000\r\nTo: x\r\n\r\nDate: body"
        );
    }
}
