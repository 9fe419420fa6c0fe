//! Static files (CSS, JS, images) embedded in the binary.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "static/"]
struct Assets;

/// `GET /static/{path}` with an ETag and revalidation.
pub async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(file) = Assets::get(&path) else {
        return super::ui::not_found_page(&req);
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if fresh {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(file.metadata.mimetype())
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CACHE_CONTROL,
            "public, max-age=3600, must-revalidate",
        ))
        .body(file.data.into_owned())
}
