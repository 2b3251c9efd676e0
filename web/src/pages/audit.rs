//! `/audit` and `/audit/orders/{id}`: the auditor's pages, over `otop_app::audit` (the
//! functions `/v1/audit` runs). The desk finds an order by id, shows the last seal of the
//! log and its key, and checks the whole log against its hash chains and seals on request.
//! An order's page is its timeline read from the log itself: every event with actor and
//! role, Bangkok time, request and correlation ids, payload, hash and previous hash, the
//! stock events it caused on listings, the order as it stood at a chosen instant, and the
//! history as CSV. Auditors and admins only, as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use otop_app::audit::{AsOfQuery, AuditReadQuery, HistoryEvent, OrderAsOf};
use otop_app::{AppError, AppState};
use otop_domain::Actor;
use serde::Deserialize;
use uuid::Uuid;

use super::{csv_download, html};
use crate::error::PageError;
use crate::format::{baht, Lang, BANGKOK};
use crate::layout::Layout;
use crate::session::Visitor;

pub struct AuditTexts {
    pub title: &'static str,
    pub find_order: &'static str,
    pub order_id: &'static str,
    pub open: &'static str,
    pub seal: &'static str,
    pub no_seal: &'static str,
    pub not_sealing: &'static str,
    pub sealed_position: &'static str,
    pub key_id: &'static str,
    pub sealed_at: &'static str,
    pub verify: &'static str,
    pub verify_now: &'static str,
    pub intact: &'static str,
    pub broken: &'static str,
    pub events_checked: &'static str,
    pub seals_checked: &'static str,
    pub timeline: &'static str,
    pub actor: &'static str,
    pub time: &'static str,
    pub request_id: &'static str,
    pub correlation_id: &'static str,
    pub causation_id: &'static str,
    pub payload: &'static str,
    pub hash: &'static str,
    pub prev_hash: &'static str,
    pub stock_event: &'static str,
    pub as_of: &'static str,
    pub as_of_hint: &'static str,
    pub show: &'static str,
    pub status: &'static str,
    pub total: &'static str,
    pub paid: &'static str,
    pub refunded: &'static str,
    pub last_event: &'static str,
    pub download_csv: &'static str,
}

const AUDIT_TH: AuditTexts = AuditTexts {
    title: "การตรวจสอบบันทึก",
    find_order: "ค้นหาคำสั่งซื้อ",
    order_id: "รหัสคำสั่งซื้อ",
    open: "เปิด",
    seal: "ตราประทับล่าสุดของบันทึก",
    no_seal: "ยังไม่มีตราประทับ",
    not_sealing: "เซิร์ฟเวอร์นี้ไม่ได้ประทับตราบันทึก",
    sealed_position: "ครอบคลุมถึงตำแหน่ง",
    key_id: "รหัสกุญแจ",
    sealed_at: "ประทับเมื่อ",
    verify: "ตรวจความถูกต้องของบันทึก",
    verify_now: "ตรวจเดี๋ยวนี้",
    intact: "บันทึกครบถ้วน ไม่ถูกแก้ไข",
    broken: "พบความผิดปกติ",
    events_checked: "เหตุการณ์ที่ตรวจ",
    seals_checked: "ตราประทับที่ตรวจ",
    timeline: "ลำดับเหตุการณ์",
    actor: "ผู้กระทำ",
    time: "เวลา (กรุงเทพฯ)",
    request_id: "รหัสคำขอ",
    correlation_id: "รหัสเชื่อมโยง",
    causation_id: "เกิดจาก",
    payload: "ข้อมูล",
    hash: "แฮช",
    prev_hash: "แฮชก่อนหน้า",
    stock_event: "เหตุการณ์สต็อกของสินค้า",
    as_of: "คำสั่งซื้อ ณ เวลาที่เลือก",
    as_of_hint: "เวลากรุงเทพฯ",
    show: "แสดง",
    status: "สถานะ",
    total: "ยอดรวม",
    paid: "ชำระแล้ว",
    refunded: "คืนเงินแล้ว",
    last_event: "เหตุการณ์ล่าสุดที่นับ",
    download_csv: "ดาวน์โหลดประวัติเป็น CSV",
};

