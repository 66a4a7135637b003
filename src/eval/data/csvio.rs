//! CSV helpers shared by the readers: headers, positions, and field parsing with errors that
//! name the file, line and column.

use std::fs::File;
use std::path::Path;

use crate::eval::EvalError;

pub(super) fn csv_reader(path: &Path) -> Result<csv::Reader<File>, EvalError> {
    let file = File::open(path).map_err(|e| EvalError::io(path, e))?;
    Ok(csv::ReaderBuilder::new().has_headers(true).from_reader(file))
}

pub(super) fn headers(rdr: &mut csv::Reader<File>, path: &Path) -> Result<Vec<String>, EvalError> {
    let h = rdr.headers().map_err(|e| csv_error(path, e))?;
    if h.is_empty() || (h.len() == 1 && h[0].is_empty()) {
        return Err(EvalError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok(h.iter().map(str::to_owned).collect())
}

pub(super) fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| headers.iter().position(|h| h == n))
}

pub(super) fn line_of(rec: &csv::StringRecord) -> u64 {
    rec.position().map_or(0, csv::Position::line)
}

pub(super) fn csv_error(path: &Path, e: csv::Error) -> EvalError {
    let line = e.position().map_or(0, csv::Position::line);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => EvalError::io(path, io),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => EvalError::FieldCount {
            path: path.to_owned(),
            line,
            expected: expected_len,
            found: len,
        },
        csv::ErrorKind::Utf8 { err, .. } => EvalError::NotUtf8 {
            path: path.to_owned(),
            line,
            column: Some(err.field() as u64 + 1),
        },
        other => EvalError::parse(
            path,
            line,
            None,
            None,
            "a well-formed CSV record",
            Some(format!("{other:?}")),
        ),
    }
}

pub(super) fn bad(
    path: &Path,
    line: u64,
    col: usize,
    headers: &[String],
    rec: &csv::StringRecord,
    expected: impl Into<std::borrow::Cow<'static, str>>,
) -> EvalError {
    EvalError::parse(
        path,
        line,
        Some(col as u64 + 1),
        headers.get(col).map(String::as_str),
        expected,
        Some(rec.get(col).unwrap_or("").to_owned()),
    )
}

pub(super) fn num(
    path: &Path,
    line: u64,
    col: usize,
    headers: &[String],
    rec: &csv::StringRecord,
) -> Result<f64, EvalError> {
    match rec[col].trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad(path, line, col, headers, rec, "a finite number")),
    }
}

pub(super) fn opt_num(
    path: &Path,
    line: u64,
    col: Option<usize>,
    headers: &[String],
    rec: &csv::StringRecord,
) -> Result<Option<f64>, EvalError> {
    match col {
        Some(c) if !rec[c].trim().is_empty() => num(path, line, c, headers, rec).map(Some),
        _ => Ok(None),
    }
}

pub(super) fn opt_count(
    path: &Path,
    line: u64,
    col: Option<usize>,
    headers: &[String],
    rec: &csv::StringRecord,
) -> Result<Option<u32>, EvalError> {
    match col {
        Some(c) if !rec[c].trim().is_empty() => rec[c]
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| bad(path, line, c, headers, rec, "a whole number of tokens")),
        _ => Ok(None),
    }
}
