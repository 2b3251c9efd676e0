//! Vendors: the provincial office's decisions on them (approve, reject, suspend, reinstate,
//! close) and the vendor directory, for the JSON API's `/v1/vendors` and the office's pages.

use std::collections::HashMap;

use otop_domain::values::{parse_optional_text, parse_text, DistrictCode, REASON_MAX_CHARS};
use otop_domain::vendor::VendorState;
use otop_domain::{reference, Actor, Validator, Vendor, VendorCommand, VendorStatus};
use otop_projections::ProjectionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::command::{execute, CommandReply};
use crate::error::AppError;
use crate::paging::{Page, Paging};
use crate::read_your_writes::wait_for;
use crate::state::AppState;
use crate::vendor_standing;

/// A vendor as shoppers, the vendor itself and the provincial office see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorView {
    pub id: Uuid,
    pub status: String,
    pub name_th: String,
    pub name_en: Option<String>,
    pub district_code: String,
    pub district_name_th: String,
    pub district_name_en: String,
    pub producer_type: String,
    pub phone: String,
    pub email: Option<String>,
    /// Shown only to the vendor itself and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_promptpay: Option<String>,
    /// Why it was last rejected, suspended or closed. Shown only to the vendor and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// How many of its listings are published.
    pub published_listings: i64,
}

pub fn vendor_view(
    state: &VendorState,
    viewer: Option<&Actor>,
    published_listings: i64,
) -> VendorView {
    let private = viewer.is_some_and(|a| a.is_admin() || a.speaks_for_vendor(state.id));
    let district = reference::district(state.profile.district_code.as_str());
    VendorView {
        id: state.id,
        status: state.status.as_str().to_string(),
        name_th: state.profile.name_th.clone(),
        name_en: state.profile.name_en.clone(),
        district_code: state.profile.district_code.as_str().to_string(),
        district_name_th: district.map(|d| d.name_th.clone()).unwrap_or_default(),
        district_name_en: district.map(|d| d.name_en.clone()).unwrap_or_default(),
        producer_type: state.profile.producer_type.as_str().to_string(),
        phone: state.profile.phone.as_str().to_string(),
        email: state.profile.email.as_ref().map(|e| e.as_str().to_string()),
        payout_promptpay: private
            .then(|| {
                state
                    .profile
                    .payout_promptpay
                    .as_ref()
                    .map(|p| p.as_str().to_string())
            })
            .flatten(),
        status_reason: private.then(|| state.status_reason.clone()).flatten(),
        published_listings,
    }
}

/// A decision of the provincial office on a vendor (or, for `Close`, of the vendor itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorDecision {
    Approve,
    Reject,
    Suspend,
    Reinstate,
    Close,
}

