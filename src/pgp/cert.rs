//! Member certificates: parse, clean, and check against the policy.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::Packet;
use openpgp::cert::prelude::*;
use openpgp::crypto::mpi;
use openpgp::packet::Key;
use openpgp::packet::Signature;
use openpgp::packet::UserID;
use openpgp::packet::key::{KeyParts, KeyRole};
use openpgp::parse::Parse;
use openpgp::policy::{AsymmetricAlgorithm, HashAlgoSecurity, Policy, StandardPolicy};
use openpgp::serialize::SerializeInto;
use openpgp::types::{HashAlgorithm, KeyFlags, RevocationStatus};

use super::{CertError, CertPolicy, CertSummary, CheckedCert, SubkeySummary, first_line};
use crate::roster::Email;

/// Parses `bytes` (armored or binary), removes secret key material and
/// third-party certifications, and checks the result against the policy at
/// `now`. On success the returned bytes are what the roster stores.
fn check_member_cert_unguarded(
    bytes: &[u8],
    email: &Email,
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<CheckedCert, CertError> {
    let cert = clean(parse_one(bytes)?)?;
    let checked = evaluate(&cert, policy, now)?;
    let warnings = if names_address(&cert, email, now) {
        Vec::new()
    } else {
        vec![format!(
            "no user ID on the certificate names {email}; mail will still be encrypted to it"
        )]
    };
    let bytes = cert
        .to_vec()
        .map_err(|err| CertError::Unreadable(first_line(&err)))?;
    Ok(CheckedCert {
        fingerprint: cert.fingerprint().to_hex(),
        bytes,
        summary: checked,
        warnings,
    })
}

/// The primary fingerprint of a certificate, without any policy check.
fn fingerprint_of_unguarded(bytes: &[u8]) -> Result<String, CertError> {
    Ok(parse_one(bytes)?.fingerprint().to_hex())
}

/// Merges an update of a member's current certificate (the same primary
/// key: a revocation, a new expiry, a new subkey) into the stored copy,
/// cleaned as on import. The result is returned even when it no longer
/// passes the policy — a revocation must be stored — with the reason.
fn update_member_cert_unguarded(
    stored: &[u8],
    update: &[u8],
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, Option<String>), CertError> {
    let current = parse_one(stored)?;
    let update = clean(parse_one(update)?)?;
    if update.fingerprint() != current.fingerprint() {
        return Err(CertError::Unreadable(format!(
            "the update is for certificate {}, not {}",
            update.fingerprint().to_hex(),
            current.fingerprint().to_hex()
        )));
    }
    let (merged, _) = current
        .insert_packets(update.into_packets())
        .map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let merged = clean(merged)?;
    let problem = evaluate(&merged, policy, now)
        .err()
        .map(|err| err.to_string());
    let bytes = merged
        .to_vec()
        .map_err(|err| CertError::Unreadable(first_line(&err)))?;
    Ok((bytes, problem))
}

/// Describes a stored certificate as it stands at `now`. A certificate that
/// no longer passes the policy is still described, with the reason in
/// `problem`.
pub fn summarize_member_cert(
    bytes: &[u8],
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<CertSummary, CertError> {
    let cert = parse_one(bytes)?;
    match evaluate(&cert, policy, now) {
        Ok(summary) => Ok(summary),
        Err(problem) => Ok(CertSummary {
            fingerprint: cert.fingerprint().to_hex(),
            primary_algorithm: describe_key(cert.primary_key().key()),
            created: cert.primary_key().key().creation_time().into(),
            expires: None,
            user_ids: user_ids(&cert),
            encryption_keys: Vec::new(),
            problem: Some(problem.to_string()),
        }),
    }
}

/// Makes a fresh v4 certificate for `name <email>` with an Ed25519 primary
/// key and a Cv25519 encryption subkey, and returns (public cert, secret
/// key), both armored. Used by `embargo demo` and by benchmarks to stand in
/// for a member's own key.
pub fn generate_member_key(
    name: &str,
    email: &Email,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<u8>), CertError> {
    let (cert, _revocation) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_creation_time(SystemTime::from(now))
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .add_transport_encryption_subkey()
        .add_userid(UserID::from(format!("{name} <{email}>")))
        .generate()
        .map_err(|err| CertError::Generate(first_line(&err)))?;
    let public = cert
        .armored()
        .to_vec()
        .map_err(|err| CertError::Generate(first_line(&err)))?;
    let secret = cert
        .as_tsk()
        .armored()
        .to_vec()
        .map_err(|err| CertError::Generate(first_line(&err)))?;
    Ok((public, secret))
}

pub(super) fn parse_one(bytes: &[u8]) -> Result<Cert, CertError> {
    // A certificate may come in a compressed packet: bound what it
    // expands to before sequoia reads it.
    super::bounds::check(bytes, &super::bounds::CERT_BOUNDS, &mut [])?;
    let parser =
        CertParser::from_bytes(bytes).map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let mut certs = Vec::new();
    for cert in parser {
        certs.push(cert.map_err(|err| CertError::Unreadable(first_line(&err)))?);
    }
    match certs.len() {
        0 => Err(CertError::Unreadable("no certificate found".to_owned())),
        1 => Ok(certs.remove(0)),
        n => Err(CertError::Keyring(n)),
    }
}

/// Drops secret key material and every certification made by another key
/// (the "certificate flooding" vector); self-signatures and revocations
/// stay.
fn clean(cert: Cert) -> Result<Cert, CertError> {
    let cert = cert.strip_secret_key_material();
    // Signature has interior caches, so it is no hash key; the lists are short.
    let third_party: Vec<Signature> = cert
        .userids()
        .flat_map(|ua| ua.certifications().cloned().collect::<Vec<_>>())
        .chain(
            cert.user_attributes()
                .flat_map(|ua| ua.certifications().cloned().collect::<Vec<_>>()),
        )
        .chain(cert.primary_key().certifications().cloned())
        .chain(
            cert.keys()
                .subkeys()
                .flat_map(|ka| ka.certifications().cloned().collect::<Vec<_>>()),
        )
        .collect();
    if third_party.is_empty() {
        return Ok(cert);
    }
    let packets = cert
        .into_packets()
        .filter(|packet| !matches!(packet, Packet::Signature(sig) if third_party.contains(sig)));
    Cert::from_packets(packets).map_err(|err| CertError::Unreadable(first_line(&err)))
}

/// A policy that accepts what the standard one refuses for age reasons
/// (SHA-1, short RSA), so we can see what the cert means and then explain
/// exactly which rule it breaks.
fn lenient_policy() -> StandardPolicy<'static> {
    let mut policy = StandardPolicy::new();
    policy.accept_hash_property(
        HashAlgorithm::SHA1,
        HashAlgoSecurity::SecondPreImageResistance,
    );
    policy.accept_hash_property(HashAlgorithm::SHA1, HashAlgoSecurity::CollisionResistance);
    policy.accept_asymmetric_algo(AsymmetricAlgorithm::RSA1024);
    policy
}

fn encryption_flags() -> KeyFlags {
    KeyFlags::empty()
        .set_transport_encryption()
        .set_storage_encryption()
}

fn evaluate(
    cert: &Cert,
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<CertSummary, CertError> {
    let time = SystemTime::from(now);
    let lenient = lenient_policy();
    let standard = StandardPolicy::new();
    let lenient_cert = cert
        .with_policy(&lenient, time)
        .map_err(|err| CertError::NoValidBinding(first_line(&err)))?;
    if let RevocationStatus::Revoked(_) = lenient_cert.revocation_status() {
        return Err(CertError::Revoked);
    }
    if lenient_cert.alive().is_err() {
        let expiry = lenient_cert
            .primary_key()
            .key_expiration_time()
            .map_or_else(|| "an unknown date".to_owned(), format_time);
        return Err(CertError::Expired(expiry));
    }
    check_rsa("primary", cert.primary_key().key(), policy)?;
    let valid = cert.with_policy(&standard, time).map_err(|err| {
        if lenient_cert.primary_key().binding_signature().hash_algo() == HashAlgorithm::SHA1 {
            CertError::Sha1Binding
        } else {
            CertError::NoValidBinding(first_line(&err))
        }
    })?;
    let usable: Vec<SubkeySummary> = valid
        .keys()
        .key_flags(encryption_flags())
        .alive()
        .revoked(false)
        .filter(|ka| rsa_bits(ka.key()).is_none_or(|bits| bits >= policy.min_rsa_bits))
        .map(|ka| SubkeySummary {
            fingerprint: ka.key().fingerprint().to_hex(),
            algorithm: describe_key(ka.key()),
            created: ka.key().creation_time().into(),
            expires: ka.key_expiration_time().map(DateTime::<Utc>::from),
        })
        .collect();
    if usable.is_empty() {
        return Err(explain_no_encryption_key(&lenient_cert, policy));
    }
    Ok(CertSummary {
        fingerprint: cert.fingerprint().to_hex(),
        primary_algorithm: describe_key(cert.primary_key().key()),
        created: cert.primary_key().key().creation_time().into(),
        expires: valid
            .primary_key()
            .key_expiration_time()
            .map(DateTime::<Utc>::from),
        user_ids: user_ids(cert),
        encryption_keys: usable,
        problem: None,
    })
}

/// Says why none of the encryption-capable keys can be used, naming the
/// first one's problem.
fn explain_no_encryption_key(lenient_cert: &ValidCert<'_>, policy: &CertPolicy) -> CertError {
    let candidates: Vec<_> = lenient_cert.keys().key_flags(encryption_flags()).collect();
    if candidates.is_empty() {
        return CertError::NoEncryptionKey;
    }
    let reasons: Vec<String> = candidates
        .iter()
        .map(|ka| {
            let id = ka.key().fingerprint().to_hex();
            if let RevocationStatus::Revoked(_) = ka.revocation_status() {
                format!("subkey {id} is revoked")
            } else if ka.alive().is_err() {
                let when = ka
                    .key_expiration_time()
                    .map_or_else(|| "an unknown date".to_owned(), format_time);
                format!("subkey {id} expired on {when}")
            } else if let Some(bits) = rsa_bits(ka.key()).filter(|bits| *bits < policy.min_rsa_bits)
            {
                format!(
                    "subkey {id} is RSA-{bits}; at least {} bits are required",
                    policy.min_rsa_bits
                )
            } else if ka.binding_signature().hash_algo() == HashAlgorithm::SHA1 {
                format!("subkey {id} is bound with a SHA-1 signature, which is refused")
            } else {
                format!("subkey {id} is refused by the standard policy")
            }
        })
        .collect();
    CertError::NoUsableEncryptionKey(reasons.join("; "))
}

fn check_rsa<P: KeyParts, R: KeyRole>(
    which: &'static str,
    key: &Key<P, R>,
    policy: &CertPolicy,
) -> Result<(), CertError> {
    match rsa_bits(key) {
        Some(bits) if bits < policy.min_rsa_bits => Err(CertError::WeakRsa {
            which,
            bits,
            min: policy.min_rsa_bits,
        }),
        _ => Ok(()),
    }
}

pub(super) fn rsa_bits<P: KeyParts, R: KeyRole>(key: &Key<P, R>) -> Option<usize> {
    match key.mpis() {
        mpi::PublicKey::RSA { n, .. } => Some(n.bits()),
        _ => None,
    }
}

/// A short human description such as `RSA-3072`, `EdDSA Ed25519` or
/// `ECDH Cv25519`.
fn describe_key<P: KeyParts, R: KeyRole>(key: &Key<P, R>) -> String {
    match key.mpis() {
        mpi::PublicKey::RSA { n, .. } => format!("RSA-{}", n.bits()),
        mpi::PublicKey::EdDSA { curve, .. }
        | mpi::PublicKey::ECDSA { curve, .. }
        | mpi::PublicKey::ECDH { curve, .. } => format!("{} {}", key.pk_algo(), curve),
        _ => key.pk_algo().to_string(),
    }
}

fn names_address(cert: &Cert, email: &Email, now: DateTime<Utc>) -> bool {
    let standard = StandardPolicy::new();
    let policy: &dyn Policy = &standard;
    cert.userids()
        .filter(|ua| {
            ua.clone()
                .with_policy(policy, SystemTime::from(now))
                .is_ok()
        })
        .filter_map(|ua| ua.userid().email_normalized().ok().flatten())
        .any(|address| address == email.normalized())
}

fn user_ids(cert: &Cert) -> Vec<String> {
    cert.userids()
        .map(|ua| String::from_utf8_lossy(ua.userid().value()).into_owned())
        .collect()
}

fn format_time(time: SystemTime) -> String {
    crate::clock::format_instant(DateTime::<Utc>::from(time))
}

/// Parses `bytes` (armored or binary), removes secret key material and
/// third-party certifications, and checks the result against the policy at
/// `now`. On success the returned bytes are what the roster stores.
pub fn check_member_cert(
    bytes: &[u8],
    email: &Email,
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<CheckedCert, CertError> {
    super::guarded("certificate", || {
        check_member_cert_unguarded(bytes, email, policy, now)
    })
}

/// Merges an update of a member's current certificate into the stored
/// copy (see `update_member_cert_unguarded`).
pub fn update_member_cert(
    stored: &[u8],
    update: &[u8],
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, Option<String>), CertError> {
    super::guarded("certificate", || {
        update_member_cert_unguarded(stored, update, policy, now)
    })
}

/// The primary fingerprint of a certificate, without any policy check.
pub fn fingerprint_of(bytes: &[u8]) -> Result<String, CertError> {
    super::guarded("certificate", || fingerprint_of_unguarded(bytes))
}
