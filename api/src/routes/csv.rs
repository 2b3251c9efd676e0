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

/// A CSV document being written.
#[derive(Debug, Default)]
pub struct CsvWriter {
    text: String,
}

impl CsvWriter {
    pub fn new<S: AsRef<str>>(header: impl IntoIterator<Item = S>) -> Self {
        let mut writer = CsvWriter::default();
        writer.row(header);
        writer
    }

    pub fn row<S: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = S>) {
        for (index, field) in fields.into_iter().enumerate() {
            if index > 0 {
                self.text.push(',');
            }
            let field = field.as_ref();
            if field.contains([',', '"', '\n', '\r']) {
                self.text.push('"');
                self.text.push_str(&field.replace('"', "\"\""));
                self.text.push('"');
            } else {
                self.text.push_str(field);
            }
        }
        self.text.push_str("\r\n");
    }

    /// The reply, offered as a download named `filename`.
    pub fn into_response(self, filename: &str) -> Response {
        (
            [
                (CONTENT_TYPE, CSV_CONTENT_TYPE.to_string()),
                (
                    CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            self.text,
        )
            .into_response()
    }
}

/// An optional value as a CSV field (empty when absent).
pub fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut csv = CsvWriter::new(["a", "b"]);
        csv.row(["plain", "with, comma"]);
        csv.row(["say \"hi\"", "two\nlines"]);
        assert_eq!(
            csv.text,
            "a,b\r\nplain,\"with, comma\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }

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