const AUDIT_EN: AuditTexts = AuditTexts {
    title: "Audit",
    find_order: "Find an order",
    order_id: "Order id",
    open: "Open",
    seal: "The log's last seal",
    no_seal: "Not sealed yet",
    not_sealing: "This server does not seal the log",
    sealed_position: "Covers up to position",
    key_id: "Key id",
    sealed_at: "Sealed at",
    verify: "Verify the log",
    verify_now: "Verify now",
    intact: "The log is intact",
    broken: "Problems found",
    events_checked: "Events checked",
    seals_checked: "Seals checked",
    timeline: "Timeline",
    actor: "Actor",
    time: "Time (Bangkok)",
    request_id: "Request id",
    correlation_id: "Correlation id",
    causation_id: "Caused by",
    payload: "Payload",
    hash: "Hash",
    prev_hash: "Previous hash",
    stock_event: "Stock event of a listing",
    as_of: "The order at a chosen instant",
    as_of_hint: "Bangkok time",
    show: "Show",
    status: "Status",
    total: "Total",
    paid: "Paid",
    refunded: "Refunded",
    last_event: "Last event counted",
    download_csv: "Download the history as CSV",
};

fn audit_texts(lang: Lang) -> &'static AuditTexts {
    match lang {
        Lang::Th => &AUDIT_TH,
        Lang::En => &AUDIT_EN,
    }
}

/// Bangkok time to the second (auditors compare instants), `2026-12-01 14:05:09`.
fn bangkok(at: DateTime<Utc>) -> String {
    at.with_timezone(&BANGKOK)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn require_signed_in(visitor: &Visitor, back_to: &str) -> Result<Actor, PageError> {
    Ok(visitor.require_actor(back_to)?.clone())
}

pub struct SealView {
    pub position: i64,
    pub key_id: String,
    pub sealed_at: String,
}

pub struct VerifyView {
    pub intact: bool,
    pub events_checked: u64,
    pub seals_checked: u64,
    pub problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditDesk {
    pub l: Layout,
    pub a: &'static AuditTexts,
    /// `None`: the server does not seal; `Some(None)`: not sealed yet.
    pub seal: Option<Option<SealView>>,
    pub verify: Option<VerifyView>,
}

#[derive(Debug, Deserialize)]
pub struct DeskQuery {
    /// `1`: check the whole log now (it reads every event, so only when asked).
    pub verify: Option<String>,
    /// An order to open.
    pub order_id: Option<String>,
}

pub async fn desk(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<DeskQuery>,
) -> Result<Response, PageError> {
    let actor = require_signed_in(&visitor, "/audit")?;
    if let Some(raw) = query.order_id.as_deref().filter(|r| !r.trim().is_empty()) {
        let id = Uuid::parse_str(raw.trim()).map_err(|_| {
            PageError::App(AppError::invalid(
                "order_id",
                "must be an order's id (a UUID)",
            ))
        })?;
        return Ok(Redirect::to(&format!("/audit/orders/{id}")).into_response());
    }
    let seal = match otop_app::audit::latest_seal(&state, &actor).await {
        Ok(seal) => Some(seal.map(|s| SealView {
            position: s.position,
            key_id: s.key_id,
            sealed_at: s.sealed_at,
        })),
        Err(AppError::NotFound(_)) => None,
        Err(error) => return Err(error.into()),
    };
    let verify = if query.verify.as_deref() == Some("1") {
        let report = otop_app::audit::verify_log(&state, &actor).await?;
        let seal_problems = report.seals.as_ref().map_or(0, |s| s.seal_problems.len());
        let mut problems: Vec<String> = report
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{} {} #{}: {}",
                    p.aggregate_type, p.aggregate_id, p.sequence, p.kind
                )
            })
            .collect();
        if let Some(seals) = &report.seals {
            problems.extend(
                seals
                    .seal_problems
                    .iter()
                    .map(|p| format!("seal {}: {} ({})", p.position, p.kind, p.detail)),
            );
        }
        Some(VerifyView {
            intact: report.problems.is_empty() && seal_problems == 0,
            events_checked: report.events_checked,
            seals_checked: report.seals.as_ref().map_or(0, |s| s.seals_checked),
            problems,
        })
    } else {
        None
    };
    let a = audit_texts(visitor.lang);
    let l = Layout::new(
        &state,
        &visitor,
        "/audit",
        a.title.into(),
        a.title.into(),
        false,
    )
    .await?;
    html(&AuditDesk { l, a, seal, verify })
}

pub struct EventView {
    pub position: i64,
    pub sequence: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    pub is_stock: bool,
    pub recorded_at: String,
    pub recorded_bangkok: String,
    pub actor: String,
    pub request_id: String,
    pub correlation_id: String,
    pub causation_id: String,
    pub payload: String,
    pub hash: String,
    pub prev_hash: String,
}

