//! Liveness, readiness (database and projections) and Prometheus metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use otop_projections::{checkpoint, log, ProjectionKind};
use serde::Serialize;
use utoipa::ToSchema;

use crate::metrics::HttpMetrics;
use otop_app::state::AppState;

pub const TAG: &str = "operations";

/// Lag is counted exactly up to this many events, and reported as this beyond.
const LAG_CAP: i64 = 1_000_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionReadiness {
    pub name: String,
    /// The log position of the last event applied.
    pub position: i64,
    /// Events in the log not applied yet.
    pub lag: i64,
    pub events_applied: i64,
    /// Set when the projection stopped on an event it cannot apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub database: &'static str,
    /// The highest position in the event log.
    pub log_head: Option<i64>,
    pub projections: Vec<ProjectionReadiness>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = TAG, responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn projections(state: &AppState) -> Result<Vec<ProjectionReadiness>, sqlx::Error> {
    let checkpoints = checkpoint::read_all(&state.pool).await?;
    let mut report = Vec::new();
    let names = ProjectionKind::ALL.iter().map(|kind| kind.name()).chain([
        otop_projections::process_manager::CHECKOUT_PROCESS,
        otop_projections::search_feed::SEARCH_PROJECTION,
    ]);
    for name in names {
        let found = checkpoints.iter().find(|c| c.name == name);
        let cursor = found.map(|c| c.cursor).unwrap_or_default();
        report.push(ProjectionReadiness {
            name: name.to_string(),
            position: cursor.position,
            lag: checkpoint::lag(&state.pool, cursor, LAG_CAP).await?,
            events_applied: found.map_or(0, |c| c.events_applied),
            failed_position: found.and_then(|c| c.failed_position),
            last_error: found.and_then(|c| c.last_error.clone()),
        });
    }
    Ok(report)
}

/// The process can serve: the database answers and no projection has stopped on an error.
#[utoipa::path(get, path = "/readyz", tag = TAG,
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let head = log::head_position(&state.pool).await;
    let projections = projections(&state).await;
    match (head, projections) {
        (Ok(head), Ok(projections)) => {
            let failed = projections.iter().any(|p| p.last_error.is_some());
            let status = if failed {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(Readiness {
                    status: if failed { "projection failed" } else { "ready" },
                    database: "ok",
                    log_head: Some(head),
                    projections,
                    error: None,
                }),
            )
        }
        (Err(error), _) | (_, Err(error)) => {
            // The database's own words (host names, roles, SQL) are for the server's log,
            // not for whoever polls a public endpoint.
            tracing::warn!(%error, "readiness: the database did not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: "not ready",
                    database: "unreachable",
                    log_head: None,
                    projections: Vec::new(),
                    error: Some("the database did not answer; the server's log says why".into()),
                }),
            )
        }
    }
}

/// Prometheus metrics: log head, and per projection its position, lag, events applied and
/// whether it stopped on an error; then every route's requests by status and durations.
#[utoipa::path(get, path = "/metrics", tag = TAG, responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(
    State(state): State<AppState>,
    http: Option<Extension<Arc<HttpMetrics>>>,
) -> impl IntoResponse {
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, i64)>| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            text.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let up = match (
        log::head_position(&state.pool).await,
        projections(&state).await,
    ) {
        (Ok(head), Ok(projections)) => {
            gauge(
                "otop_log_head_position",
                "Highest position in the event log.",
                vec![(String::new(), head)],
            );
            let labelled = |f: &dyn Fn(&ProjectionReadiness) -> i64| {
                projections
                    .iter()
                    .map(|p| (format!("{{projection=\"{}\"}}", p.name), f(p)))
                    .collect::<Vec<_>>()
            };
            gauge(
                "otop_projection_lag_events",
                "Events in the log a projection has not applied yet.",
                labelled(&|p| p.lag),
            );
            gauge(
                "otop_projection_position",
                "Log position of the last event a projection applied.",
                labelled(&|p| p.position),
            );
            gauge(
                "otop_projection_events_applied",
                "Events a projection has applied since it was last rebuilt.",
                labelled(&|p| p.events_applied),
            );
            gauge(
                "otop_projection_failed",
                "1 when a projection stopped on an event it cannot apply.",
                labelled(&|p| i64::from(p.last_error.is_some())),
            );
            1
        }
        _ => 0,
    };
    gauge(
        "otop_database_up",
        "1 when the database answered this scrape.",
        vec![(String::new(), up)],
    );
    if let Some(Extension(http)) = http {
        http.encode_into(&mut text);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
