//! A merchant's own settings: whether their orders email their shoppers.

use super::AppResult;
use crate::{state::AppState, store};

/// Whether a merchant's orders email their shoppers, as the merchant set it and as it works
/// now (the operator's `--order-emails off` overrides the merchant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderEmails {
    /// The merchant's own choice (on unless they turned it off).
    pub merchant: bool,
    /// Whether the operator allows order emails at all.
    pub operator: bool,
}

impl OrderEmails {
    /// Whether shoppers are emailed now.
    pub fn effective(self) -> bool {
        self.merchant && self.operator
    }
}

/// The merchant's order-email setting.
pub async fn order_emails(state: &AppState, merchant_id: &str) -> AppResult<OrderEmails> {
    let id = merchant_id.to_string();
    let merchant = state
        .store
        .read(move |c| store::settings::order_emails(c, &id))
        .await?;
    Ok(OrderEmails {
        merchant,
        operator: state.config.order_emails,
    })
}

/// Turn the merchant's order emails on or off (audited when it changes); returns whether it
/// changed. Counts from the next accepted webhook on.
pub async fn set_order_emails(state: &AppState, merchant_id: &str, on: bool) -> AppResult<bool> {
    let id = merchant_id.to_string();
    let now = state.now();
    Ok(state
        .store
        .write(move |c| store::settings::set_order_emails(c, &id, on, now))
        .await?)
}
