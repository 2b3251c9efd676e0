//! `/vendor`: a producer group's console, made for a phone. Its listings with status,
//! price in baht, stock and units sold, each with forms to change the price (`price_baht`),
//! set the stock as a compare-and-set (`set` with the `expected` stock the form was drawn
//! with, so two members never overwrite each other), publish, unpublish and archive; and its
//! orders, newest first, with accept, pack, and ship with `carrier` and `tracking_number`.
//! Every form runs `otop_app::listings::change` or `otop_app::orders::fulfil`, the functions
//! `/v1/listings/...` and `/v1/orders/...` run, after the same check of the vendor's status
//! (a closed vendor may do nothing, a suspended one may read and fulfil). Vendors only.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use otop_app::listings::{ListingChange, ListingListQuery};
use otop_app::orders::{FulfilmentStep, OrderListQuery};
use otop_app::vendor_standing::{self, Intent};
use otop_app::{AppError, AppState};
use otop_domain::listing::StockChange;
use otop_domain::values::Satang;
use otop_domain::{Actor, Role};
use serde::Deserialize;
use uuid::Uuid;

use super::{html, read_form, request_id};
use crate::error::PageError;
use crate::format::{baht, baht_input, date_time, parse_baht, Lang};
use crate::i18n::order_status;
use crate::layout::Layout;
use crate::session::Visitor;

/// Where the session keeps what the last form changed, until the console has shown it.
const NOTICE_KEY: &str = "vendor_notice";

pub struct ConsoleTexts {
    pub title: &'static str,
    pub listings: &'static str,
    pub no_listings: &'static str,
    pub status: &'static str,
    pub price_baht: &'static str,
    pub stock: &'static str,
    pub sold: &'static str,
    pub save_price: &'static str,
    pub save_stock: &'static str,
    pub publish: &'static str,
    pub unpublish: &'static str,
    pub archive: &'static str,
    pub orders: &'static str,
    pub no_orders: &'static str,
    pub accept: &'static str,
    pub pack: &'static str,
    pub ship: &'static str,
    pub carrier: &'static str,
    pub tracking_number: &'static str,
    pub changed: &'static str,
}

const CONSOLE_TH: ConsoleTexts = ConsoleTexts {
    title: "ร้านของกลุ่ม",
    listings: "สินค้าของกลุ่ม",
    no_listings: "ยังไม่มีสินค้า",
    status: "สถานะ",
    price_baht: "ราคา (บาท)",
    stock: "คงเหลือ",
    sold: "ขายแล้ว",
    save_price: "บันทึกราคา",
    save_stock: "บันทึกจำนวน",
    publish: "เปิดขาย",
    unpublish: "หยุดขาย",
    archive: "เก็บเข้าคลัง",
    orders: "คำสั่งซื้อที่ต้องจัดส่ง",
    no_orders: "ยังไม่มีคำสั่งซื้อ",
    accept: "รับคำสั่งซื้อ",
    pack: "แพ็กแล้ว",
    ship: "ส่งแล้ว",
    carrier: "ขนส่ง",
    tracking_number: "เลขพัสดุ",
    changed: "บันทึกแล้ว",
};

const CONSOLE_EN: ConsoleTexts = ConsoleTexts {
    title: "Our shop",
    listings: "Our listings",
    no_listings: "No listings yet",
    status: "Status",
    price_baht: "Price (baht)",
    stock: "In stock",
    sold: "Sold",
    save_price: "Save price",
    save_stock: "Save stock",
    publish: "Publish",
    unpublish: "Unpublish",
    archive: "Archive",
    orders: "Orders to fulfil",
    no_orders: "No orders yet",
    accept: "Accept",
    pack: "Packed",
    ship: "Shipped",
    carrier: "Carrier",
    tracking_number: "Tracking number",
    changed: "Saved",
};

fn console_texts(lang: Lang) -> &'static ConsoleTexts {
    match lang {
        Lang::Th => &CONSOLE_TH,
        Lang::En => &CONSOLE_EN,
    }
}

