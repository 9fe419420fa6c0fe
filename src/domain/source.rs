//! Provider sources: one verifier per kind of provider (CONTRACT.md section 9).
//!
//! [`verify`] checks an inbound request the way its provider signs it — over the raw body bytes,
//! in constant time, with any of the source's secrets (two during a rotation overlap) — then
//! applies the kind's replay window, and only then reads the body for the de-duplication id, the
//! topic and the sender. Pure: the clock comes in as [`Inbound::now`].
//!
//! Rules shared by every kind, where the contract leaves room:
//! - A signature or timestamp header that is absent or blank is missing
//!   ([`Refusal::MissingSignature`]); one that is present but cannot be parsed is
//!   [`Refusal::InvalidSignature`].
//! - The timestamp is judged only after the signature verified. One that is not unix seconds
//!   lies outside every window: [`Refusal::TimestampOutOfTolerance`], the answer the merchant
//!   endpoint (section 5) gives a malformed `webhook-timestamp`.
//! - A header may carry several signatures (separated by commas or white space, or the header
//!   repeated); any valid one suffices, items of another scheme or version are ignored. At most
//!   [`MAX_SIGNATURES`] items of the right scheme are tried, which bounds the work a forged
//!   request can cause.
//! - Each secret's expected MAC is computed once; each offered signature is compared with it in
//!   constant time by `ring::hmac::verify` ("double HMAC": `HMAC(k, offered)` against
//!   `HMAC(k, expected)`), so a long list of candidates costs no extra pass over the body.
//!   (`standard_webhooks` reuses [`signature::verify`], one pass per well-formed `v1`
//!   signature, hence the cap.)
//! - Ids and senders longer than [`MAX_DEDUP_ID_BYTES`] become their SHA-256 hex; topics lose
//!   control characters and are cut to [`MAX_TOPIC_CHARS`]; a kind whose id is missing (or
//!   whose body is not JSON) falls back to the SHA-256 hex of the body, and to its default topic.

use super::encoding::b64_decode;
use super::secret::WebhookSecret;
use super::signature;
use super::violation::Violation;
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Most signatures of the right scheme tried per request.
pub const MAX_SIGNATURES: usize = 8;
/// Longest de-duplication id kept as is; longer ones are replaced by their SHA-256 hex.
pub const MAX_DEDUP_ID_BYTES: usize = 256;
/// Longest topic, in characters; longer ones are cut.
pub const MAX_TOPIC_CHARS: usize = 128;
/// Longest value of an `hmac` option.
pub const MAX_OPTION_CHARS: usize = 100;

/// The topic of an event whose kind names none (and the fallback of most kinds).
const DEFAULT_TOPIC: &str = "webhook";

/// The kinds of provider source (CONTRACT.md section 9), by their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    StandardWebhooks,
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

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::StandardWebhooks,
        Kind::Stripe,
        Kind::Github,
        Kind::Shopify,
        Kind::Meta,
        Kind::Twilio,
        Kind::Slack,
        Kind::Paystack,
        Kind::Flutterwave,
        Kind::Hmac,
    ];

    /// The kind of a wire name (exact, lower case).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "standard_webhooks",
            Kind::Stripe => "stripe",
            Kind::Github => "github",
            Kind::Shopify => "shopify",
            Kind::Meta => "meta",
            Kind::Twilio => "twilio",
            Kind::Slack => "slack",
            Kind::Paystack => "paystack",
            Kind::Flutterwave => "flutterwave",
            Kind::Hmac => "hmac",
        }
    }

    /// The name people know the provider by.
    pub fn label(self) -> &'static str {
        match self {
            Kind::StandardWebhooks => "Standard Webhooks",
            Kind::Stripe => "Stripe",
            Kind::Github => "GitHub",
            Kind::Shopify => "Shopify",
            Kind::Meta => "Meta (WhatsApp)",
            Kind::Twilio => "Twilio",
            Kind::Slack => "Slack",
            Kind::Paystack => "Paystack",
            Kind::Flutterwave => "Flutterwave",
            Kind::Hmac => "Generic HMAC",
        }
    }

    /// Whether every source of this kind refuses stale timestamps. `hmac` answers false: its
    /// window depends on the source's options, see [`HmacOptions::has_replay_window`].
    pub fn has_replay_window(self) -> bool {
        matches!(self, Kind::StandardWebhooks | Kind::Stripe | Kind::Slack)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The MAC of kind `hmac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl HmacAlgorithm {
    fn parse(s: &str) -> Option<HmacAlgorithm> {
        match s.to_ascii_lowercase().as_str() {
            "sha1" => Some(HmacAlgorithm::Sha1),
            "sha256" => Some(HmacAlgorithm::Sha256),
            "sha512" => Some(HmacAlgorithm::Sha512),
            _ => None,
        }
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            HmacAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            HmacAlgorithm::Sha256 => hmac::HMAC_SHA256,
            HmacAlgorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// How kind `hmac` writes the MAC in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    Hex,
    Base64,
}

impl SignatureEncoding {
    fn parse(s: &str) -> Option<SignatureEncoding> {
        match s.to_ascii_lowercase().as_str() {
            "hex" => Some(SignatureEncoding::Hex),
            "base64" => Some(SignatureEncoding::Base64),
            _ => None,
        }
    }

    fn decoder(self) -> fn(&str) -> Option<Vec<u8>> {
        match self {
            SignatureEncoding::Hex => hex_decode,
            SignatureEncoding::Base64 => b64_decode,
        }
    }
}

/// Options of kind `hmac` (CONTRACT.md section 9). Header names are stored in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmacOptions {
    /// The header that carries the signature.
    pub header: String,
    pub algorithm: HmacAlgorithm,
    pub encoding: SignatureEncoding,
    /// Stripped from each signature (e.g. `sha256=`); when set, items without it are ignored.
    #[serde(default)]
    pub prefix: Option<String>,
    /// When set, the signed bytes are `"{ts}.{body}"` and the replay window applies.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// The header whose value is the de-duplication id.
    #[serde(default)]
    pub id_header: Option<String>,
    /// JSON pointer (RFC 6901) to the topic in the body.
    #[serde(default)]
    pub topic_pointer: Option<String>,
}

/// The option names of kind `hmac`.
const HMAC_OPTIONS: [&str; 7] = [
    "header",
    "algorithm",
    "encoding",
    "prefix",
    "timestamp_header",
    "id_header",
    "topic_pointer",
];

impl HmacOptions {
    /// From the `options` JSON of a create request. Every problem is reported, each as a
    /// [`Violation`] of field `options.<name>` in plain words; blank or `null` optional values
    /// count as absent. Header names are lower-cased, `algorithm` and `encoding` are accepted in
    /// any case.
    pub fn parse(value: &Value) -> Result<HmacOptions, Vec<Violation>> {
        let Some(map) = value.as_object() else {
            return Err(vec![Violation::new(
                "options",
                "must be an object with at least header, algorithm and encoding",
            )]);
        };
        let mut v = Vec::new();
        for name in map.keys() {
            if !HMAC_OPTIONS.contains(&name.as_str()) {
                let shown: String = name.chars().take(MAX_OPTION_CHARS).collect();
                v.push(Violation::new(
                    format!("options.{shown}"),
                    format!(
                        "is not an option of kind hmac (known: {})",
                        HMAC_OPTIONS.join(", ")
                    ),
                ));
            }
        }

        let header = match text(map, "header", &mut v) {
            Ok(Some(h)) => header_name("options.header", h, &mut v),
            Ok(None) => report(
                "options.header",
                "is required: the name of the header that carries the signature",
                &mut v,
            ),
            Err(()) => None,
        };
        let algorithm = match text(map, "algorithm", &mut v) {
            Ok(Some(a)) => HmacAlgorithm::parse(a).or_else(|| {
                report(
                    "options.algorithm",
                    "must be one of sha1, sha256, sha512",
                    &mut v,
                )
            }),
            Ok(None) => report(
                "options.algorithm",
                "is required: one of sha1, sha256, sha512",
                &mut v,
            ),
            Err(()) => None,
        };
        let encoding = match text(map, "encoding", &mut v) {
            Ok(Some(e)) => SignatureEncoding::parse(e)
                .or_else(|| report("options.encoding", "must be hex or base64", &mut v)),
            Ok(None) => report("options.encoding", "is required: hex or base64", &mut v),
            Err(()) => None,
        };
        let prefix = match text(map, "prefix", &mut v) {
            Ok(Some(p))
                if p.chars().count() > MAX_OPTION_CHARS
                    || !p.bytes().all(|b| b.is_ascii_graphic() && b != b',') =>
            {
                report(
                    "options.prefix",
                    format!(
                        "must be at most {MAX_OPTION_CHARS} visible ASCII characters, \
                         without spaces or commas (e.g. sha256=)"
                    ),
                    &mut v,
                )
            }
            Ok(p) => p.map(str::to_owned),
            Err(()) => None,
        };
        let timestamp_header = match text(map, "timestamp_header", &mut v) {
            Ok(Some(h)) => header_name("options.timestamp_header", h, &mut v).and_then(|h| {
                if header.as_deref() == Some(h.as_str()) {
                    report(
                        "options.timestamp_header",
                        "must differ from options.header",
                        &mut v,
                    )
                } else {
                    Some(h)
                }
            }),
            _ => None,
        };
        let id_header = match text(map, "id_header", &mut v) {
            Ok(Some(h)) => header_name("options.id_header", h, &mut v),
            _ => None,
        };
        let topic_pointer = match text(map, "topic_pointer", &mut v) {
            Ok(Some(p)) if !is_json_pointer(p) => report(
                "options.topic_pointer",
                format!(
                    "must be a JSON pointer of at most {MAX_OPTION_CHARS} characters starting \
                     with / (e.g. /event or /data/type)"
                ),
                &mut v,
            ),
            Ok(p) => p.map(str::to_owned),
            Err(()) => None,
        };

        match (header, algorithm, encoding) {
            (Some(header), Some(algorithm), Some(encoding)) if v.is_empty() => Ok(HmacOptions {
                header,
                algorithm,
                encoding,
                prefix,
                timestamp_header,
                id_header,
                topic_pointer,
            }),
            _ => Err(v),
        }
    }

    /// Whether requests of a source with these options are held to the replay window.
    pub fn has_replay_window(&self) -> bool {
        self.timestamp_header.is_some()
    }
}

/// Option `name` as trimmed text: `Ok(None)` when absent, null or blank, `Err` (reported)
/// when it is not a string.
fn text<'m>(
    map: &'m Map<String, Value>,
    name: &str,
    v: &mut Vec<Violation>,
) -> Result<Option<&'m str>, ()> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        Some(_) => {
            v.push(Violation::new(
                format!("options.{name}"),
                "must be a string",
            ));
            Err(())
        }
    }
}

/// Report a violation; the value it stands for is absent.
fn report<T>(field: &str, message: impl Into<String>, v: &mut Vec<Violation>) -> Option<T> {
    v.push(Violation::new(field, message));
    None
}

/// A header name (an RFC 9110 token of at most `MAX_OPTION_CHARS`), lower-cased.
fn header_name(field: &str, raw: &str, v: &mut Vec<Violation>) -> Option<String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if raw.len() <= MAX_OPTION_CHARS && raw.bytes().all(token) {
        Some(raw.to_ascii_lowercase())
    } else {
        report(
            field,
            format!(
                "must be a header name of at most {MAX_OPTION_CHARS} characters: letters, \
                 digits and marks such as - or _, no spaces or colons (e.g. x-signature)"
            ),
            v,
        )
    }
}

/// Whether `p` is a non-empty JSON pointer of bounded length: `/`-separated, `~` only as the
/// escapes `~0` and `~1`.
fn is_json_pointer(p: &str) -> bool {
    let bytes = p.as_bytes();
    p.starts_with('/')
        && p.chars().count() <= MAX_OPTION_CHARS
        && !p.chars().any(char::is_control)
        && bytes
            .iter()
            .enumerate()
            .all(|(i, &b)| b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')))
}

/// One inbound request as the verifier sees it.
pub struct Inbound<'a> {
    /// Header (name, value) pairs, names lowercase, in arrival order (a header may repeat).
    pub headers: &'a [(String, String)],
    /// The raw body bytes.
    pub body: &'a [u8],
    /// The URL the provider called: `<public-url>/in/<slug>` plus `"?" + query` when there is
    /// one (Twilio signs it).
    pub url: &'a str,
    /// Unix seconds now, and the accepted skew (`--timestamp-tolerance`), for kinds with a
    /// replay window.
    pub now: i64,
    pub tolerance_secs: i64,
}

impl<'a> Inbound<'a> {
    /// Every non-blank value of header `name` (matched case-insensitively), trimmed, in
    /// arrival order.
    fn values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        let headers: &'a [(String, String)] = self.headers;
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first non-blank value of header `name`.
    fn header(&self, name: &str) -> Option<&'a str> {
        self.values(name).next()
    }

    /// Header `name`, which the kind's scheme cannot do without.
    fn required(&self, name: &str) -> Result<&'a str, Refusal> {
        self.header(name).ok_or(Refusal::MissingSignature)
    }
}

/// Why a request is refused (maps to 401 `missing_signature` / `invalid_signature` /
/// `timestamp_out_of_tolerance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MissingSignature,
    InvalidSignature,
    TimestampOutOfTolerance,
}

