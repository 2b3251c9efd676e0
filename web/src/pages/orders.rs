//! `/orders` and `/orders/{id}`: the signed-in shopper's orders (`otop_app::orders`, as
//! `GET /v1/orders`), each with its timeline; an order awaiting payment shows its PromptPay
//! QR code, and under `--demo` a "pay (demo)" button that signs a provider callback and sends
//! it through `otop_app::payments::receive_callback`, the function the provider's own
//! callback reaches.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use otop_app::orders::{OrderListQuery, OrderView};
use otop_app::AppState;
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

use super::{html, read_form, request_id};
use crate::error::PageError;
use crate::format::{baht, date_time, Lang};
use crate::i18n::order_status;
use crate::layout::Layout;
use crate::promptpay::{payload, qr_svg, PromptPayTarget};
use crate::session::Visitor;

pub struct OrderRow {
    pub id: String,
    pub short_id: String,
    pub status: String,
    pub status_code: String,
    pub total: String,
    pub placed: String,
}

fn row(order: &OrderView, lang: Lang) -> OrderRow {
    OrderRow {
        id: order.id.to_string(),
        short_id: order.id.simple().to_string()[..8].to_uppercase(),
        status: order_status(&order.status, lang).to_string(),
        status_code: order.status.clone(),
        total: baht(u64::try_from(order.total_satang).unwrap_or(0)),
        placed: date_time(order.placed_at, lang),
    }
}

#[derive(Template)]
#[template(path = "orders.html")]
pub struct OrdersPage {
    pub l: Layout,
    pub orders: Vec<OrderRow>,
}

pub async fn orders_page(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let actor = visitor.require_actor("/orders")?.clone();
    let query = OrderListQuery {
        per_page: Some(50),
        ..OrderListQuery::default()
    };
    let page = otop_app::orders::list_orders(&state, &actor, &query).await?;
    let t = crate::i18n::texts(visitor.lang);
    let l = Layout::new(
        &state,
        &visitor,
        "/orders",
        format!("{} · {}", t.orders, t.site_name),
        t.orders.to_string(),
        false,
    )
    .await?;
    html(&OrdersPage {
        orders: page.items.iter().map(|o| row(o, visitor.lang)).collect(),
        l,
    })
}

pub struct Step {
    pub label: &'static str,
    pub at: Option<String>,
}

pub struct LineRow {
    pub listing_id: String,
    pub title: String,
    pub quantity: u32,
    pub price: String,
}

#[derive(Template)]
#[template(path = "order.html")]
pub struct OrderPage {
    pub l: Layout,
    pub order: OrderRow,
    pub steps: Vec<Step>,
    pub lines: Vec<LineRow>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub reason: Option<String>,
    pub qr: Option<String>,
    pub awaiting_payment: bool,
    pub cancellable: bool,
    pub siblings: Vec<OrderRow>,
}

#[derive(Debug, Deserialize)]
pub struct OrderPageQuery {
    /// Wait for the orders read model to reach the position a command replied with.
    pub min_position: Option<i64>,
}

fn at(time: Option<DateTime<Utc>>, lang: Lang) -> Option<String> {
    time.map(|t| date_time(t, lang))
}