/// A listing's status in the reader's language.
fn listing_status(status: &str, lang: Lang) -> &'static str {
    match (status, lang) {
        ("draft", Lang::Th) => "ฉบับร่าง",
        ("published", Lang::Th) => "เปิดขาย",
        ("unpublished", Lang::Th) => "หยุดขาย",
        ("archived", Lang::Th) => "เก็บแล้ว",
        ("taken_down", Lang::Th) => "ถูกถอด",
        ("draft", Lang::En) => "draft",
        ("published", Lang::En) => "published",
        ("unpublished", Lang::En) => "unpublished",
        ("archived", Lang::En) => "archived",
        ("taken_down", Lang::En) => "taken down",
        _ => "",
    }
}

pub struct ListingRow {
    pub id: String,
    pub title: String,
    pub status_code: String,
    pub status: &'static str,
    pub price: String,
    pub price_input: String,
    pub available: u32,
    pub sold: u64,
    /// The verbs its status allows.
    pub verbs: Vec<(&'static str, &'static str)>,
    pub editable: bool,
}

pub struct OrderRow {
    pub id: String,
    pub short_id: String,
    pub status_code: String,
    pub status: String,
    pub total: String,
    pub placed: String,
    pub units: u32,
    /// The next step, if it is the vendor's to take.
    pub next: Option<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "vendor.html")]
pub struct ConsolePage {
    pub l: Layout,
    pub c: &'static ConsoleTexts,
    pub notice: Option<String>,
    pub listings: Vec<ListingRow>,
    pub orders: Vec<OrderRow>,
}

/// The signed-in vendor and its id, after the check of its status for `intent`.
async fn require_vendor(
    state: &AppState,
    visitor: &Visitor,
    intent: Intent,
) -> Result<(Actor, Uuid), PageError> {
    let actor = visitor.require_actor("/vendor")?.clone();
    let vendor_id = match (actor.role, actor.vendor_id) {
        (Role::Vendor, Some(id)) => id,
        _ => {
            return Err(PageError::App(AppError::Forbidden(
                "the console is for a producer group's members".into(),
            )))
        }
    };
    vendor_standing::check(state, &actor, intent).await?;
    Ok((actor, vendor_id))
}

#[derive(Debug, Deserialize)]
pub struct ConsoleQuery {
    pub min_position: Option<i64>,
}

pub async fn console(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(asked): Query<ConsoleQuery>,
) -> Result<Response, PageError> {
    let (actor, vendor_id) = require_vendor(&state, &visitor, Intent::Read).await?;
    let lang = visitor.lang;
    let c = console_texts(lang);
    let notice: Option<(String, i64)> = visitor.session.remove(NOTICE_KEY).await?;
    let seen = notice.as_ref().map(|(_, p)| *p).max(asked.min_position);
    let listings = otop_app::listings::list_listings(
        &state,
        Some(&actor),
        &ListingListQuery {
            vendor: Some(vendor_id),
            per_page: Some(100),
            min_position: seen,
            ..ListingListQuery::default()
        },
    )
    .await?;
    let orders = otop_app::orders::list_orders(
        &state,
        &actor,
        &OrderListQuery {
            per_page: Some(50),
            min_position: seen,
            ..OrderListQuery::default()
        },
    )
    .await?;
    let listings = listings
        .items
        .iter()
        .map(|item| {
            let l = &item.listing;
            let verbs = match l.status.as_str() {
                "draft" | "unpublished" => vec![("publish", c.publish), ("archive", c.archive)],
                "published" => vec![("unpublish", c.unpublish)],
                _ => Vec::new(),
            };
            ListingRow {
                id: l.id.to_string(),
                title: match (lang, &l.title_en) {
                    (Lang::En, Some(english)) => english.clone(),
                    _ => l.title_th.clone(),
                },
                status_code: l.status.clone(),
                status: listing_status(&l.status, lang),
                price: baht(l.price_satang),
                price_input: baht_input(l.price_satang),
                available: l.available_stock,
                sold: l.units_sold,
                editable: !matches!(l.status.as_str(), "archived" | "taken_down"),
                verbs,
            }
        })
        .collect();
    let orders = orders
        .items
        .iter()
        .map(|o| OrderRow {
            id: o.id.to_string(),
            short_id: o.id.simple().to_string()[..8].to_uppercase(),
            status_code: o.status.clone(),
            status: order_status(&o.status, lang).to_string(),
            total: baht(u64::try_from(o.total_satang).unwrap_or(0)),
            placed: date_time(o.placed_at, lang),
            units: o.lines.iter().map(|line| line.quantity).sum(),
            next: match o.status.as_str() {
                "paid" => Some(("accept", c.accept)),
                "accepted" => Some(("pack", c.pack)),
                "packed" => Some(("ship", c.ship)),
                _ => None,
            },
        })
        .collect();
    let l = Layout::new(
        &state,
        &visitor,
        "/vendor",
        c.title.into(),
        c.title.into(),
        true,
    )
    .await?;
    html(&ConsolePage {
        l,
        c,
        notice: notice.map(|(text, _)| text),
        listings,
        orders,
    })
}

