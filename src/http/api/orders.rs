//! A merchant's own orders with their status history.

use crate::{
    app::{self, paging},
    clock,
    error::ApiError,
    http::extract::AuthMerchant,
    state::AppState,
    store::orders::Order,
};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
struct CustomerDetails<'a> {
    name: &'a str,
    email: &'a str,
    phone: &'a str,
}

#[derive(Serialize, ToSchema)]
struct HistoryEntry<'a> {
    status: &'a str,
    at: String,
    event_id: &'a str,
}

/// The JSON shape of an order.
#[derive(Serialize, ToSchema)]
pub struct OrderBody<'a> {
    order_id: &'a str,
    merchant_reference: Option<&'a str>,
    customer_details: CustomerDetails<'a>,
    item_summary: &'a str,
    address: &'a str,
    tracking_status: &'a str,
    created_at: String,
    updated_at: String,
    history: Vec<HistoryEntry<'a>>,
}

impl<'a> OrderBody<'a> {
    pub fn of(o: &'a Order) -> Self {
        OrderBody {
            order_id: &o.id,
            merchant_reference: o.merchant_reference.as_deref(),
            customer_details: CustomerDetails {
                name: &o.customer_name,
                email: &o.customer_email,
                phone: &o.customer_phone,
            },
            item_summary: &o.item_summary,
            address: &o.address,
            tracking_status: &o.tracking_status,
            created_at: clock::rfc3339(o.created_at),
            updated_at: clock::rfc3339(o.updated_at),
            history: o
                .history
                .iter()
                .map(|h| HistoryEntry {
                    status: &h.status,
                    at: clock::rfc3339(h.at),
                    event_id: &h.event_id,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// A tracking status, e.g. `SHIPPED`.
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct OrderPage<'a> {
    items: Vec<OrderBody<'a>>,
    next_cursor: Option<String>,
}

/// `GET /api/v1/orders`
#[utoipa::path(
    get,
    path = "/api/v1/orders",
    tag = "merchant",
    security(("merchant_bearer" = [])),
    params(OrderQuery),
    responses((status = 200, description = "The merchant's own orders, newest first", body = OrderPage))
)]
pub async fn list(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
    q: web::Query<OrderQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = paging::limit(q.limit).map_err(|v| ApiError::validation(vec![v]))?;
    let status = app::orders::status_filter(q.status.as_deref())?;
    let cursor = q.cursor.clone().filter(|c| !c.is_empty());
    let page = app::orders::list(&state, &m.id, status, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(OrderPage {
        items: page.items.iter().map(OrderBody::of).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `GET /api/v1/orders/{order_id}`
#[utoipa::path(
    get,
    path = "/api/v1/orders/{order_id}",
    tag = "merchant",
    security(("merchant_bearer" = [])),
    params(("order_id" = String, Path)),
    responses((status = 200, description = "The order with its status history", body = OrderBody))
)]
pub async fn get(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = app::orders::get(&state, &m.id, &path).await?;
    Ok(HttpResponse::Ok().json(OrderBody::of(&order)))
}
