//! Standard base64 (with padding), as Standard Webhooks uses for secrets and signatures.

use base64::{Engine, engine::general_purpose::STANDARD};

/// Encode as standard base64.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decode standard base64.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}
