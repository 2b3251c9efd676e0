//! `/admin`: the provincial office's desk. The applications waiting for a decision, each
//! with its own approve and reject forms (`/admin/vendors/{id}/{verb}`, the verbs of
//! `POST /v1/vendors/{id}/{verb}`), every vendor with suspend, reinstate and close, and
//! take-downs of listings. Every action runs `otop_app::vendors::decide` or
//! `otop_app::listings::take_down`, as the JSON API does, and the desk then shows what it
//! changed: the vendor or listing, its status before and after, and the log position.
//! Admins only; anyone else gets the API's 403 as a page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use otop_app::vendors::{VendorDecision, VendorListQuery, VendorView};
use otop_app::{AppError, AppState};
use otop_domain::{Actor, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{html, read_form, request_id};
use crate::error::PageError;
use crate::format::Lang;
use crate::i18n::district_name;
use crate::layout::Layout;
use crate::session::Visitor;

/// Where the session keeps the last action's outcome until the desk has shown it once.
const NOTICE_KEY: &str = "admin_notice";

/// What an action changed, shown once at the top of the desk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    /// `vendor` or `listing`.
    pub kind: String,
    pub id: Uuid,
    pub name: String,
    pub verb: String,
    pub from: String,
    pub to: String,
    pub position: i64,
}

/// The desk's words, Thai first.
pub struct DeskTexts {
    pub title: &'static str,
    pub applications: &'static str,
    pub no_applications: &'static str,
    pub vendors: &'static str,
    pub take_down: &'static str,
    pub listing_id: &'static str,
    pub reason: &'static str,
    pub approve: &'static str,
    pub reject: &'static str,
    pub suspend: &'static str,
    pub reinstate: &'static str,
    pub close: &'static str,
    pub status: &'static str,
    pub changed: &'static str,
    pub position: &'static str,
    pub phone: &'static str,
    pub all_statuses: &'static str,
    pub show: &'static str,
    pub pages: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
}

const DESK_TH: DeskTexts = DeskTexts {
    title: "โต๊ะงานสำนักงานจังหวัด",
    applications: "ใบสมัครที่รอพิจารณา",
    no_applications: "ไม่มีใบสมัครที่รอพิจารณา",
    vendors: "ผู้ขายทั้งหมด",
    take_down: "ถอดสินค้าออกจากร้าน",
    listing_id: "รหัสสินค้า",
    reason: "เหตุผล",
    approve: "อนุมัติ",
    reject: "ไม่อนุมัติ",
    suspend: "ระงับ",
    reinstate: "คืนสถานะ",
    close: "ปิดร้าน",
    status: "สถานะ",
    changed: "เปลี่ยนแล้ว",
    position: "ตำแหน่งในบันทึก",
    phone: "โทร",
    all_statuses: "ทุกสถานะ",
    show: "แสดง",
    pages: "หน้า",
    previous: "ก่อนหน้า",
    next: "ถัดไป",
};

const DESK_EN: DeskTexts = DeskTexts {
    title: "Provincial office desk",
    applications: "Applications waiting for a decision",
    no_applications: "No applications are waiting",
    vendors: "All vendors",
    take_down: "Take a listing down",
    listing_id: "Listing id",
    reason: "Reason",
    approve: "Approve",
    reject: "Reject",
    suspend: "Suspend",
    reinstate: "Reinstate",
    close: "Close",
    status: "Status",
    changed: "Changed",
    position: "log position",
    phone: "Phone",
    all_statuses: "every status",
    show: "Show",
    pages: "Pages",
    previous: "Previous",
    next: "Next",
};

fn desk_texts(lang: Lang) -> &'static DeskTexts {
    match lang {
        Lang::Th => &DESK_TH,
        Lang::En => &DESK_EN,
    }
}

/// A vendor's status in the desk's language.
fn vendor_status(status: &str, lang: Lang) -> &'static str {
    match (status, lang) {
        ("applied", Lang::Th) => "รอพิจารณา",
        ("approved", Lang::Th) => "อนุมัติแล้ว",
        ("rejected", Lang::Th) => "ไม่อนุมัติ",
        ("suspended", Lang::Th) => "ถูกระงับ",
        ("closed", Lang::Th) => "ปิดแล้ว",
        ("applied", Lang::En) => "applied",
        ("approved", Lang::En) => "approved",
        ("rejected", Lang::En) => "rejected",
        ("suspended", Lang::En) => "suspended",
        ("closed", Lang::En) => "closed",
        _ => "",
    }
}

pub struct VendorRow {
    pub id: String,
    pub name: String,
    pub district: String,
    pub phone: String,
    pub status_code: String,
    pub status: &'static str,
    pub reason: Option<String>,
    /// The verbs the vendor's status allows, each a form of its own.
    pub verbs: Vec<(&'static str, &'static str, bool)>,
}

