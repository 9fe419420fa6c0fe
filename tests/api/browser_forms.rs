//! The merchant's KYC form in Chromium: a refused form keeps what was typed and shows every
//! error at once, tied to its field; a resubmission after "changes requested" starts from the
//! last submission and shows the reviewer's reason.

use crate::browser::{skip, wait_for_text};
use crate::helpers::*;
use crate::webdriver::{Browser, Driver};
use reqwest::StatusCode;
use serde_json::{Value, json};

const EMAIL: &str = "forms@acme.example";

/// What the merchant types, by input selector.
const TYPED: [(&str, &str); 5] = [
    ("input[name=legal_name]", "Acme Stores Limited"),
    ("input[name=registration_number]", "RC-1234567"),
    ("input[name=country]", "XX"),
    ("textarea[name=address]", "123 Main St, Lagos"),
    ("input[name=contact_phone]", "+2348123456789"),
];

/// The current value of an input.
async fn value(b: &Browser, css: &str) -> Value {
    b.execute(&format!(
        "return document.querySelector({}).value",
        json!(css)
    ))
    .await
}

/// For the input named `name`: its aria-invalid, and the text of every element its
/// aria-describedby names (missing ids show as "<missing id>").
async fn described(b: &Browser, name: &str) -> Value {
    b.execute(&format!(
        "const el = document.querySelector('[name={name}]'); \
         const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean); \
         return {{invalid: el.getAttribute('aria-invalid'), \
                  texts: ids.map(id => {{ const d = document.getElementById(id); \
                                          return d ? d.textContent : '<missing ' + id + '>'; }})}}"
    ))
    .await
}

#[tokio::test]
async fn a_refused_kyc_form_keeps_every_value_and_a_resubmission_starts_from_the_last_one() {
    if skip() {
        return;
    }
    let app = spawn_app().await;
    let token = app.verified_merchant(EMAIL).await;
    let dir = tempfile::tempdir().unwrap();
    let not_a_pdf = dir.path().join("registration.pdf");
    std::fs::write(&not_a_pdf, "a text file that claims to be a PDF").unwrap();
    let real_pdf = dir.path().join("certificate.pdf");
    std::fs::write(&real_pdf, pdf()).unwrap();

    let driver = Driver::start().await;
    let shop = driver.browser().await;
    shop.goto(&app.url("/login")).await;
    shop.fill("input[name=email]", EMAIL).await;
    shop.fill("input[name=password]", PASSWORD).await;
    shop.click("#login").await;
    wait_for_text(&shop, "#kyc-status", "Not submitted").await;

    // A new merchant is told what KYC is, who reviews it and what approval brings.
    let about = shop.text("#kyc-about").await;
    for needle in ["administrator", "emailed", "key id", "signing secret"] {
        assert!(about.contains(needle), "{needle:?} in {about}");
    }

    // A country that does not exist and a document that is not a PDF, PNG or JPEG.
    for (css, text) in TYPED {
        shop.fill(css, text).await;
    }
    shop.fill("input[name=document]", not_a_pdf.to_str().unwrap())
        .await;
    shop.click("#submit-kyc").await;
    wait_for_text(&shop, "#kyc-errors", "2 fields").await;

    // Every typed value is still there.
    for (css, text) in TYPED {
        assert_eq!(value(&shop, css).await, text, "{css}");
    }
    // Both errors show, each tied to its input; the valid inputs are not marked.
    let country = described(&shop, "country").await;
    assert_eq!(country["invalid"], "true");
    assert!(
        country["texts"][0].as_str().unwrap().contains("ISO 3166"),
        "{country}"
    );
    let document = described(&shop, "document").await;
    assert_eq!(document["invalid"], "true");
    let texts = document["texts"].to_string();
    assert!(
        texts.contains("must be a PDF, PNG or JPEG") && texts.contains("Choose the document again"),
        "{document}"
    );
    for name in [
        "legal_name",
        "registration_number",
        "address",
        "contact_phone",
    ] {
        assert_eq!(
            described(&shop, name).await["invalid"],
            Value::Null,
            "{name}"
        );
    }
    // Focus is on the first invalid field, without any script of ours.
    assert_eq!(
        shop.execute("return document.activeElement.name").await,
        "country"
    );
    assert_eq!(
        shop.execute("return document.querySelectorAll('[autofocus]').length")
            .await,
        1
    );
    let res = app.get_as("/api/v1/kyc", &token).await;
    res.assert_error(404, "no_kyc");

    // Corrected, it goes through.
    shop.fill("input[name=country]", "NG").await;
    shop.fill("input[name=document]", real_pdf.to_str().unwrap())
        .await;
    shop.click("#submit-kyc").await;
    wait_for_text(&shop, "#kyc-status", "Waiting for review").await;
    let first = app.get_as("/api/v1/kyc", &token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let kyc_id = first.body["kyc_id"].as_str().unwrap().to_string();

    // The admin asks for changes with a reason, in the console.
    let reason = "The certificate scan is unreadable; upload a clearer copy.";
    let admin = driver.browser().await;
    admin.goto(&app.url("/admin/login")).await;
    admin.fill("input[name=email]", "root@example.com").await;
    admin.fill("input[name=password]", PASSWORD).await;
    admin.click("button[type=submit]").await;
    wait_for_text(&admin, "h1", "Dashboard").await;
    admin.goto(&app.url(&format!("/admin/kyc/{kyc_id}"))).await;
    admin.fill("textarea[name=reason]", reason).await;
    admin.click("#request-changes").await;
    eventually("the submission is changes_requested", || async {
        let res = app.get_as("/api/v1/kyc", &token).await;
        (res.body["status"] == "changes_requested").then_some(())
    })
    .await;

    // The merchant's form starts from the last submission, under the reviewer's reason.
    shop.goto(&app.url("/")).await;
    wait_for_text(&shop, "#kyc-status", "Changes requested").await;
    let note = shop.text("#review-note").await;
    assert!(
        note.contains(reason) && note.contains("asks for changes"),
        "{note}"
    );
    assert_eq!(
        shop.execute(
            "return document.getElementById('review-note')\
             .compareDocumentPosition(document.querySelector('form[action=\"/kyc\"]'))\
             & Node.DOCUMENT_POSITION_FOLLOWING"
        )
        .await,
        4,
        "the reason is above the form"
    );
    for (css, text) in TYPED {
        let expected = if css.contains("country") { "NG" } else { text };
        assert_eq!(value(&shop, css).await, expected, "{css}");
    }
    assert_eq!(value(&shop, "input[name=document]").await, "");
    assert!(
        shop.text("#document-again")
            .await
            .contains("Choose the document again")
    );
    assert_eq!(
        described(&shop, "document").await["invalid"],
        Value::Null,
        "nothing is wrong yet"
    );
    assert_eq!(
        shop.execute("return document.querySelectorAll('[autofocus]').length")
            .await,
        0
    );

    // Choosing the document again is all it takes to resubmit.
    shop.fill("input[name=document]", real_pdf.to_str().unwrap())
        .await;
    shop.click("#submit-kyc").await;
    wait_for_text(&shop, "#kyc-status", "Waiting for review").await;
    let second = app.get_as("/api/v1/kyc", &token).await;
    assert_ne!(second.body["kyc_id"], first.body["kyc_id"]);
    let resubmitted = app
        .admin_get(&format!(
            "/api/v1/admin/kyc/{}",
            second.body["kyc_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resubmitted.body["legal_name"], "Acme Stores Limited");
    assert_eq!(resubmitted.body["registration_number"], "RC-1234567");

    admin.quit().await;
    shop.quit().await;
}