pub async fn order_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(raw_id): Path<String>,
    Query(query): Query<OrderPageQuery>,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let actor = visitor.require_actor(&format!("/orders/{id}"))?.clone();
    let order = otop_app::orders::get_order(&state, &actor, id, query.min_position).await?;
    let lang = visitor.lang;
    let t = crate::i18n::texts(lang);
    let mut steps = vec![
        Step {
            label: t.placed,
            at: Some(date_time(order.placed_at, lang)),
        },
        Step {
            label: t.paid,
            at: at(order.paid_at, lang),
        },
        Step {
            label: t.accepted,
            at: at(order.accepted_at, lang),
        },
        Step {
            label: t.packed,
            at: at(order.packed_at, lang),
        },
        Step {
            label: t.shipped,
            at: at(order.shipped_at, lang),
        },
        Step {
            label: t.delivered,
            at: at(order.delivered_at, lang),
        },
    ];
    for (label, time) in [
        (t.cancelled, order.cancelled_at),
        (t.expired, order.expired_at),
    ] {
        if time.is_some() {
            steps.push(Step {
                label,
                at: at(time, lang),
            });
        }
    }
    let awaiting_payment = order.status == "awaiting_payment";
    let total = u64::try_from(order.total_satang).unwrap_or(0);
    let qr = match (&state.config.promptpay_id, awaiting_payment) {
        (Some(id), true) => {
            let target = PromptPayTarget::parse(id).map_err(PageError::internal)?;
            Some(qr_svg(&payload(&target, total)).map_err(PageError::internal)?)
        }
        _ => None,
    };
    // The other orders of the same checkout (one per producer group).
    let siblings = otop_app::orders::list_orders(
        &state,
        &actor,
        &OrderListQuery {
            per_page: Some(100),
            ..OrderListQuery::default()
        },
    )
    .await?
    .items
    .iter()
    .filter(|o| o.checkout_id == order.checkout_id && o.id != order.id)
    .map(|o| row(o, lang))
    .collect();
    let l = Layout::new(
        &state,
        &visitor,
        &format!("/orders/{id}"),
        format!(
            "{} {} · {}",
            t.order,
            &id.simple().to_string()[..8],
            t.site_name
        ),
        t.order.to_string(),
        true,
    )
    .await?;
    let mut lines = Vec::with_capacity(order.lines.0.len());
    for line in order.lines.0.iter() {
        // The title as the catalog has it now; a listing since taken down shows its id.
        let title = match otop_app::listings::get_listing(
            &state,
            Some(&actor),
            line.listing_id,
            None,
        )
        .await
        {
            Ok(view) => match lang {
                Lang::En => view.listing.title_en.unwrap_or(view.listing.title_th),
                Lang::Th => view.listing.title_th,
            },
            Err(_) => line.listing_id.to_string(),
        };
        lines.push(LineRow {
            listing_id: line.listing_id.to_string(),
            title,
            quantity: line.quantity,
            price: baht(line.unit_price_satang),
        });
    }
    let page = OrderPage {
        cancellable: matches!(
            order.status.as_str(),
            "pending" | "awaiting_payment" | "paid"
        ),
        lines,
        carrier: order.carrier.clone(),
        tracking_number: order.tracking_number.clone(),
        reason: order.status_reason.clone(),
        order: row(&order, lang),
        steps,
        qr,
        awaiting_payment,
        siblings,
        l,
    };
    html(&page)
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// "Pay (demo)": what a PromptPay provider would send once the shopper paid, signed with the
/// payment secret, through the same function as `POST /v1/orders/{id}/payments`.
pub async fn pay_demo(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    if !state.config.demo {
        return Err(PageError::NotFound);
    }
    let form: CsrfForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let actor = visitor.require_actor(&format!("/orders/{id}"))?.clone();
    // Only the order's own shopper sees (and so pays) it.
    let order = otop_app::orders::get_order(&state, &actor, id, None).await?;
    let callback = serde_json::json!({
        "order_id": id,
        "amount_satang": order.total_satang,
        "reference": format!("DEMO-{}", Uuid::new_v4().simple()),
    })
    .to_string();
    let signature = otop_app::payments::signature_header(
        state.config.payment_secret.expose_secret().as_bytes(),
        Utc::now().timestamp(),
        callback.as_bytes(),
    )?;
    let reply = otop_app::payments::receive_callback(
        &state,
        id,
        callback.as_bytes(),
        Some(&signature),
        &request_id(&headers),
    )
    .await?;
    Ok(Redirect::to(&format!("/orders/{id}?min_position={}", reply.position)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub reason: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: CancelForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let actor = visitor.require_actor(&format!("/orders/{id}"))?.clone();
    let metadata = otop_app::metadata::command_metadata(actor.clone(), &request_id(&headers));
    let reply =
        otop_app::orders::cancel_order(&state, &actor, &metadata.to_map(), id, &form.reason)
            .await?;
    Ok(Redirect::to(&format!("/orders/{id}?min_position={}", reply.position)).into_response())
}
