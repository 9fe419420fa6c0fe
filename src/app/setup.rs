//! The admin's first-run checklist: the steps from a fresh installation to events flowing.

use super::AppResult;
use crate::{state::AppState, store};

/// One step, done or not, with where to take it.
#[derive(Debug, Clone)]
pub struct Step {
    pub title: &'static str,
    pub how: String,
    pub link: String,
    pub done: bool,
}

/// The steps in order. Empty once every step is done: the checklist goes away.
pub async fn checklist(state: &AppState) -> AppResult<Vec<Step>> {
    let p = state.store.read(store::setup::progress).await?;
    let signup = format!("{}/signup", state.config.public_url);
    let steps =
        vec![
        Step {
            title: "Connect a provider",
            how: "Create a source for Stripe, GitHub, Shopify or any HMAC sender; it gets its own \
                  /in/ URL to paste into the provider's webhook settings."
                .into(),
            link: "/admin/sources".into(),
            done: p.source,
        },
        Step {
            title: "Forward events to your app",
            how: "Create a destination: every accepted event is delivered to it, signed, with \
                  retries."
                .into(),
            link: "/admin/destinations#new-destination".into(),
            done: p.destination,
        },
        Step {
            title: "Invite a merchant",
            how: format!("Send merchants the sign-up page, {signup}: they verify their email and \
                          submit KYC."),
            link: signup,
            done: p.merchant,
        },
        Step {
            title: "Review a KYC submission",
            how: "Approving a merchant issues their webhook signing secret.".into(),
            link: "/admin/kyc".into(),
            done: p.kyc_reviewed,
        },
    ];
    Ok(if steps.iter().all(|s| s.done) {
        Vec::new()
    } else {
        steps
    })
}