impl Refusal {
    /// The snake_case API error code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingSignature => "missing_signature",
            Refusal::InvalidSignature => "invalid_signature",
            Refusal::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
        }
    }
}

/// What a verified request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The kind's de-duplication id (CONTRACT table column), bounded to 256 bytes (longer → its
    /// SHA-256 hex).
    pub dedup_id: String,
    /// The topic (CONTRACT table column), bounded to 128 chars.
    pub topic: String,
    /// Who sent it, for per-sender rate limits: Meta: the first message's `from`; Twilio: the
    /// `From` parameter; else None (the source itself).
    pub sender: Option<String>,
}

/// Verify `req` for a source of `kind` with any of `secrets`: the current one and, during a
/// rotation overlap, the previous one, as stored (`standard_webhooks`: the `whsec_…` text,
/// decoded here; every other kind: the key bytes, for `stripe` the whole `whsec_…` text).
///
/// Kind `hmac` needs its `options`; without them nothing verifies (`InvalidSignature`). Other
/// kinds ignore `options`.
pub fn verify(
    kind: Kind,
    options: Option<&HmacOptions>,
    secrets: &[&[u8]],
    req: &Inbound<'_>,
) -> Result<Verified, Refusal> {
    match kind {
        Kind::StandardWebhooks => standard_webhooks(secrets, req),
        Kind::Stripe => stripe(secrets, req),
        Kind::Github => github(secrets, req),
        Kind::Shopify => shopify(secrets, req),
        Kind::Meta => meta(secrets, req),
        Kind::Twilio => twilio(secrets, req),
        Kind::Slack => slack(secrets, req),
        Kind::Paystack => paystack(secrets, req),
        Kind::Flutterwave => flutterwave(secrets, req),
        Kind::Hmac => match options {
            Some(options) => generic_hmac(options, secrets, req),
            None => Err(Refusal::InvalidSignature),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The kinds

/// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> [v1,<b64> …]` over
/// `"{id}.{ts}.{body}"`; also under Svix's names (`svix-id`, …) when no `webhook-signature` came.
fn standard_webhooks(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    let names =
        if req.header("webhook-signature").is_none() && req.header("svix-signature").is_some() {
            ["svix-id", "svix-timestamp", "svix-signature"]
        } else {
            ["webhook-id", "webhook-timestamp", "webhook-signature"]
        };
    let id = req.required(names[0])?;
    let ts = req.required(names[1])?;
    req.required(names[2])?;
    // Only well-formed v1 signatures (32 bytes of HMAC-SHA256) reach the verifier, at most
    // MAX_SIGNATURES of them: it computes one HMAC over the body per signature and key.
    let offered: Vec<&str> = req
        .values(names[2])
        .flat_map(str::split_ascii_whitespace)
        .filter(|s| {
            s.strip_prefix("v1,")
                .and_then(b64_decode)
                .is_some_and(|tag| tag.len() == digest::SHA256_OUTPUT_LEN)
        })
        .take(MAX_SIGNATURES)
        .collect();
    if offered.is_empty() {
        return Err(Refusal::InvalidSignature);
    }
    let offered = offered.join(" ");
    let valid = secrets
        .iter()
        .filter_map(|s| std::str::from_utf8(s).ok())
        .filter_map(|s| WebhookSecret::parse(s).ok())
        .any(|key| signature::verify(key.key(), id, ts, req.body, &offered));
    if !valid {
        return Err(Refusal::InvalidSignature);
    }
    within_window(ts, req, Window::PastAndFuture)?;
    let body = json(req.body);
    let topic = body.as_ref().and_then(|b| scalar(b.get("type")));
    Ok(verified(Some(id), req.body, topic, DEFAULT_TOPIC, None))
}

/// `Stripe-Signature: t=…,v1=…[,v1=…]`, hex HMAC-SHA256 of `"{t}.{body}"`; `v0` and unknown
/// keys are ignored. The window is past only: a timestamp ahead of the clock is accepted.
fn stripe(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    const HEADER: &str = "stripe-signature";
    req.required(HEADER)?;
    let mut timestamp = None;
    let mut offered = Vec::new();
    let mut tried = 0;
    for item in req.values(HEADER).flat_map(|v| v.split(',')) {
        match item.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("t", t)) if timestamp.is_none() => timestamp = Some(t),
            Some(("v1", sig)) if tried < MAX_SIGNATURES => {
                tried += 1;
                offered.extend(hex_decode(sig));
            }
            _ => {}
        }
    }
    let Some(ts) = timestamp.filter(|_| !offered.is_empty()) else {
        return Err(Refusal::InvalidSignature);
    };
    check_mac(
        hmac::HMAC_SHA256,
        secrets,
        &[ts.as_bytes(), b".", req.body],
        &offered,
    )?;
    within_window(ts, req, Window::PastOnly)?;
    let body = json(req.body);
    let id = body.as_ref().and_then(|b| scalar(b.get("id")));
    let topic = body.as_ref().and_then(|b| scalar(b.get("type")));
    Ok(verified(
        id.as_deref(),
        req.body,
        topic,
        DEFAULT_TOPIC,
        None,
    ))
}

/// `X-Hub-Signature-256: sha256=<hex>` over the body; id `X-GitHub-Delivery`, topic
/// `X-GitHub-Event` plus `.` and the body's `action` when there is one.
fn github(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    body_mac(
        req,
        secrets,
        "x-hub-signature-256",
        "sha256=",
        hex_decode,
        hmac::HMAC_SHA256,
    )?;
    let topic = req.header("x-github-event").map(|event| {
        let action = json(req.body).and_then(|b| scalar(b.get("action")));
        match action {
            Some(action) => format!("{event}.{action}"),
            None => event.to_owned(),
        }
    });
    Ok(verified(
        req.header("x-github-delivery"),
        req.body,
        topic,
        DEFAULT_TOPIC,
        None,
    ))
}

/// `X-Shopify-Hmac-Sha256: <base64>` over the body; id and topic from Shopify's headers.
fn shopify(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    body_mac(
        req,
        secrets,
        "x-shopify-hmac-sha256",
        "",
        b64_decode,
        hmac::HMAC_SHA256,
    )?;
    Ok(verified(
        req.header("x-shopify-webhook-id"),
        req.body,
        req.header("x-shopify-topic").map(str::to_owned),
        DEFAULT_TOPIC,
        None,
    ))
}

/// As GitHub (`X-Hub-Signature-256: sha256=<hex>`, the app secret); the id is the body's
/// SHA-256, the topic `<object>.<field>` of the first change, the sender the first message's
/// `from`.
fn meta(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    body_mac(
        req,
        secrets,
        "x-hub-signature-256",
        "sha256=",
        hex_decode,
        hmac::HMAC_SHA256,
    )?;
    let body = json(req.body);
    let body = body.as_ref();
    let object = body.and_then(|b| scalar(b.get("object")));
    let field = body.and_then(|b| scalar(b.pointer("/entry/0/changes/0/field")));
    let topic = match (object, field) {
        (Some(object), Some(field)) => Some(format!("{object}.{field}")),
        (object, _) => object,
    };
    let sender = body.and_then(|b| scalar(b.pointer("/entry/0/changes/0/value/messages/0/from")));
    Ok(verified(
        None,
        req.body,
        topic,
        DEFAULT_TOPIC,
        sender.as_deref(),
    ))
}

/// `X-Twilio-Signature`: base64 HMAC-SHA1 of the URL followed by the form parameters sorted by
/// name (then value; identical pairs once, as twilio-python), each `name` + `value`. When the
/// URL's query carries `bodySHA256`, the body (JSON) must hash to it and the signature covers
/// the URL alone. A non-empty body that is neither a form nor pinned by `bodySHA256` is covered
/// by nothing and refused. The URL is tried as given and with the scheme's default port added
/// (or removed when present).
fn twilio(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    const HEADER: &str = "x-twilio-signature";
    req.required(HEADER)?;
    let offered = candidates(req, HEADER, "", b64_decode);
    let query = req
        .url
        .split('#')
        .next()
        .unwrap_or_default()
        .split_once('?');
    let body_sha = query.and_then(|(_, q)| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(name, _)| name == "bodySHA256")
            .map(|(_, value)| value.into_owned())
    });
    let pinned = body_sha.is_some();
    let mut params: Vec<(String, String)> = match body_sha {
        Some(expected) if expected.eq_ignore_ascii_case(&sha256_hex(req.body)) => Vec::new(),
        Some(_) => return Err(Refusal::InvalidSignature),
        None if req.body.is_empty() || is_form(req) => {
            form_urlencoded::parse(req.body).into_owned().collect()
        }
        None => return Err(Refusal::InvalidSignature),
    };
    params.sort();
    params.dedup();
    let mut signed_params = Vec::new();
    for (name, value) in &params {
        signed_params.extend_from_slice(name.as_bytes());
        signed_params.extend_from_slice(value.as_bytes());
    }
    let valid = !offered.is_empty()
        && url_variants(req.url).iter().any(|url| {
            check_mac(
                hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                secrets,
                &[url.as_bytes(), &signed_params],
                &offered,
            )
            .is_ok()
        });
    if !valid {
        return Err(Refusal::InvalidSignature);
    }

    // A JSON body's top-level scalars play the part of the form parameters.
    let fields = if pinned {
        json_fields(req.body)
    } else {
        params
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    };
    let topic = if field("CallSid").is_some() {
        "twilio.call"
    } else if field("MessageStatus").is_some_and(|s| !s.eq_ignore_ascii_case("received")) {
        "twilio.status"
    } else {
        "twilio.message"
    };
    let sid = field("MessageSid")
        .or_else(|| field("SmsSid"))
        .or_else(|| field("CallSid"));
    let status = field("MessageStatus").or_else(|| field("CallStatus"));
    let id = match (req.header("i-twilio-idempotency-token"), sid, status) {
        (Some(token), _, _) => Some(token.to_owned()),
        (None, Some(sid), Some(status)) => Some(format!("{sid}:{status}")),
        (None, sid, _) => sid.map(str::to_owned),
    };
    Ok(verified(
        id.as_deref(),
        req.body,
        Some(topic.to_owned()),
        topic,
        field("From"),
    ))
}

