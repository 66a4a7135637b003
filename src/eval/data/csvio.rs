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

/// One record being read, with what its errors name: the file, line and column (by header).
pub(super) struct Record<'a> {
    pub(super) path: &'a Path,
    pub(super) line: u64,
    headers: &'a [String],
    rec: &'a csv::StringRecord,
}

impl<'a> Record<'a> {
    pub(super) fn new(path: &'a Path, headers: &'a [String], rec: &'a csv::StringRecord) -> Self {
        Record {
            path,
            line: line_of(rec),
            headers,
            rec,
        }
    }

    /// The error for column `col`'s value, which is not `expected`.
    pub(super) fn bad(&self, col: usize, expected: impl Into<std::borrow::Cow<'static, str>>) -> EvalError {
        EvalError::parse(
            self.path,
            self.line,
            Some(col as u64 + 1),
            self.headers.get(col).map(String::as_str),
            expected,
            Some(self.rec.get(col).unwrap_or("").to_owned()),
        )
    }

    /// Column `col` as a finite number.
    pub(super) fn num(&self, col: usize) -> Result<f64, EvalError> {
        match self.rec[col].trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.bad(col, "a finite number")),
        }
    }

    /// Column `col` as a finite number; `None` without the column or a value in it.
    pub(super) fn opt_num(&self, col: Option<usize>) -> Result<Option<f64>, EvalError> {
        self.filled(col).map(|c| self.num(c)).transpose()
    }

    /// Column `col` as a token count; `None` without the column or a value in it.
    pub(super) fn opt_count(&self, col: Option<usize>) -> Result<Option<u32>, EvalError> {
        self.filled(col)
            .map(|c| {
                self.rec[c]
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| self.bad(c, "a whole number of tokens"))
            })
            .transpose()
    }

    /// `col`, where the record has a value in it.
    fn filled(&self, col: Option<usize>) -> Option<usize> {
        col.filter(|&c| !self.rec[c].trim().is_empty())
    }
}
