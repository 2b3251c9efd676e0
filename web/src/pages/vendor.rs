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
use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use otop_app::ledger::{BalanceQuery, VendorBalance};
use otop_app::listings::{
    CatalogListingView, CreateListingRequest, ListingChange, ListingListQuery,
};
use otop_app::orders::{FulfilmentStep, OrderListQuery, OrderView};
use otop_app::photos::{thumbnail_url, MAX_PHOTO_BYTES};
use otop_app::vendor_standing::{self, Intent};
use otop_app::{AppError, AppState};
use otop_domain::listing::StockChange;
use otop_domain::values::Satang;
use otop_domain::{Actor, FieldError, Role};
use serde::Deserialize;
use uuid::Uuid;

use super::{csv_download, html, read_form, request_id};
use crate::error::PageError;
use crate::format::{baht, baht_input, date_time, parse_baht, Lang};
use crate::i18n::{category_name, order_status, subtype_name};
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
    pub balance: &'static str,
    pub balance_owed: &'static str,
    pub credits: &'static str,
    pub debits: &'static str,
    pub no_ledger_lines: &'static str,
    pub ledger_when: &'static str,
    pub ledger_order: &'static str,
    pub ledger_kind: &'static str,
    pub gross: &'static str,
    pub commission: &'static str,
    pub amount: &'static str,
    pub credit: &'static str,
    pub debit: &'static str,
    pub older_lines: &'static str,
    pub download_csv: &'static str,
    pub new_listing: &'static str,
    pub title_th: &'static str,
    pub title_en: &'static str,
    pub description_th: &'static str,
    pub description_en: &'static str,
    pub subtype: &'static str,
    pub choose: &'static str,
    pub weight_grams: &'static str,
    pub otop_stars: &'static str,
    pub no_stars: &'static str,
    pub tags: &'static str,
    pub tags_hint: &'static str,
    pub photos: &'static str,
    pub photos_hint: &'static str,
    pub optional: &'static str,
    pub create: &'static str,
    pub created: &'static str,
    pub fix_fields: &'static str,
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
    balance: "ยอดเงินของกลุ่ม",
    balance_owed: "ยอดที่จะได้รับ",
    credits: "รับเข้า",
    debits: "คืนเงิน",
    no_ledger_lines: "ยังไม่มีรายการเงิน",
    ledger_when: "วันที่",
    ledger_order: "คำสั่งซื้อ",
    ledger_kind: "รายการ",
    gross: "ยอดขาย",
    commission: "ค่าธรรมเนียม",
    amount: "สุทธิ",
    credit: "รับเงิน",
    debit: "คืนเงิน",
    older_lines: "รายการก่อนหน้า",
    download_csv: "ดาวน์โหลด CSV",
    new_listing: "ลงสินค้าใหม่",
    title_th: "ชื่อสินค้า (ภาษาไทย)",
    title_en: "ชื่อสินค้า (ภาษาอังกฤษ)",
    description_th: "รายละเอียด (ภาษาไทย)",
    description_en: "รายละเอียด (ภาษาอังกฤษ)",
    subtype: "ประเภทสินค้า",
    choose: "เลือก…",
    weight_grams: "น้ำหนัก (กรัม)",
    otop_stars: "ดาว OTOP",
    no_stars: "ไม่มี",
    tags: "คำค้น",
    tags_hint: "คั่นด้วยจุลภาค เช่น ผ้าไหม, ของฝาก",
    photos: "รูปสินค้า",
    photos_hint: "JPEG, PNG หรือ WebP ไม่เกิน 12 MB ต่อรูป สูงสุด 4 รูป",
    optional: "ไม่บังคับ",
    create: "บันทึกเป็นฉบับร่าง",
    created: "ลงสินค้าแล้ว (ฉบับร่าง)",
    fix_fields: "โปรดแก้ไขช่องต่อไปนี้",
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
    balance: "Our balance",
    balance_owed: "Owed to the group",
    credits: "Credits",
    debits: "Refunds",
    no_ledger_lines: "No payments yet",
    ledger_when: "Date",
    ledger_order: "Order",
    ledger_kind: "Line",
    gross: "Gross",
    commission: "Commission",
    amount: "Net",
    credit: "payment",
    debit: "refund",
    older_lines: "Older lines",
    download_csv: "Download CSV",
    new_listing: "New listing",
    title_th: "Title (Thai)",
    title_en: "Title (English)",
    description_th: "Description (Thai)",
    description_en: "Description (English)",
    subtype: "Product type",
    choose: "Choose…",
    weight_grams: "Weight (grams)",
    otop_stars: "OTOP stars",
    no_stars: "none",
    tags: "Search words",
    tags_hint: "separated by commas, e.g. silk, gift",
    photos: "Photos",
    photos_hint: "JPEG, PNG or WebP, up to 12 MB each, at most 4",
    optional: "optional",
    create: "Save as a draft",
    created: "Listing created (draft)",
    fix_fields: "Please correct these fields",
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
    /// The first photo's thumbnail, when the listing has one of ours.
    pub thumbnail: Option<String>,
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

