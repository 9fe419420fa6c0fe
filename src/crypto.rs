//! Cryptography, all on ring: random tokens, HMAC, AES-256-GCM sealing under the master key,
//! and token hashing (passwords are in `passwords`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{aead, digest, hmac, rand::SecureRandom, rand::SystemRandom};
use std::{fs, io, path::Path};

/// Length of the master key in bytes.
const MASTER_KEY_LEN: usize = 32;

/// Holds the master key; seals secrets and documents at rest, keys the OTP MACs.
pub struct Crypto {
    rng: SystemRandom,
    sealing: aead::LessSafeKey,
    mac: hmac::Key,
}

/// Failure to open sealed data: wrong key, tampered or truncated ciphertext.
#[derive(Debug, PartialEq, Eq)]
pub struct OpenError;

impl Crypto {
    /// Build from 32 raw key bytes.
    pub fn from_key(key: &[u8; MASTER_KEY_LEN]) -> Crypto {
        // Derive independent sub-keys so the AEAD key never doubles as a MAC key.
        let derive = |label: &[u8]| {
            let k = hmac::Key::new(hmac::HMAC_SHA256, key);
            hmac::sign(&k, label)
        };
        let seal_key = derive(b"hookgate seal v1");
        let mac_key = derive(b"hookgate mac v1");
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, seal_key.as_ref())
            .expect("a 32-byte key is valid for AES-256-GCM");
        Crypto {
            rng: SystemRandom::new(),
            sealing: aead::LessSafeKey::new(unbound),
            mac: hmac::Key::new(hmac::HMAC_SHA256, mac_key.as_ref()),
        }
    }

    /// Load the master key file, creating it (mode 0600) when absent.
    pub fn load_or_create(path: &Path) -> io::Result<Crypto> {
        match fs::read(path) {
            Ok(bytes) => {
                let key: [u8; MASTER_KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "master key file {} is not {MASTER_KEY_LEN} bytes",
                            path.display()
                        ),
                    )
                })?;
                Ok(Crypto::from_key(&key))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut key = [0u8; MASTER_KEY_LEN];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| io::Error::other("system random source failed"))?;
                write_private_file(path, &key)?;
                Ok(Crypto::from_key(&key))
            }
            Err(e) => Err(e),
        }
    }

    /// Fill a buffer from the system CSPRNG.
    pub fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut buf = [0u8; N];
        // The OS random source failing is not recoverable for a security product.
        self.rng
            .fill(&mut buf)
            .expect("system random source failed");
        buf
    }

    /// A new opaque token: `prefix` + 32 random bytes in URL-safe base64.
    pub fn new_token(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(self.random_bytes::<32>())
        )
    }

    /// A 6-digit one-time code, uniformly distributed.
    pub fn new_otp(&self) -> String {
        loop {
            let n = u32::from_le_bytes(self.random_bytes::<4>());
            // Reject the tail to avoid modulo bias.
            if n < u32::MAX - (u32::MAX % 1_000_000) {
                return format!("{:06}", n % 1_000_000);
            }
        }
    }

    /// Keyed MAC of a short secret (OTP) bound to a context; the database alone cannot brute it.
    pub fn mac(&self, context: &str, value: &str) -> Vec<u8> {
        hmac::sign(&self.mac, format!("{context}\0{value}").as_bytes())
            .as_ref()
            .to_vec()
    }

    /// Constant-time check of `mac(context, value) == tag`.
    pub fn verify_mac(&self, context: &str, value: &str, tag: &[u8]) -> bool {
        hmac::verify(&self.mac, format!("{context}\0{value}").as_bytes(), tag).is_ok()
    }

    /// AES-256-GCM seal with a random nonce; `context` is bound as associated data.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = self.random_bytes::<{ aead::NONCE_LEN }>();
        let mut out = Vec::with_capacity(aead::NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(plaintext);
        let nonce = aead::Nonce::assume_unique_for_key(nonce_bytes);
        let tag = self
            .sealing
            .seal_in_place_separate_tag(
                nonce,
                aead::Aad::from(context.as_bytes()),
                &mut out[aead::NONCE_LEN..],
            )
            .expect("sealing fails only for absurd lengths");
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Open what `seal` produced under the same context.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < aead::NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (nonce, rest) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
        let mut buf = rest.to_vec();
        let plain = self
            .sealing
            .open_in_place(nonce, aead::Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| OpenError)?;
        Ok(plain.to_vec())
    }
}

/// SHA-256 of a bearer token, as stored in the database (tokens are never stored in clear).
pub fn token_hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

/// Compare two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SHA-256 of arbitrary bytes (webhook body hashes for idempotency).
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
}

pub use crate::domain::encoding::{b64, b64_decode};

fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crypto() -> Crypto {
        Crypto::from_key(&[7u8; 32])
    }

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_context() {
        let c = crypto();
        let sealed = c.seal("secret:1", b"whsec_abc");
        assert!(!sealed.windows(9).any(|w| w == b"whsec_abc"));
        assert_eq!(c.open("secret:1", &sealed).unwrap(), b"whsec_abc");
        assert_eq!(c.open("secret:2", &sealed), Err(OpenError));
        assert_eq!(
            Crypto::from_key(&[8u8; 32]).open("secret:1", &sealed),
            Err(OpenError)
        );
        let mut tampered = sealed.clone();
        tampered[14] ^= 1;
        assert_eq!(c.open("secret:1", &tampered), Err(OpenError));
        assert_eq!(c.open("secret:1", &sealed[..10]), Err(OpenError));
    }

    #[test]
    fn otps_are_six_digits_and_macs_verify() {
        let c = crypto();
        for _ in 0..100 {
            let code = c.new_otp();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        let tag = c.mac("otp:m1", "123456");
        assert!(c.verify_mac("otp:m1", "123456", &tag));
        assert!(!c.verify_mac("otp:m1", "123457", &tag));
        assert!(!c.verify_mac("otp:m2", "123456", &tag));
    }

    #[test]
    fn master_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let a = Crypto::load_or_create(&path).unwrap();
        let sealed = a.seal("x", b"y");
        let b = Crypto::load_or_create(&path).unwrap();
        assert_eq!(b.open("x", &sealed).unwrap(), b"y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