fn event_view(event: &HistoryEvent) -> EventView {
    let recorded = event
        .recorded_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    EventView {
        position: event.position,
        sequence: event.sequence,
        aggregate_type: event.aggregate_type.clone(),
        aggregate_id: event.aggregate_id.clone(),
        event_type: event.event_type.clone(),
        is_stock: event.aggregate_type != "Order",
        recorded_at: event.recorded_at.clone().unwrap_or_default(),
        recorded_bangkok: recorded.map(bangkok).unwrap_or_default(),
        actor: format!(
            "{} ({})",
            event.actor.id.as_deref().unwrap_or("?"),
            event.actor.role.as_deref().unwrap_or("?")
        ),
        request_id: event.request_id.clone().unwrap_or_default(),
        correlation_id: event.correlation_id.clone().unwrap_or_default(),
        causation_id: event.causation_id.clone().unwrap_or_default(),
        payload: serde_json::to_string_pretty(&event.payload).unwrap_or_default(),
        hash: event.hash.clone(),
        prev_hash: event.prev_hash.clone(),
    }
}

pub struct AsOfView {
    pub at: String,
    pub status: String,
    pub total: String,
    pub paid: String,
    pub refunded: String,
    pub sequence: i64,
    pub position: i64,
}

fn as_of_view(order: &OrderAsOf) -> AsOfView {
    AsOfView {
        at: bangkok(order.at),
        status: order.order.status.clone(),
        total: baht(order.order.total_satang),
        paid: baht(order.order.paid_satang),
        refunded: baht(order.order.refunded_satang),
        sequence: order.as_of_sequence,
        position: order.as_of_position,
    }
}

#[derive(Template)]
#[template(path = "audit_order.html")]
pub struct AuditOrderPage {
    pub l: Layout,
    pub a: &'static AuditTexts,
    pub id: String,
    pub events: Vec<EventView>,
    pub at_input: String,
    pub as_of: Option<AsOfView>,
}

#[derive(Debug, Deserialize)]
pub struct OrderPageQuery {
    /// The instant to show the order at: `YYYY-MM-DDTHH:MM[:SS]` in Bangkok time (what a
    /// `datetime-local` field sends), or an RFC 3339 instant.
    pub at: Option<String>,
}

/// The instant the `at` field means, as the API's RFC 3339 text.
fn instant(raw: &str) -> Result<String, PageError> {
    let raw = raw.trim();
    if DateTime::parse_from_rfc3339(raw).is_ok() {
        return Ok(raw.to_string());
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
        .and_then(|local| local.and_local_timezone(BANGKOK).single())
        .map(|local| local.to_rfc3339())
        .ok_or_else(|| {
            PageError::App(AppError::invalid(
                "at",
                format!("{raw:?} is not a Bangkok date and time like 2026-12-01T14:05"),
            ))
        })
}

pub async fn order_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(raw_id): Path<String>,
    Query(query): Query<OrderPageQuery>,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let path = format!("/audit/orders/{id}");
    let actor = require_signed_in(&visitor, &path)?;
    let history =
        otop_app::audit::order_history(&state, &actor, id, &AuditReadQuery::default()).await?;
    let at = query.at.as_deref().filter(|a| !a.trim().is_empty());
    let as_of = match at {
        Some(raw) => {
            let asked = AsOfQuery {
                at: Some(instant(raw)?),
                min_position: None,
            };
            Some(as_of_view(
                &otop_app::audit::order_as_of(&state, &actor, id, &asked).await?,
            ))
        }
        None => None,
    };
    let a = audit_texts(visitor.lang);
    let l = Layout::new(
        &state,
        &visitor,
        &path,
        format!("{} · {id}", a.title),
        a.title.into(),
        false,
    )
    .await?;
    html(&AuditOrderPage {
        l,
        a,
        id: id.to_string(),
        events: history.events.iter().map(event_view).collect(),
        at_input: at.unwrap_or_default().to_string(),
        as_of,
    })
}

/// `/audit/orders/{id}/history.csv`: the history as `GET /v1/audit/orders/{id}/history`
/// gives it with `Accept: text/csv`.
pub async fn history_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(raw_id): Path<String>,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let actor = require_signed_in(&visitor, &format!("/audit/orders/{id}"))?;
    let history =
        otop_app::audit::order_history(&state, &actor, id, &AuditReadQuery::default()).await?;
    let text = otop_app::audit::history_csv(&history).finish()?;
    Ok(csv_download(text, &format!("order-{id}-history.csv")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bangkok_time_field_is_the_instant_seven_hours_earlier_in_utc() {
        let at = instant("2026-12-01T14:05").expect("a time");
        let parsed = DateTime::parse_from_rfc3339(&at).expect("rfc 3339");
        assert_eq!(
            parsed.with_timezone(&Utc).to_rfc3339(),
            "2026-12-01T07:05:00+00:00"
        );
        assert_eq!(
            instant("2026-12-01T07:05:00Z").expect("as given"),
            "2026-12-01T07:05:00Z"
        );
        assert!(instant("yesterday").is_err());
    }
}