/// The group's balance as the console shows it: the sums and one page of lines.
pub struct BalanceBox {
    pub owed: String,
    pub credits: String,
    pub debits: String,
    pub lines_total: i64,
    pub lines: Vec<LedgerRow>,
    /// The link to the page of older lines, when there is one.
    pub older: Option<String>,
}

pub struct LedgerRow {
    pub when: String,
    pub order_id: String,
    pub short_id: String,
    pub kind_code: String,
    pub kind: &'static str,
    pub gross: String,
    pub commission: String,
    pub amount: String,
}

/// The create-listing form as the vendor filled it: empty at first, and drawn again with
/// what was typed and why it was refused when it does not go through.
#[derive(Debug, Clone, Default)]
pub struct ListingDraft {
    /// The new listing's id, drawn with the form: sending the form twice (a double tap, a
    /// reload) creates one listing, not two.
    pub id: String,
    pub title_th: String,
    pub title_en: String,
    pub description_th: String,
    pub description_en: String,
    pub subtype_code: String,
    pub price_baht: String,
    pub stock: String,
    pub weight_grams: String,
    pub otop_stars: String,
    pub tags: String,
    pub errors: Vec<(String, String)>,
}

impl ListingDraft {
    fn fresh() -> ListingDraft {
        ListingDraft {
            id: Uuid::now_v7().to_string(),
            ..ListingDraft::default()
        }
    }

    /// What is wrong with `field`, for the message beside it.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(name, _)| name == field || name.starts_with(&format!("{field}[")))
            .map(|(_, message)| message.as_str())
    }
}

/// The sub-types of one category, as an `<optgroup>`.
pub struct SubtypeGroup {
    pub label: String,
    pub options: Vec<(String, String)>,
}

fn subtype_groups(lang: Lang) -> Vec<SubtypeGroup> {
    otop_domain::reference::categories()
        .map(|category| SubtypeGroup {
            label: category_name(&category.code, lang),
            options: otop_domain::reference::subtypes()
                .filter(|subtype| subtype.category_code == category.code)
                .map(|subtype| (subtype.code.clone(), subtype_name(&subtype.code, lang)))
                .collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "vendor.html")]
pub struct ConsolePage {
    pub l: Layout,
    pub c: &'static ConsoleTexts,
    pub notice: Option<String>,
    pub listings: Vec<ListingRow>,
    pub orders: Vec<OrderRow>,
    pub balance: BalanceBox,
    pub draft: ListingDraft,
    pub subtype_groups: Vec<SubtypeGroup>,
    pub star_levels: [u8; 5],
    pub max_photos: usize,
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
    /// The page of ledger lines older than this log position.
    pub ledger_after: Option<i64>,
}

pub async fn console(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(asked): Query<ConsoleQuery>,
) -> Result<Response, PageError> {
    let (actor, vendor_id) = require_vendor(&state, &visitor, Intent::Read).await?;
    let notice: Option<(String, i64)> = visitor.session.remove(NOTICE_KEY).await?;
    let seen = notice.as_ref().map(|(_, p)| *p).max(asked.min_position);
    let page = Console {
        state: &state,
        visitor: &visitor,
        actor: &actor,
        vendor_id,
        seen,
        ledger_after: asked.ledger_after,
    };
    page.render(notice.map(|(text, _)| text), ListingDraft::fresh())
        .await
}

/// What one drawing of the console needs.
struct Console<'a> {
    state: &'a AppState,
    visitor: &'a Visitor,
    actor: &'a Actor,
    vendor_id: Uuid,
    /// The log position the read models must have reached (the vendor's last change).
    seen: Option<i64>,
    ledger_after: Option<i64>,
}

