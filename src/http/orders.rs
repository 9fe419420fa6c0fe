//! A merchant's own orders with their status history.

use super::{admin_api::page_limit, extract::AuthMerchant};
use crate::{
    clock,
    domain::order::TrackingStatus,
    error::{ApiError, Violation},
    startup::AppState,
    store::orders::{self, Order},
};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

/// The JSON shape of an order.
pub fn order_json(o: &Order) -> Value {
    json!({
        "order_id": o.id,
        "merchant_reference": o.merchant_reference,
        "customer_details": {"name": o.customer_name, "email": o.customer_email, "phone": o.customer_phone},
        "item_summary": o.item_summary,
        "address": o.address,
        "tracking_status": o.tracking_status,
        "created_at": clock::rfc3339(o.created_at),
        "updated_at": clock::rfc3339(o.updated_at),
        "history": o.history.iter().map(|h| json!({
            "status": h.status, "at": clock::rfc3339(h.at), "event_id": h.event_id,
        })).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
pub struct OrderQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/v1/orders`
pub async fn list(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
    q: web::Query<OrderQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(q.limit)?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            TrackingStatus::parse(&s.to_ascii_uppercase())
                .ok_or_else(|| {
                    ApiError::validation(vec![Violation::new("status", "is not a tracking status")])
                })?
                .as_str(),
        ),
    };
    let cursor = q.cursor.clone().filter(|c| !c.is_empty());
    let mut items = state
        .store
        .read(move |c| orders::list(c, &m.id, status, limit + 1, cursor.as_deref()))
        .await?;
    let next_cursor = super::admin_api::next_page(&mut items, limit, |o| o.id.clone());
    Ok(HttpResponse::Ok().json(json!({
        "items": items.iter().map(order_json).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// `GET /api/v1/orders/{order_id}`
pub async fn get(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order_id = path.into_inner();
    let order = state
        .store
        .read(move |c| orders::get(c, &m.id, &order_id))
        .await?
        .ok_or_else(|| ApiError::not_found("order_not_found", "No such order."))?;
    Ok(HttpResponse::Ok().json(order_json(&order)))
}
