//! Pure types and rules: no I/O, no HTTP, no SQL. Everything here is a function of its inputs
//! (time included, passed in as `now`).

pub mod delivery;
pub mod egress;
pub mod email;
pub mod encoding;
pub mod kyc;
pub mod net;
pub mod order;
pub mod password;
pub mod phone;
pub mod secret;
pub mod signature;
pub mod source;
pub mod text;
pub mod violation;

pub use email::Email;
pub use kyc::{KycAction, KycStatus};
pub use password::Password;
pub use secret::WebhookSecret;
pub use violation::Violation;
