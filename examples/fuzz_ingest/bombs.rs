//! Seeds that try to make `embargo ingest` spend memory: OpenPGP data that
//! decompresses to far more than the message limit (made by GnuPG, which
//! compresses what it signs and encrypts), containers nested in each other,
//! literal packets whose length headers claim gigabytes, and header floods
//! at every level of a message. The mutator then cuts, splices and re-arms
//! them like any other seed; the worker's peak memory is checked per input.

use super::{
    Gpg, LIST, LIST_REQUEST, MEMBER, encrypted_entity, headers, multipart, signed_entity,
    text_message, text_part,
};
use base64::Engine as _;

/// What a GnuPG-made bomb inflates to: six times the default message
/// limit, yet a few kilobytes compressed.
const BOMB_BYTES: usize = 64 << 20;

/// An OpenPGP packet in the new format with a five-octet length.
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xC0 | tag, 0xFF];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A compressed data packet with algorithm 0 (stored): nests without a
/// compressor.
fn stored(inner: &[u8]) -> Vec<u8> {
    packet(8, &[&[0u8][..], inner].concat())
}

fn armor(kind: &str, bytes: &[u8]) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = format!("-----BEGIN PGP {kind}-----\r\n\r\n").into_bytes();
    for line in text.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("-----END PGP {kind}-----\r\n").as_bytes());
    out
}

/// Literal packets whose headers lie about their size, bare and nested.
fn liars() -> Vec<Vec<u8>> {
    let mut huge = vec![0xCB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    huge.extend_from_slice(b"b\x00\x00\x00\x00\x00tiny");
    // Partial body lengths: 2^30-byte chunks promised, a few bytes given.
    let mut partial = vec![0xCB, 0xFE];
    partial.extend_from_slice(b"b\x00\x00\x00\x00\x00");
    let mut deep = huge.clone();
    for _ in 0..40 {
        deep = stored(&deep);
    }
    vec![huge.clone(), partial, stored(&stored(&huge)), deep]
}

/// Messages whose header blocks are too many or too large, at the top,
/// in a nested part, in a nested message, and hidden in an encoded one.
pub fn header_floods() -> Vec<(String, Vec<u8>)> {
    let head = headers(MEMBER, LIST_REQUEST, "flood");
    let fields: Vec<u8> = (0..5000)
        .flat_map(|n| format!("X-F{n}: v\r\n").into_bytes())
        .collect();
    let mut folded = b"Subject: x".to_vec();
    for _ in 0..20_000 {
        folded.extend_from_slice(b"\r\n y");
    }
    folded.extend_from_slice(b"\r\n");
    let nested_part = [fields.as_slice(), &text_part("CONFIRM\n")].concat();
    let inner_message = [head.as_slice(), &fields, b"\r\nbody\r\n"].concat();
    let rfc822 = [
        b"Content-Type: message/rfc822\r\n\r\n".as_slice(),
        &inner_message,
    ]
    .concat();
    let encoded = [
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n".as_slice(),
        base64::engine::general_purpose::STANDARD
            .encode(&inner_message)
            .as_bytes(),
    ]
    .concat();
    let mixed = |part: &[u8]| multipart("mixed", "", "=_flood", &[&text_part("hi\n"), part]);
    vec![
        (
            "flood-top".to_owned(),
            [head.as_slice(), &fields, b"\r\nbody\r\n"].concat(),
        ),
        (
            "flood-folded".to_owned(),
            [head.as_slice(), &folded, b"\r\nbody\r\n"].concat(),
        ),
        (
            "flood-part".to_owned(),
            [head.as_slice(), &mixed(&nested_part)].concat(),
        ),
        (
            "flood-rfc822".to_owned(),
            [head.as_slice(), &mixed(&rfc822)].concat(),
        ),
        (
            "flood-encoded-rfc822".to_owned(),
            [head.as_slice(), &mixed(&encoded)].concat(),
        ),
    ]
}

/// Compression bombs made by GnuPG with each algorithm it offers, signed
/// (a compressed signed message where a detached signature, a cleartext
/// signature or an attached key is expected) and encrypted to the list;
/// and the hand-made liars and deep nests.
pub fn bombs(gpg: &Gpg) -> Result<Vec<(String, Vec<u8>)>, String> {
    let head = headers(MEMBER, LIST_REQUEST, "bomb");
    let zeros = vec![0u8; BOMB_BYTES];
    let mut seeds = Vec::new();
    for algo in ["zip", "zlib", "bzip2"] {
        let signed = gpg.run(
            &[
                "--local-user",
                MEMBER,
                "--compress-algo",
                algo,
                "-z",
                "9",
                "--sign",
            ],
            &zeros,
        )?;
        let encrypted = gpg.run(
            &[
                "--recipient",
                LIST,
                "--compress-algo",
                algo,
                "-z",
                "9",
                "--armor",
                "--encrypt",
            ],
            &zeros,
        )?;
        let text = text_part("CONFIRM\n");
        let key_part = [
            b"Content-Type: application/pgp-keys\r\n\r\n".as_slice(),
            &armor("PUBLIC KEY BLOCK", &stored(&signed)),
        ]
        .concat();
        let with_key = multipart("mixed", "", "=_key", &[&text, &key_part]);
        let clear = [
            b"-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA512\r\n\r\nCONFIRM\r\n".as_slice(),
            &armor("SIGNATURE", &signed),
        ]
        .concat();
        seeds.push((
            format!("bomb-{algo}-signature"),
            [
                head.as_slice(),
                &signed_entity(&text, &armor("SIGNATURE", &signed)),
            ]
            .concat(),
        ));
        seeds.push((
            format!("bomb-{algo}-nested-signature"),
            [
                head.as_slice(),
                &signed_entity(&text, &armor("SIGNATURE", &stored(&stored(&signed)))),
            ]
            .concat(),
        ));
        seeds.push((
            format!("bomb-{algo}-key"),
            [head.as_slice(), &signed_entity(&with_key, b"SIG")].concat(),
        ));
        seeds.push((
            format!("bomb-{algo}-cleartext"),
            text_message(&head, &clear),
        ));
        seeds.push((
            format!("bomb-{algo}-encrypted"),
            [head.as_slice(), &encrypted_entity(&encrypted)].concat(),
        ));
    }
    for (n, liar) in liars().into_iter().enumerate() {
        let text = text_part("CONFIRM\n");
        seeds.push((
            format!("liar-{n}"),
            [
                head.as_slice(),
                &signed_entity(&text, &armor("SIGNATURE", &liar)),
            ]
            .concat(),
        ));
    }
    Ok(seeds)
}
