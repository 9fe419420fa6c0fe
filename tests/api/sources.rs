//! Provider sources (CONTRACT section 9) through the real server: each kind signed by a signer
//! written here from the provider's documentation (ring directly, not the crate's verifiers).

use crate::helpers::*;
use base64::Engine;
use reqwest::StatusCode;
use ring::hmac;
use serde_json::{Value, json};
use std::time::Duration;

const PUBLIC_URL: &str = "https://hooks.example.com";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn mac(alg: hmac::Algorithm, key: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(alg, key), msg).as_ref().to_vec()
}

/// A request to a source, before it is sent.
struct Signed {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The kinds and how their providers sign.
#[derive(Clone, Copy, Debug, PartialEq)]
enum K {
    Standard,
    Stripe,
    Github,
    Shopify,
    Meta,
    Twilio,
    Slack,
    Paystack,
    Flutterwave,
    Hmac,
}

const ALL: [K; 10] = [
    K::Standard,
    K::Stripe,
    K::Github,
    K::Shopify,
    K::Meta,
    K::Twilio,
    K::Slack,
    K::Paystack,
    K::Flutterwave,
    K::Hmac,
];

impl K {
    fn kind(self) -> &'static str {
        match self {
            K::Standard => "standard_webhooks",
            K::Stripe => "stripe",
            K::Github => "github",
            K::Shopify => "shopify",
            K::Meta => "meta",
            K::Twilio => "twilio",
            K::Slack => "slack",
            K::Paystack => "paystack",
            K::Flutterwave => "flutterwave",
            K::Hmac => "hmac",
        }
    }