impl Console<'_> {
    async fn render(
        &self,
        notice: Option<String>,
        draft: ListingDraft,
    ) -> Result<Response, PageError> {
        let lang = self.visitor.lang;
        let c = console_texts(lang);
        let listings = otop_app::listings::list_listings(
            self.state,
            Some(self.actor),
            &ListingListQuery {
                vendor: Some(self.vendor_id),
                per_page: Some(100),
                min_position: self.seen,
                ..ListingListQuery::default()
            },
        )
        .await?;
        let orders = otop_app::orders::list_orders(
            self.state,
            self.actor,
            &OrderListQuery {
                per_page: Some(50),
                min_position: self.seen,
                ..OrderListQuery::default()
            },
        )
        .await?;
        let balance = otop_app::ledger::balance(
            self.state,
            self.actor,
            self.vendor_id,
            &BalanceQuery {
                min_position: self.seen,
                per_page: Some(LEDGER_LINES_SHOWN),
                after: self.ledger_after,
            },
        )
        .await?;
        let l = Layout::new(
            self.state,
            self.visitor,
            "/vendor",
            c.title.into(),
            c.title.into(),
            true,
        )
        .await?;
        let status = if draft.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let page = html(&ConsolePage {
            l,
            c,
            notice,
            listings: listings
                .items
                .iter()
                .map(|item| listing_row(item, lang))
                .collect(),
            orders: orders.items.iter().map(|o| order_row(o, lang)).collect(),
            balance: balance_box(&balance, lang),
            draft,
            subtype_groups: subtype_groups(lang),
            star_levels: [1, 2, 3, 4, 5],
            max_photos: MAX_PHOTOS_PER_FORM,
        })?;
        Ok((status, page).into_response())
    }
}

/// Ledger lines on one page of the console (the CSV has them all).
const LEDGER_LINES_SHOWN: i64 = 20;

fn listing_row(item: &CatalogListingView, lang: Lang) -> ListingRow {
    let c = console_texts(lang);
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
        thumbnail: l.image_urls.first().and_then(|url| thumbnail_url(url)),
        status_code: l.status.clone(),
        status: listing_status(&l.status, lang),
        price: baht(l.price_satang),
        price_input: baht_input(l.price_satang),
        available: l.available_stock,
        sold: l.units_sold,
        editable: !matches!(l.status.as_str(), "archived" | "taken_down"),
        verbs,
    }
}

fn order_row(o: &OrderView, lang: Lang) -> OrderRow {
    let c = console_texts(lang);
    OrderRow {
        id: o.id.to_string(),
        short_id: short_id(o.id),
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
    }
}

fn short_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_uppercase()
}

/// Signed baht: a refund shows as `−฿1,250.00`.
fn signed_baht(satang: i64) -> String {
    let magnitude = baht(satang.unsigned_abs());
    if satang < 0 {
        format!("−{magnitude}")
    } else {
        magnitude
    }
}

fn balance_box(balance: &VendorBalance, lang: Lang) -> BalanceBox {
    let c = console_texts(lang);
    BalanceBox {
        owed: signed_baht(balance.balance_satang),
        credits: signed_baht(balance.credits_satang),
        debits: signed_baht(balance.debits_satang),
        lines_total: balance.lines_total,
        lines: balance
            .lines
            .iter()
            .map(|line| LedgerRow {
                when: date_time(line.recorded_at, lang),
                order_id: line.order_id.to_string(),
                short_id: short_id(line.order_id),
                kind_code: line.kind.clone(),
                kind: if line.kind == "credit" {
                    c.credit
                } else {
                    c.debit
                },
                gross: signed_baht(line.gross_satang),
                commission: signed_baht(line.commission_satang),
                amount: signed_baht(line.amount_satang),
            })
            .collect(),
        older: balance
            .next_after
            .map(|after| format!("/vendor?ledger_after={after}#balance-h")),
    }
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

/// Photos one create-listing form may carry.
pub const MAX_PHOTOS_PER_FORM: usize = 4;

/// The create-listing form's body limit: its photos plus the text fields.
pub fn create_body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_PHOTOS_PER_FORM * MAX_PHOTO_BYTES + 256 * 1024)
}

