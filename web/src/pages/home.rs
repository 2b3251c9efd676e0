//! `/`: the search box, the categories and districts as links into `/search`, and the best
//! sellers (a search, through the same function as `/v1/search`).

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use otop_app::search::SearchParams;
use otop_app::AppState;

use super::{html, Card};
use crate::error::PageError;
use crate::layout::Layout;
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub l: Layout,
    pub categories: Vec<(String, String)>,
    pub districts: Vec<(String, String)>,
    pub cards: Vec<Card>,
}

pub async fn home(
    State(state): State<AppState>,
    visitor: Visitor,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    let t = crate::i18n::texts(visitor.lang);
    let best_sellers = SearchParams {
        sort: Some("best_selling".into()),
        in_stock: Some("true".into()),
        per_page: Some("12".into()),
        ..SearchParams::default()
    };
    let reply = otop_app::search::search(&state, &best_sellers).await?;
    let (categories, districts) = super::search::reference_links(visitor.lang);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let l = Layout::new(
        &state,
        &visitor,
        path,
        format!("{} · {}", t.site_name, t.tagline),
        t.tagline.to_string(),
        false,
    )
    .await?
    .with_canonical(&state, "/");
    let page = HomePage {
        cards: reply
            .hits
            .iter()
            .map(|hit| Card::from_hit(hit, visitor.lang))
            .collect(),
        categories,
        districts,
        l,
    };
    html(&page)
}
