//! `/cart` and `/checkout`: the session's cart, across producer groups, and the checkout
//! form that turns it into one order per group through `otop_app::checkout::place` (the
//! function `POST /v1/checkouts` runs), under the form's Idempotency-Key.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use otop_app::checkout::{CheckoutLineRequest, CheckoutRequest, ShippingAddressRequest};
use otop_app::AppError;
use otop_app::AppState;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{html, read_form, request_id};
use crate::artwork::artwork_svg;
use crate::error::PageError;
use crate::format::{baht, Lang};
use crate::layout::Layout;
use crate::session::{Cart, Visitor, MAX_CART_QUANTITY};

const LAST_CHECKOUT_KEY: &str = "last_checkout";

pub struct CartRow {
    pub id: String,
    pub title: String,
    pub price: String,
    pub quantity: u32,
    pub line_total: String,
    pub available: u32,
    pub art: String,
    pub problem: Option<String>,
}

pub struct CartGroup {
    pub vendor_name: String,
    pub rows: Vec<CartRow>,
    pub subtotal: String,
    subtotal_satang: u64,
}

/// What the shopper typed into the address form, kept when the page comes back with errors.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub idempotency_key: String,
    #[serde(default, rename = "shipping_address.name")]
    pub name: String,
    #[serde(default, rename = "shipping_address.phone")]
    pub phone: String,
    #[serde(default, rename = "shipping_address.line1")]
    pub line1: String,
    #[serde(default, rename = "shipping_address.line2")]
    pub line2: String,
    #[serde(default, rename = "shipping_address.subdistrict")]
    pub subdistrict: String,
    #[serde(default, rename = "shipping_address.district")]
    pub district: String,
    #[serde(default, rename = "shipping_address.province")]
    pub province: String,
    #[serde(default, rename = "shipping_address.postcode")]
    pub postcode: String,
}

#[derive(Template)]
#[template(path = "cart.html")]
pub struct CartPage {
    pub l: Layout,
    pub groups: Vec<CartGroup>,
    pub total: String,
    pub checkout_key: String,
    pub signed_in_shopper: bool,
    pub form: CheckoutForm,
    pub errors: Vec<String>,
    pub field_errors: HashMap<String, String>,
}