fn vendor_row(vendor: &VendorView, lang: Lang) -> VendorRow {
    let t = desk_texts(lang);
    // (verb, label, needs a reason)
    let verbs = match vendor.status.as_str() {
        "applied" => vec![("approve", t.approve, false), ("reject", t.reject, true)],
        "approved" => vec![("suspend", t.suspend, true), ("close", t.close, false)],
        "suspended" => vec![("reinstate", t.reinstate, false), ("close", t.close, false)],
        _ => Vec::new(),
    };
    VendorRow {
        id: vendor.id.to_string(),
        name: match (lang, &vendor.name_en) {
            (Lang::En, Some(english)) => english.clone(),
            _ => vendor.name_th.clone(),
        },
        district: district_name(&vendor.district_code, lang),
        phone: vendor.phone.clone(),
        status_code: vendor.status.clone(),
        status: vendor_status(&vendor.status, lang),
        reason: vendor.status_reason.clone(),
        verbs,
    }
}

pub struct NoticeView {
    pub kind: String,
    pub id: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub position: i64,
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct DeskPage {
    pub l: Layout,
    pub d: &'static DeskTexts,
    pub notice: Option<NoticeView>,
    pub applications: Vec<VendorRow>,
    pub vendors: Vec<VendorRow>,
    pub total_vendors: i64,
    pub total_applications: i64,
    /// Links to the pages before and after, for the applications and for every vendor.
    pub applications_pager: Pager,
    pub vendors_pager: Pager,
    /// The status the vendor list is filtered by (empty: all), and the choices.
    pub status_filter: String,
    pub status_choices: Vec<(&'static str, &'static str)>,
}

/// Vendors on one page of the desk's lists.
pub const DESK_PAGE_SIZE: i64 = 50;

/// The previous and next page of a list, as links (none at either end).
#[derive(Debug, Default)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    fn new(page: i64, total: i64, href: impl Fn(i64) -> String) -> Pager {
        let pages = ((total + DESK_PAGE_SIZE - 1) / DESK_PAGE_SIZE).max(1);
        Pager {
            page,
            pages,
            previous: (page > 1).then(|| href(page - 1)),
            next: (page < pages).then(|| href(page + 1)),
        }
    }
}

/// The signed-in admin, or the API's 403 (sign-in first when nobody is signed in).
fn require_admin<'a>(visitor: &'a Visitor, back_to: &str) -> Result<&'a Actor, PageError> {
    let actor = visitor.require_actor(back_to)?;
    if actor.role != Role::Admin {
        return Err(PageError::App(AppError::Forbidden(
            "the provincial office's desk is for admins".into(),
        )));
    }
    Ok(actor)
}

async fn vendors_with(
    state: &AppState,
    admin: &Actor,
    status: Option<&str>,
    min_position: Option<i64>,
    page: i64,
) -> Result<otop_app::paging::Page<VendorView>, PageError> {
    let query = VendorListQuery {
        status: status.map(str::to_string),
        min_position,
        page: Some(page),
        per_page: Some(DESK_PAGE_SIZE),
        ..VendorListQuery::default()
    };
    Ok(otop_app::vendors::list_vendors(state, Some(admin), &query).await?)
}

#[derive(Debug, Deserialize)]
pub struct DeskQuery {
    /// Wait until the read model has applied the event at this log position (as the API's
    /// lists do).
    pub min_position: Option<i64>,
    /// The page of every vendor (50 a page).
    pub page: Option<i64>,
    /// Only vendors in this status (applied, approved, rejected, suspended or closed).
    pub status: Option<String>,
    /// The page of the applications waiting.
    pub applications_page: Option<i64>,
}

impl DeskQuery {
    /// The desk's address with these choices and `page` / `applications_page` replaced.
    fn href(&self, page: i64, applications_page: i64) -> String {
        let mut href = format!("/admin?page={page}&applications_page={applications_page}");
        if let Some(status) = self.status.as_deref().filter(|s| !s.is_empty()) {
            href.push_str(&format!("&status={}", super::query_escape(status)));
        }
        href
    }
}

