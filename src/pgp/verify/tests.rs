//! Verification on crafted messages: sequoia-made, since these need
//! packets no mail client writes.

use super::*;
use openpgp::parse::PacketParserBuilder;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Encryptor, LiteralWriter, Message, Signer};
use openpgp::serialize::{Serialize, SerializeInto};
use openpgp::types::DataFormat;
use std::io::Write;
use std::time::SystemTime;

/// A cleartext signature moved into a message encrypted to the list
/// (anyone can make one) verifies as the same signature over the same
/// text: the canonical bytes, signer and time, and so the replay key,
/// must come out the same as for the cleartext block it came from.
#[test]
fn a_cleartext_signature_moved_into_an_encrypted_message_covers_the_same_text() {
    let policy = StandardPolicy::new();
    let now = Utc::now();
    let made = SystemTime::from(now - chrono::Duration::hours(1));
    let (member, _) = CertBuilder::general_purpose(Some("m@example.org"))
        .set_creation_time(made)
        .generate()
        .expect("member key");
    let member_bytes = member.to_vec().expect("member cert");
    let signer = member
        .keys()
        .with_policy(&policy, None)
        .secret()
        .for_signing()
        .next()
        .expect("signing key")
        .key()
        .clone()
        .into_keypair()
        .expect("keypair");
    let text = b"List: security-announce@example.org  \nSUSPEND x@example.org\n";
    let mut csf = Vec::new();
    let mut writer = Signer::with_template(
        Message::new(&mut csf),
        signer,
        openpgp::packet::signature::SignatureBuilder::new(SignatureType::Text),
    )
    .expect("signer")
    .cleartext()
    .build()
    .expect("cleartext signer");
    writer.write_all(text).expect("sign");
    writer.finalize().expect("finalize");
    // Verified at a clock read after signing: the signature is stamped
    // with the signing instant in whole seconds, and the `now` read before
    // making the key is a second earlier whenever the second rolled over in
    // between (this test failed so, under load). The app verifies a
    // signature from the future at its own time (`verification_time`);
    // this test calls the readers directly.
    let now = Utc::now();
    let bounds = Bounds::for_mail(1 << 20);
    let clear = open_cleartext(&csf, Some(&member_bytes), now, &bounds).expect("cleartext");
    let clear_verified = clear.verified.clone().expect("verified cleartext");

    // The signature packet, taken out of the cleartext block.
    let mut ppr = PacketParserBuilder::from_bytes(&csf)
        .expect("parser")
        .process_csf_message(true)
        .build()
        .expect("parser");
    let mut signature = None;
    while let PacketParserResult::Some(pp) = ppr {
        if let Packet::Signature(sig) = &pp.packet {
            signature = Some(sig.clone());
        }
        ppr = pp.next().expect("next").1;
    }
    let signature = signature.expect("a signature");
    let mut ops = openpgp::packet::OnePassSig::try_from(&signature).expect("one-pass");
    ops.set_last(true);
    let (ops, signature) = (Packet::from(ops), Packet::from(signature));

    // The same signature around the same text with CRLF line ends and
    // without the trailing blanks, as a one-pass signed message
    // encrypted to the list.
    let list_secret = include_bytes!("../../../tests/data/fuzz-corpus/keys/list-secret.asc");
    let list_cert = Cert::from_bytes(&list_secret[..]).expect("list cert");
    let list_key = ListKey::read(list_secret).expect("list key");
    let recipients = list_cert
        .keys()
        .with_policy(&policy, None)
        .supported()
        .for_transport_encryption();
    let mut encrypted = Vec::new();
    let mut message = Encryptor::for_recipients(Message::new(&mut encrypted), recipients)
        .build()
        .expect("encryptor");
    ops.serialize(&mut message).expect("one-pass packet");
    let mut literal = LiteralWriter::new(message)
        .format(DataFormat::Unicode)
        .build()
        .expect("literal");
    literal
        .write_all(b"List: security-announce@example.org\r\nSUSPEND x@example.org\r\n")
        .expect("text");
    let mut message = literal.finalize_one().expect("literal").expect("inner");
    signature.serialize(&mut message).expect("signature packet");
    message.finalize().expect("finalize");
    let opened = open_encrypted(
        &list_key,
        None,
        &encrypted,
        Some(&member_bytes),
        now,
        &bounds,
    )
    .expect("encrypted");
    let verified = opened.verified.clone().expect("verified inside");

    assert_ne!(opened.content, clear.content, "the bytes differ");
    assert_eq!(verified, clear_verified);
    assert!(verified.text);
    assert_eq!(
        canonical(&verified, &opened.content),
        canonical(&clear_verified, &clear.content)
    );
}

/// The inputs the fuzzer found that made sequoia 2.4.2 panic: a
/// session key for the list key, then a SEIPDv1 packet shorter than
/// its length says. They must be refused, not crash.
#[test]
fn truncated_encrypted_packets_are_refused_not_a_panic() {
    let key = ListKey::read(include_bytes!(
        "../../../tests/data/fuzz-corpus/keys/list-secret.asc"
    ))
    .expect("the fuzz list key");
    let limits = crate::mail::Limits {
        max_bytes: 1 << 20,
        max_depth: 20,
        max_parts: 500,
        max_headers: 1000,
        max_header_bytes: 64 * 1024,
    };
    for message in [
        &include_bytes!("../../../tests/data/fuzz-corpus/crash-0dc060196d782a5f.eml")[..],
        &include_bytes!("../../../tests/data/fuzz-corpus/crash-94657e33934c2ad8.eml")[..],
    ] {
        let crate::mail::Inbound::Encrypted { payload } =
            crate::mail::read_inbound(message, &limits).expect("reads")
        else {
            panic!("the crash input is multipart/encrypted");
        };
        let now = chrono::Utc::now();
        let bounds = Bounds::for_mail(limits.max_bytes);
        assert!(open_encrypted(&key, None, &payload, None, now, &bounds).is_err());
    }
}