/// What the multipart form held: its text fields, and the photos chosen (a file input with
/// nothing chosen sends an empty part, which is not a photo).
struct CreateForm {
    csrf: String,
    draft: ListingDraft,
    category_code: Option<String>,
    photos: Vec<Bytes>,
}

async fn read_create_form(mut form: Multipart) -> Result<CreateForm, PageError> {
    let unreadable = |error: MultipartError| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PageError::App(AppError::invalid(
                "photos",
                format!(
                    "at most {MAX_PHOTOS_PER_FORM} photos of {} MB each",
                    MAX_PHOTO_BYTES / (1024 * 1024)
                ),
            ))
        } else {
            PageError::BadForm(format!("the form is not readable: {error}"))
        }
    };
    let mut read = CreateForm {
        csrf: String::new(),
        draft: ListingDraft::default(),
        category_code: None,
        photos: Vec::new(),
    };
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "photos" {
            let bytes = field.bytes().await.map_err(unreadable)?;
            if !bytes.is_empty() {
                read.photos.push(bytes);
            }
            continue;
        }
        let text = field.text().await.map_err(unreadable)?;
        let d = &mut read.draft;
        let slot = match name.as_str() {
            "csrf" => &mut read.csrf,
            "id" => &mut d.id,
            "title_th" => &mut d.title_th,
            "title_en" => &mut d.title_en,
            "description_th" => &mut d.description_th,
            "description_en" => &mut d.description_en,
            "subtype_code" => &mut d.subtype_code,
            "price_baht" => &mut d.price_baht,
            "stock" => &mut d.stock,
            "weight_grams" => &mut d.weight_grams,
            "otop_stars" => &mut d.otop_stars,
            "tags" => &mut d.tags,
            "category_code" => {
                read.category_code = Some(text);
                continue;
            }
            // Other fields are not ours to read (and cannot change anything).
            _ => continue,
        };
        *slot = text;
    }
    Ok(read)
}

/// The form's fields as `POST /v1/listings` takes them; what does not parse is named in
/// `errors` (the API's own checks run after, in `otop_app::listings::create`).
fn listing_request(
    form: &CreateForm,
    errors: &mut Vec<FieldError>,
) -> Option<CreateListingRequest> {
    let d = &form.draft;
    let optional = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
    let mut whole = |field: &str, text: &str| -> Option<i64> {
        let text = text.trim().replace(',', "");
        if text.is_empty() {
            return None;
        }
        match text.parse::<i64>() {
            Ok(number) => Some(number),
            Err(_) => {
                errors.push(FieldError::new(field, "must be a whole number"));
                None
            }
        }
    };
    let stock = whole("stock", &d.stock);
    let weight_grams = whole("weight_grams", &d.weight_grams);
    let otop_stars = whole("otop_stars", &d.otop_stars);
    let price_satang = match parse_baht("price_baht", d.price_baht.trim()) {
        Ok(satang) => Some(i64::try_from(satang).unwrap_or(i64::MAX)),
        Err(message) => {
            errors.push(FieldError::new("price_baht", message));
            None
        }
    };
    if d.stock.trim().is_empty() {
        errors.push(FieldError::new("stock", "is required"));
    }
    // The sub-type names its category; a form may still send the category itself.
    let category_code = form
        .category_code
        .as_deref()
        .and_then(optional)
        .or_else(|| {
            otop_domain::reference::subtype(d.subtype_code.trim()).map(|s| s.category_code.clone())
        });
    let Some(category_code) = category_code else {
        errors.push(FieldError::new("subtype_code", "choose a product type"));
        return None;
    };
    let tags: Vec<String> = d
        .tags
        .split([',', '\n'])
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_string)
        .collect();
    Some(CreateListingRequest {
        id: None,
        title_th: d.title_th.clone(),
        title_en: optional(&d.title_en),
        description_th: optional(&d.description_th),
        description_en: optional(&d.description_en),
        category_code,
        subtype_code: d.subtype_code.trim().to_string(),
        price_satang: price_satang?,
        stock: stock?,
        weight_grams,
        otop_stars,
        tags: Some(tags),
        image_urls: None,
    })
}