impl VendorDecision {
    /// The verb as it stands in the paths (`/v1/vendors/{id}/approve`, `/admin/vendors/{id}/approve`).
    pub fn parse(verb: &str) -> Option<VendorDecision> {
        Some(match verb {
            "approve" => VendorDecision::Approve,
            "reject" => VendorDecision::Reject,
            "suspend" => VendorDecision::Suspend,
            "reinstate" => VendorDecision::Reinstate,
            "close" => VendorDecision::Close,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VendorDecision::Approve => "approve",
            VendorDecision::Reject => "reject",
            VendorDecision::Suspend => "suspend",
            VendorDecision::Reinstate => "reinstate",
            VendorDecision::Close => "close",
        }
    }
}

/// Runs `decision` on `vendor_id` as `actor`. Rejecting and suspending need a `reason`;
/// closing takes one optionally, and is a conflict while the vendor has paid orders that
/// are not finished. Who may decide is the Vendor aggregate's rule.
pub async fn decide(
    state: &AppState,
    actor: &Actor,
    metadata: &HashMap<String, String>,
    vendor_id: Uuid,
    decision: VendorDecision,
    reason: Option<&str>,
) -> Result<CommandReply, AppError> {
    let required_reason = || parse_text("reason", reason.unwrap_or(""), REASON_MAX_CHARS);
    let actor = actor.clone();
    let command = match decision {
        VendorDecision::Approve => VendorCommand::Approve { actor },
        VendorDecision::Reinstate => VendorCommand::Reinstate { actor },
        VendorDecision::Reject => VendorCommand::Reject {
            actor,
            reason: required_reason()?,
        },
        VendorDecision::Suspend => VendorCommand::Suspend {
            actor,
            reason: required_reason()?,
        },
        VendorDecision::Close => {
            let reason = parse_optional_text("reason", reason, REASON_MAX_CHARS)?;
            let unfinished = unfinished_paid_orders(state, vendor_id).await?;
            if unfinished > 0 {
                return Err(AppError::Conflict(format!(
                    "vendor {vendor_id} has {unfinished} paid order(s) not yet delivered, \
                     cancelled or refunded: finish them before closing"
                )));
            }
            VendorCommand::Close { actor, reason }
        }
    };
    run(state, vendor_id, command, metadata).await
}

/// Runs any command on a vendor; whatever it did to the vendor's status, this process's
/// requests see it at once.
pub async fn run(
    state: &AppState,
    vendor_id: Uuid,
    command: VendorCommand,
    metadata: &HashMap<String, String>,
) -> Result<CommandReply, AppError> {
    let reply = execute(&state.vendors, vendor_id, command, metadata).await;
    vendor_standing::forget(vendor_id).await;
    reply
}

/// How many of `vendor_id`'s orders are paid and not yet delivered, cancelled or refunded,
/// after the orders read model has caught up with everything written so far.
async fn unfinished_paid_orders(state: &AppState, vendor_id: Uuid) -> Result<i64, AppError> {
    let head = otop_projections::log::head_position(&state.pool).await?;
    wait_for(state, ProjectionKind::Orders, Some(head)).await?;
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM order_summaries
          WHERE vendor_id = $1 AND status IN ('paid', 'accepted', 'packed', 'shipped')",
    )
    .bind(vendor_id)
    .fetch_one(&state.pool)
    .await?;
    Ok(unfinished)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct VendorListQuery {
    /// District codes, comma-separated (e.g. `3201,3216`).
    pub district: Option<String>,
    /// applied, approved, rejected, suspended or closed (admins only; others see approved).
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    pub min_position: Option<i64>,
    /// Page by key past any depth: the `next_after` of the page before (with no `page`).
    pub after: Option<Uuid>,
}

/// A row of the vendor directory's page: the vendor, its published listings, and how many
/// vendors the whole filter holds.
#[derive(sqlx::FromRow)]
struct DirectoryRow {
    state: sqlx::types::Json<Vendor>,
    published_listings: i32,
    total: i64,
    vendor_id: Uuid,
}

/// The vendor directory: approved vendors for everyone; admins filter by any status.
/// Ordered by Thai name.
pub async fn list_vendors(
    state: &AppState,
    viewer: Option<&Actor>,
    query: &VendorListQuery,
) -> Result<Page<VendorView>, AppError> {
    let paging = Paging::parse(query.page, query.per_page)?;
    if query.after.is_some() && query.page.is_some() {
        return Err(AppError::invalid(
            "page",
            "give either page or after, not both",
        ));
    }
    let mut v = Validator::new();
    let districts: Option<Vec<String>> = query.district.as_deref().map(|text| {
        text.split(',')
            .filter(|code| !code.trim().is_empty())
            .filter_map(|code| v.check(DistrictCode::parse("district", code)))
            .map(|code| code.as_str().to_string())
            .collect()
    });
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => match VendorStatus::parse(text) {
            Some(status) => Some(status),
            None => {
                v.push(otop_domain::FieldError::new(
                    "status",
                    "must be one of applied, approved, rejected, suspended, closed",
                ));
                None
            }
        },
    };
    v.finish()?;
    let is_admin = viewer.is_some_and(Actor::is_admin);
    let statuses: Vec<&str> = match (status, is_admin) {
        (Some(status), true) => vec![status.as_str()],
        (None, true) => vec!["applied", "approved", "rejected", "suspended", "closed"],
        (None | Some(VendorStatus::Approved), false) => vec!["approved"],
        (Some(_), false) => {
            return Err(AppError::Forbidden(
                "only admins can list vendors that are not approved".into(),
            ))
        }
    };
    wait_for(state, ProjectionKind::Catalog, query.min_position).await?;
    let filter = "FROM vendor_directory
          WHERE status = ANY($1) AND ($2::text[] IS NULL OR district_code = ANY($2))";
    // Ordered by name: the keyset cursor is the last vendor of the page before (vendors are
    // never deleted), and the window counts the whole filter before it applies.
    let rows: Vec<DirectoryRow> = sqlx::query_as(&format!(
        "SELECT state, published_listings, total, vendor_id FROM (
             SELECT state, published_listings, name_th, vendor_id, count(*) OVER () AS total
             {filter}
         ) counted
          WHERE ($5::uuid IS NULL OR (name_th, vendor_id) >
                 (SELECT d.name_th, d.vendor_id FROM vendor_directory d WHERE d.vendor_id = $5))
          ORDER BY name_th, vendor_id
          LIMIT $3 OFFSET $4"
    ))
    .bind(&statuses)
    .bind(&districts)
    .bind(paging.per_page + 1)
    .bind(if query.after.is_some() {
        0
    } else {
        paging.offset()
    })
    .bind(query.after)
    .fetch_all(&state.pool)
    .await?;
    let mut rows = rows;
    let more = rows.len() as i64 > paging.per_page;
    rows.truncate(paging.per_page as usize);
    let next_after = if more {
        rows.last().map(|row| row.vendor_id.to_string())
    } else {
        None
    };
    let total = match rows.first() {
        Some(row) => row.total,
        // A page past the last one has no row to carry the count.
        None if paging.page > 1 || query.after.is_some() => {
            sqlx::query_scalar(&format!("SELECT count(*) {filter}"))
                .bind(&statuses)
                .bind(&districts)
                .fetch_one(&state.pool)
                .await?
        }
        None => 0,
    };
    let items = rows
        .iter()
        .filter_map(|row| {
            row.state
                .0
                .state()
                .map(|vendor| vendor_view(vendor, viewer, i64::from(row.published_listings)))
        })
        .collect();
    let mut page = Page::new(items, paging, total);
    page.next_after = next_after;
    Ok(page)
}