/// `X-Slack-Signature: v0=<hex>` of `"v0:{ts}:{body}"` with `X-Slack-Request-Timestamp`.
/// Id: the body's `event_id`; topic: `event.type`, else `type`, else (form bodies) the slash
/// `command`, else the `type` of an interactivity `payload`, else `slack`.
fn slack(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    const HEADER: &str = "x-slack-signature";
    req.required(HEADER)?;
    let ts = req.required("x-slack-request-timestamp")?;
    let offered = candidates(req, HEADER, "v0=", hex_decode);
    check_mac(
        hmac::HMAC_SHA256,
        secrets,
        &[b"v0:", ts.as_bytes(), b":", req.body],
        &offered,
    )?;
    within_window(ts, req, Window::PastAndFuture)?;
    let (id, topic) = match json(req.body) {
        Some(body) => (
            scalar(body.get("event_id")),
            scalar(body.pointer("/event/type")).or_else(|| scalar(body.get("type"))),
        ),
        None => {
            let form = |name: &str| {
                form_urlencoded::parse(req.body)
                    .find(|(n, v)| n == name && !v.trim().is_empty())
                    .map(|(_, v)| v.into_owned())
            };
            let topic = form("command").or_else(|| {
                form("payload")
                    .and_then(|p| serde_json::from_str::<Value>(&p).ok())
                    .and_then(|p| scalar(p.get("type")))
            });
            (None, topic)
        }
    };
    Ok(verified(id.as_deref(), req.body, topic, "slack", None))
}

/// `x-paystack-signature`: hex HMAC-SHA512 of the body with the secret API key. Id: `event` +
/// `:` + `data.id` (else `data.reference`); topic `event`.
fn paystack(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    body_mac(
        req,
        secrets,
        "x-paystack-signature",
        "",
        hex_decode,
        hmac::HMAC_SHA512,
    )?;
    let body = json(req.body);
    let body = body.as_ref();
    let event = body.and_then(|b| scalar(b.get("event")));
    let data_id = body.and_then(|b| {
        scalar(b.pointer("/data/id")).or_else(|| scalar(b.pointer("/data/reference")))
    });
    let id = match (&event, data_id) {
        (Some(event), Some(data_id)) => Some(format!("{event}:{data_id}")),
        _ => None,
    };
    Ok(verified(
        id.as_deref(),
        req.body,
        event,
        DEFAULT_TOPIC,
        None,
    ))
}

/// v3 `verif-hash`: the header equals the secret hash (compared in constant time; it does not
/// cover the body — Flutterwave's design). v4 `flutterwave-signature`: base64 HMAC-SHA256 of the
/// body with the same secret. Either valid header suffices. Id: `data.id` + `:` + `event`.
fn flutterwave(secrets: &[&[u8]], req: &Inbound<'_>) -> Result<Verified, Refusal> {
    const V4: &str = "flutterwave-signature";
    let v3 = req.header("verif-hash");
    if v3.is_none() && req.header(V4).is_none() {
        return Err(Refusal::MissingSignature);
    }
    let v3_valid = v3.is_some_and(|hash| secrets.iter().any(|s| equal_to_secret(s, hash)));
    let v4_valid = || {
        check_mac(
            hmac::HMAC_SHA256,
            secrets,
            &[req.body],
            &candidates(req, V4, "", b64_decode),
        )
        .is_ok()
    };
    if !(v3_valid || v4_valid()) {
        return Err(Refusal::InvalidSignature);
    }
    let body = json(req.body);
    let body = body.as_ref();
    let event = body.and_then(|b| scalar(b.get("event")));
    let id = match (body.and_then(|b| scalar(b.pointer("/data/id"))), &event) {
        (Some(data_id), Some(event)) => Some(format!("{data_id}:{event}")),
        (Some(data_id), None) => Some(data_id),
        (None, _) => None,
    };
    Ok(verified(
        id.as_deref(),
        req.body,
        event,
        DEFAULT_TOPIC,
        None,
    ))
}

/// Kind `hmac`, as its options say.
fn generic_hmac(
    options: &HmacOptions,
    secrets: &[&[u8]],
    req: &Inbound<'_>,
) -> Result<Verified, Refusal> {
    req.required(&options.header)?;
    let ts = match &options.timestamp_header {
        Some(name) => Some(req.required(name)?),
        None => None,
    };
    let offered = candidates(
        req,
        &options.header,
        options.prefix.as_deref().unwrap_or_default(),
        options.encoding.decoder(),
    );
    let signed: Vec<&[u8]> = match ts {
        Some(ts) => vec![ts.as_bytes(), b".", req.body],
        None => vec![req.body],
    };
    check_mac(options.algorithm.ring(), secrets, &signed, &offered)?;
    if let Some(ts) = ts {
        within_window(ts, req, Window::PastAndFuture)?;
    }
    let id = options.id_header.as_deref().and_then(|h| req.header(h));
    let topic = options
        .topic_pointer
        .as_deref()
        .and_then(|p| json(req.body).and_then(|b| scalar(b.pointer(p))));
    Ok(verified(id, req.body, topic, DEFAULT_TOPIC, None))
}

// ---------------------------------------------------------------------------------------------
// Signatures

/// The signature in `header` (required) is a MAC of the body alone.
fn body_mac(
    req: &Inbound<'_>,
    secrets: &[&[u8]],
    header: &str,
    prefix: &str,
    decode: fn(&str) -> Option<Vec<u8>>,
    algorithm: hmac::Algorithm,
) -> Result<(), Refusal> {
    req.required(header)?;
    check_mac(
        algorithm,
        secrets,
        &[req.body],
        &candidates(req, header, prefix, decode),
    )
}

/// The signatures offered in the values of `header`: items separated by commas or white space
/// that start with `prefix` (ASCII case-insensitively; every item when empty), the prefix
/// stripped, decoded. At most `MAX_SIGNATURES` items are looked at.
fn candidates(
    req: &Inbound<'_>,
    header: &str,
    prefix: &str,
    decode: fn(&str) -> Option<Vec<u8>>,
) -> Vec<Vec<u8>> {
    req.values(header)
        .flat_map(|v| v.split(|c: char| c == ',' || c.is_ascii_whitespace()))
        .filter_map(|item| strip_prefix_ignore_case(item, prefix))
        .filter(|item| !item.is_empty())
        .take(MAX_SIGNATURES)
        .filter_map(decode)
        .collect()
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .and_then(|_| s.get(prefix.len()..))
}

/// Ok when one of `offered` is the MAC of the concatenated `message` under one of `secrets`.
///
/// The MAC is computed once per secret; each offered tag is compared through a second HMAC
/// under the same key, `ring::hmac::verify(key, offered, HMAC(key, expected))`, which is
/// constant-time and needs no further pass over the message.
fn check_mac(
    algorithm: hmac::Algorithm,
    secrets: &[&[u8]],
    message: &[&[u8]],
    offered: &[Vec<u8>],
) -> Result<(), Refusal> {
    if offered.is_empty() {
        return Err(Refusal::InvalidSignature);
    }
    let valid = secrets.iter().any(|secret| {
        let key = hmac::Key::new(algorithm, secret);
        let mut ctx = hmac::Context::with_key(&key);
        for part in message {
            ctx.update(part);
        }
        let expected = hmac::sign(&key, ctx.sign().as_ref());
        offered
            .iter()
            .any(|tag| hmac::verify(&key, tag, expected.as_ref()).is_ok())
    });
    if valid {
        Ok(())
    } else {
        Err(Refusal::InvalidSignature)
    }
}

/// Whether `presented` equals `secret`, in constant time: compares `HMAC(secret, presented)`
/// with `HMAC(secret, secret)`.
fn equal_to_secret(secret: &[u8], presented: &str) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let expected = hmac::sign(&key, secret);
    hmac::verify(&key, presented.as_bytes(), expected.as_ref()).is_ok()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}

/// The URLs a Twilio signature may have been made over: `url` as given, then with the scheme's
/// default port (`:443` for https, `:80` for http) added when it has no port, or removed when
/// it has exactly that one.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    variants.extend(toggle_default_port(url));
    variants
}

fn toggle_default_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_port = &authority[host_start..];
    // The port follows the last ':' — unless that ':' is inside an IPv6 literal `[…]`.
    let port_colon = host_port
        .rfind(':')
        .filter(|&colon| !host_port[colon..].contains(']'));
    match port_colon {
        None if host_port.is_empty() => None,
        None => Some(format!("{scheme}://{authority}:{default_port}{path}")),
        Some(colon) if &host_port[colon + 1..] == default_port => Some(format!(
            "{scheme}://{}{}{path}",
            &authority[..host_start],
            &host_port[..colon]
        )),
        Some(_) => None,
    }
}