    fn secret(self) -> &'static str {
        match self {
            K::Standard => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            K::Stripe => "whsec_test_secret",
            K::Twilio => "12345",
            K::Paystack => "sk_test_secret",
            _ => "It's a Secret to Everybody",
        }
    }

    /// The create request of a source of this kind.
    fn create(self, slug: &str) -> Value {
        let mut body = json!({"slug": slug, "kind": self.kind(), "secret": self.secret()});
        match self {
            K::Meta => body["verify_token"] = json!("meta-verify-token"),
            K::Hmac => {
                body["options"] = json!({
                    "header": "X-Signature", "algorithm": "sha256", "encoding": "hex",
                    "prefix": "sha256=", "id_header": "X-Delivery-Id", "topic_pointer": "/type"
                })
            }
            _ => {}
        }
        body
    }

    /// A delivery with id `id` (where the kind's id lives), signed with `secret` at `ts`.
    fn sign(self, slug: &str, secret: &str, id: &str, ts: i64) -> Signed {
        let s = secret.as_bytes();
        let h = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect()
        };
        match self {
            K::Standard => {
                let body = format!(r#"{{"type":"invoice.paid","n":"{id}"}}"#);
                let sig = sign(secret, id, ts, body.as_bytes());
                Signed {
                    headers: h(&[
                        ("webhook-id", id.into()),
                        ("webhook-timestamp", ts.to_string()),
                        ("webhook-signature", sig),
                    ]),
                    body: body.into_bytes(),
                }
            }
            K::Stripe => {
                let body = format!(r#"{{"id":"{id}","type":"payment_intent.succeeded"}}"#);
                let sig = hex::encode(mac(hmac::HMAC_SHA256, s, format!("{ts}.{body}").as_bytes()));
                Signed {
                    headers: h(&[("Stripe-Signature", format!("t={ts},v1={sig}"))]),
                    body: body.into_bytes(),
                }
            }
            K::Github => {
                let body = r#"{"action":"opened","number":1}"#.to_string();
                let sig = hex::encode(mac(hmac::HMAC_SHA256, s, body.as_bytes()));
                Signed {
                    headers: h(&[
                        ("X-GitHub-Delivery", id.into()),
                        ("X-GitHub-Event", "pull_request".into()),
                        ("X-Hub-Signature-256", format!("sha256={sig}")),
                    ]),
                    body: body.into_bytes(),
                }
            }
            K::Shopify => {
                let body = r#"{"id":1,"total":"10.00"}"#.to_string();
                let sig = b64(&mac(hmac::HMAC_SHA256, s, body.as_bytes()));
                Signed {
                    headers: h(&[
                        ("X-Shopify-Webhook-Id", id.into()),
                        ("X-Shopify-Topic", "orders/create".into()),
                        ("X-Shopify-Hmac-Sha256", sig),
                    ]),
                    body: body.into_bytes(),
                }
            }
            K::Meta => {
                let body = json!({"object": "whatsapp_business_account", "entry": [{"changes": [
                    {"field": "messages", "value": {"messages": [{"from": "2348123456789", "id": id}]}}
                ]}]})
                .to_string();
                let sig = hex::encode(mac(hmac::HMAC_SHA256, s, body.as_bytes()));
                Signed {
                    headers: h(&[("X-Hub-Signature-256", format!("sha256={sig}"))]),
                    body: body.into_bytes(),
                }
            }
            K::Twilio => twilio(slug, secret, id, "+2348123456789"),
            K::Slack => {
                let body = format!(r#"{{"event_id":"{id}","event":{{"type":"message"}}}}"#);
                let sig = hex::encode(mac(
                    hmac::HMAC_SHA256,
                    s,
                    format!("v0:{ts}:{body}").as_bytes(),
                ));
                Signed {
                    headers: h(&[
                        ("X-Slack-Request-Timestamp", ts.to_string()),
                        ("X-Slack-Signature", format!("v0={sig}")),
                    ]),
                    body: body.into_bytes(),
                }
            }
            K::Paystack => {
                let body = format!(r#"{{"event":"charge.success","data":{{"id":"{id}"}}}}"#);
                let sig = hex::encode(mac(hmac::HMAC_SHA512, s, body.as_bytes()));
                Signed {
                    headers: h(&[("x-paystack-signature", sig)]),
                    body: body.into_bytes(),
                }
            }
            K::Flutterwave => {
                let body = format!(r#"{{"event":"charge.completed","data":{{"id":"{id}"}}}}"#);
                Signed {
                    headers: h(&[("verif-hash", secret.to_string())]),
                    body: body.into_bytes(),
                }
            }
            K::Hmac => {
                let body = r#"{"type":"thing.happened"}"#.to_string();
                let sig = hex::encode(mac(hmac::HMAC_SHA256, s, body.as_bytes()));
                Signed {
                    headers: h(&[
                        ("X-Delivery-Id", id.into()),
                        ("X-Signature", format!("sha256={sig}")),
                    ]),
                    body: body.into_bytes(),
                }
            }
        }
    }

    /// The header carrying the signature (removed for "missing signature").
    fn signature_header(self) -> &'static str {
        match self {
            K::Standard => "webhook-signature",
            K::Stripe => "Stripe-Signature",
            K::Github | K::Meta => "X-Hub-Signature-256",
            K::Shopify => "X-Shopify-Hmac-Sha256",
            K::Twilio => "X-Twilio-Signature",
            K::Slack => "X-Slack-Signature",
            K::Paystack => "x-paystack-signature",
            K::Flutterwave => "verif-hash",
            K::Hmac => "X-Signature",
        }
    }
}

/// A Twilio SMS form post, signed over the public URL and the sorted parameters (HMAC-SHA1).
fn twilio(slug: &str, token: &str, id: &str, from: &str) -> Signed {
    let params = [("Body", "2 x jollof"), ("From", from), ("MessageSid", id)];
    let mut signed = format!("{PUBLIC_URL}/in/{slug}");
    let mut sorted = params.to_vec();
    sorted.sort();
    for (k, v) in &sorted {
        signed.push_str(k);
        signed.push_str(v);
    }
    let sig = b64(&mac(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        token.as_bytes(),
        signed.as_bytes(),
    ));
    let body: String = params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&");
    Signed {
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("X-Twilio-Signature".into(), sig),
        ],
        body: body.into_bytes(),
    }
}

async fn spawn() -> TestApp {
    spawn_app_with(|o| {
        o.public_url = Some(PUBLIC_URL.into());
        o.ip_rate = Some("10000/s".into());
    })
    .await
}

impl TestApp {
    async fn create_source(&self, body: Value) -> Res {
        self.admin_post("/api/v1/admin/sources", body).await
    }

    async fn deliver(&self, slug: &str, signed: &Signed) -> Res {
        let mut req = self
            .client
            .post(self.url(&format!("/in/{slug}")))
            .body(signed.body.clone());
        let mut typed = false;
        for (name, value) in &signed.headers {
            typed |= name.eq_ignore_ascii_case("content-type");
            req = req.header(name, value);
        }
        if !typed {
            req = req.header("Content-Type", "application/json");
        }
        Res::from(req.send().await.unwrap()).await
    }

    async fn source_events(&self, slug: &str) -> Vec<Value> {
        let res = self
            .admin_get(&format!("/api/v1/admin/events?source={slug}&limit=100"))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body["items"].as_array().unwrap().clone()
    }
}

fn without(signed: &Signed, header: &str) -> Signed {
    Signed {
        headers: signed
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(header))
            .cloned()
            .collect(),
        body: signed.body.clone(),
    }
}

