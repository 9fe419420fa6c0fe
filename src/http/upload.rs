//! The KYC upload form (multipart), read with bounded parts and sizes and the document typed by
//! its content; shared by the API and the merchant page.

use crate::{
    app::kyc::Document,
    domain::kyc::{DocumentKind, KycForm, MAX_DOCUMENT_BYTES},
    error::{ApiError, Violation},
};
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use futures_util::StreamExt;

/// Largest text field accepted in the form.
const MAX_TEXT_FIELD: usize = 4 * 1024;
/// Most parts accepted in one form (defends against part floods).
const MAX_PARTS: usize = 16;
/// How much of an over-long document is read (and dropped) to reach the parts after it and end
/// the request cleanly, so that the form comes back with its values and the browser sees the
/// answer instead of a reset connection. Beyond this the request is given up.
const MAX_DRAINED_DOCUMENT: usize = 32 * 1024 * 1024;

/// A KYC form as uploaded: text fields, the document, and (from the browser) a CSRF token.
pub struct KycUpload {
    pub form: KycForm,
    pub document: Option<Document>,
    /// Why the document was refused (too large: 413, not a PDF, PNG or JPEG: 415). The other
    /// parts were read all the same, so a form can come back with every value kept.
    pub document_error: Option<ApiError>,
    pub csrf: Option<String>,
}

/// Read the KYC form from a multipart stream, enforcing size and type limits as it streams.
pub async fn read_form(mut parts: Multipart) -> Result<KycUpload, ApiError> {
    let mut form = KycForm::default();
    let mut document = None;
    let mut document_error = None;
    let mut csrf = None;
    let mut seen = 0;
    while let Some(part) = parts.next().await {
        let mut field = part.map_err(multipart_error)?;
        seen += 1;
        if seen > MAX_PARTS {
            return Err(ApiError::bad_request(
                "invalid_multipart",
                "The form has too many parts.",
            ));
        }
        let name = field.name().unwrap_or_default().to_string();
        let limit = if name == "document" {
            MAX_DOCUMENT_BYTES
        } else {
            MAX_TEXT_FIELD
        };
        let file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(sanitize_file_name)
            .unwrap_or_else(|| "document".into());
        let mut bytes = Vec::new();
        let mut read = 0;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            read += chunk.len();
            if read > limit {
                if name != "document" {
                    return Err(ApiError::validation(vec![Violation::new(
                        &name,
                        "is too long",
                    )]));
                }
                if read > MAX_DRAINED_DOCUMENT {
                    return Err(document_too_large());
                }
                bytes = Vec::new(); // Dropped: only the rest of the form is still wanted.
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "document" && read > limit {
            document_error = Some(document_too_large());
            continue;
        }
        let text = || String::from_utf8(bytes.clone()).ok();
        match name.as_str() {
            "legal_name" => form.legal_name = text(),
            "registration_number" => form.registration_number = text(),
            "country" => form.country = text(),
            "address" => form.address = text(),
            "contact_phone" => form.contact_phone = text(),
            "csrf" => csrf = text(),
            "document" if !bytes.is_empty() => match DocumentKind::sniff(&bytes) {
                Some(kind) => {
                    document = Some(Document {
                        kind,
                        name: file_name,
                        bytes,
                    })
                }
                None => {
                    document_error = Some(ApiError::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_document",
                        "The document must be a PDF, PNG or JPEG file (decided by its content).",
                    ))
                }
            },
            _ => {} // Unknown parts are ignored.
        }
    }
    Ok(KycUpload {
        form,
        document,
        document_error,
        csrf,
    })
}

fn document_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The document must be at most 5 MiB.",
    )
}

fn multipart_error(e: actix_multipart::MultipartError) -> ApiError {
    use actix_multipart::MultipartError as E;
    match e {
        E::ContentTypeMissing | E::ContentTypeParse | E::ContentTypeIncompatible => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the form as multipart/form-data.",
        ),
        _ => ApiError::bad_request("invalid_multipart", "The multipart body is malformed."),
    }
}

/// Keep a display name for the file: no paths, no control characters, bounded.
fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(100)
        .collect();
    if clean.trim().is_empty() {
        "document".into()
    } else {
        clean
    }
}
