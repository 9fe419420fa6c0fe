//! The merchant's KYC page over HTTP: a refused document does not cost the typed values, and
//! the JSON API keeps its contract codes for the same refusals.

use crate::helpers::*;
use reqwest::{StatusCode, multipart};

/// The KYC form as the page posts it: token first, fields, the document last.
fn page_form(csrf: &str, country: &str, document: Vec<u8>) -> multipart::Form {
    multipart::Form::new()
        .text("csrf", csrf.to_string())
        .text("legal_name", "Acme <Stores> Limited")
        .text("registration_number", "RC-1234567")
        .text("country", country.to_string())
        .text("address", "123 Main St, Lagos")
        .text("contact_phone", "+2348123456789")
        .part(
            "document",
            multipart::Part::bytes(document)
                .file_name("registration.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        )
}

fn too_large() -> Vec<u8> {
    let mut big = pdf();
    big.resize(5 * 1024 * 1024 + 1, b' ');
    big
}

#[tokio::test]
async fn a_too_large_document_comes_back_with_every_value_and_every_error() {
    let app = spawn_app().await;
    let token = app.verified_merchant("big-page@acme.example").await;
    let shop = app.merchant_browser("big-page@acme.example").await;
    let csrf = csrf_in(&shop.page("/").await);

    let res = shop
        .post_multipart("/kyc", page_form(&csrf, "XX", too_large()))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    for kept in [
        "value=\"Acme &#60;Stores&#62; Limited\"",
        "value=\"RC-1234567\"",
        "value=\"XX\"",
        ">123 Main St, Lagos</textarea>",
        "value=\"+2348123456789\"",
    ] {
        assert!(html.contains(kept), "{kept} kept in\n{html}");
    }
    assert!(html.contains("id=\"country-error\""), "{html}");
    assert!(
        html.contains("id=\"document-error\">The document must be at most 5 MiB."),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"country-error\" autofocus"));
    assert_eq!(html.matches(" autofocus").count(), 1);

    // With only the document wrong, the page answers with the document's own status.
    let res = shop
        .post_multipart("/kyc", page_form(&csrf, "NG", too_large()))
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = res.text().await.unwrap();
    assert!(html.contains("value=\"NG\"") && html.contains("id=\"document-error\""));
    assert!(!html.contains("id=\"country-error\""));
    app.get_as("/api/v1/kyc", &token)
        .await
        .assert_error(404, "no_kyc");

    // The form is still good for a valid document afterwards.
    let res = shop
        .post_multipart("/kyc", page_form(&csrf, "NG", pdf()))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_as("/api/v1/kyc", &token).await.body["status"],
        "pending"
    );
}

#[tokio::test]
async fn the_api_answers_document_refusals_with_their_contract_codes_even_before_the_fields() {
    let app = spawn_app().await;
    let token = app.verified_merchant("api-order@acme.example").await;
    // The document first, the fields after it: both refusals still answer in full.
    let document_first = |document: Vec<u8>| {
        let form = multipart::Form::new().part(
            "document",
            multipart::Part::bytes(document)
                .file_name("x.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
        kyc_form_fields(form)
    };
    app.submit_kyc_form(&token, document_first(too_large()))
        .await
        .assert_error(413, "payload_too_large");
    app.submit_kyc_form(&token, document_first(b"plain text".to_vec()))
        .await
        .assert_error(415, "unsupported_document");
    let res = app.submit_kyc_form(&token, document_first(pdf())).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}

/// The valid text fields, appended to `form`.
fn kyc_form_fields(form: multipart::Form) -> multipart::Form {
    form.text("legal_name", "Acme Stores Limited")
        .text("registration_number", "RC-1234567")
        .text("country", "NG")
        .text("address", "123 Main St, Lagos")
        .text("contact_phone", "+2348123456789")
}
