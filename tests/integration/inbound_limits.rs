//! `embargo ingest` against messages built to cost memory: OpenPGP data
//! that decompresses to far more than the message limit, and header
//! floods. Each runs the real binary under `/usr/bin/time` to read its
//! peak resident memory, and must be dropped with its reason logged,
//! leaving the database (and so the outbox: no reply) exactly as it was.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::common::limits::{dropped_unchanged, ingest_measured, list_with};
use crate::common::mail::{Attachment, Headers, LIST_ADDRESS, REQUEST_ADDRESS, SIGNED_NOW};
use crate::common::{Env, who};

/// The message limit these tests configure: the bombs below inflate to
/// 64 times it.
const MAX_BYTES: usize = 1 << 20;
/// What each bomb inflates to.
const BOMB_BYTES: usize = 64 << 20;

/// Python builds the bombs (its zlib and bz2 are C, and fast): `layers`
/// nested compressed packets of `algo` (1 ZIP, 2 ZLIB, 3 BZip2) around a
/// packet of tag `tag` whose body is `size` zero bytes, sent with partial
/// body lengths as a streaming writer would. A user ID packet (tag 13) is
/// one sequoia reads whole into memory.
fn bomb(algo: u8, layers: usize, tag: u8, size: usize) -> Vec<u8> {
    const SCRIPT: &str = r#"
import sys, zlib, bz2
algo, layers, tag, size = (int(a) for a in sys.argv[1:5])
def length(n):
    if n < 192: return bytes([n])
    if n < 8384: n -= 192; return bytes([(n >> 8) + 192, n & 0xFF])
    return b"\xff" + n.to_bytes(4, "big")
def compressor():
    if algo == 1: return zlib.compressobj(9, zlib.DEFLATED, -15)
    if algo == 2: return zlib.compressobj(9)
    return bz2.BZ2Compressor(9)
def compressed(chunks):
    c = compressor()
    body = bytearray([algo])
    for chunk in chunks: body += c.compress(chunk)
    body += c.flush()
    return b"\xc8" + length(len(body)) + bytes(body)
def packet():
    yield bytes([0xC0 | tag])
    chunk = bytes(1 << 20)
    left = size
    while left > (1 << 20):
        yield b"\xf4" + chunk
        left -= 1 << 20
    yield length(left) + bytes(left)
out = compressed(packet())
for _ in range(layers - 1): out = compressed([out])
sys.stdout.buffer.write(out)
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .args([algo, layers as u8, tag].map(|n| n.to_string()))
        .arg(size.to_string())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn armor(kind: &str, bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64"))
        .collect();
    format!(
        "-----BEGIN PGP {kind}-----\r\n\r\n{}\r\n-----END PGP {kind}-----\r\n",
        lines.join("\r\n")
    )
}

fn head(from: &str) -> String {
    format!(
        "From: {from}\r\nTo: {REQUEST_ADDRESS}\r\nSubject: x\r\nDate: Mon, 01 Jun 2026 11:59:00 +0000\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\n",
        std::process::id()
    )
}

/// A multipart/signed message whose signature part is `signature`.
fn with_signature(signature: &str) -> Vec<u8> {
    format!(
        "{}Content-Type: multipart/signed; boundary=\"b\"; micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nList: {LIST_ADDRESS}\r\nUNSUBSCRIBE\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\n{signature}\r\n--b--\r\n",
        head(who::DAVE)
    )
    .into_bytes()
}

/// A text/plain message holding a cleartext-signed block whose signature
/// block is `signature`.
fn with_cleartext_signature(signature: &str) -> Vec<u8> {
    format!(
        "{}Content-Type: text/plain\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nList: {LIST_ADDRESS}\r\nUNSUBSCRIBE\r\n{signature}",
        head(who::DAVE)
    )
    .into_bytes()
}

/// `BOMB_BYTES` of zeros, compressed with `algo` by GnuPG and encrypted
/// to the list key: what anyone can send.
fn encrypted_bomb(env: &Env, algo: &str) -> Vec<u8> {
    let home = tempfile::tempdir().expect("GnuPG home");
    let gpg = |args: &[&str], input: Vec<u8>| {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--yes", "--no-tty", "--trust-model", "always"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gpg");
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("gpg");
        let _ = writer.join();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let list_cert = env.ok(&["key", "export"]).stdout.into_bytes();
    gpg(&["--import"], list_cert);
    let payload = gpg(
        &[
            "--recipient",
            LIST_ADDRESS,
            "--compress-algo",
            algo,
            "-z",
            "9",
            "--armor",
            "--encrypt",
        ],
        vec![0u8; BOMB_BYTES],
    );
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
    [
        head(who::DAVE).into_bytes(),
        b"Content-Type: multipart/encrypted; boundary=\"e\";\r\n protocol=\"application/pgp-encrypted\"\r\n\r\n--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--e\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec(),
        payload,
        b"\r\n--e--\r\n".to_vec(),
    ]
    .concat()
}

/// A tiny message that decompressed to gigabytes cost 1.2 GB and 4 s
/// before any signature was checked: sequoia inflated compressed packets
/// (inside an encrypted message anyone can make, or in place of a
/// signature or an attached key) without a bound. Every such expansion is
/// now bounded by `[inbound] max_bytes` while it streams, and nesting of
/// containers is bounded; the process stays small and nothing is stored.
#[test]
fn decompression_bomb_is_refused_before_it_expands() {
    let env = list_with(&format!("max_bytes = {MAX_BYTES}"));
    // What an ordinary signed command costs, for comparison.
    let ordinary = crate::common::mail::signed_mime(
        who::DAVE,
        &Headers::new(who::DAVE, REQUEST_ADDRESS),
        &format!("List: {LIST_ADDRESS}\nUNSUBSCRIBE-NOT-A-COMMAND\n"),
        &[],
        SIGNED_NOW,
    );
    let baseline = ingest_measured(&env, &ordinary).rss_kib;
    let ceiling = baseline + 16 * 1024;
    for (algo, name) in [(1u8, "zip"), (2, "zlib"), (3, "bzip2")] {
        let single = bomb(algo, 1, 13, BOMB_BYTES);
        let nested = bomb(algo, 2, 13, BOMB_BYTES);
        assert!(single.len() < MAX_BYTES / 4, "{name}: {}", single.len());
        let key = crate::common::mail::signed_mime(
            who::DAVE,
            &Headers::new(who::DAVE, REQUEST_ADDRESS),
            &format!("List: {LIST_ADDRESS}\nSET-KEY\n"),
            &[Attachment::pgp_keys(
                armor("PUBLIC KEY BLOCK", &single).as_bytes(),
            )],
            SIGNED_NOW,
        );
        let cases: Vec<(String, Vec<u8>, &str)> = vec![
            (
                format!("{name}: in place of a detached signature"),
                with_signature(&armor("SIGNATURE", &single)),
                "where only signatures belong",
            ),
            (
                format!("{name}: compressed inside compressed"),
                with_signature(&armor("SIGNATURE", &nested)),
                "where only signatures belong",
            ),
            (
                format!("{name}: as a cleartext signature block"),
                with_cleartext_signature(&armor("SIGNATURE", &single)),
                "where only signatures belong",
            ),
            (
                format!("{name}: as a key attached to a good signed command"),
                key,
                "attached key refused",
            ),
            (
                format!("{name}: encrypted to the list key"),
                encrypted_bomb(&env, name),
                "expands past",
            ),
        ];
        for (what, message, reason) in cases {
            let started = std::time::Instant::now();
            let rss = dropped_unchanged(&env, &what, &message, reason);
            eprintln!(
                "{what}: {} bytes, peak RSS {rss} KiB (ordinary {baseline} KiB), {:.2} s",
                message.len(),
                started.elapsed().as_secs_f64()
            );
            assert!(
                rss < ceiling,
                "{what}: peak RSS {rss} KiB, an ordinary message {baseline} KiB"
            );
        }
    }
}

/// Containers nested past the bound are refused however small each layer
/// is (a quine-like nest of compressed packets), here as an attached key
/// where compression is allowed; and a signature may hold no container at
/// all, so a bomb there is refused before anything is inflated (the
/// fuzzer's `slow-54508ab6b96f2978.eml`, a mutated bzip2 bomb in a
/// cleartext signature block, took half a second inflating to the budget).
#[test]
fn deeply_nested_compression_is_refused() {
    let env = list_with(&format!("max_bytes = {MAX_BYTES}"));
    let nest = bomb(2, 12, 13, 10);
    let key = crate::common::mail::signed_mime(
        who::DAVE,
        &Headers::new(who::DAVE, REQUEST_ADDRESS),
        &format!("List: {LIST_ADDRESS}\nSET-KEY\n"),
        &[Attachment::pgp_keys(
            armor("PUBLIC KEY BLOCK", &nest).as_bytes(),
        )],
        SIGNED_NOW,
    );
    dropped_unchanged(
        &env,
        "12 nested compressed packets",
        &key,
        "nested deeper than 8",
    );
    let slow = include_bytes!("../data/fuzz-corpus/slow-54508ab6b96f2978.eml");
    let started = std::time::Instant::now();
    dropped_unchanged(
        &env,
        "the fuzzer's slow input",
        slow,
        "where only signatures belong",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// 1.2 million header fields under the size limit cost 168 MB: the
/// pre-scan now counts the header fields of the message and of every part
/// and nested message, and sizes every header block, before mail-parser
/// sees them.
#[test]
fn header_flood_is_dropped_before_parsing() {
    let env = list_with("");
    let top = head(who::DAVE);
    let flood = |n: usize| -> String { (0..n).map(|_| "A: b\r\n").collect() };
    let text = "Content-Type: text/plain\r\n\r\nList: x\r\nUNSUBSCRIBE\r\n";
    let mixed = |part: &str| {
        format!(
            "{top}Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n{text}\r\n--m\r\n{part}\r\n--m--\r\n"
        )
    };
    let mut folded = String::from("Subject: a");
    for _ in 0..20_000 {
        folded.push_str("\r\n b");
    }
    let many_parts: String = (0..300)
        .map(|_| {
            "--m\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\nContent-Type: text/plain\r\n\r\nx\r\n".to_owned()
        })
        .collect();
    let inner = format!("{}\r\nbody\r\n", flood(2000));
    let encoded = base64::engine::general_purpose::STANDARD.encode(inner.as_bytes());
    let cases = [
        (
            "a million fields at the top",
            format!("{top}{}\r\nbody\r\n", flood(1_000_000)),
            "more than 1000 header fields",
        ),
        (
            "fields in a nested part",
            mixed(&format!("{}Content-Type: text/plain\r\n\r\nx", flood(2000))),
            "more than 1000 header fields",
        ),
        (
            "fields in a nested message",
            mixed(&format!("Content-Type: message/rfc822\r\n\r\n{inner}")),
            "more than 1000 header fields",
        ),
        (
            "a few fields in each of many parts",
            format!("{top}Content-Type: multipart/mixed; boundary=m\r\n\r\n{many_parts}--m--\r\n"),
            "more than 1000 header fields",
        ),
        (
            "one huge folded header",
            format!("{top}{folded}\r\n\r\nbody\r\n"),
            "a header block larger than 65536 bytes",
        ),
        (
            "a nested message hidden in base64",
            mixed(&format!(
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}"
            )),
            "base64 or quoted-printable encoded",
        ),
    ];
    for (what, message, reason) in cases {
        let rss = dropped_unchanged(&env, what, message.as_bytes(), reason);
        eprintln!("{what}: {} bytes, peak RSS {rss} KiB", message.len());
        assert!(rss < 64 * 1024, "{what}: peak RSS {rss} KiB");
    }
}
