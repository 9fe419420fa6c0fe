//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

use super::encoding::{b64, b64_decode};
use ring::hmac;

/// Sign a message; returns the `webhook-signature` header value (`v1,<base64>`).
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&k);
    ctx.update(msg_id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1,{}", b64(ctx.sign().as_ref()))
}

/// Verify a `webhook-signature` header against one key, in constant time. The header may carry
/// several space-separated signatures; one valid `v1` suffices, other versions are ignored.
pub fn verify(key: &[u8], msg_id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut signed = Vec::with_capacity(msg_id.len() + timestamp.len() + body.len() + 2);
    signed.extend_from_slice(msg_id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    header
        .split_ascii_whitespace()
        .filter_map(|sig| sig.strip_prefix("v1,"))
        .filter_map(b64_decode)
        .any(|tag| hmac::verify(&k, &signed, &tag).is_ok())
}

/// Longest `webhook-id` the server accepts.
pub const MAX_WEBHOOK_ID: usize = 256;

/// Whether `id` can be sent as a `webhook-id` header and verified as written: 1 to 256
/// visible ASCII characters, no spaces or control characters (a CR/LF would end the header).
pub fn check_webhook_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_WEBHOOK_ID {
        return Err(format!("must be 1 to {MAX_WEBHOOK_ID} characters"));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be visible ASCII without spaces or line breaks".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::WebhookSecret;
    use super::*;

    #[test]
    fn webhook_ids_are_single_header_safe_tokens() {
        assert!(check_webhook_id("msg_p5jXN8AQM9LWM0D4loKWxJek").is_ok());
        for bad in [
            "",
            "a\r\nX-Evil: 1",
            "has space",
            "tab\t",
            "é",
            &"x".repeat(257),
        ] {
            assert!(check_webhook_id(bad).is_err(), "{bad:?}");
        }
    }

    // The test vector published with the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signing_matches_the_specification_vector() {
        let key = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(sign(key.key(), ID, TS, BODY), EXPECTED);
    }

    #[test]
    fn the_specification_vector_verifies() {
        let key = WebhookSecret::parse(SECRET).unwrap();
        assert!(verify(key.key(), ID, "1614265330", BODY, EXPECTED));
    }

    #[test]
    fn webhook_with_flipped_byte_is_rejected() {
        let key = WebhookSecret::parse(SECRET).unwrap();
        let mut body = BODY.to_vec();
        body[3] ^= 1;
        assert!(!verify(key.key(), ID, "1614265330", &body, EXPECTED));
        assert!(!verify(
            key.key(),
            "msg_other",
            "1614265330",
            BODY,
            EXPECTED
        ));
        assert!(!verify(key.key(), ID, "1614265331", BODY, EXPECTED));
    }

    #[test]
    fn one_valid_v1_among_several_signatures_suffices() {
        let key = WebhookSecret::parse(SECRET).unwrap();
        let header = format!("v2,abc v1,bm90IHRoaXM= {EXPECTED} v1a,zzz");
        assert!(verify(key.key(), ID, "1614265330", BODY, &header));
        assert!(!verify(
            key.key(),
            ID,
            "1614265330",
            BODY,
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        ));
        assert!(!verify(key.key(), ID, "1614265330", BODY, ""));
        assert!(!verify(key.key(), ID, "1614265330", BODY, "v1,%%%"));
    }
}