#[tokio::test]
async fn every_kind_accepts_its_providers_signature_once_and_refuses_tampering() {
    let app = spawn().await;
    for k in ALL {
        let slug = format!("src-{}", k.kind().replace('_', "-"));
        let created = app.create_source(k.create(&slug)).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{k:?}: {}",
            created.body
        );
        assert_eq!(
            created.body["ingest_url"],
            format!("{PUBLIC_URL}/in/{slug}")
        );
        assert!(
            created.body.get("secret").is_none(),
            "{k:?}: a given secret is never echoed"
        );

        let signed = k.sign(&slug, k.secret(), "delivery-1", app.now());
        let first = app.deliver(&slug, &signed).await;
        assert_eq!(first.status, StatusCode::OK, "{k:?}: {}", first.body);
        let again = app.deliver(&slug, &signed).await;
        assert_eq!(again.status, StatusCode::OK, "{k:?}: {}", again.body);
        if k == K::Twilio {
            assert_eq!(first.body, "<Response/>");
            assert!(
                first.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/xml")
            );
        } else {
            assert_eq!(first.body["status"], "accepted", "{k:?}");
            assert_eq!(again.body["status"], "duplicate", "{k:?}");
            assert_eq!(again.body["event_id"], first.body["event_id"], "{k:?}");
        }
        let events = app.source_events(&slug).await;
        assert_eq!(events.len(), 1, "{k:?}: stored once: {events:?}");
        assert_eq!(events[0]["source"], slug);

        // Flutterwave's v3 `verif-hash` is a shared token, not a signature of the body: a
        // changed body cannot be told apart (docs/sources.md says so).
        if k != K::Flutterwave {
            let mut tampered = k.sign(&slug, k.secret(), "delivery-2", app.now());
            tampered.body.push(b' ');
            let answer = app.deliver(&slug, &tampered).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{k:?}: {}",
                answer.body
            );
            answer.assert_error(401, "invalid_signature");
        }
        let other = match k {
            K::Standard => "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
            _ => "not the secret at all",
        };
        let wrong_secret = k.sign(&slug, other, "delivery-3", app.now());
        app.deliver(&slug, &wrong_secret)
            .await
            .assert_error(401, "invalid_signature");
        let unsigned = without(
            &k.sign(&slug, k.secret(), "delivery-4", app.now()),
            k.signature_header(),
        );
        app.deliver(&slug, &unsigned)
            .await
            .assert_error(401, "missing_signature");
        assert_eq!(app.source_events(&slug).await.len(), 1, "{k:?}");
    }

    // Every answer was counted per source and reason: in /metrics and the source's stats.
    let metrics = app.metrics_text().await;
    let count = |reason: &str| {
        let outcome = if matches!(reason, "accepted" | "duplicate") {
            "accepted"
        } else {
            "rejected"
        };
        metric_value(
            &metrics,
            &format!(
                "hookgate_source_requests_total{{source=\"src-github\",outcome=\"{outcome}\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(
        [
            count("accepted"),
            count("duplicate"),
            count("invalid_signature"),
            count("missing_signature")
        ],
        [1.0, 1.0, 2.0, 1.0]
    );
    let listed = app.admin_get("/api/v1/admin/sources").await;
    let github = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "src-github")
        .unwrap();
    let detail = app
        .admin_get(&format!(
            "/api/v1/admin/sources/{}",
            github["source_id"].as_str().unwrap()
        ))
        .await;
    let stats = app
        .admin_get("/api/v1/stats?hours=2&source=src-github")
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    let now = &stats.body["buckets"][1];
    assert_eq!(
        (&now["received"], &now["accepted"], &now["duplicates"]),
        (&json!(5), &json!(1), &json!(1)),
        "{now}"
    );
    assert_eq!(
        now["rejected"],
        json!({"invalid_signature": 2, "missing_signature": 1})
    );
    let orders = app.admin_get("/api/v1/stats?hours=1&source=orders").await;
    assert_eq!(orders.body["buckets"][0]["received"], 0, "{}", orders.body);
    assert_eq!(
        detail.body["stats_24h"],
        json!({"received": 5, "accepted": 1, "duplicates": 1, "rejected": 3, "rate_limited": 0}),
        "{}",
        detail.body
    );
}

