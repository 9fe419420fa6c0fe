//! Merchant page: every order, paged both ways, searchable by order id, reference or customer
//! email, filterable by status.

use crate::{
    app::{self, paging},
    domain::order::TrackingStatus,
    http::{
        session::MerchantSession,
        ui::{UiResult, csv, page, pager, query_escape, violations_text, when, words},
    },
    state::AppState,
    store::orders::OrderFilter,
};
use actix_web::web;
use askama::Template;
use serde::Deserialize;

/// How many orders a page shows.
const PAGE: u32 = 20;

struct OrderRow {
    id: String,
    reference: String,
    customer: String,
    status: String,
    created: String,
    history: String,
}

#[derive(Template)]
#[template(path = "merchant/orders.html")]
struct OrdersPage {
    csrf: String,
    csv_link: String,
    business_name: String,
    q: String,
    status: String,
    /// (value, words) of every tracking status, for the filter.
    statuses: Vec<(&'static str, String)>,
    error: Option<String>,
    orders: Vec<OrderRow>,
    older_link: Option<String>,
    newer_link: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct OrdersQuery {
    q: Option<String>,
    status: Option<String>,
    older: Option<String>,
    newer: Option<String>,
}

pub(super) async fn orders(
    state: web::Data<AppState>,
    s: MerchantSession,
    q: web::Query<OrdersQuery>,
) -> UiResult {
    let (search, status) = (
        q.q.clone().unwrap_or_default(),
        q.status.clone().unwrap_or_default(),
    );
    let parsed = (|| {
        let window = paging::window(
            Some(PAGE),
            q.older.as_deref(),
            q.newer.as_deref(),
            app::orders::order_cursor,
        )?;
        let filter = OrderFilter {
            status: app::orders::status_filter(Some(&status))?.map(str::to_string),
            search: app::orders::search_text(Some(&search))?,
            ..Default::default()
        };
        Ok::<_, app::Error>((filter, window))
    })();
    let (found, error) = match parsed {
        Ok((filter, window)) => (
            Some(app::orders::page(&state, &s.merchant.id, filter, window).await?),
            None,
        ),
        Err(app::Error::Invalid(v)) => (None, Some(violations_text(&v))),
        Err(e) => return Err(e.into()),
    };
    let link = |side: &str, cursor: &str| {
        format!(
            "/orders?q={}&status={}&{side}={}",
            query_escape(&search),
            query_escape(&status),
            query_escape(cursor)
        )
    };
    let (newer_link, older_link) = pager(found.as_ref(), link);
    let csv_link = format!(
        "/orders.csv?q={}&status={}",
        query_escape(&search),
        query_escape(&status)
    );
    page(&OrdersPage {
        csv_link,
        csrf: s.browser.csrf(&state),
        business_name: s.merchant.business_name.clone(),
        statuses: TrackingStatus::ALL
            .iter()
            .map(|t| (t.as_str(), words(t.as_str())))
            .collect(),
        older_link,
        newer_link,
        orders: found
            .map(|p| p.items)
            .unwrap_or_default()
            .iter()
            .map(|o| OrderRow {
                id: o.id.clone(),
                reference: o.merchant_reference.clone().unwrap_or_default(),
                customer: format!("{} <{}>", o.customer_name, o.customer_email),
                status: words(&o.tracking_status),
                created: when(o.created_at),
                history: o
                    .history
                    .iter()
                    .map(|h| format!("{} {}", when(h.at), words(&h.status)))
                    .collect::<Vec<_>>()
                    .join(" → "),
            })
            .collect(),
        q: search,
        status: status.to_ascii_uppercase(),
        error,
    })
}

/// The orders the page's filters select, all of them, as CSV.
pub(super) async fn orders_csv(
    state: web::Data<AppState>,
    s: MerchantSession,
    q: web::Query<OrdersQuery>,
) -> UiResult {
    let filter = OrderFilter {
        status: app::orders::status_filter(q.status.as_deref())?.map(str::to_string),
        search: app::orders::search_text(q.q.as_deref())?,
        ..Default::default()
    };
    Ok(csv::orders(state, s.merchant.id.clone(), filter))
}
