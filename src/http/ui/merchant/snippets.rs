//! Integration snippets shown on the dashboard: sign and send one order webhook with curl,
//! Python (the Standard Webhooks library) or Node. Rendered as plain text from templates; the
//! page escapes them.

use askama::Template;

#[derive(Template)]
#[template(path = "merchant/snippets/curl.sh", escape = "none")]
struct Curl<'a> {
    key_id: &'a str,
    url: &'a str,
}

#[derive(Template)]
#[template(path = "merchant/snippets/python.py", escape = "none")]
struct Python<'a> {
    key_id: &'a str,
    url: &'a str,
}

#[derive(Template)]
#[template(path = "merchant/snippets/node.js", escape = "none")]
struct Node<'a> {
    key_id: &'a str,
    url: &'a str,
}

/// The three snippets for a key id and ingest URL: (curl, python, node).
pub(super) fn render(key_id: &str, url: &str) -> (String, String, String) {
    let text = |r: askama::Result<String>| {
        r.unwrap_or_else(|e| {
            tracing::error!(error = %e, "a snippet template failed to render");
            String::new()
        })
    };
    (
        text(Curl { key_id, url }.render()),
        text(Python { key_id, url }.render()),
        text(Node { key_id, url }.render()),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippets_carry_the_key_id_and_url_and_no_template_syntax() {
        let (curl, python, node) =
            super::render("hgk_123", "https://h.example/api/v1/webhooks/orders/");
        for s in [&curl, &python, &node] {
            assert!(
                s.contains("hgk_123") && s.contains("https://h.example/api/v1/webhooks/orders/")
            );
            assert!(!s.contains("{{") && !s.ends_with('\n'));
        }
        assert!(curl.contains(r#"BODY='{"customer_details":{"name":"John Doe""#));
        assert!(node.contains("`msg_${crypto.randomUUID()}`"));
        assert!(python.contains(r#"f"msg_{uuid.uuid4().hex}""#));
    }
}