#[tokio::test]
async fn the_event_shows_its_source_topic_headers_and_body_but_never_the_signature() {
    let app = spawn().await;
    app.create_source(K::Github.create("gh")).await;
    let signed = K::Github.sign("gh", K::Github.secret(), "d-1", app.now());
    let accepted = app.deliver("gh", &signed).await;
    let event_id = accepted.body["event_id"].as_str().unwrap();
    let event = app
        .admin_get(&format!("/api/v1/admin/events/{event_id}"))
        .await;
    assert_eq!(event.status, StatusCode::OK, "{}", event.body);
    assert_eq!(event.body["source"], "gh");
    assert_eq!(event.body["topic"], "pull_request.opened");
    let text = event.body.to_string();
    assert!(text.contains("x-github-delivery"), "{text}");
    assert!(!text.contains("x-hub-signature-256"), "{text}");
    let only_gh = app.source_events("gh").await;
    assert_eq!(only_gh.len(), 1);
    let orders = app.admin_get("/api/v1/admin/events?source=orders").await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 0);
    let by_topic = app
        .admin_get("/api/v1/admin/events?topic=pull_request.opened")
        .await;
    assert_eq!(by_topic.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn twenty_concurrent_copies_of_a_delivery_store_one_event_for_every_kind() {
    let app = spawn().await;
    for k in ALL {
        let slug = format!("c-{}", k.kind().replace('_', "-"));
        app.create_source(k.create(&slug)).await;
        let signed = k.sign(&slug, k.secret(), "same", app.now());
        let answers =
            futures_util::future::join_all((0..20).map(|_| app.deliver(&slug, &signed))).await;
        for a in &answers {
            assert_eq!(a.status, StatusCode::OK, "{k:?}: {}", a.body);
        }
        if k != K::Twilio {
            let ids: std::collections::BTreeSet<String> = answers
                .iter()
                .map(|a| a.body["event_id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(ids.len(), 1, "{k:?}: every copy is told the same event");
        }
        assert_eq!(app.source_events(&slug).await.len(), 1, "{k:?}");
    }
}

#[tokio::test]
async fn replay_windows_hold_in_both_directions_where_the_scheme_has_one() {
    let app = spawn().await;
    let five_min = 300;
    for (k, future_refused) in [(K::Standard, true), (K::Slack, true), (K::Stripe, false)] {
        let slug = format!("rw-{}", k.kind().replace('_', "-"));
        app.create_source(k.create(&slug)).await;
        let old = k.sign(&slug, k.secret(), "old", app.now() - five_min - 10);
        app.deliver(&slug, &old)
            .await
            .assert_error(401, "timestamp_out_of_tolerance");
        let future = k.sign(&slug, k.secret(), "future", app.now() + five_min + 10);
        let answer = app.deliver(&slug, &future).await;
        if future_refused {
            answer.assert_error(401, "timestamp_out_of_tolerance");
        } else {
            // Stripe's tolerance is for old signatures only.
            assert_eq!(answer.status, StatusCode::OK, "{k:?}: {}", answer.body);
        }
    }

    // Generic HMAC has a window once it is told where the timestamp is: "{ts}.{body}" signed.
    let mut create = K::Hmac.create("hmac-ts");
    create["options"]["timestamp_header"] = json!("X-Timestamp");
    let created = app.create_source(create).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let send = |ts: i64, id: &'static str| {
        let app = &app;
        async move {
            let body = r#"{"type":"thing.happened"}"#;
            let sig = hex::encode(mac(
                hmac::HMAC_SHA256,
                K::Hmac.secret().as_bytes(),
                format!("{ts}.{body}").as_bytes(),
            ));
            let signed = Signed {
                headers: vec![
                    ("X-Delivery-Id".into(), id.into()),
                    ("X-Timestamp".into(), ts.to_string()),
                    ("X-Signature".into(), format!("sha256={sig}")),
                ],
                body: body.as_bytes().to_vec(),
            };
            app.deliver("hmac-ts", &signed).await
        }
    };
    assert_eq!(send(app.now(), "now").await.body["status"], "accepted");
    send(app.now() - five_min - 10, "old")
        .await
        .assert_error(401, "timestamp_out_of_tolerance");
    send(app.now() + five_min + 10, "new")
        .await
        .assert_error(401, "timestamp_out_of_tolerance");
}

#[tokio::test]
async fn one_valid_signature_among_several_suffices() {
    let app = spawn().await;
    app.create_source(K::Stripe.create("stripe")).await;
    let signed = K::Stripe.sign("stripe", K::Stripe.secret(), "evt_1", app.now());
    let header = &signed.headers[0].1;
    let (t, v1) = header.split_once(",v1=").unwrap();
    let several = Signed {
        headers: vec![(
            "Stripe-Signature".into(),
            format!("{t},v1={},v0=abc,v1={v1}", "0".repeat(64)),
        )],
        body: signed.body.clone(),
    };
    let answer = app.deliver("stripe", &several).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    app.create_source(K::Standard.create("std")).await;
    let signed = K::Standard.sign("std", K::Standard.secret(), "msg_1", app.now());
    let mut headers = signed.headers.clone();
    let sig = headers
        .iter_mut()
        .find(|(n, _)| n == "webhook-signature")
        .unwrap();
    sig.1 = format!("v1,AAAA v2,whatever {}", sig.1);
    let answer = app
        .deliver(
            "std",
            &Signed {
                headers,
                body: signed.body,
            },
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn after_a_rotation_both_secrets_verify_until_the_overlap_ends() {
    let app = spawn().await;
    let created = app.create_source(K::Github.create("gh")).await;
    let id = created.body["source_id"].as_str().unwrap();
    let rotated = app
        .admin_post(
            &format!("/api/v1/admin/sources/{id}/secret"),
            json!({"secret": "the new secret"}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert!(rotated.body["previous_valid_until"].as_str().is_some());
    assert!(rotated.body.get("secret").is_none());
    let old = K::Github.sign("gh", K::Github.secret(), "d-old", app.now());
    let new = K::Github.sign("gh", "the new secret", "d-new", app.now());
    assert_eq!(app.deliver("gh", &old).await.body["status"], "accepted");
    assert_eq!(app.deliver("gh", &new).await.body["status"], "accepted");

    app.advance(hours(24) + Duration::from_secs(1));
    let old = K::Github.sign("gh", K::Github.secret(), "d-old-2", app.now());
    app.deliver("gh", &old)
        .await
        .assert_error(401, "invalid_signature");
    let new = K::Github.sign("gh", "the new secret", "d-new-2", app.now());
    assert_eq!(app.deliver("gh", &new).await.body["status"], "accepted");

    let audit = app.admin_get("/api/v1/admin/audit").await.body.to_string();
    for action in ["source.created", "source.secret_rotated"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
}

#[tokio::test]
async fn a_generated_standard_webhooks_secret_is_shown_once_and_works() {
    let app = spawn().await;
    let created = app
        .create_source(json!({"slug": "svix", "kind": "standard_webhooks"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = created.body["source_id"].as_str().unwrap();
    let shown = app.admin_get(&format!("/api/v1/admin/sources/{id}")).await;
    assert!(shown.body.get("secret").is_none(), "{}", shown.body);
    let signed = K::Standard.sign("svix", &secret, "msg_1", app.now());
    assert_eq!(
        app.deliver("svix", &signed).await.body["status"],
        "accepted"
    );
    assert!(
        !contains(&app.database_bytes(), secret.as_bytes()),
        "the generated secret is sealed at rest"
    );
}

#[tokio::test]
async fn disabled_and_unknown_sources_are_unknown() {
    let app = spawn().await;
    let created = app.create_source(K::Github.create("gh")).await;
    let id = created.body["source_id"].as_str().unwrap();
    let signed = K::Github.sign("gh", K::Github.secret(), "d-1", app.now());
    app.deliver("nope", &signed)
        .await
        .assert_error(404, "unknown_source");
    let patched = app
        .admin_patch(
            &format!("/api/v1/admin/sources/{id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    app.deliver("gh", &signed)
        .await
        .assert_error(404, "unknown_source");
    let listed = app.admin_get("/api/v1/admin/sources").await;
    assert_eq!(listed.body["items"][0]["enabled"], false);
    let audit = app.admin_get("/api/v1/admin/audit").await.body.to_string();
    assert!(audit.contains("source.disabled"), "{audit}");
}

#[tokio::test]
async fn meta_answers_its_challenge_and_other_kinds_refuse_get() {
    let app = spawn().await;
    app.create_source(K::Meta.create("wa")).await;
    app.create_source(K::Github.create("gh")).await;
    let get = |path: String| {
        let app = &app;
        async move { app.client.get(app.url(&path)).send().await.unwrap() }
    };
    let ok = get(
        "/in/wa?hub.mode=subscribe&hub.verify_token=meta-verify-token&hub.challenge=1158201444"
            .into(),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong =
        get("/in/wa?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1".into()).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let other = get("/in/gh?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1".into()).await;
    assert_eq!(other.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_sender_over_its_rate_is_answered_200_rate_limited_and_others_pass() {
    let app = spawn().await;
    let mut create = K::Twilio.create("sms");
    create["sender_rate"] = json!("2/h");
    let created = app.create_source(create).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    for i in 0..2 {
        let signed = twilio(
            "sms",
            K::Twilio.secret(),
            &format!("SM{i}"),
            "+2348000000001",
        );
        assert_eq!(app.deliver("sms", &signed).await.status, StatusCode::OK);
    }
    let over = twilio("sms", K::Twilio.secret(), "SM9", "+2348000000001");
    let answer = app.deliver("sms", &over).await;
    assert_eq!(answer.status, StatusCode::OK);
    let other = twilio("sms", K::Twilio.secret(), "SM10", "+2348000000002");
    assert_eq!(app.deliver("sms", &other).await.status, StatusCode::OK);
    let events = app.source_events("sms").await;
    let outcomes: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes.iter().filter(|(o, _)| *o == "accepted").count(),
        3,
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("rejected", "rate_limited")),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_bad_create_lists_every_problem_at_once() {
    let app = spawn().await;
    let res = app
        .create_source(json!({"slug": "Not A Slug!", "kind": "carrier-pigeon"}))
        .await;
    res.assert_error(422, "validation_failed");
    assert_eq!(res.violation_fields(), ["slug", "kind"]);
    let res = app
        .create_source(json!({"slug": "ok", "kind": "hmac", "options": {"algorithm": "md5", "encoding": "rot13"}}))
        .await;
    res.assert_error(422, "validation_failed");
    let fields = res.violation_fields();
    for field in [
        "secret",
        "options.header",
        "options.algorithm",
        "options.encoding",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    app.create_source(K::Github.create("gh")).await;
    app.create_source(K::Github.create("gh"))
        .await
        .assert_error(409, "slug_taken");
    let reserved = app.create_source(K::Github.create("orders")).await;
    reserved.assert_error(422, "validation_failed");
    assert_eq!(reserved.violation_fields(), ["slug"]);
}

#[tokio::test]
async fn merchants_cannot_manage_sources_and_secrets_stay_sealed() {
    let app = spawn().await;
    let token = app.verified_merchant("m@acme.example").await;
    for res in [
        app.get_as("/api/v1/admin/sources", &token).await,
        app.post_as("/api/v1/admin/sources", &token, K::Github.create("gh"))
            .await,
    ] {
        res.assert_error(401, "unauthorized");
    }
    app.create_source(K::Paystack.create("pay")).await;
    app.create_source(K::Meta.create("wa")).await;
    let bytes = app.database_bytes();
    for secret in [K::Paystack.secret(), K::Meta.secret(), "meta-verify-token"] {
        assert!(!contains(&bytes, secret.as_bytes()), "{secret} is sealed");
    }
}

#[tokio::test]
async fn the_console_creates_shows_disables_and_rotates_a_source() {
    // Plain http, so that the test's cookie jar keeps the (otherwise Secure) session cookie.
    let app = spawn_app_with(|o| o.public_url = Some("http://hooks.example.test".into())).await;
    let admin = app.admin_browser().await;
    let list = admin.page("/admin/sources").await;
    assert!(list.contains("No sources yet."), "{list}");
    assert!(list.contains(r#"<option value="paystack">Paystack</option>"#));

    // The form follows the kind: generic HMAC asks for its options, GitHub does not.
    let hmac_form = admin.page("/admin/sources/new?kind=hmac").await;
    assert!(hmac_form.contains(r#"name="header""#));
    assert!(hmac_form.contains(r#"name="topic_pointer""#));
    let github_form = admin.page("/admin/sources/new?kind=github").await;
    assert!(!github_form.contains(r#"name="header""#));
    let csrf = csrf_in(&github_form);

    // Every error at once, the typed values kept, the secret never echoed.
    let refused = admin
        .post_form(
            "/admin/sources",
            &[
                ("csrf", &csrf),
                ("kind", "hmac"),
                ("slug", "Not OK"),
                ("name", "Partner feed"),
                ("secret", "typed-secret-value"),
                ("header", ""),
                ("algorithm", "sha256"),
                ("encoding", "hex"),
                ("sender_rate", "lots"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    for expected in [
        "Partner feed",
        "Not OK",
        "1 to 64 characters",
        "sender_rate",
        "lots",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    assert!(
        !html.contains("typed-secret-value"),
        "the secret is not echoed"
    );

    let created = admin
        .post_form(
            "/admin/sources",
            &[
                ("csrf", &csrf),
                ("kind", "github"),
                ("slug", "gh"),
                ("secret", K::Github.secret()),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/admin/sources/src_"), "{location}");
    let path = location.split('?').next().unwrap().to_string();
    let detail = admin.page(&location).await;
    assert!(
        detail.contains("http://hooks.example.test/in/gh"),
        "{detail}"
    );

    // A forged delivery shows up among the failures, with its IP and reason.
    let forged = K::Github.sign("gh", "wrong secret", "d-1", app.now());
    app.deliver("gh", &forged)
        .await
        .assert_error(401, "invalid_signature");
    let detail = admin.page(&path).await;
    assert!(
        detail.contains("127.0.0.1") && detail.contains("invalid_signature"),
        "{detail}"
    );

    let disabled = admin
        .post_form(&format!("{path}/disable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    assert!(
        admin
            .page(&path)
            .await
            .contains(r#"id="source-state">disabled"#)
    );
    let signed = K::Github.sign("gh", K::Github.secret(), "d-2", app.now());
    app.deliver("gh", &signed)
        .await
        .assert_error(404, "unknown_source");
    admin
        .post_form(&format!("{path}/enable"), &[("csrf", &csrf)])
        .await;

    let rotated = admin
        .post_form(
            &format!("{path}/secret"),
            &[("csrf", &csrf), ("secret", "rotated secret")],
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::SEE_OTHER);
    let new = K::Github.sign("gh", "rotated secret", "d-3", app.now());
    assert_eq!(app.deliver("gh", &new).await.body["status"], "accepted");
    let old = K::Github.sign("gh", K::Github.secret(), "d-4", app.now());
    assert_eq!(app.deliver("gh", &old).await.body["status"], "accepted");

    // A generated Standard Webhooks secret is shown once, on the page after creating.
    let svix_form = admin
        .page("/admin/sources/new?kind=standard_webhooks")
        .await;
    let created = admin
        .post_form(
            "/admin/sources",
            &[
                ("csrf", &csrf_in(&svix_form)),
                ("kind", "standard_webhooks"),
                ("slug", "svix"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let html = created.text().await.unwrap();
    let secret = html
        .split(r#"<code id="source-secret">"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_string();
    assert!(secret.starts_with("whsec_"), "{html}");
    let listed = admin.page("/admin/sources").await;
    assert!(!listed.contains(&secret));
}

#[tokio::test]
async fn slack_url_verification_is_answered_with_its_challenge_and_not_stored() {
    let app = spawn().await;
    app.create_source(K::Slack.create("slack")).await;
    let body = r#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let ts = app.now();
    let sig = hex::encode(mac(
        hmac::HMAC_SHA256,
        K::Slack.secret().as_bytes(),
        format!("v0:{ts}:{body}").as_bytes(),
    ));
    let signed = Signed {
        headers: vec![
            ("X-Slack-Request-Timestamp".into(), ts.to_string()),
            ("X-Slack-Signature".into(), format!("v0={sig}")),
        ],
        body: body.as_bytes().to_vec(),
    };
    let answer = app.deliver("slack", &signed).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    assert!(app.source_events("slack").await.is_empty());
}

#[tokio::test]
async fn guessing_slugs_spends_the_ip_failure_budget() {
    // A burst of 3 (one second's worth); the four requests take milliseconds.
    let app = spawn_app_with(|o| o.ip_rate = Some("3/s".into())).await;
    for i in 0..3 {
        app.post_webhook(&format!("/in/guess-{i}"), &[], "{}")
            .await
            .assert_error(404, "unknown_source");
    }
    app.post_webhook("/in/guess-9", &[], "{}")
        .await
        .assert_error(429, "rate_limited");
}

/// Twilio signs the URL it called: with the query string, and with or without the default port;
/// JSON bodies are pinned by `bodySHA256` in the URL.
#[tokio::test]
async fn twilio_signs_the_url_it_called_with_its_query_and_json_bodies_by_hash() {
    let app = spawn().await;
    app.create_source(K::Twilio.create("sms")).await;
    let token = K::Twilio.secret().as_bytes();
    let twilio_sig = |signed_url: &str, params: &[(&str, &str)]| {
        let mut data = signed_url.to_string();
        let mut sorted = params.to_vec();
        sorted.sort();
        for (k, v) in sorted {
            data.push_str(k);
            data.push_str(v);
        }
        b64(&mac(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            token,
            data.as_bytes(),
        ))
    };
    let post = |query: &str, content_type: &str, sig: String, body: String| {
        let app = &app;
        let path = format!("/in/sms{query}");
        let content_type = content_type.to_string();
        async move {
            let res = app
                .client
                .post(app.url(&path))
                .header("Content-Type", content_type)
                .header("X-Twilio-Signature", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            Res::from(res).await
        }
    };
    let form = "MessageSid=SM1&From=%2B2348000000001&Body=hi";
    let params = [
        ("MessageSid", "SM1"),
        ("From", "+2348000000001"),
        ("Body", "hi"),
    ];
    // The provider called the URL with an explicit :443 and a query string.
    let sig = twilio_sig("https://hooks.example.com:443/in/sms?shop=lagos", &params);
    let answer = post(
        "?shop=lagos",
        "application/x-www-form-urlencoded",
        sig,
        form.into(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Signed without the query the request carries: refused.
    let sig = twilio_sig(&format!("{PUBLIC_URL}/in/sms"), &params);
    post(
        "?shop=lagos",
        "application/x-www-form-urlencoded",
        sig,
        form.into(),
    )
    .await
    .assert_error(401, "invalid_signature");

    let json_body = r#"{"MessageSid":"SM2","From":"+2348000000001"}"#.to_string();
    let hash = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        json_body.as_bytes(),
    ));
    let query = format!("?bodySHA256={hash}");
    let sig = twilio_sig(&format!("{PUBLIC_URL}/in/sms{query}"), &[]);
    let answer = post(&query, "application/json", sig.clone(), json_body.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Same URL and signature, another body: the hash no longer matches.
    post(
        &query,
        "application/json",
        sig,
        json_body.replace("SM2", "SM3"),
    )
    .await
    .assert_error(401, "invalid_signature");
    assert_eq!(app.source_events("sms").await.len(), 2);
}
