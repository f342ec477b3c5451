//! Quoted-printable (RFC 2045) for signed text parts.
//!
//! Signed text must survive every hop byte for byte, so it is always
//! quoted-printable: trailing white space, long lines, non-ASCII, a line
//! that starts with `From ` (which mbox writers turn into `>From `) and a
//! line that starts with `.` are all encoded.

/// Encodes `text` (LF or CRLF line ends) as quoted-printable with CRLF line
/// ends and lines of at most 76 characters.
pub fn encode(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(normalized.len() + normalized.len() / 8);
    let lines: Vec<&str> = normalized.split('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        encode_line(line, &mut out);
        if index + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

fn encode_line(line: &str, out: &mut String) {
    let bytes = line.as_bytes();
    let mut width = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let last = i + 1 == bytes.len();
        let at_start = width == 0;
        let literal = match byte {
            b'=' => false,
            b' ' | b'\t' => !last,
            b'.' if at_start => false,
            b'F' if at_start && bytes[i..].starts_with(b"From ") => false,
            33..=126 => true,
            _ => false,
        };
        let piece_len = if literal { 1 } else { 3 };
        // Leave room for the soft break "=" at the end of a line.
        if width + piece_len > 75 {
            out.push_str("=\r\n");
            width = 0;
            if !literal || byte == b'.' || (byte == b'F' && bytes[i..].starts_with(b"From ")) {
                push_escaped(byte, out);
                width += 3;
                continue;
            }
        }
        if literal {
            out.push(char::from(byte));
        } else {
            push_escaped(byte, out);
        }
        width += piece_len;
    }
}

fn push_escaped(byte: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('=');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 15)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> String {
        let joined = text.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex digit"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8").replace("\r\n", "\n")
    }

    #[test]
    fn round_trips_and_keeps_lines_short() {
        let text = format!(
            "From here on\n. a dot\ntrailing space \ntab\t\nZoë = ünïcode\n{}\n-- \n",
            "x".repeat(200)
        );
        let encoded = encode(&text);
        assert_eq!(decode(&encoded), text);
        for line in encoded.split("\r\n") {
            assert!(line.len() <= 76, "{line:?}");
            assert!(!line.starts_with("From "), "{line:?}");
            assert!(!line.starts_with('.'), "{line:?}");
            assert!(!line.ends_with(' ') && !line.ends_with('\t'), "{line:?}");
            assert!(line.is_ascii());
        }
        assert!(encoded.starts_with("=46rom here on\r\n=2E a dot\r\ntrailing space=20\r\n"));
    }
}