/// `POST /vendor/listings` (multipart): a new listing, as a draft, with its photos. Each photo
/// goes through `otop_app::photos::upload` (as `POST /v1/photos`) and the listing through
/// `otop_app::listings::create` (as `POST /v1/listings`). A form that does not go through is
/// drawn again with what was typed and what to correct (photos must be chosen again: a
/// browser never refills a file field).
pub async fn create_listing(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, PageError> {
    let form = read_create_form(form).await?;
    visitor.check_csrf(&form.csrf).await?;
    let (actor, vendor_id) = require_vendor(&state, &visitor, Intent::Change).await?;
    let listing_id = Uuid::parse_str(form.draft.id.trim()).unwrap_or_else(|_| Uuid::now_v7());
    let console = Console {
        state: &state,
        visitor: &visitor,
        actor: &actor,
        vendor_id,
        seen: None,
        ledger_after: None,
    };
    let refused = |errors: Vec<FieldError>| {
        let mut draft = form.draft.clone();
        draft.id = listing_id.to_string();
        draft.errors = errors
            .into_iter()
            .map(|error| (error.field, error.message))
            .collect();
        draft
    };
    let mut errors = Vec::new();
    if form.photos.len() > MAX_PHOTOS_PER_FORM {
        errors.push(FieldError::new(
            "photos",
            format!("at most {MAX_PHOTOS_PER_FORM} photos"),
        ));
    }
    let request = listing_request(&form, &mut errors);
    // Every field is checked before any photo is stored, so a refused form leaves nothing.
    let request = match (request, errors.is_empty()) {
        (Some(request), true) => match request.clone().parse() {
            Ok(_) => request,
            Err(AppError::Invalid(invalid)) => {
                return console.render(None, refused(invalid)).await;
            }
            Err(other) => return Err(other.into()),
        },
        _ => return console.render(None, refused(errors)).await,
    };
    // Every photo is checked before any is kept: a form refused for its third photo leaves
    // nothing behind.
    otop_app::photos::may_upload(&state, &actor).await?;
    let mut checked = Vec::with_capacity(form.photos.len());
    for (index, photo) in form.photos.iter().enumerate() {
        let field = format!("photos[{index}]");
        match otop_app::photos::check(&field, photo.clone()).await {
            Ok(photo) => checked.push(photo),
            Err(AppError::Invalid(invalid)) => {
                return console.render(None, refused(invalid)).await;
            }
            Err(other) => return Err(other.into()),
        }
    }
    let mut image_urls = Vec::with_capacity(checked.len());
    for photo in checked {
        image_urls.push(state.photos.keep(photo).await?.url);
    }
    let request = CreateListingRequest {
        image_urls: Some(image_urls),
        ..request
    };
    let title = request.title_th.clone();
    let metadata = otop_app::metadata::command_metadata(actor.clone(), &request_id(&headers));
    let reply =
        match otop_app::listings::create(&state, &actor, &metadata.to_map(), listing_id, request)
            .await
        {
            Ok(reply) => reply,
            Err(AppError::Invalid(invalid)) => return console.render(None, refused(invalid)).await,
            Err(other) => return Err(other.into()),
        };
    tracing::info!(%listing_id, position = reply.position, "listing created from the console");
    let c = console_texts(visitor.lang);
    visitor
        .session
        .insert(
            NOTICE_KEY,
            (format!("{}: {title}", c.created), reply.position),
        )
        .await?;
    Ok(Redirect::to("/vendor").into_response())
}

#[derive(Debug, Deserialize)]
pub struct BalanceCsvQuery {
    pub min_position: Option<i64>,
}

/// `GET /vendor/balance.csv`: every ledger line of the group, as the API's
/// `GET /v1/vendors/{id}/balance` with `Accept: text/csv` gives them.
pub async fn balance_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(asked): Query<BalanceCsvQuery>,
) -> Result<Response, PageError> {
    let (actor, vendor_id) = require_vendor(&state, &visitor, Intent::Read).await?;
    let whole =
        otop_app::ledger::whole_balance(&state, &actor, vendor_id, asked.min_position).await?;
    let text = otop_app::ledger::balance_csv(&whole).finish()?;
    Ok(csv_download(text, "balance.csv"))
}