pub async fn desk(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(asked): Query<DeskQuery>,
) -> Result<Response, PageError> {
    let admin = require_admin(&visitor, "/admin")?.clone();
    let lang = visitor.lang;
    let d = desk_texts(lang);
    // Shown once: the session forgets it as it is read.
    let notice: Option<Notice> = visitor.session.remove(NOTICE_KEY).await?;
    // The lists wait until the read model has what the last action wrote.
    let seen = notice.as_ref().map(|n| n.position).max(asked.min_position);
    let page = asked.page.unwrap_or(1);
    let applications_page = asked.applications_page.unwrap_or(1);
    let status_filter = asked.status.clone().filter(|s| !s.is_empty());
    let applications =
        vendors_with(&state, &admin, Some("applied"), seen, applications_page).await?;
    let everyone = vendors_with(&state, &admin, status_filter.as_deref(), seen, page).await?;
    let applications_pager = Pager::new(applications_page, applications.total, |p| {
        format!("{}#applications-h", asked.href(page, p))
    });
    let vendors_pager = Pager::new(page, everyone.total, |p| {
        format!("{}#vendors-h", asked.href(p, applications_page))
    });
    let status_choices = ["applied", "approved", "rejected", "suspended", "closed"]
        .into_iter()
        .map(|code| (code, vendor_status(code, lang)))
        .collect();
    let notice = notice.map(|n| {
        let status = |code: &str| match n.kind.as_str() {
            "vendor" => vendor_status(code, lang).to_string(),
            _ => code.to_string(),
        };
        NoticeView {
            from: status(&n.from),
            to: status(&n.to),
            kind: n.kind.clone(),
            id: n.id.to_string(),
            name: n.name.clone(),
            position: n.position,
        }
    });
    let l = Layout::new(
        &state,
        &visitor,
        "/admin",
        d.title.to_string(),
        d.title.to_string(),
        true,
    )
    .await?;
    html(&DeskPage {
        l,
        d,
        notice,
        applications: applications
            .items
            .iter()
            .map(|v| vendor_row(v, lang))
            .collect(),
        total_vendors: everyone.total,
        total_applications: applications.total,
        vendors: everyone.items.iter().map(|v| vendor_row(v, lang)).collect(),
        applications_pager,
        vendors_pager,
        status_filter: status_filter.unwrap_or_default(),
        status_choices,
    })
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    pub csrf: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /admin/vendors/{id}/{verb}`: one decision on one vendor.
pub async fn decide_vendor(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((raw_id, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: DecisionForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let admin = require_admin(&visitor, "/admin")?.clone();
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let decision = VendorDecision::parse(&verb).ok_or(PageError::NotFound)?;
    let before = state
        .vendors
        .load(&id.to_string())
        .await
        .map_err(AppError::from)?;
    let Some(vendor) = before.aggregate.state() else {
        return Err(PageError::App(AppError::NotFound("no such vendor".into())));
    };
    let (name, from) = (
        vendor.profile.name_th.clone(),
        vendor.status.as_str().to_string(),
    );
    let metadata = otop_app::metadata::command_metadata(admin.clone(), &request_id(&headers));
    let reason = form.reason.as_deref().filter(|r| !r.trim().is_empty());
    let reply =
        otop_app::vendors::decide(&state, &admin, &metadata.to_map(), id, decision, reason).await?;
    tracing::info!(vendor_id = %id, verb = decision.as_str(), position = reply.position, "office decision from the desk");
    let notice = Notice {
        kind: "vendor".into(),
        id,
        name,
        verb: decision.as_str().into(),
        from,
        to: reply.status.clone(),
        position: reply.position,
    };
    visitor.session.insert(NOTICE_KEY, &notice).await?;
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Debug, Deserialize)]
pub struct TakeDownForm {
    pub csrf: String,
    pub listing_id: String,
    pub reason: String,
}

/// `POST /admin/take-down`: a listing taken down with a reason.
pub async fn take_down(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: TakeDownForm = read_form(&body)?;
    visitor.check_csrf(&form.csrf).await?;
    let admin = require_admin(&visitor, "/admin")?.clone();
    let id = Uuid::parse_str(form.listing_id.trim()).map_err(|_| {
        PageError::App(AppError::invalid(
            "listing_id",
            "must be a listing's id (a UUID)",
        ))
    })?;
    let before = state
        .listings
        .load(&id.to_string())
        .await
        .map_err(AppError::from)?;
    let Some(listing) = before.aggregate.state() else {
        return Err(PageError::App(AppError::NotFound("no such listing".into())));
    };
    let (name, from) = (
        listing.details.title_th.clone(),
        listing.status.as_str().to_string(),
    );
    let metadata = otop_app::metadata::command_metadata(admin.clone(), &request_id(&headers));
    let reply =
        otop_app::listings::take_down(&state, &admin, &metadata.to_map(), id, &form.reason).await?;
    tracing::info!(listing_id = %id, position = reply.position, "listing taken down from the desk");
    let notice = Notice {
        kind: "listing".into(),
        id,
        name,
        verb: "take-down".into(),
        from,
        to: reply.status.clone(),
        position: reply.position,
    };
    visitor.session.insert(NOTICE_KEY, &notice).await?;
    Ok(Redirect::to("/admin").into_response())
}
