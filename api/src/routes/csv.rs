//! CSV exports (`Accept: text/csv`): RFC 4180 text, UTF-8, one header row.

use axum::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// True when the client asks for CSV (`Accept: text/csv`, possibly among others).
pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/csv"))
        })
}

pub use otop_app::csv::{neutralise, opt, CsvWriter};

/// The reply of a CSV export, offered as a download named `filename`.
pub fn csv_response(csv: CsvWriter, filename: &str) -> Response {
    let text = match csv.finish() {
        Ok(text) => text,
        Err(error) => return crate::problem::ApiError::from(error).into_response(),
    };
    (
        [
            (CONTENT_TYPE, CSV_CONTENT_TYPE.to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let mut headers = HeaderMap::new();
        assert!(!wants_csv(&headers));
        headers.insert(
            ACCEPT,
            "application/json, text/csv;q=0.5".parse().expect("header"),
        );
        assert!(wants_csv(&headers));
        headers.insert(ACCEPT, "application/json".parse().expect("header"));
        assert!(!wants_csv(&headers));
    }
}
