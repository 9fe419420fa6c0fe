//! KYC submission rules and admin decisions.

use crate::helpers::*;
use reqwest::{StatusCode, multipart};
use serde_json::json;

#[tokio::test]
async fn a_document_is_typed_by_its_content_not_its_name() {
    let app = spawn_app().await;
    let token = app.verified_merchant("doc@acme.example").await;
    // An executable renamed to .pdf with a PDF content type is still refused.
    let form = kyc_form().part(
        "document",
        multipart::Part::bytes(b"MZ\x90\x00\x03 not a pdf".to_vec())
            .file_name("passport.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    app.submit_kyc_form(&token, form)
        .await
        .assert_error(415, "unsupported_document");
    // A PNG sent as application/octet-stream is accepted.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let form = kyc_form().part(
        "document",
        multipart::Part::bytes(png)
            .file_name("scan.bin")
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    let res = app.submit_kyc_form(&token, form).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}

#[tokio::test]
async fn documents_over_five_mib_are_refused() {
    let app = spawn_app().await;
    let token = app.verified_merchant("big@acme.example").await;
    let mut big = pdf();
    big.resize(5 * 1024 * 1024 + 1, b' ');
    app.submit_kyc(&token, big)
        .await
        .assert_error(413, "payload_too_large");
    let mut ok = pdf();
    ok.resize(5 * 1024 * 1024, b' ');
    assert_eq!(app.submit_kyc(&token, ok).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn invalid_forms_list_every_violation() {
    let app = spawn_app().await;
    let token = app.verified_merchant("form@acme.example").await;
    let form = multipart::Form::new()
        .text("legal_name", "Acme")
        .text("country", "Nigeria")
        .text("contact_phone", "call me maybe");
    let res = app.submit_kyc_form(&token, form).await;
    res.assert_error(422, "validation_failed");
    let fields = res.violation_fields();
    assert_eq!(
        fields,
        [
            "registration_number",
            "address",
            "country",
            "contact_phone",
            "document"
        ]
    );
    // Not multipart at all.
    let res = app
        .post_as("/api/v1/kyc", &token, json!({"legal_name": "x"}))
        .await;
    res.assert_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn reject_needs_a_reason_and_the_merchant_may_submit_again() {
    let app = spawn_app().await;
    let token = app.verified_merchant("again@acme.example").await;
    let kyc_id = app.submit_kyc(&token, pdf()).await.body["kyc_id"]
        .as_str()
        .unwrap()
        .to_string();

    let res = app
        .admin_post(&format!("/api/v1/admin/kyc/{kyc_id}/reject"), json!({}))
        .await;
    res.assert_error(422, "validation_failed");
    assert_eq!(res.body["violations"][0]["field"], "reason");
    app.admin_post(
        &format!("/api/v1/admin/kyc/{kyc_id}/reject"),
        json!({"reason": "  "}),
    )
    .await
    .assert_error(422, "validation_failed");

    let res = app
        .admin_post(
            &format!("/api/v1/admin/kyc/{kyc_id}/reject"),
            json!({"reason": "Blurry scan"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "rejected");
    let status = app.get_as("/api/v1/kyc", &token).await;
    assert_eq!(status.body["status"], "rejected");
    assert_eq!(status.body["review_note"], "Blurry scan");
    assert!(status.body["reviewed_at"].as_str().is_some());
    // A decided case cannot be decided again.
    app.admin_post(&format!("/api/v1/admin/kyc/{kyc_id}/approve"), json!({}))
        .await
        .assert_error(409, "invalid_transition");

    // Resubmission, then changes requested, then a third submission approved.
    let second = app.submit_kyc(&token, pdf()).await;
    assert_eq!(second.status, StatusCode::CREATED);
    let second_id = second.body["kyc_id"].as_str().unwrap().to_string();
    let res = app
        .admin_post(
            &format!("/api/v1/admin/kyc/{second_id}/request-changes"),
            json!({"reason": "Add address proof"}),
        )
        .await;
    assert_eq!(res.body["status"], "changes_requested");
    assert_eq!(
        app.get_as("/api/v1/me", &token).await.body["kyc_status"],
        "changes_requested"
    );
    let third = app.submit_kyc(&token, pdf()).await;
    assert_eq!(third.status, StatusCode::CREATED);
    let third_id = third.body["kyc_id"].as_str().unwrap();
    let res = app
        .admin_post(&format!("/api/v1/admin/kyc/{third_id}/approve"), json!({}))
        .await;
    assert_eq!(res.status, StatusCode::OK);

    // The admin sees the history of earlier submissions and the emails went out.
    let detail = app
        .admin_get(&format!("/api/v1/admin/kyc/{third_id}"))
        .await;
    assert_eq!(detail.body["history"].as_array().unwrap().len(), 2);
    let subjects: Vec<String> = app
        .admin_get("/api/v1/admin/outbox?to=again@acme.example")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    assert!(subjects.iter().any(|s| s.contains("rejected")));
    assert!(subjects.iter().any(|s| s.contains("Changes requested")));
    assert!(subjects.iter().any(|s| s.contains("approved")));
}

#[tokio::test]
async fn merchants_cannot_see_each_other() {
    let app = spawn_app().await;
    let a = app.verified_merchant("a@acme.example").await;
    let b = app.verified_merchant("b@other.example").await;
    app.submit_kyc(&a, pdf()).await;
    // B has no KYC of its own, and A's is not visible to B.
    app.get_as("/api/v1/kyc", &b)
        .await
        .assert_error(404, "no_kyc");
    assert_eq!(
        app.get_as("/api/v1/me", &b).await.body["email"],
        "b@other.example"
    );
    assert_eq!(
        app.get_as("/api/v1/kyc", &a).await.body["status"],
        "pending"
    );
}

#[tokio::test]
async fn kyc_documents_are_sealed_at_rest() {
    let app = spawn_app().await;
    let token = app.verified_merchant("sealed@acme.example").await;
    let mut doc = pdf();
    doc.extend_from_slice(b"UNIQUE-MARKER-4f1c9e");
    assert_eq!(
        app.submit_kyc(&token, doc).await.status,
        StatusCode::CREATED
    );
    assert!(!contains(&app.database_bytes(), b"UNIQUE-MARKER-4f1c9e"));
}
