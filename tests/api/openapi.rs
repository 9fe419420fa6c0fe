//! The OpenAPI document served at `/api/v1/openapi.json`: valid OpenAPI 3.1, and true to the
//! routes it describes.

use crate::helpers::spawn_app;
use serde_json::Value;

/// The OpenAPI 3.1 JSON Schema (2022-10-07) as the OpenAPI Initiative publishes it.
const OAS_3_1_SCHEMA: &str = include_str!("openapi-3.1.schema.json");

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn served_document(app: &crate::helpers::TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "served without any credentials");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    res.json().await.unwrap()
}

/// Every (method, path) the document declares, with its operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((method.to_string(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn served_document_validates_as_openapi_3_1() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let schema: Value = serde_json::from_str(OAS_3_1_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the OAS 3.1 schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OpenAPI 3.1: {errors:#?}");
    // The validator does refuse what is not OpenAPI 3.1.
    let mut broken = doc.clone();
    broken["paths"]["/healthz"]["get"]["responses"]["200"] = serde_json::json!({"content": 1});
    assert!(!validator.is_valid(&broken));
}

#[tokio::test]
async fn document_declares_the_security_schemes_and_the_error_shape() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["merchant_bearer"]["scheme"], "bearer");
    assert_eq!(schemes["admin_bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["webhook_signature"]["name"], "webhook-signature");
    let error = &doc["components"]["schemas"]["ErrorBody"];
    let required: Vec<&str> = error["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["error", "message"]);
    assert!(error["properties"]["violations"].is_object());
}

#[tokio::test]
async fn order_ingest_documents_its_headers_and_every_error_status_of_the_contract() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let op = &doc["paths"]["/api/v1/webhooks/orders/"]["post"];
    let headers: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(headers, ["webhook-id", "webhook-timestamp"]);
    assert_eq!(
        op["security"],
        serde_json::json!([{"api_key": [], "webhook_signature": []}])
    );
    for status in [
        "200", "201", "400", "401", "403", "409", "413", "415", "422", "429", "503",
    ] {
        assert!(
            op["responses"][status].is_object(),
            "{status} is not documented"
        );
    }
    assert!(op["responses"]["503"]["headers"]["Retry-After"].is_object());
}

/// The document cannot list a route the server does not have, and an operation that declares a
/// bearer scheme really refuses a request without one.
#[tokio::test]
async fn every_documented_operation_is_routed_and_guarded_as_declared() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let ops = operations(&doc);
    assert!(ops.len() >= 45, "only {} operations", ops.len());
    for (method, path, op) in ops {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let req = app
            .client
            .request(method.to_uppercase().parse().unwrap(), app.url(&concrete));
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("No route for"),
            "{method} {path} is documented but not routed"
        );
        let bearer = op["security"].as_array().is_some_and(|reqs| {
            reqs.iter()
                .any(|r| r.get("merchant_bearer").is_some() || r.get("admin_bearer").is_some())
        });
        if bearer {
            assert_eq!(status, 401, "{method} {path} without a token: {body}");
        }
        assert!(
            op["responses"][status.to_string()].is_object(),
            "{method} {path} answered an undocumented {status}: {body}"
        );
    }
}

/// The request bodies the code reads as raw JSON (destinations, replays) are documented by
/// structs of their own; their properties must be exactly the fields the parsers accept.
#[tokio::test]
async fn documented_request_bodies_list_exactly_the_fields_the_parsers_accept() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let properties = |schema: &str| -> std::collections::BTreeSet<String> {
        doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .cloned()
            .collect()
    };
    let accepted = |fields: &[&str]| fields.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        properties("DestinationInput"),
        accepted(&hookgate::app::destinations::FIELDS)
    );
    assert_eq!(
        properties("ReplayInput"),
        accepted(&hookgate::app::recovery::REPLAY_FIELDS)
    );
    // The order body's tracking statuses are the domain's.
    let status = &doc["components"]["schemas"]["OrderWebhook"]["properties"]["tracking_status"];
    let documented: std::collections::BTreeSet<String> = status["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("the tracking statuses are an enum: {status}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let domain = hookgate::domain::order::TrackingStatus::ALL
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    assert_eq!(documented, domain);
}