impl CartPage {
    /// The error of one address field, for the template.
    pub fn field_error(&self, field: &str) -> &str {
        self.field_errors
            .get(&format!("shipping_address.{field}"))
            .map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastCheckout {
    key: Uuid,
    order_id: Uuid,
    position: i64,
}

async fn render_cart(
    state: &AppState,
    visitor: &Visitor,
    form: CheckoutForm,
    errors: Vec<String>,
    field_errors: HashMap<String, String>,
    line_problems: HashMap<Uuid, String>,
) -> Result<CartPage, PageError> {
    let lang = visitor.lang;
    let t = crate::i18n::texts(lang);
    let mut cart = visitor.cart().await?;
    let mut groups: Vec<(Uuid, CartGroup)> = Vec::new();
    let mut total = 0u64;
    let mut gone = Vec::new();
    for line in &cart.lines {
        let view = match otop_app::listings::get_listing(
            state,
            visitor.actor.as_ref(),
            line.listing_id,
            None,
        )
        .await
        {
            Ok(view) => view,
            // Taken down or unpublished since it was added: it leaves the cart.
            Err(AppError::NotFound(_)) => {
                gone.push(line.listing_id);
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        let listing = &view.listing;
        let title = match lang {
            Lang::En => listing
                .title_en
                .clone()
                .unwrap_or_else(|| listing.title_th.clone()),
            Lang::Th => listing.title_th.clone(),
        };
        let line_total = listing
            .price_satang
            .saturating_mul(u64::from(line.quantity));
        total = total.saturating_add(line_total);
        let row = CartRow {
            id: listing.id.to_string(),
            art: artwork_svg(&listing.subtype_code, &listing.category_code, &title),
            title,
            price: baht(listing.price_satang),
            quantity: line.quantity,
            line_total: baht(line_total),
            available: listing.available_stock,
            problem: line_problems.get(&listing.id).cloned(),
        };
        let vendor_name = view.vendor_name_th.clone().unwrap_or_default();
        match groups
            .iter_mut()
            .find(|(vendor, _)| *vendor == listing.vendor_id)
        {
            Some((_, group)) => {
                group.rows.push(row);
                group.subtotal_satang = group.subtotal_satang.saturating_add(line_total);
            }
            None => groups.push((
                listing.vendor_id,
                CartGroup {
                    vendor_name,
                    rows: vec![row],
                    subtotal: String::new(),
                    subtotal_satang: line_total,
                },
            )),
        }
    }
    if !gone.is_empty() {
        cart.lines.retain(|line| !gone.contains(&line.listing_id));
        cart.checkout_key = None;
    }
    // One Idempotency-Key per cart as it stands: the form on screen carries it, so a double
    // submit places one checkout.
    let key = match cart.checkout_key {
        Some(key) => key,
        None => {
            let key = Uuid::new_v4();
            cart.checkout_key = Some(key);
            key
        }
    };
    visitor.save_cart(&cart).await?;
    let groups: Vec<CartGroup> = groups
        .into_iter()
        .map(|(_, mut group)| {
            group.subtotal = baht(group.subtotal_satang);
            group
        })
        .collect();
    let l = Layout::new(
        state,
        visitor,
        "/cart",
        format!("{} · {}", t.cart, t.site_name),
        t.cart.to_string(),
        true,
    )
    .await?;
    Ok(CartPage {
        signed_in_shopper: l.is_shopper,
        groups,
        total: baht(total),
        checkout_key: key.to_string(),
        form,
        errors,
        field_errors,
        l,
    })
}

pub async fn cart_page(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let page = render_cart(
        &state,
        &visitor,
        CheckoutForm::default(),
        Vec::new(),
        HashMap::new(),
        HashMap::new(),
    )
    .await?;
    html(&page)
}

#[derive(Debug, Deserialize)]
pub struct CartLineForm {
    #[serde(default)]
    pub csrf: String,
    pub listing_id: String,
    pub quantity: String,
}

fn parse_line(form: &CartLineForm) -> Result<(Uuid, u32), PageError> {
    let id = Uuid::parse_str(form.listing_id.trim())
        .map_err(|_| PageError::BadForm("listing_id is not a listing id".into()))?;
    let quantity: u32 = form.quantity.trim().parse().map_err(|_| {
        PageError::BadForm(format!(
            "quantity must be a whole number from 0 to {MAX_CART_QUANTITY}"
        ))
    })?;
    Ok((id, quantity))
}

pub async fn add_to_cart(
    State(state): State<AppState>,
    visitor: Visitor,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: CartLineForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let (id, quantity) = parse_line(&form)?;
    if quantity == 0 {
        return Err(PageError::BadForm("quantity must be at least 1".into()));
    }
    // Only a listing the visitor may see goes into the cart.
    otop_app::listings::get_listing(&state, visitor.actor.as_ref(), id, None).await?;
    let mut cart = visitor.cart().await?;
    cart.add(id, quantity)
        .map_err(|why| PageError::BadForm(why.to_string()))?;
    visitor.save_cart(&cart).await?;
    Ok(Redirect::to(&format!("/listings/{id}?added=1")).into_response())
}

pub async fn update_cart(visitor: Visitor, body: Bytes) -> Result<Response, PageError> {
    let form: CartLineForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let (id, quantity) = parse_line(&form)?;
    let mut cart = visitor.cart().await?;
    cart.set(id, quantity);
    visitor.save_cart(&cart).await?;
    Ok(Redirect::to("/cart").into_response())
}

fn optional(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

pub async fn checkout(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: CheckoutForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let actor = visitor.require_actor("/cart")?.clone();
    let key = Uuid::parse_str(form.idempotency_key.trim())
        .map_err(|_| PageError::BadForm("idempotency_key is missing".into()))?;
    // The same form again (a double submit, the back button): the checkout it placed.
    if let Some(last) = visitor
        .session
        .get::<LastCheckout>(LAST_CHECKOUT_KEY)
        .await?
        .filter(|last| last.key == key)
    {
        return Ok(order_redirect(last.order_id, last.position));
    }
    let cart: Cart = visitor.cart().await?;
    let request = CheckoutRequest {
        lines: cart
            .lines
            .iter()
            .map(|line| CheckoutLineRequest {
                listing_id: line.listing_id,
                quantity: i64::from(line.quantity),
            })
            .collect(),
        shipping_address: ShippingAddressRequest {
            name: form.name.clone(),
            phone: form.phone.clone(),
            line1: form.line1.clone(),
            line2: optional(&form.line2),
            subdistrict: optional(&form.subdistrict),
            district: optional(&form.district),
            province: form.province.clone(),
            postcode: form.postcode.clone(),
        },
    };
    let metadata = otop_app::metadata::command_metadata(actor.clone(), &request_id(&headers));
    let key_text = key.to_string();
    match otop_app::checkout::place(&state, &actor, &metadata, Some(&key_text), request).await {
        Ok(reply) => {
            let Some(first) = reply.orders.first() else {
                return Err(PageError::internal("a checkout placed no order"));
            };
            visitor
                .session
                .insert(
                    LAST_CHECKOUT_KEY,
                    LastCheckout {
                        key,
                        order_id: first.id,
                        position: reply.position,
                    },
                )
                .await?;
            visitor.save_cart(&Cart::default()).await?;
            tracing::info!(checkout_id = %reply.checkout_id, orders = reply.orders.len(), "checkout from the cart page");
            Ok(order_redirect(first.id, reply.position))
        }
        Err(AppError::LinesRejected(fields)) => {
            let t = crate::i18n::texts(visitor.lang);
            let mut problems = HashMap::new();
            for field in &fields {
                let index = field
                    .field
                    .strip_prefix("lines[")
                    .and_then(|rest| rest.split(']').next())
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(line) = index.and_then(|i| cart.lines.get(i)) {
                    problems.insert(line.listing_id, field.message.clone());
                }
            }
            let page = render_cart(
                &state,
                &visitor,
                form,
                vec![t.lines_not_reservable.to_string()],
                HashMap::new(),
                problems,
            )
            .await?;
            Ok((StatusCode::CONFLICT, html(&page)?).into_response())
        }
        Err(AppError::Invalid(fields)) => {
            let t = crate::i18n::texts(visitor.lang);
            let field_errors: HashMap<String, String> = fields
                .iter()
                .map(|f| (f.field.clone(), f.message.clone()))
                .collect();
            let mut errors = vec![t.fix_fields.to_string()];
            errors.extend(
                fields
                    .iter()
                    .filter(|f| !f.field.starts_with("shipping_address."))
                    .map(|f| f.message.clone()),
            );
            let page =
                render_cart(&state, &visitor, form, errors, field_errors, HashMap::new()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(&page)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

fn order_redirect(order_id: Uuid, position: i64) -> Response {
    Redirect::to(&format!("/orders/{order_id}?min_position={position}")).into_response()
}
