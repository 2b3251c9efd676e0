//! `/v1/vendors`: applying, the provincial office's decisions, profile changes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use otop_domain::values::{
    parse_optional_text, parse_text, DistrictCode, Email, Phone, ProducerType, PromptPayId,
    NAME_MAX_CHARS, REASON_MAX_CHARS,
};
use otop_domain::vendor::{VendorProfile, VendorProfilePatch, VendorState};
use otop_domain::{reference, Actor, Validator, Vendor, VendorCommand, VendorStatus};
use otop_projections::ProjectionKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{optional_json, CommandReply, OptionalReasonRequest, ReasonRequest};
use crate::auth::MaybeSignedIn;
use crate::extract::{ApiJson, ApiQuery, CommandContext, IdPath};
use crate::problem::{ApiError, Problem};
use otop_app::paging::{Page, Paging};
use otop_app::read_your_writes::wait_for;
use otop_app::state::AppState;

/// Namespace of vendor ids derived from an `Idempotency-Key`.
const VENDOR_NAMESPACE: Uuid = Uuid::from_u128(0x6f74_6f70_2d76_656e_646f_722d_6964_0001);

pub const TAG: &str = "vendors";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyVendorRequest {
    /// Optional: keep an id from another system (seeding does). A UUID v7 is made otherwise.
    pub id: Option<Uuid>,
    pub name_th: String,
    pub name_en: Option<String>,
    /// One of the 17 district codes of Surin, 3201 to 3217.
    pub district_code: String,
    /// community_group, sole_owner or sme.
    pub producer_type: String,
    pub phone: String,
    pub email: Option<String>,
    pub payout_promptpay: Option<String>,
}