/// Whether the request says its body is a form.
fn is_form(req: &Inbound<'_>) -> bool {
    req.header("content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

// ---------------------------------------------------------------------------------------------
// Replay window

/// Which side of the clock a timestamp may not stray to beyond the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// Too old and too new are refused.
    PastAndFuture,
    /// Only too old is refused (Stripe).
    PastOnly,
}

fn within_window(ts: &str, req: &Inbound<'_>, window: Window) -> Result<(), Refusal> {
    let ts = unix_seconds(ts).ok_or(Refusal::TimestampOutOfTolerance)?;
    let tolerance = req.tolerance_secs.max(0);
    let too_old = req.now.saturating_sub(ts) > tolerance;
    let too_new = ts.saturating_sub(req.now) > tolerance;
    if too_old || (window == Window::PastAndFuture && too_new) {
        Err(Refusal::TimestampOutOfTolerance)
    } else {
        Ok(())
    }
}

/// Unix seconds written as 1 to 18 decimal digits (no sign, so no overflow).
fn unix_seconds(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// What a verified request is

fn verified(
    id: Option<&str>,
    body: &[u8],
    topic: Option<String>,
    default_topic: &str,
    sender: Option<&str>,
) -> Verified {
    Verified {
        dedup_id: bounded_id(id).unwrap_or_else(|| sha256_hex(body)),
        topic: topic
            .as_deref()
            .and_then(clean_topic)
            .unwrap_or_else(|| default_topic.to_owned()),
        sender: bounded_id(sender),
    }
}

/// A non-blank id, trimmed; longer than `MAX_DEDUP_ID_BYTES`, its SHA-256 hex instead.
fn bounded_id(id: Option<&str>) -> Option<String> {
    let id = id.map(str::trim).filter(|id| !id.is_empty())?;
    Some(if id.len() <= MAX_DEDUP_ID_BYTES {
        id.to_owned()
    } else {
        sha256_hex(id.as_bytes())
    })
}

/// A topic without control characters, trimmed, cut to `MAX_TOPIC_CHARS`; None when blank.
fn clean_topic(raw: &str) -> Option<String> {
    let topic: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TOPIC_CHARS)
        .collect();
    let topic = topic.trim_end();
    (!topic.is_empty()).then(|| topic.to_owned())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

fn json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

/// A JSON string (non-blank) or number as text.
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The top-level strings and numbers of a JSON object body, as (name, value) pairs.
fn json_fields(body: &[u8]) -> Vec<(String, String)> {
    match json(body) {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), scalar(Some(value))?)))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    //! Requests are signed by the providers' published vectors (PROVIDERS.md section 1) where
    //! there is one, otherwise by the small signers below, written against `ring` directly and
    //! independent of the code under test.

    use super::*;
    use base64::{Engine, engine::general_purpose::STANDARD};

    fn mac(algorithm: hmac::Algorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(algorithm, key), message)
            .as_ref()
            .to_vec()
    }

    fn hex_mac(algorithm: hmac::Algorithm, key: &[u8], message: &[u8]) -> String {
        hex::encode(mac(algorithm, key, message))
    }

    fn b64_mac(algorithm: hmac::Algorithm, key: &[u8], message: &[u8]) -> String {
        STANDARD.encode(mac(algorithm, key, message))
    }

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(digest::digest(&digest::SHA256, bytes))
    }

    /// An inbound request under construction.
    #[derive(Clone)]
    struct Request {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        url: String,
        now: i64,
        tolerance: i64,
    }

    impl Request {
        fn new(body: impl AsRef<[u8]>) -> Self {
            Request {
                headers: Vec::new(),
                body: body.as_ref().to_vec(),
                url: "https://hooks.example.com/in/source".into(),
                now: 1_700_000_000,
                tolerance: 300,
            }
        }

        fn header(mut self, name: &str, value: impl Into<String>) -> Self {
            self.headers.push((name.to_ascii_lowercase(), value.into()));
            self
        }

        fn replace(self, name: &str, value: impl Into<String>) -> Self {
            self.without(name).header(name, value)
        }

        fn without(mut self, name: &str) -> Self {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            self
        }

        fn url(mut self, url: &str) -> Self {
            self.url = url.into();
            self
        }

        fn at(mut self, now: i64) -> Self {
            self.now = now;
            self
        }

        fn body(mut self, body: impl AsRef<[u8]>) -> Self {
            self.body = body.as_ref().to_vec();
            self
        }

        fn verify(
            &self,
            kind: Kind,
            options: Option<&HmacOptions>,
            secrets: &[&[u8]],
        ) -> Result<Verified, Refusal> {
            let inbound = Inbound {
                headers: &self.headers,
                body: &self.body,
                url: &self.url,
                now: self.now,
                tolerance_secs: self.tolerance,
            };
            verify(kind, options, secrets, &inbound)
        }

        /// Verify as a source of `kind` without options holding `secret`.
        fn check(&self, kind: Kind, secret: &[u8]) -> Result<Verified, Refusal> {
            self.verify(kind, None, &[secret])
        }
    }

    // ---- The vectors of PROVIDERS.md section 1 --------------------------------------------

    const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GITHUB_BODY: &str = "Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW_TS: i64 = 1614265330;
    const SW_BODY: &str = r#"{"test": 2432232314}"#;
    const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TS: i64 = 1531420618;
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    const TWILIO_TOKEN: &[u8] = b"12345";
    const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const TWILIO_URL_443: &str = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    /// The vector's parameters as Twilio posts them (`+` percent-encoded).
    const TWILIO_FORM: &str = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
    const TWILIO_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const TWILIO_SIGNATURE_443: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
    const TWILIO_JSON: &str = r#"{"property": "value", "boolean": true}"#;
    const TWILIO_JSON_SHA: &str =
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const TWILIO_JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    const CONVOY_SECRET: &[u8] = b"convoy-webhook-secret";
    const CONVOY_BODY: &str = r#"{"event":"charge.success","amount":1000,"currency":"NGN"}"#;
    const CONVOY_SHA256_HEX: &str =
        "244449b7f48cbc2709060c9dcdc2b3aa47a78f540430579015c579fb12defbb4";
    const CONVOY_SHA256_B64: &str = "JERJt/SMvCcJBgydzcKzqkenj1QEMFeQFcV5+xLe+7Q=";
    const CONVOY_SHA512_HEX: &str = "6cc772dc81942ae1b5ffa91c3a6a07b0d37edc8dc6bd83e3518a219f1f19ff71ae1b76d6b320940d414c236a1aad7f7930b63e0f1928951955d31219545e1b66";
    /// Convoy's timestamped vector signs `"1700000000," + body` (comma); hookgate's contract
    /// signs `"{ts}.{body}"` (dot), so this value must NOT verify here.
    const CONVOY_COMMA_SIGNATURE: &str =
        "77b8b9269f25a199846a55a2bd25b3fba151c70fdae60bb1dcd87fbbc943c55c";

    const STRIPE_SECRET: &[u8] = b"whsec_test_secret";
    const STRIPE_TS: i64 = 1700000000;
    const STRIPE_BODY: &str = r#"{"id":"evt_test_webhook","object":"event"}"#;
    const STRIPE_SIGNATURE: &str =
        "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";

    const SHOPIFY_SECRET: &[u8] = b"hush";
    const SHOPIFY_BODY: &str = r#"{"id":1}"#;
    const SHOPIFY_SIGNATURE: &str = "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY=";

    const PAYSTACK_SECRET: &[u8] = b"sk_test_secret";
    const PAYSTACK_BODY: &str = r#"{"event":"charge.success","data":{"id":1,"reference":"ref_1"}}"#;
    const PAYSTACK_SIGNATURE: &str = "5d209d862027cadb3bbec26f9ee96bf48243e5f01b5820990b56e5f1c9eecaa499a313c709ca50aac71d4b58121910bca788c04d17188bd79cd20533bb8941ca";

    const FLUTTERWAVE_SECRET: &[u8] = b"my-secret-hash";
    const FLUTTERWAVE_V4_SIGNATURE: &str = "Ys0m9L+CrW/p0C2r6m5hROSn+wzPgkEvopWemoS1+go=";

    fn hmac_options(algorithm: &str, encoding: &str) -> HmacOptions {
        HmacOptions::parse(&serde_json::json!({
            "header": "X-Signature",
            "algorithm": algorithm,
            "encoding": encoding,
            "topic_pointer": "/event",
        }))
        .unwrap()
    }

    /// A valid request of each kind, built from its vector, and what to break in it.
    struct Case {
        kind: Kind,
        options: Option<HmacOptions>,
        secret: Vec<u8>,
        /// Another valid-looking secret of the same kind.
        other: Vec<u8>,
        signature_header: &'static str,
        request: Request,
    }

    impl Case {
        fn verify(&self, request: &Request, secrets: &[&[u8]]) -> Result<Verified, Refusal> {
            request.verify(self.kind, self.options.as_ref(), secrets)
        }

        fn verify_own(&self, request: &Request) -> Result<Verified, Refusal> {
            self.verify(request, &[&self.secret])
        }
    }

    fn case(kind: Kind) -> Case {
        let (secret, signature_header, request, options) = match kind {
            Kind::StandardWebhooks => (
                SW_SECRET.as_bytes(),
                "webhook-signature",
                Request::new(SW_BODY)
                    .header("webhook-id", SW_ID)
                    .header("webhook-timestamp", SW_TS.to_string())
                    .header("webhook-signature", SW_SIGNATURE)
                    .at(SW_TS),
                None,
            ),
            Kind::Stripe => (
                STRIPE_SECRET,
                "stripe-signature",
                Request::new(STRIPE_BODY)
                    .header("Stripe-Signature", STRIPE_SIGNATURE)
                    .at(STRIPE_TS),
                None,
            ),
            Kind::Github | Kind::Meta => (
                GITHUB_SECRET,
                "x-hub-signature-256",
                Request::new(GITHUB_BODY).header("X-Hub-Signature-256", GITHUB_SIGNATURE),
                None,
            ),
            Kind::Shopify => (
                SHOPIFY_SECRET,
                "x-shopify-hmac-sha256",
                Request::new(SHOPIFY_BODY).header("X-Shopify-Hmac-Sha256", SHOPIFY_SIGNATURE),
                None,
            ),
            Kind::Twilio => (
                TWILIO_TOKEN,
                "x-twilio-signature",
                Request::new(TWILIO_FORM)
                    .url(TWILIO_URL)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("X-Twilio-Signature", TWILIO_SIGNATURE),
                None,
            ),
            Kind::Slack => (
                SLACK_SECRET,
                "x-slack-signature",
                Request::new(SLACK_BODY)
                    .header("X-Slack-Request-Timestamp", SLACK_TS.to_string())
                    .header("X-Slack-Signature", SLACK_SIGNATURE)
                    .at(SLACK_TS),
                None,
            ),
            Kind::Paystack => (
                PAYSTACK_SECRET,
                "x-paystack-signature",
                Request::new(PAYSTACK_BODY).header("x-paystack-signature", PAYSTACK_SIGNATURE),
                None,
            ),
            Kind::Flutterwave => (
                FLUTTERWAVE_SECRET,
                "flutterwave-signature",
                Request::new(PAYSTACK_BODY)
                    .header("flutterwave-signature", FLUTTERWAVE_V4_SIGNATURE),
                None,
            ),
            Kind::Hmac => (
                CONVOY_SECRET,
                "x-signature",
                Request::new(CONVOY_BODY).header("X-Signature", CONVOY_SHA256_HEX),
                Some(hmac_options("sha256", "hex")),
            ),
        };
        let other = if kind == Kind::StandardWebhooks {
            format!("whsec_{}", STANDARD.encode([7u8; 32])).into_bytes()
        } else {
            b"not-the-secret".to_vec()
        };
        Case {
            kind,
            options,
            secret: secret.to_vec(),
            other,
            signature_header,
            request,
        }
    }

    // ---- Every kind ------------------------------------------------------------------------

    #[test]
    fn every_kind_verifies_its_published_or_derived_vector() {
        for kind in Kind::ALL {
            let case = case(kind);
            assert!(case.verify_own(&case.request).is_ok(), "{kind}");
        }
    }

    #[test]
    fn a_tampered_body_is_an_invalid_signature() {
        for kind in Kind::ALL {
            let case = case(kind);
            let mut body = case.request.body.clone();
            body[1] ^= 0x01;
            let tampered = case.request.clone().body(body);
            assert_eq!(
                case.verify_own(&tampered),
                Err(Refusal::InvalidSignature),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_missing_or_blank_signature_header_is_a_missing_signature() {
        for kind in Kind::ALL {
            let case = case(kind);
            let without = case.request.clone().without(case.signature_header);
            assert_eq!(
                case.verify_own(&without),
                Err(Refusal::MissingSignature),
                "{kind}"
            );
            let blank = case.request.clone().replace(case.signature_header, "  ");
            assert_eq!(
                case.verify_own(&blank),
                Err(Refusal::MissingSignature),
                "{kind}"
            );
            let mut bare = case.request.clone();
            bare.headers.clear();
            assert_eq!(
                case.verify_own(&bare),
                Err(Refusal::MissingSignature),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_garbled_signature_is_an_invalid_signature() {
        for kind in Kind::ALL {
            let case = case(kind);
            for garbage in ["garbage", "sha256=zz", "v1,%%%", "t=1,v1=00", "=,,="] {
                let request = case.request.clone().replace(case.signature_header, garbage);
                assert_eq!(
                    case.verify_own(&request),
                    Err(Refusal::InvalidSignature),
                    "{kind} {garbage}"
                );
            }
        }
    }

    #[test]
    fn the_previous_secret_verifies_during_a_rotation_overlap() {
        for kind in Kind::ALL {
            let case = case(kind);
            let (current, previous) = (case.other.as_slice(), case.secret.as_slice());
            assert!(
                case.verify(&case.request, &[current, previous]).is_ok(),
                "{kind}"
            );
            assert!(
                case.verify(&case.request, &[previous, current]).is_ok(),
                "{kind}"
            );
            assert_eq!(
                case.verify(&case.request, &[current]),
                Err(Refusal::InvalidSignature),
                "{kind}"
            );
            assert_eq!(
                case.verify(&case.request, &[]),
                Err(Refusal::InvalidSignature),
                "{kind}"
            );
        }
    }

    #[test]
    fn hostile_requests_are_refused_without_panicking() {
        let huge = "v1=ab, sha256=ab v0=ab,".repeat(10_000);
        let non_utf8: &[u8] = &[0xff, 0xfe, b'{', 0x80, b'}', 0];
        let known = [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "svix-id",
            "svix-timestamp",
            "svix-signature",
            "stripe-signature",
            "x-hub-signature-256",
            "x-github-event",
            "x-github-delivery",
            "x-shopify-hmac-sha256",
            "x-twilio-signature",
            "content-type",
            "x-slack-signature",
            "x-slack-request-timestamp",
            "x-paystack-signature",
            "verif-hash",
            "flutterwave-signature",
            "x-signature",
        ];
        let mut requests = vec![Request::new(""), Request::new(non_utf8)];
        for value in [
            "",
            "é\u{0}\u{7f}",
            huge.as_str(),
            "t=,v1=",
            "t=99999999999999999999,v1=00",
            "v1,",
            "sha256=",
            "=",
            "application/x-www-form-urlencoded; charset",
        ] {
            let mut request = Request::new(non_utf8);
            for name in known {
                request = request.header(name, value);
            }
            requests.push(request.clone());
            requests.push(request.clone().body(huge.as_bytes()));
            for url in [
                "",
                "://",
                "https://[",
                "http://u:p@h:80",
                "https://h:443?bodySHA256=",
                "x?%%%",
            ] {
                requests.push(request.clone().url(url));
            }
        }
        requests.push(
            Request::new("{}")
                .at(i64::MIN)
                .header("webhook-timestamp", "0"),
        );
        let mut extreme = Request::new("{}").at(i64::MAX);
        extreme.tolerance = i64::MAX;
        requests.push(extreme);
        for kind in Kind::ALL {
            let case = case(kind);
            for request in &requests {
                assert!(case.verify_own(request).is_err(), "{kind}");
                assert!(
                    case.verify(request, &[b"", &[0xff; 4096]]).is_err(),
                    "{kind}"
                );
            }
        }
    }

    #[test]
    fn kinds_round_trip_through_their_wire_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            assert!(!kind.label().is_empty());
        }
        assert_eq!(Kind::parse("Stripe"), None);
        assert_eq!(Kind::parse("ikhokha"), None);
        assert_eq!(Kind::Meta.label(), "Meta (WhatsApp)");
        assert_eq!(Kind::Hmac.label(), "Generic HMAC");
        let windowed: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| k.has_replay_window())
            .collect();
        assert_eq!(
            windowed,
            [Kind::StandardWebhooks, Kind::Stripe, Kind::Slack]
        );
    }

    #[test]
    fn refusals_have_their_api_codes() {
        assert_eq!(Refusal::MissingSignature.code(), "missing_signature");
        assert_eq!(Refusal::InvalidSignature.code(), "invalid_signature");
        assert_eq!(
            Refusal::TimestampOutOfTolerance.code(),
            "timestamp_out_of_tolerance"
        );
    }

    // ---- standard_webhooks -----------------------------------------------------------------

    fn sw_sign(id: &str, ts: &str, body: &str) -> String {
        let key = STANDARD
            .decode(SW_SECRET.trim_start_matches("whsec_"))
            .unwrap();
        let signed = format!("{id}.{ts}.{body}");
        format!("v1,{}", b64_mac(hmac::HMAC_SHA256, &key, signed.as_bytes()))
    }

    #[test]
    fn standard_webhooks_takes_the_id_and_the_type() {
        let case = case(Kind::StandardWebhooks);
        let v = case.verify_own(&case.request).unwrap();
        assert_eq!(v.dedup_id, SW_ID);
        assert_eq!(v.topic, "webhook", "the vector's body has no type");
        assert_eq!(v.sender, None);

        let body = r#"{"type":"invoice.paid","data":{}}"#;
        let request = Request::new(body)
            .header("webhook-id", "msg_2")
            .header("webhook-timestamp", SW_TS.to_string())
            .header("webhook-signature", sw_sign("msg_2", "1614265330", body))
            .at(SW_TS);
        let v = request
            .check(Kind::StandardWebhooks, SW_SECRET.as_bytes())
            .unwrap();
        assert_eq!(
            (v.dedup_id.as_str(), v.topic.as_str()),
            ("msg_2", "invoice.paid")
        );
    }

    #[test]
    fn standard_webhooks_window_reaches_both_ways() {
        let case = case(Kind::StandardWebhooks);
        for (now, ok) in [
            (SW_TS + 300, true),
            (SW_TS - 300, true),
            (SW_TS + 301, false),
            (SW_TS - 301, false),
        ] {
            let result = case.verify_own(&case.request.clone().at(now));
            if ok {
                assert!(result.is_ok(), "{now}");
            } else {
                assert_eq!(result, Err(Refusal::TimestampOutOfTolerance), "{now}");
            }
        }
    }

    #[test]
    fn standard_webhooks_refuses_a_signed_timestamp_that_is_not_unix_seconds() {
        let request = Request::new(SW_BODY)
            .header("webhook-id", SW_ID)
            .header("webhook-timestamp", "soon")
            .header("webhook-signature", sw_sign(SW_ID, "soon", SW_BODY));
        assert_eq!(
            request.check(Kind::StandardWebhooks, SW_SECRET.as_bytes()),
            Err(Refusal::TimestampOutOfTolerance)
        );
        let missing = case(Kind::StandardWebhooks)
            .request
            .without("webhook-timestamp");
        assert_eq!(
            missing.check(Kind::StandardWebhooks, SW_SECRET.as_bytes()),
            Err(Refusal::MissingSignature)
        );
    }

    #[test]
    fn standard_webhooks_accepts_one_valid_signature_among_several() {
        let case = case(Kind::StandardWebhooks);
        let header = format!("v2,abc v1,bm90IHRoaXM= {SW_SIGNATURE} v1a,zzz");
        let request = case.request.clone().replace("webhook-signature", header);
        assert!(case.verify_own(&request).is_ok());
        let only_other_versions = case
            .request
            .clone()
            .replace("webhook-signature", SW_SIGNATURE.replace("v1,", "v2,"));
        assert_eq!(
            case.verify_own(&only_other_versions),
            Err(Refusal::InvalidSignature)
        );
    }

    #[test]
    fn standard_webhooks_also_reads_svix_headers() {
        let request = Request::new(SW_BODY)
            .header("svix-id", SW_ID)
            .header("svix-timestamp", SW_TS.to_string())
            .header("svix-signature", SW_SIGNATURE)
            .at(SW_TS);
        let v = request
            .check(Kind::StandardWebhooks, SW_SECRET.as_bytes())
            .unwrap();
        assert_eq!(v.dedup_id, SW_ID);
    }

    #[test]
    fn an_overlong_id_is_replaced_by_its_digest() {
        let id = "m".repeat(300);
        let request = Request::new(SW_BODY)
            .header("webhook-id", id.clone())
            .header("webhook-timestamp", SW_TS.to_string())
            .header("webhook-signature", sw_sign(&id, "1614265330", SW_BODY))
            .at(SW_TS);
        let v = request
            .check(Kind::StandardWebhooks, SW_SECRET.as_bytes())
            .unwrap();
        assert_eq!(v.dedup_id, sha256(id.as_bytes()));
        assert_eq!(v.dedup_id.len(), 64);
    }

    // ---- stripe ----------------------------------------------------------------------------

    fn stripe_v1(ts: i64, body: &str) -> String {
        hex_mac(
            hmac::HMAC_SHA256,
            STRIPE_SECRET,
            format!("{ts}.{body}").as_bytes(),
        )
    }

    #[test]
    fn stripe_takes_the_event_id_and_type() {
        let case = case(Kind::Stripe);
        let v = case.verify_own(&case.request).unwrap();
        assert_eq!(v.dedup_id, "evt_test_webhook");
        assert_eq!(v.topic, "webhook", "the vector's body has no type");

        let body = r#"{"id":"evt_2","type":"payment_intent.succeeded"}"#;
        let request = Request::new(body)
            .header(
                "stripe-signature",
                format!("t={STRIPE_TS},v1={}", stripe_v1(STRIPE_TS, body)),
            )
            .at(STRIPE_TS);
        let v = request.check(Kind::Stripe, STRIPE_SECRET).unwrap();
        assert_eq!(
            (v.dedup_id.as_str(), v.topic.as_str()),
            ("evt_2", "payment_intent.succeeded")
        );
    }

    #[test]
    fn stripe_refuses_only_stale_timestamps() {
        let case = case(Kind::Stripe);
        assert!(
            case.verify_own(&case.request.clone().at(STRIPE_TS + 300))
                .is_ok()
        );
        assert_eq!(
            case.verify_own(&case.request.clone().at(STRIPE_TS + 301)),
            Err(Refusal::TimestampOutOfTolerance)
        );
        // Past only: a timestamp far ahead of our clock is accepted.
        assert!(
            case.verify_own(&case.request.clone().at(STRIPE_TS - 86_400))
                .is_ok()
        );
    }

    #[test]
    fn stripe_accepts_any_v1_and_ignores_other_schemes() {
        let case = case(Kind::Stripe);
        let good = stripe_v1(STRIPE_TS, STRIPE_BODY);
        let bad = "0".repeat(64);
        // The first `t` is the signed one.
        let header = format!("t={STRIPE_TS}, v0={good}, v1={bad}, scheme=x, v1={good}, t=1");
        assert!(
            case.verify_own(&case.request.clone().replace("stripe-signature", header))
                .is_ok()
        );
        for header in [
            format!("t={STRIPE_TS},v0={good}"),
            format!("v1={good}"),
            format!("t={},v1={good}", STRIPE_TS + 1),
        ] {
            let request = case
                .request
                .clone()
                .replace("stripe-signature", header.clone());
            assert_eq!(
                case.verify_own(&request),
                Err(Refusal::InvalidSignature),
                "{header}"
            );
        }
    }

    #[test]
    fn stripe_signs_with_the_whole_whsec_string() {
        // The secret is not base64-decoded: the decoded form must not verify.
        let case = case(Kind::Stripe);
        assert_eq!(
            case.verify(&case.request, &[b"test_secret"]),
            Err(Refusal::InvalidSignature)
        );
    }

    // ---- github / shopify / meta -----------------------------------------------------------

    #[test]
    fn github_topic_is_the_event_and_the_action() {
        let body = r#"{"action":"opened","number":1}"#;
        let signature = format!(
            "sha256={}",
            hex_mac(hmac::HMAC_SHA256, GITHUB_SECRET, body.as_bytes())
        );
        let request = Request::new(body)
            .header("X-GitHub-Event", "pull_request")
            .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .header("X-Hub-Signature-256", signature);
        let v = request.check(Kind::Github, GITHUB_SECRET).unwrap();
        assert_eq!(v.topic, "pull_request.opened");
        assert_eq!(v.dedup_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(v.sender, None);

        let push = case(Kind::Github).request.header("X-GitHub-Event", "push");
        let v = push.check(Kind::Github, GITHUB_SECRET).unwrap();
        assert_eq!(v.topic, "push");
        assert_eq!(
            v.dedup_id,
            sha256(GITHUB_BODY.as_bytes()),
            "no delivery header"
        );
        let v = case(Kind::Github)
            .request
            .check(Kind::Github, GITHUB_SECRET)
            .unwrap();
        assert_eq!(v.topic, "webhook", "no event header");
    }

    #[test]
    fn github_accepts_one_valid_signature_among_several() {
        let header = format!("sha1=abcdef, sha256={}, {GITHUB_SIGNATURE}", "0".repeat(64));
        let request = case(Kind::Github)
            .request
            .replace("x-hub-signature-256", header);
        assert!(request.check(Kind::Github, GITHUB_SECRET).is_ok());
        let unprefixed = case(Kind::Github).request.replace(
            "x-hub-signature-256",
            GITHUB_SIGNATURE.trim_start_matches("sha256="),
        );
        assert_eq!(
            unprefixed.check(Kind::Github, GITHUB_SECRET),
            Err(Refusal::InvalidSignature)
        );
    }

    #[test]
    fn only_the_first_signatures_of_a_long_list_are_tried() {
        let junk = format!("sha256={}", "0".repeat(64));
        let list = |junk_count: usize| {
            let mut items = vec![junk.clone(); junk_count];
            items.push(GITHUB_SIGNATURE.to_owned());
            case(Kind::Github)
                .request
                .replace("x-hub-signature-256", items.join(","))
        };
        assert!(
            list(MAX_SIGNATURES - 1)
                .check(Kind::Github, GITHUB_SECRET)
                .is_ok()
        );
        assert_eq!(
            list(MAX_SIGNATURES).check(Kind::Github, GITHUB_SECRET),
            Err(Refusal::InvalidSignature)
        );
    }

    #[test]
    fn shopify_takes_id_and_topic_from_its_headers() {
        let request = case(Kind::Shopify)
            .request
            .header(
                "X-Shopify-Webhook-Id",
                "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            )
            .header("X-Shopify-Topic", "orders/create");
        let v = request.check(Kind::Shopify, SHOPIFY_SECRET).unwrap();
        assert_eq!(v.dedup_id, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
        assert_eq!(v.topic, "orders/create");

        let v = case(Kind::Shopify)
            .request
            .check(Kind::Shopify, SHOPIFY_SECRET)
            .unwrap();
        assert_eq!(v.dedup_id, sha256(SHOPIFY_BODY.as_bytes()));
        assert_eq!(v.topic, "webhook");
    }

    #[test]
    fn shopify_accepts_one_valid_signature_among_several() {
        let other = b64_mac(hmac::HMAC_SHA256, b"other", SHOPIFY_BODY.as_bytes());
        let request = case(Kind::Shopify).request.replace(
            "x-shopify-hmac-sha256",
            format!("{other}, {SHOPIFY_SIGNATURE}"),
        );
        assert!(request.check(Kind::Shopify, SHOPIFY_SECRET).is_ok());
    }

    #[test]
    fn meta_takes_object_field_and_the_first_sender() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":[{"from":"2348123456789","id":"wamid.X","type":"text"},{"from":"2348000000000"}]}}]}]}"#;
        let signature = format!(
            "sha256={}",
            hex_mac(hmac::HMAC_SHA256, b"app-secret", body.as_bytes())
        );
        let request = Request::new(body).header("X-Hub-Signature-256", signature);
        let v = request.check(Kind::Meta, b"app-secret").unwrap();
        assert_eq!(v.topic, "whatsapp_business_account.messages");
        assert_eq!(v.sender.as_deref(), Some("2348123456789"));
        assert_eq!(v.dedup_id, sha256(body.as_bytes()));

        let v = case(Kind::Meta)
            .request
            .check(Kind::Meta, GITHUB_SECRET)
            .unwrap();
        assert_eq!((v.topic.as_str(), v.sender), ("webhook", None));
        assert_eq!(v.dedup_id, sha256(GITHUB_BODY.as_bytes()));
    }

    // ---- twilio ----------------------------------------------------------------------------

    fn twilio_form(url: &str, body: &str, signature: &str) -> Request {
        Request::new(body)
            .url(url)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .header("X-Twilio-Signature", signature)
    }

    /// Twilio's documented algorithm, written out independently: URL, then name+value of each
    /// parameter in sorted order.
    fn twilio_sign(url: &str, params: &[(&str, &str)]) -> String {
        let mut sorted = params.to_vec();
        sorted.sort();
        let mut signed = url.to_owned();
        for (name, value) in sorted {
            signed.push_str(name);
            signed.push_str(value);
        }
        b64_mac(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            TWILIO_TOKEN,
            signed.as_bytes(),
        )
    }

    #[test]
    fn twilio_form_vector_verifies_with_and_without_the_default_port() {
        for (url, signature) in [
            (TWILIO_URL, TWILIO_SIGNATURE),
            (TWILIO_URL, TWILIO_SIGNATURE_443),
            (TWILIO_URL_443, TWILIO_SIGNATURE),
            (TWILIO_URL_443, TWILIO_SIGNATURE_443),
        ] {
            let request = twilio_form(url, TWILIO_FORM, signature);
            assert!(
                request.check(Kind::Twilio, TWILIO_TOKEN).is_ok(),
                "{url} {signature}"
            );
        }
        let other_path = twilio_form(
            "https://mycompany.com/other.php?foo=1&bar=2",
            TWILIO_FORM,
            TWILIO_SIGNATURE,
        );
        assert_eq!(
            other_path.check(Kind::Twilio, TWILIO_TOKEN),
            Err(Refusal::InvalidSignature)
        );
    }

    #[test]
    fn twilio_tries_port_80_for_http_but_never_drops_another_port() {
        let params = [("From", "+1"), ("MessageSid", "SM1")];
        let body = "From=%2B1&MessageSid=SM1";
        let with_80 = twilio_sign("http://example.com:80/in/sms", &params);
        assert!(
            twilio_form("http://example.com/in/sms", body, &with_80)
                .check(Kind::Twilio, TWILIO_TOKEN)
                .is_ok()
        );
        let without_port = twilio_sign("https://example.com/in/sms", &params);
        assert_eq!(
            twilio_form("https://example.com:8443/in/sms", body, &without_port)
                .check(Kind::Twilio, TWILIO_TOKEN),
            Err(Refusal::InvalidSignature)
        );
    }

    #[test]
    fn twilio_sorts_repeated_parameters_by_value() {
        let url = "https://example.com/in/sms";
        let params = [("MediaUrl", "b"), ("MediaUrl", "a"), ("Body", "hi there")];
        let signature = twilio_sign(url, &params);
        let request = twilio_form(url, "MediaUrl=b&Body=hi+there&MediaUrl=a", &signature);
        assert!(request.check(Kind::Twilio, TWILIO_TOKEN).is_ok());
    }

    #[test]
    fn twilio_signs_an_identical_repeated_pair_once() {
        // twilio-python's validator signs `sorted(set(values))` per name.
        let url = "https://example.com/in/sms";
        let signature = twilio_sign(url, &[("MediaUrl", "a")]);
        let request = twilio_form(url, "MediaUrl=a&MediaUrl=a", &signature);
        assert!(request.check(Kind::Twilio, TWILIO_TOKEN).is_ok());
    }

    #[test]
    fn twilio_json_vector_verifies_when_the_body_matches_its_hash() {
        let url = format!("{TWILIO_URL}&bodySHA256={TWILIO_JSON_SHA}");
        assert_eq!(sha256(TWILIO_JSON.as_bytes()), TWILIO_JSON_SHA);
        let request = Request::new(TWILIO_JSON)
            .url(&url)
            .header("Content-Type", "application/json")
            .header("X-Twilio-Signature", TWILIO_JSON_SIGNATURE);
        let v = request.check(Kind::Twilio, TWILIO_TOKEN).unwrap();
        assert_eq!(v.topic, "twilio.message");
        assert_eq!(v.dedup_id, TWILIO_JSON_SHA, "no sid: the body's digest");

        let tampered = request
            .clone()
            .body(r#"{"property": "value", "boolean": false}"#);
        assert_eq!(
            tampered.check(Kind::Twilio, TWILIO_TOKEN),
            Err(Refusal::InvalidSignature)
        );
    }

    #[test]
    fn twilio_refuses_a_json_body_the_url_does_not_pin() {
        // The signature over the URL alone is right, but nothing covers the body.
        let signature = twilio_sign(TWILIO_URL, &[]);
        let request = Request::new(TWILIO_JSON)
            .url(TWILIO_URL)
            .header("Content-Type", "application/json")
            .header("X-Twilio-Signature", signature.clone());
        assert_eq!(
            request.check(Kind::Twilio, TWILIO_TOKEN),
            Err(Refusal::InvalidSignature)
        );
        let empty = request.body("").without("content-type");
        assert!(
            empty.check(Kind::Twilio, TWILIO_TOKEN).is_ok(),
            "an empty body has no params"
        );
    }

    #[test]
    fn twilio_takes_topic_id_and_sender_from_the_parameters() {
        let v = case(Kind::Twilio)
            .request
            .check(Kind::Twilio, TWILIO_TOKEN)
            .unwrap();
        assert_eq!(v.topic, "twilio.call");
        assert_eq!(v.dedup_id, "CA1234567890ABCDE");
        assert_eq!(v.sender.as_deref(), Some("+14158675309"));

        let url = "https://example.com/in/sms";
        let status = [
            ("MessageSid", "SM1"),
            ("MessageStatus", "delivered"),
            ("From", "+15005550006"),
        ];
        let request = twilio_form(
            url,
            "MessageSid=SM1&MessageStatus=delivered&From=%2B15005550006",
            &twilio_sign(url, &status),
        );
        let v = request.check(Kind::Twilio, TWILIO_TOKEN).unwrap();
        assert_eq!(v.topic, "twilio.status");
        assert_eq!(v.dedup_id, "SM1:delivered");
        assert_eq!(v.sender.as_deref(), Some("+15005550006"));

        let token = request.header("I-Twilio-Idempotency-Token", "idem-1");
        let v = token.check(Kind::Twilio, TWILIO_TOKEN).unwrap();
        assert_eq!(v.dedup_id, "idem-1");

        let inbound = [
            ("SmsSid", "SM2"),
            ("MessageStatus", "received"),
            ("Body", "hello"),
        ];
        let request = twilio_form(
            url,
            "SmsSid=SM2&MessageStatus=received&Body=hello",
            &twilio_sign(url, &inbound),
        );
        let v = request.check(Kind::Twilio, TWILIO_TOKEN).unwrap();
        assert_eq!(v.topic, "twilio.message");
        assert_eq!(v.dedup_id, "SM2:received");
        assert_eq!(v.sender, None);
    }

    #[test]
    fn default_ports_are_added_and_removed_where_they_belong() {
        let cases = [
            ("https://a.com/x?y=1", Some("https://a.com:443/x?y=1")),
            ("https://a.com:443/x", Some("https://a.com/x")),
            ("HTTP://a.com", Some("HTTP://a.com:80")),
            ("http://a.com:80?q", Some("http://a.com?q")),
            ("https://u:p@a.com/x", Some("https://u:p@a.com:443/x")),
            ("https://[::1]/x", Some("https://[::1]:443/x")),
            ("https://[::1]:443/x", Some("https://[::1]/x")),
            ("https://a.com:8443/x", None),
            ("http://a.com:443/x", None),
            ("ftp://a.com/x", None),
            ("https:///x", None),
            ("nonsense", None),
        ];
        for (url, expected) in cases {
            assert_eq!(toggle_default_port(url).as_deref(), expected, "{url}");
        }
    }

    // ---- slack -----------------------------------------------------------------------------

    fn slack_sign(ts: i64, body: &str) -> String {
        let signed = format!("v0:{ts}:{body}");
        format!(
            "v0={}",
            hex_mac(hmac::HMAC_SHA256, SLACK_SECRET, signed.as_bytes())
        )
    }

    #[test]
    fn slack_slash_commands_take_their_command_as_topic() {
        let v = case(Kind::Slack)
            .request
            .check(Kind::Slack, SLACK_SECRET)
            .unwrap();
        assert_eq!(v.topic, "/webhook-collect");
        assert_eq!(v.dedup_id, sha256(SLACK_BODY.as_bytes()));
    }

    #[test]
    fn slack_events_take_event_id_and_type() {
        let body = r#"{"type":"event_callback","event_id":"Ev123","event":{"type":"app_mention"}}"#;
        let request = Request::new(body)
            .header("X-Slack-Request-Timestamp", SLACK_TS.to_string())
            .header("X-Slack-Signature", slack_sign(SLACK_TS, body))
            .at(SLACK_TS);
        let v = request.check(Kind::Slack, SLACK_SECRET).unwrap();
        assert_eq!(
            (v.dedup_id.as_str(), v.topic.as_str()),
            ("Ev123", "app_mention")
        );

        let body = r#"{"type":"url_verification","challenge":"c"}"#;
        let request = request
            .body(body)
            .replace("X-Slack-Signature", slack_sign(SLACK_TS, body));
        let v = request.check(Kind::Slack, SLACK_SECRET).unwrap();
        assert_eq!(v.topic, "url_verification");

        let body = "payload=%7B%22type%22%3A%22block_actions%22%7D";
        let request = request
            .body(body)
            .replace("X-Slack-Signature", slack_sign(SLACK_TS, body));
        let v = request.check(Kind::Slack, SLACK_SECRET).unwrap();
        assert_eq!(v.topic, "block_actions");

        let body = "[1]";
        let request = request
            .body(body)
            .replace("X-Slack-Signature", slack_sign(SLACK_TS, body));
        assert_eq!(
            request.check(Kind::Slack, SLACK_SECRET).unwrap().topic,
            "slack"
        );
    }

    #[test]
    fn slack_window_reaches_both_ways() {
        let case = case(Kind::Slack);
        assert!(
            case.verify_own(&case.request.clone().at(SLACK_TS + 300))
                .is_ok()
        );
        assert!(
            case.verify_own(&case.request.clone().at(SLACK_TS - 300))
                .is_ok()
        );
        for now in [SLACK_TS + 301, SLACK_TS - 301] {
            assert_eq!(
                case.verify_own(&case.request.clone().at(now)),
                Err(Refusal::TimestampOutOfTolerance)
            );
        }
        let missing = case.request.clone().without("x-slack-request-timestamp");
        assert_eq!(case.verify_own(&missing), Err(Refusal::MissingSignature));
    }

    #[test]
    fn slack_accepts_one_valid_signature_among_several() {
        let header = format!("v1=abc,v0={},{SLACK_SIGNATURE}", "0".repeat(64));
        let request = case(Kind::Slack)
            .request
            .replace("x-slack-signature", header);
        assert!(request.check(Kind::Slack, SLACK_SECRET).is_ok());
    }

    // ---- paystack / flutterwave ------------------------------------------------------------

    #[test]
    fn paystack_dedups_on_event_and_data_id() {
        let v = case(Kind::Paystack)
            .request
            .check(Kind::Paystack, PAYSTACK_SECRET)
            .unwrap();
        assert_eq!(v.dedup_id, "charge.success:1");
        assert_eq!(v.topic, "charge.success");

        for (body, id) in [
            (
                r#"{"event":"transfer.success","data":{"reference":"ref_9"}}"#,
                "transfer.success:ref_9".to_owned(),
            ),
            (
                r#"{"event":"subscription.create","data":{}}"#,
                sha256(br#"{"event":"subscription.create","data":{}}"#),
            ),
        ] {
            let signature = hex_mac(hmac::HMAC_SHA512, PAYSTACK_SECRET, body.as_bytes());
            let request = Request::new(body).header("x-paystack-signature", signature);
            assert_eq!(
                request
                    .check(Kind::Paystack, PAYSTACK_SECRET)
                    .unwrap()
                    .dedup_id,
                id
            );
        }
    }

    #[test]
    fn paystack_accepts_upper_case_hex_among_several() {
        let header = format!(
            "{} {}",
            "ab".repeat(64),
            PAYSTACK_SIGNATURE.to_ascii_uppercase()
        );
        let request = case(Kind::Paystack)
            .request
            .replace("x-paystack-signature", header);
        assert!(request.check(Kind::Paystack, PAYSTACK_SECRET).is_ok());
    }

    #[test]
    fn flutterwave_v3_compares_the_hash_header_with_the_secret() {
        let request = Request::new(PAYSTACK_BODY).header("verif-hash", "my-secret-hash");
        let v = request
            .check(Kind::Flutterwave, FLUTTERWAVE_SECRET)
            .unwrap();
        assert_eq!(v.dedup_id, "1:charge.success");
        assert_eq!(v.topic, "charge.success");
        // The v3 hash does not cover the body: any body passes with it (Flutterwave's design).
        assert!(
            request
                .clone()
                .body("{}")
                .check(Kind::Flutterwave, FLUTTERWAVE_SECRET)
                .is_ok()
        );
        for wrong in ["my-secret-has", "my-secret-hash2", "MY-SECRET-HASH"] {
            let request = request.clone().replace("verif-hash", wrong);
            assert_eq!(
                request.check(Kind::Flutterwave, FLUTTERWAVE_SECRET),
                Err(Refusal::InvalidSignature),
                "{wrong}"
            );
        }
    }

    #[test]
    fn flutterwave_v4_signature_is_enough_and_takes_the_ids() {
        let v = case(Kind::Flutterwave)
            .request
            .check(Kind::Flutterwave, FLUTTERWAVE_SECRET)
            .unwrap();
        assert_eq!(v.dedup_id, "1:charge.success");
        let both_one_wrong = case(Kind::Flutterwave)
            .request
            .header("verif-hash", "wrong");
        assert!(
            both_one_wrong
                .check(Kind::Flutterwave, FLUTTERWAVE_SECRET)
                .is_ok()
        );
    }

    // ---- hmac ------------------------------------------------------------------------------

    #[test]
    fn generic_hmac_verifies_the_convoy_vectors() {
        for (algorithm, encoding, signature) in [
            ("sha256", "hex", CONVOY_SHA256_HEX),
            ("sha256", "base64", CONVOY_SHA256_B64),
            ("sha512", "hex", CONVOY_SHA512_HEX),
        ] {
            let options = hmac_options(algorithm, encoding);
            let request = Request::new(CONVOY_BODY).header("x-signature", signature);
            let v = request
                .verify(Kind::Hmac, Some(&options), &[CONVOY_SECRET])
                .unwrap();
            assert_eq!(v.topic, "charge.success");
            assert_eq!(v.dedup_id, sha256(CONVOY_BODY.as_bytes()));
            let wrong = hmac_options(
                if algorithm == "sha512" {
                    "sha256"
                } else {
                    "sha512"
                },
                encoding,
            );
            assert_eq!(
                request.verify(Kind::Hmac, Some(&wrong), &[CONVOY_SECRET]),
                Err(Refusal::InvalidSignature)
            );
        }
        let sha1 = hmac_options("sha1", "hex");
        let signature = hex_mac(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            CONVOY_SECRET,
            CONVOY_BODY.as_bytes(),
        );
        let request = Request::new(CONVOY_BODY).header("x-signature", signature);
        assert!(
            request
                .verify(Kind::Hmac, Some(&sha1), &[CONVOY_SECRET])
                .is_ok()
        );
    }

    fn timestamped() -> HmacOptions {
        HmacOptions::parse(&serde_json::json!({
            "header": "x-signature",
            "algorithm": "sha256",
            "encoding": "hex",
            "prefix": "v1=",
            "timestamp_header": "X-Timestamp",
            "id_header": "X-Event-Id",
            "topic_pointer": "/amount",
        }))
        .unwrap()
    }

    #[test]
    fn generic_hmac_with_a_timestamp_signs_ts_dot_body() {
        let options = timestamped();
        assert!(options.has_replay_window());
        let dot = hex_mac(
            hmac::HMAC_SHA256,
            CONVOY_SECRET,
            format!("1700000000.{CONVOY_BODY}").as_bytes(),
        );
        let request = Request::new(CONVOY_BODY)
            .header("x-timestamp", "1700000000")
            .header("x-signature", format!("t=1700000000,v1={dot}"))
            .header("x-event-id", "evt-42");
        let v = request
            .verify(Kind::Hmac, Some(&options), &[CONVOY_SECRET])
            .unwrap();
        assert_eq!(v.dedup_id, "evt-42");
        assert_eq!(v.topic, "1000", "a number at the pointer");

        // Convoy's published timestamped vector separates with a comma; ours with a dot.
        let comma = request
            .clone()
            .replace("x-signature", format!("v1={CONVOY_COMMA_SIGNATURE}"));
        assert_eq!(
            comma.verify(Kind::Hmac, Some(&options), &[CONVOY_SECRET]),
            Err(Refusal::InvalidSignature)
        );
        let unprefixed = request.clone().replace("x-signature", dot);
        assert_eq!(
            unprefixed.verify(Kind::Hmac, Some(&options), &[CONVOY_SECRET]),
            Err(Refusal::InvalidSignature),
            "with a prefix configured, items without it are ignored"
        );
        for now in [1_700_000_301, 1_699_999_699] {
            assert_eq!(
                request
                    .clone()
                    .at(now)
                    .verify(Kind::Hmac, Some(&options), &[CONVOY_SECRET]),
                Err(Refusal::TimestampOutOfTolerance)
            );
        }
        assert_eq!(
            request.clone().without("x-timestamp").verify(
                Kind::Hmac,
                Some(&options),
                &[CONVOY_SECRET]
            ),
            Err(Refusal::MissingSignature)
        );
        let no_id = request.without("x-event-id");
        let v = no_id
            .verify(Kind::Hmac, Some(&options), &[CONVOY_SECRET])
            .unwrap();
        assert_eq!(v.dedup_id, sha256(CONVOY_BODY.as_bytes()));
    }

    #[test]
    fn generic_hmac_without_options_verifies_nothing() {
        let request = case(Kind::Hmac).request;
        assert_eq!(
            request.check(Kind::Hmac, CONVOY_SECRET),
            Err(Refusal::InvalidSignature)
        );
    }

    #[test]
    fn generic_hmac_topic_falls_back_to_webhook() {
        let options = hmac_options("sha256", "hex");
        let body = r#"{"event":{"nested":true}}"#;
        let request = Request::new(body).header(
            "x-signature",
            hex_mac(hmac::HMAC_SHA256, CONVOY_SECRET, body.as_bytes()),
        );
        let v = request
            .verify(Kind::Hmac, Some(&options), &[CONVOY_SECRET])
            .unwrap();
        assert_eq!(v.topic, "webhook");
        assert!(!options.has_replay_window());
    }

    #[test]
    fn topics_are_cut_and_cleaned() {
        let long = "t".repeat(500);
        let body = format!(r#"{{"event":"  {long}"}}"#);
        let request = Request::new(&body).header(
            "x-signature",
            hex_mac(hmac::HMAC_SHA256, CONVOY_SECRET, body.as_bytes()),
        );
        let v = request
            .verify(
                Kind::Hmac,
                Some(&hmac_options("sha256", "hex")),
                &[CONVOY_SECRET],
            )
            .unwrap();
        assert_eq!(v.topic, "t".repeat(MAX_TOPIC_CHARS));
        assert_eq!(clean_topic("a\u{0}b\nc "), Some("abc".to_owned()));
        assert_eq!(clean_topic(" \u{7} "), None);
    }

    // ---- HmacOptions::parse ----------------------------------------------------------------

    #[test]
    fn hmac_options_parse_and_normalise() {
        let options = timestamped();
        assert_eq!(
            options,
            HmacOptions {
                header: "x-signature".into(),
                algorithm: HmacAlgorithm::Sha256,
                encoding: SignatureEncoding::Hex,
                prefix: Some("v1=".into()),
                timestamp_header: Some("x-timestamp".into()),
                id_header: Some("x-event-id".into()),
                topic_pointer: Some("/amount".into()),
            }
        );
        let stored = serde_json::to_value(&options).unwrap();
        assert_eq!(stored["algorithm"], "sha256");
        assert_eq!(stored["encoding"], "hex");
        assert_eq!(
            serde_json::from_value::<HmacOptions>(stored).unwrap(),
            options
        );

        let minimal = HmacOptions::parse(&serde_json::json!({
            "header": "X-Sig", "algorithm": "SHA512", "encoding": "Base64",
            "prefix": "", "id_header": null,
        }))
        .unwrap();
        assert_eq!(minimal.header, "x-sig");
        assert_eq!(minimal.algorithm, HmacAlgorithm::Sha512);
        assert_eq!(minimal.encoding, SignatureEncoding::Base64);
        assert_eq!((minimal.prefix, minimal.id_header), (None, None));
    }

    fn violations(value: serde_json::Value) -> Vec<(String, String)> {
        HmacOptions::parse(&value)
            .unwrap_err()
            .into_iter()
            .map(|v| (v.field, v.message))
            .collect()
    }

    fn fields(value: serde_json::Value) -> Vec<String> {
        violations(value)
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn hmac_options_report_every_problem_at_once() {
        let found = fields(serde_json::json!({
            "header": "x signature",
            "algorithm": "md5",
            "encoding": 7,
            "prefix": "sha256 =",
            "timestamp_header": "x-ts:",
            "id_header": "é",
            "topic_pointer": "event",
            "secret": "oops",
        }));
        assert_eq!(
            found,
            [
                "options.secret",
                "options.header",
                "options.algorithm",
                "options.encoding",
                "options.prefix",
                "options.timestamp_header",
                "options.id_header",
                "options.topic_pointer",
            ]
        );

        let missing = violations(serde_json::json!({}));
        assert_eq!(missing.len(), 3);
        assert!(
            missing
                .iter()
                .all(|(_, message)| message.starts_with("is required"))
        );
        assert_eq!(fields(serde_json::json!("sha256")), ["options"]);
        assert_eq!(fields(serde_json::json!(null)), ["options"]);
    }

    #[test]
    fn hmac_options_bound_their_values() {
        let long = "x".repeat(MAX_OPTION_CHARS + 1);
        let found = fields(serde_json::json!({
            "header": long,
            "algorithm": "sha256",
            "encoding": "hex",
            "prefix": long,
            "topic_pointer": format!("/{long}"),
            (long.clone() + "y"): 1,
        }));
        assert_eq!(found.len(), 4);
        assert!(
            found
                .iter()
                .all(|f| f.len() <= "options.".len() + MAX_OPTION_CHARS)
        );

        let same = fields(serde_json::json!({
            "header": "X-Sig", "algorithm": "sha256", "encoding": "hex",
            "timestamp_header": "x-sig",
        }));
        assert_eq!(same, ["options.timestamp_header"]);

        for pointer in ["/a~2b", "/a~", "a/b"] {
            let found = fields(serde_json::json!({
                "header": "x", "algorithm": "sha256", "encoding": "hex", "topic_pointer": pointer,
            }));
            assert_eq!(found, ["options.topic_pointer"], "{pointer}");
        }
        let blank = HmacOptions::parse(&serde_json::json!({
            "header": "x", "algorithm": "sha256", "encoding": "hex", "topic_pointer": "",
        }))
        .unwrap();
        assert_eq!(blank.topic_pointer, None, "blank means absent");
        assert!(is_json_pointer("/data/a~1b/0"));
    }
}
