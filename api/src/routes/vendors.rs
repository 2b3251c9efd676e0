//! `/v1/vendors`: applying, the provincial office's decisions, profile changes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use otop_domain::values::{
    parse_optional_text, parse_text, DistrictCode, Email, Phone, ProducerType, PromptPayId,
    NAME_MAX_CHARS,
};
use otop_domain::vendor::{VendorProfile, VendorProfilePatch};
use otop_domain::{Validator, Vendor, VendorCommand, VendorStatus};
use otop_projections::ProjectionKind;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{optional_json, CommandReply, OptionalReasonRequest, ReasonRequest};
use crate::auth::MaybeSignedIn;
use crate::extract::{ApiJson, ApiQuery, CommandContext, IdPath};
use crate::problem::{ApiError, Problem};
use otop_app::paging::Page;
use otop_app::read_your_writes::wait_for;
use otop_app::state::AppState;
use otop_app::vendors::{self, vendor_view, VendorDecision, VendorListQuery, VendorView};

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
        let (name_th, name_en, district_code, producer_type, phone, email, payout_promptpay) = v
            .finish_with((
                name_th,
                name_en,
                district_code,
                producer_type,
                phone,
                email,
                payout,
            ))?;
        Ok(VendorProfile {
            name_th,
            name_en,
            district_code,
            producer_type,
            phone,
            email,
            payout_promptpay,
        })
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

async fn run(
    state: &AppState,
    vendor_id: Uuid,
    command: VendorCommand,
    ctx: &CommandContext,
) -> Result<CommandReply, ApiError> {
    vendors::run(state, vendor_id, command, &ctx.metadata_map())
        .await
        .map_err(ApiError::from)
}

async fn decide(
    state: &AppState,
    vendor_id: Uuid,
    ctx: &CommandContext,
    decision: VendorDecision,
    reason: Option<&str>,
) -> Result<Json<CommandReply>, ApiError> {
    vendors::decide(
        state,
        &ctx.actor,
        &ctx.metadata_map(),
        vendor_id,
        decision,
        reason,
    )
    .await
    .map(Json)
    .map_err(ApiError::from)
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
    decide(&state, id, &ctx, VendorDecision::Approve, None).await
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
    decide(&state, id, &ctx, VendorDecision::Reject, Some(&body.reason)).await
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
    decide(
        &state,
        id,
        &ctx,
        VendorDecision::Suspend,
        Some(&body.reason),
    )
    .await
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
    decide(&state, id, &ctx, VendorDecision::Reinstate, None).await
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
    let reason = body.and_then(|b| b.reason);
    decide(&state, id, &ctx, VendorDecision::Close, reason.as_deref()).await
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
    vendors::list_vendors(&state, viewer.as_ref(), &query)
        .await
        .map(Json)
        .map_err(ApiError::from)
}