impl ApplyVendorRequest {
    fn parse(self) -> Result<VendorProfile, ApiError> {
        let mut v = Validator::new();
        let name_th = v.check(parse_text("name_th", &self.name_th, NAME_MAX_CHARS));
        let name_en = v.check(parse_optional_text(
            "name_en",
            self.name_en.as_deref(),
            NAME_MAX_CHARS,
        ));
        let district_code = v.check(DistrictCode::parse("district_code", &self.district_code));
        let producer_type = v.check(ProducerType::parse("producer_type", &self.producer_type));
        let phone = v.check(Phone::parse("phone", &self.phone));
        let email = v.check(
            self.email
                .as_deref()
                .map(|e| Email::parse("email", e))
                .transpose(),
        );
        let payout = v.check(
            self.payout_promptpay
                .as_deref()
                .map(|p| PromptPayId::parse("payout_promptpay", p))
                .transpose(),
        );
        v.finish()?;
        match (
            name_th,
            name_en,
            district_code,
            producer_type,
            phone,
            email,
            payout,
        ) {
            (
                Some(name_th),
                Some(name_en),
                Some(district_code),
                Some(producer_type),
                Some(phone),
                Some(email),
                Some(payout_promptpay),
            ) => Ok(VendorProfile {
                name_th,
                name_en,
                district_code,
                producer_type,
                phone,
                email,
                payout_promptpay,
            }),
            _ => Err(ApiError::Internal(
                "validator passed with a missing field".into(),
            )),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVendorRequest {
    pub name_th: Option<String>,
    pub name_en: Option<String>,
    pub district_code: Option<String>,
    pub producer_type: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub payout_promptpay: Option<String>,
}

impl UpdateVendorRequest {
    fn parse(self) -> Result<VendorProfilePatch, ApiError> {
        let mut v = Validator::new();
        let patch = VendorProfilePatch {
            name_th: self
                .name_th
                .and_then(|t| v.check(parse_text("name_th", &t, NAME_MAX_CHARS))),
            name_en: self
                .name_en
                .and_then(|t| v.check(parse_text("name_en", &t, NAME_MAX_CHARS))),
            district_code: self
                .district_code
                .and_then(|t| v.check(DistrictCode::parse("district_code", &t))),
            producer_type: self
                .producer_type
                .and_then(|t| v.check(ProducerType::parse("producer_type", &t))),
            phone: self.phone.and_then(|t| v.check(Phone::parse("phone", &t))),
            email: self.email.and_then(|t| v.check(Email::parse("email", &t))),
            payout_promptpay: self
                .payout_promptpay
                .and_then(|t| v.check(PromptPayId::parse("payout_promptpay", &t))),
        };
        v.finish()?;
        Ok(patch)
    }
}

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

fn vendor_view(state: &VendorState, viewer: Option<&Actor>, published_listings: i64) -> VendorView {
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

fn reason(field: &str, raw: &str) -> Result<String, ApiError> {
    parse_text(field, raw, REASON_MAX_CHARS).map_err(|e| ApiError::Invalid(vec![e]))
}

async fn run(
    state: &AppState,
    vendor_id: Uuid,
    command: VendorCommand,
    ctx: &CommandContext,
) -> Result<CommandReply, ApiError> {
    let reply = super::execute(&state.vendors, vendor_id, command, &ctx.metadata_map()).await;
    // Whatever the command did to the vendor's status, this process's requests see it now.
    crate::vendor_standing::forget(vendor_id).await;
    reply.map_err(ApiError::from)
}

/// How many of `vendor_id`'s orders are paid and not yet delivered, cancelled or refunded,
/// after the orders read model has caught up with everything written so far.
async fn unfinished_paid_orders(state: &AppState, vendor_id: Uuid) -> Result<i64, ApiError> {
    let head = otop_projections::log::head_position(&state.pool).await?;
    otop_app::read_your_writes::wait_for(state, ProjectionKind::Orders, Some(head)).await?;
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM order_summaries
          WHERE vendor_id = $1 AND status IN ('paid', 'accepted', 'packed', 'shipped')",
    )
    .bind(vendor_id)
    .fetch_one(&state.pool)
    .await?;
    Ok(unfinished)
}

/// Apply to sell on the marketplace.
#[utoipa::path(post, path = "/v1/vendors", tag = TAG, request_body = ApplyVendorRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "replay-safe retries")),
    responses((status = 201, body = CommandReply), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn apply_vendor(
    State(state): State<AppState>,
    ctx: CommandContext,
    ApiJson(body): ApiJson<ApplyVendorRequest>,
) -> Result<(StatusCode, Json<CommandReply>), ApiError> {
    let vendor_id = ctx.new_id(body.id, &VENDOR_NAMESPACE);
    let profile = body.parse()?;
    let command = VendorCommand::Apply {
        vendor_id,
        profile,
        actor: ctx.actor.clone(),
    };
    let reply = run(&state, vendor_id, command, &ctx).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Approve an applicant (admin).
#[utoipa::path(post, path = "/v1/vendors/{id}/approve", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn approve_vendor(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    let command = VendorCommand::Approve {
        actor: ctx.actor.clone(),
    };
    run(&state, id, command, &ctx).await.map(Json)
}

/// Reject an applicant (admin).
#[utoipa::path(post, path = "/v1/vendors/{id}/reject", tag = TAG, params(("id" = Uuid, Path)), request_body = ReasonRequest,
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn reject_vendor(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let command = VendorCommand::Reject {
        actor: ctx.actor.clone(),
        reason: reason("reason", &body.reason)?,
    };
    run(&state, id, command, &ctx).await.map(Json)
}

/// Suspend an approved vendor (admin): its listings cannot be published or sold.
#[utoipa::path(post, path = "/v1/vendors/{id}/suspend", tag = TAG, params(("id" = Uuid, Path)), request_body = ReasonRequest,
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn suspend_vendor(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let command = VendorCommand::Suspend {
        actor: ctx.actor.clone(),
        reason: reason("reason", &body.reason)?,
    };
    run(&state, id, command, &ctx).await.map(Json)
}

/// Reinstate a suspended vendor (admin).
#[utoipa::path(post, path = "/v1/vendors/{id}/reinstate", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn reinstate_vendor(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
) -> Result<Json<CommandReply>, ApiError> {
    let command = VendorCommand::Reinstate {
        actor: ctx.actor.clone(),
    };
    run(&state, id, command, &ctx).await.map(Json)
}

/// Close a vendor for good (admin, or the vendor itself).
#[utoipa::path(post, path = "/v1/vendors/{id}/close", tag = TAG, params(("id" = Uuid, Path)), request_body(content = Option<OptionalReasonRequest>),
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn close_vendor(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    body: Bytes,
) -> Result<Json<CommandReply>, ApiError> {
    let body: Option<OptionalReasonRequest> = optional_json(&body)?;
    let reason_text = match body.and_then(|b| b.reason) {
        Some(text) => parse_optional_text("reason", Some(&text), REASON_MAX_CHARS)
            .map_err(|e| ApiError::Invalid(vec![e]))?,
        None => None,
    };
    let unfinished = unfinished_paid_orders(&state, id).await?;
    if unfinished > 0 {
        return Err(ApiError::Conflict(format!(
            "vendor {id} has {unfinished} paid order(s) not yet delivered, cancelled or refunded: \
             finish them before closing"
        )));
    }
    let command = VendorCommand::Close {
        actor: ctx.actor.clone(),
        reason: reason_text,
    };
    run(&state, id, command, &ctx).await.map(Json)
}

/// Change profile fields (the vendor itself, or an admin).
#[utoipa::path(patch, path = "/v1/vendors/{id}", tag = TAG, params(("id" = Uuid, Path)), request_body = UpdateVendorRequest,
    responses((status = 200, body = CommandReply), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update_vendor(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    ctx: CommandContext,
    ApiJson(body): ApiJson<UpdateVendorRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let command = VendorCommand::UpdateProfile {
        actor: ctx.actor.clone(),
        patch: body.parse()?,
    };
    run(&state, id, command, &ctx).await.map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReadQuery {
    /// Wait until the read model has applied the event at this log position.
    pub min_position: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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

/// One vendor: public once approved; the vendor itself and admins see it in every status.
#[utoipa::path(get, path = "/v1/vendors/{id}", tag = TAG, params(("id" = Uuid, Path), ReadQuery),
    responses((status = 200, body = VendorView), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn get_vendor(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    MaybeSignedIn(viewer): MaybeSignedIn,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<VendorView>, ApiError> {
    wait_for(&state, ProjectionKind::Catalog, query.min_position).await?;
    let row: Option<(sqlx::types::Json<Vendor>, i32)> = sqlx::query_as(
        "SELECT state, published_listings FROM vendor_directory WHERE vendor_id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let not_found = || ApiError::NotFound("no such vendor".into());
    let (sqlx::types::Json(aggregate), published) = row.ok_or_else(not_found)?;
    let vendor = aggregate.state().ok_or_else(not_found)?;
    let may_see = vendor.status == VendorStatus::Approved
        || viewer
            .as_ref()
            .is_some_and(|a| a.is_admin() || a.speaks_for_vendor(id));
    if !may_see {
        return Err(not_found());
    }
    Ok(Json(vendor_view(
        vendor,
        viewer.as_ref(),
        i64::from(published),
    )))
}

/// The vendor directory: approved vendors for everyone; admins filter by any status.
#[utoipa::path(get, path = "/v1/vendors", tag = TAG, params(VendorListQuery),
    responses((status = 200, body = Page<VendorView>), (status = 403, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn list_vendors(
    State(state): State<AppState>,
    MaybeSignedIn(viewer): MaybeSignedIn,
    ApiQuery(query): ApiQuery<VendorListQuery>,
) -> Result<Json<Page<VendorView>>, ApiError> {
    let paging = Paging::parse(query.page, query.per_page)?;
    if query.after.is_some() && query.page.is_some() {
        return Err(ApiError::invalid(
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
    let is_admin = viewer.as_ref().is_some_and(Actor::is_admin);
    let statuses: Vec<&str> = match (status, is_admin) {
        (Some(status), true) => vec![status.as_str()],
        (None, true) => vec!["applied", "approved", "rejected", "suspended", "closed"],
        (None | Some(VendorStatus::Approved), false) => vec!["approved"],
        (Some(_), false) => {
            return Err(ApiError::Forbidden(
                "only admins can list vendors that are not approved".into(),
            ))
        }
    };
    wait_for(&state, ProjectionKind::Catalog, query.min_position).await?;
    let filter = "FROM vendor_directory
          WHERE status = ANY($1) AND ($2::text[] IS NULL OR district_code = ANY($2))";
    // Ordered by name: the keyset cursor is the last vendor of the page before (vendors are
    // never deleted), and the window counts the whole filter before it applies.
    let rows: Vec<(sqlx::types::Json<Vendor>, i32, i64, Uuid)> = sqlx::query_as(&format!(
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
        rows.last().map(|row| row.3.to_string())
    } else {
        None
    };
    let total = match rows.first() {
        Some(row) => row.2,
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
        .filter_map(|(aggregate, published, _, _)| {
            aggregate
                .0
                .state()
                .map(|vendor| vendor_view(vendor, viewer.as_ref(), i64::from(*published)))
        })
        .collect();
    let mut page = Page::new(items, paging, total);
    page.next_after = next_after;
    Ok(Json(page))
}
