//! CSV exports, for the JSON API (`Accept: text/csv`) and the pages' downloads alike:
//! RFC 4180 text through the `csv` crate, UTF-8, one header row, formulas neutralised.

/// A CSV document being written, through the `csv` crate (RFC 4180 quoting, CRLF rows), with
/// every cell that a spreadsheet would run as a formula neutralised.
pub struct CsvWriter {
    writer: csv::Writer<Vec<u8>>,
    /// The first error the writer met (writing into memory only fails on a bug).
    failed: Option<csv::Error>,
}

impl CsvWriter {
    pub fn new<S: AsRef<str>>(header: impl IntoIterator<Item = S>) -> Self {
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .flexible(false)
            .from_writer(Vec::new());
        let mut writer = CsvWriter {
            writer,
            failed: None,
        };
        writer.row(header);
        writer
    }

    pub fn row<S: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = S>) {
        if self.failed.is_some() {
            return;
        }
        let cells: Vec<String> = fields
            .into_iter()
            .map(|field| neutralise(field.as_ref()))
            .collect();
        if let Err(error) = self.writer.write_record(&cells) {
            self.failed = Some(error);
        }
    }

    /// The document's text.
    pub fn finish(self) -> Result<String, crate::AppError> {
        self.finish_text()
            .map_err(|error| crate::AppError::Internal(format!("writing CSV: {error}")))
    }

    fn finish_text(self) -> Result<String, String> {
        if let Some(error) = self.failed {
            return Err(error.to_string());
        }
        let bytes = self
            .writer
            .into_inner()
            .map_err(|error| error.to_string())?;
        String::from_utf8(bytes).map_err(|error| error.to_string())
    }
}

/// A cell as OWASP's CSV-injection advice has it: one that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'`, so a spreadsheet shows it as text instead of
/// running it. A plain number (`-2500`, a refund) is left alone: it cannot run anything, and
/// the figures must stay figures.
pub fn neutralise(cell: &str) -> String {
    let starts_a_formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if starts_a_formula && !is_plain_number(cell) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
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
            csv.finish().unwrap(),
            "a,b\r\nplain,\"with, comma\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_neutralised_and_numbers_stay_numbers() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://evil\")",
                "'=HYPERLINK(\"http://evil\")",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-2500", "-2500"),
            ("-12.5", "-12.5"),
            ("350000", "350000"),
            ("ผ้าไหม = silk", "ผ้าไหม = silk"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
        }
        let mut csv = CsvWriter::new(["actor"]);
        csv.row(["=1+1"]);
        assert_eq!(csv.finish().unwrap(), "actor\r\n'=1+1\r\n");
    }
}