#[derive(Debug, Deserialize)]
pub struct ListingForm {
    pub csrf: String,
    pub price_baht: Option<String>,
    pub set: Option<String>,
    pub expected: Option<String>,
}

fn whole_units(field: &str, raw: Option<&str>) -> Result<Option<u32>, PageError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse::<u32>().map(Some).map_err(|_| {
            PageError::App(AppError::invalid(field, "must be a whole number of units"))
        }),
    }
}

/// `POST /vendor/listings/{id}/{verb}`: price, stock, publish, unpublish or archive.
pub async fn change_listing(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((raw_id, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: ListingForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let (actor, _) = require_vendor(&state, &visitor, Intent::Change).await?;
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let change = match verb.as_str() {
        "price" => {
            let raw = form.price_baht.as_deref().unwrap_or("");
            let satang = parse_baht("price_baht", raw)
                .map_err(|message| PageError::App(AppError::invalid("price_baht", message)))?;
            let price = Satang::parse("price_baht", i64::try_from(satang).unwrap_or(i64::MAX))
                .map_err(|error| PageError::App(AppError::Invalid(vec![error])))?;
            ListingChange::Price(price)
        }
        "stock" => {
            let Some(set) = whole_units("set", form.set.as_deref())? else {
                return Err(PageError::App(AppError::invalid("set", "is required")));
            };
            ListingChange::Stock {
                change: StockChange::Set(set),
                expected: whole_units("expected", form.expected.as_deref())?,
            }
        }
        "publish" => ListingChange::Publish,
        "unpublish" => ListingChange::Unpublish,
        "archive" => ListingChange::Archive,
        _ => return Err(PageError::NotFound),
    };
    let metadata = otop_app::metadata::command_metadata(actor.clone(), &request_id(&headers));
    let reply = otop_app::listings::change(&state, &actor, &metadata.to_map(), id, change).await?;
    tracing::info!(listing_id = %id, verb, position = reply.position, "listing changed from the console");
    let c = console_texts(visitor.lang);
    let text = format!(
        "{}: {verb} → {}",
        c.changed,
        listing_status(&reply.status, visitor.lang)
    );
    visitor
        .session
        .insert(NOTICE_KEY, (text, reply.position))
        .await?;
    Ok(Redirect::to("/vendor").into_response())
}

#[derive(Debug, Deserialize)]
pub struct OrderForm {
    pub csrf: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// `POST /vendor/orders/{id}/{verb}`: accept, pack, or ship with carrier and tracking number.
pub async fn fulfil_order(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((raw_id, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: OrderForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let (actor, _) = require_vendor(&state, &visitor, Intent::Fulfil).await?;
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let step = match verb.as_str() {
        "accept" => FulfilmentStep::Accept,
        "pack" => FulfilmentStep::Pack,
        "ship" => FulfilmentStep::Ship {
            carrier: form.carrier.unwrap_or_default(),
            tracking_number: form.tracking_number.unwrap_or_default(),
        },
        _ => return Err(PageError::NotFound),
    };
    let metadata = otop_app::metadata::command_metadata(actor.clone(), &request_id(&headers));
    let reply = otop_app::orders::fulfil(&state, &actor, &metadata.to_map(), id, step).await?;
    tracing::info!(order_id = %id, verb, position = reply.position, "order step from the console");
    let c = console_texts(visitor.lang);
    let text = format!(
        "{}: #{} → {}",
        c.changed,
        &id.simple().to_string()[..8].to_uppercase(),
        order_status(&reply.status, visitor.lang)
    );
    visitor
        .session
        .insert(NOTICE_KEY, (text, reply.position))
        .await?;
    Ok(Redirect::to("/vendor").into_response())
}
