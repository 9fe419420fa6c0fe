//! The browser: a merchant who forgot their password gets a code by email and sets a new one in
//! headless Chromium; the session they had elsewhere ends.

use crate::browser::{skip, wait_for_text};
use crate::helpers::*;
use crate::webdriver::{Browser, Driver};

async fn log_in(b: &Browser, base: &str, email: &str, password: &str) {
    b.goto(&format!("{base}/login")).await;
    b.fill("input[name=email]", email).await;
    b.fill("input[name=password]", password).await;
    b.click("#login").await;
}

#[tokio::test]
async fn a_merchant_resets_a_forgotten_password_in_the_browser() {
    if skip() {
        return;
    }
    let app = spawn_app().await;
    let base = app.address.clone();
    let email = "forgetful@acme.example";
    app.verified_merchant(email).await;
    let driver = Driver::start().await;

    // Signed in on one device...
    let office = driver.browser().await;
    log_in(&office, &base, email, PASSWORD).await;
    wait_for_text(&office, "#kyc-status", "Not submitted").await;

    // ...and locked out on another: "Forgot password?" on the login page.
    let phone = driver.browser().await;
    phone.goto(&format!("{base}/login")).await;
    phone.click("#forgot").await;
    wait_for_text(&phone, "h1", "Forgot your password").await;
    phone.fill("input[name=email]", email).await;
    phone.click("#send-code").await;
    wait_for_text(&phone, ".alert.ok", "If an account uses this email").await;
    let code = eventually("a reset code in the outbox", || async {
        app.reset_code(email).await
    })
    .await;

    // A wrong code is shown at its field; the right one sets the password.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    phone.fill("input[name=code]", wrong).await;
    phone
        .fill("input[name=password]", "a brand new passphrase")
        .await;
    phone.click("#reset-password").await;
    wait_for_text(&phone, "#code-error", "does not work").await;
    assert_eq!(
        phone
            .execute(
                "return document.querySelector('input[name=code]').getAttribute('aria-invalid')"
            )
            .await,
        "true"
    );
    phone.fill("input[name=code]", &code).await;
    phone
        .fill("input[name=password]", "a brand new passphrase")
        .await;
    phone.click("#reset-password").await;
    wait_for_text(&phone, ".alert.ok", "every earlier session ended").await;

    // The new password logs in; the old session is gone.
    phone
        .fill("input[name=password]", "a brand new passphrase")
        .await;
    phone.click("#login").await;
    wait_for_text(&phone, "#kyc-status", "Not submitted").await;
    office.goto(&format!("{base}/")).await;
    wait_for_text(&office, "h1", "Merchant login").await;
    assert!(office.current_url().await.ends_with("/login"));

    // The old password no longer does.
    log_in(&office, &base, email, PASSWORD).await;
    wait_for_text(&office, ".alert.error", "wrong").await;

    office.quit().await;
    phone.quit().await;
}
