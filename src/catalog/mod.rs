//! Catalogs: the built-in, dated list of current models, and loading your own from JSON or
//! TOML (feature `catalog`).
//!
//! A catalog file has an optional `as_of` date, a `models` list of full entries (each a
//! [`ModelSpec`]) and an optional `patches` list of partial updates to models already present:
//!
//! ```json
//! { "as_of": "2026-11-26",
//!   "models": [ { "id": "my-llama", "provider": "openai", "prices": {"input": 0.1, "output": 0.1},
//!                 "context_window": 131072, "max_output_tokens": 8192 } ],
//!   "patches": [ { "id": "gpt-4o", "prices": {"input": 2.0, "output": 8.0} } ] }
//! ```
//!
//! Loading a file [over](Catalog::overlay_path) another catalog replaces models with the same id, adds new
//! ones and applies the patches, so prices can be refreshed without a release. Unknown fields,
//! bad values and duplicate ids are refused with the file, line, column and field path.
//!
//! A file may also list which endpoints serve a model (a `deployments` table keyed by model
//! id; see [`deployments`]); a file's list for a model replaces the one it lays over.

pub mod deployments;
mod diff;
pub mod litellm;

pub use deployments::{DeploymentEntry, DeploymentIssue, DeploymentProvider};
pub use diff::{CatalogDiff, FieldChange, ModelChange};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::model::{Capabilities, LatencyProfile, ModelSpec, Prices, QualityPriors, Tag};

const BUILTIN_JSON: &str = include_str!("builtin.json");

/// Why a catalog could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The text is not a valid catalog.
    #[error("{}:{line}:{column}: {message}{}", display_source(.source_name), field_suffix(.field))]
    Parse {
        /// The file, where loaded from one.
        source_name: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field path (`models[3].prices.input`), where known.
        field: Option<String>,
        /// What is wrong and what was expected.
        message: String,
    },
    /// Two entries share an id.
    #[error("{}:{line}: duplicate model id `{id}`: every model needs its own id", display_source(.source_name))]
    DuplicateId {
        /// The file, where loaded from one.
        source_name: Option<PathBuf>,
        /// 1-based line of the second entry's id.
        line: usize,
        /// The id.
        id: String,
    },
    /// A patch names a model that is not in the catalog.
    #[error("{}: patch for unknown model `{id}`: patches change models already in the catalog; add it under `models` instead", display_source(.source_name))]
    PatchUnknownModel {
        /// The file, where loaded from one.
        source_name: Option<PathBuf>,
        /// The id.
        id: String,
    },
    /// A value passed parsing but is invalid (the field is named).
    #[error("{}: {source}", display_source(.source_name))]
    Invalid {
        /// The file, where loaded from one.
        source_name: Option<PathBuf>,
        /// The validation error.
        source: Box<crate::Error>,
    },
    /// The file could not be read.
    #[error("cannot read catalog {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// The file's extension is neither `.json` nor `.toml`.
    #[error("cannot tell the format of {}: name it *.json or *.toml", .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A deployment entry is invalid.
    #[error("{}: deployment {index} (`{id}`) of model `{model}`: `{field}` {issue}", display_source(.source_name))]
    Deployment {
        /// The file, where loaded from one.
        source_name: Option<PathBuf>,
        /// The model whose deployments list holds the entry.
        model: String,
        /// The entry's place in that list (0-based).
        index: usize,
        /// The entry's id.
        id: String,
        /// The field at fault (`weight`, `api_key_env`, ...; `model` for an unknown model).
        field: &'static str,
        /// What is wrong.
        issue: DeploymentIssue,
    },
}

fn display_source(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map_or_else(|| "<catalog>".to_owned(), |p| p.display().to_string())
}

fn field_suffix(f: &Option<String>) -> String {
    f.as_ref()
        .filter(|f| !f.is_empty() && f.as_str() != ".")
        .map_or_else(String::new, |f| format!(" (at `{f}`)"))
}

/// A partial update of a catalog entry; absent fields keep their value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ModelPatch {
    /// The model to change.
    pub id: String,
    /// New prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
    /// New context window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    /// New output limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// New capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// New tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// New latency profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyProfile>,
    /// Quality priors to set (merged into the existing ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityPriors>,
    /// New API name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_name: Option<String>,
    /// New source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// New date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// New retirement date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retires: Option<Date>,
}

impl ModelPatch {
    fn apply(self, m: &mut ModelSpec) {
        if let Some(v) = self.prices {
            m.prices = v;
        }
        if let Some(v) = self.context_window {
            m.context_window = v;
        }
        if let Some(v) = self.max_output_tokens {
            m.max_output_tokens = v;
        }
        if let Some(v) = self.capabilities {
            m.capabilities = v;
        }
        if let Some(v) = self.tags {
            m.tags = v;
        }
        if let Some(v) = self.latency {
            m.latency = Some(v);
        }
        if let Some(q) = self.quality {
            for (k, v) in q.iter() {
                m.quality.set(&k, v);
            }
            if let Some(d) = q.default_prior() {
                m.quality.set_default(d);
            }
        }
        if let Some(v) = self.api_name {
            m.api_name = Some(v);
        }
        if let Some(v) = self.source {
            m.source = Some(v);
        }
        if let Some(v) = self.as_of {
            m.as_of = Some(v);
        }
        if let Some(v) = self.retires {
            m.retires = Some(v);
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    models: Vec<ModelSpec>,
    #[serde(default)]
    patches: Vec<ModelPatch>,
    #[serde(default)]
    deployments: deployments::DeploymentTable,
}

/// A list of models with the date it was checked.
///
/// ```
/// let catalog = taskroute::Catalog::builtin();
/// assert!(catalog.get("gpt-4o-mini").is_some());
/// let router = taskroute::Router::builder().models(catalog.into_models()).build()?;
/// # Ok::<(), taskroute::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Catalog {
    /// The date the catalog was last checked against its sources.
    pub as_of: Option<String>,
    /// The models.
    pub models: Vec<ModelSpec>,
    /// Which deployments serve which model, by model id (see [`deployments`]); models without
    /// an entry are called through their provider as before.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub deployments: std::collections::BTreeMap<String, Vec<DeploymentEntry>>,
}

impl Catalog {
    /// The built-in catalog shipped with this release (see `docs/catalog.md` for sources).
    pub fn builtin() -> Catalog {
        // The built-in file is checked by the test suite; failing to parse it is a bug in the
        // release, so an empty catalog is never silently returned.
        Self::from_json_str(BUILTIN_JSON).unwrap_or_else(|e| panic!("built-in catalog is invalid: {e}"))
    }

    /// Parses a catalog from JSON text.
    ///
    /// # Errors
    /// [`CatalogError`] with line, column and field path.
    pub fn from_json_str(text: &str) -> Result<Catalog, CatalogError> {
        Self::parse_json(text, None)
    }

    /// Parses a catalog from TOML text.
    ///
    /// # Errors
    /// [`CatalogError`] with line, column and field path.
    pub fn from_toml_str(text: &str) -> Result<Catalog, CatalogError> {
        Self::parse_toml(text, None)
    }

    /// Loads a catalog file (`*.json` or `*.toml`).
    ///
    /// # Errors
    /// [`CatalogError`] naming the file, line, column and field.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let (file, text) = read(path.as_ref())?;
        Self::parse_file(&file, &text).map(|(c, _)| c)
    }

    /// This catalog with another file laid over it: models with the same id are replaced, new
    /// ones added, patches applied.
    ///
    /// # Errors
    /// [`CatalogError`] naming the file, line, column and field.
    pub fn overlay_path(self, path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let (file, text) = read(path.as_ref())?;
        let (over, patches) = Self::parse_file(&file, &text)?;
        self.overlay(over, patches, Some(file))
    }

    /// This catalog with JSON text laid over it; see [`overlay_path`](Self::overlay_path).
    ///
    /// # Errors
    /// [`CatalogError`] with line, column and field path.
    pub fn overlay_json(self, text: &str) -> Result<Catalog, CatalogError> {
        let (over, patches) = Self::parse_json_with_patches(text, None)?;
        self.overlay(over, patches, None)
    }

    /// The model with this id.
    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id.as_str() == id)
    }

    /// The models retired by `today` or retiring within `days` days of it, soonest first, each
    /// with its retirement date and the days left (0 or less: retired).
    pub fn retiring_within(&self, today: Date, days: i64) -> Vec<(&ModelSpec, Date, i64)> {
        let mut out: Vec<_> = self
            .models
            .iter()
            .filter_map(|m| m.retires.map(|r| (m, r, today.days_until(r))))
            .filter(|&(_, _, left)| left <= days)
            .collect();
        out.sort_by(|a, b| (a.2, &a.0.id).cmp(&(b.2, &b.0.id)));
        out
    }

    /// One warning line per model of [`retiring_within`](Self::retiring_within).
    pub fn retirement_warnings(&self, today: Date, days: i64) -> Vec<String> {
        self.retiring_within(today, days)
            .into_iter()
            .map(|(m, on, left)| match left {
                ..=0 => format!("warning: {} was retired on {on}", m.id),
                1 => format!("warning: {} retires tomorrow ({on})", m.id),
                _ => format!("warning: {} retires in {left} days ({on})", m.id),
            })
            .collect()
    }

    /// The models.
    pub fn into_models(self) -> Vec<ModelSpec> {
        self.models
    }

    /// The catalog as pretty JSON (the format [`from_json_str`](Self::from_json_str) reads).
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    fn overlay(
        mut self,
        over: Catalog,
        patches: Vec<ModelPatch>,
        source_name: Option<PathBuf>,
    ) -> Result<Catalog, CatalogError> {
        for m in over.models {
            match self.models.iter_mut().find(|x| x.id == m.id) {
                Some(slot) => *slot = m,
                None => self.models.push(m),
            }
        }
        for p in patches {
            let Some(slot) = self.models.iter_mut().find(|x| x.id.as_str() == p.id) else {
                return Err(CatalogError::PatchUnknownModel {
                    source_name,
                    id: p.id,
                });
            };
            p.apply(slot);
            slot.validate().map_err(|e| CatalogError::Invalid {
                source_name: source_name.clone(),
                source: Box::new(e),
            })?;
        }
        if over.as_of.is_some() {
            self.as_of = over.as_of;
        }
        // A file's list of a model's deployments replaces the one it lays over.
        self.deployments.extend(over.deployments);
        self.check_deployment_models(&source_name)?;
        Ok(self)
    }

    /// Every model with deployments is in the catalog.
    fn check_deployment_models(&self, source_name: &Option<PathBuf>) -> Result<(), CatalogError> {
        deployments::check_models(
            &self.deployments,
            |id| self.models.iter().any(|m| m.id.as_str() == id),
            source_name,
        )
    }

    fn parse_file(file: &Path, text: &str) -> Result<(Catalog, Vec<ModelPatch>), CatalogError> {
        match file.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::parse_json_with_patches(text, Some(file.to_owned())),
            Some("toml") => Self::parse_toml_with_patches(text, Some(file.to_owned())),
            _ => Err(CatalogError::UnknownFormat {
                path: file.to_owned(),
            }),
        }
    }

    fn parse_json(text: &str, source_name: Option<PathBuf>) -> Result<Catalog, CatalogError> {
        let (c, patches) = Self::parse_json_with_patches(text, source_name.clone())?;
        c.overlay_onto_empty(patches, source_name)
    }

    fn parse_toml(text: &str, source_name: Option<PathBuf>) -> Result<Catalog, CatalogError> {
        let (c, patches) = Self::parse_toml_with_patches(text, source_name.clone())?;
        c.overlay_onto_empty(patches, source_name)
    }

    fn overlay_onto_empty(
        self,
        patches: Vec<ModelPatch>,
        source_name: Option<PathBuf>,
    ) -> Result<Catalog, CatalogError> {
        if let Some(p) = patches.into_iter().next() {
            return Err(CatalogError::PatchUnknownModel {
                source_name,
                id: p.id,
            });
        }
        self.check_deployment_models(&source_name)?;
        Ok(self)
    }

    fn parse_json_with_patches(
        text: &str,
        source_name: Option<PathBuf>,
    ) -> Result<(Catalog, Vec<ModelPatch>), CatalogError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let file: CatalogFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = Some(e.path().to_string());
            let inner = e.into_inner();
            CatalogError::Parse {
                source_name: source_name.clone(),
                line: inner.line(),
                column: inner.column(),
                field,
                message: strip_position(&inner.to_string()),
            }
        })?;
        Self::finish(file, text, source_name)
    }

    fn parse_toml_with_patches(
        text: &str,
        source_name: Option<PathBuf>,
    ) -> Result<(Catalog, Vec<ModelPatch>), CatalogError> {
        let to_err = |field: Option<String>, e: toml::de::Error| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            CatalogError::Parse {
                source_name: source_name.clone(),
                line,
                column,
                field,
                message: e.message().to_owned(),
            }
        };
        let de = toml::Deserializer::parse(text).map_err(|e| to_err(None, e))?;
        let file: CatalogFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = Some(e.path().to_string());
            to_err(field, e.into_inner())
        })?;
        Self::finish(file, text, source_name)
    }

    fn finish(
        file: CatalogFile,
        text: &str,
        source_name: Option<PathBuf>,
    ) -> Result<(Catalog, Vec<ModelPatch>), CatalogError> {
        let mut seen = std::collections::BTreeMap::<&str, usize>::new();
        for m in &file.models {
            let n = seen.entry(m.id.as_str()).or_insert(0);
            *n += 1;
            if *n > 1 {
                return Err(CatalogError::DuplicateId {
                    source_name,
                    line: nth_line_of(text, &format!("\"{}\"", m.id), *n),
                    id: m.id.to_string(),
                });
            }
            m.validate().map_err(|e| CatalogError::Invalid {
                source_name: source_name.clone(),
                source: Box::new(e),
            })?;
        }
        deployments::check_table(&file.deployments, &source_name)?;
        Ok((
            Catalog {
                as_of: file.as_of,
                models: file.models,
                deployments: file.deployments,
            },
            file.patches,
        ))
    }
}

fn read(path: &Path) -> Result<(PathBuf, String), CatalogError> {
    let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Io {
        path: path.to_owned(),
        source: Arc::new(e),
    })?;
    Ok((path.to_owned(), text))
}

/// serde_json appends " at line L column C"; the error carries those already.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, column)
}

/// 1-based line of the `n`th occurrence of `needle` (the last one if there are fewer).
fn nth_line_of(text: &str, needle: &str, n: usize) -> usize {
    let mut last = 0;
    for (i, (off, _)) in text.match_indices(needle).enumerate() {
        last = off;
        if i + 1 == n {
            break;
        }
    }
    line_col(text, last).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_and_validates() {
        let c = Catalog::builtin();
        assert!(c.as_of.is_some());
        assert!(c.models.len() >= 5);
        for m in &c.models {
            m.validate().unwrap();
            assert!(m.source.is_some(), "{} has no source", m.id);
            assert!(m.as_of.is_some(), "{} has no date", m.id);
        }
    }

    #[test]
    fn builtin_catalog_has_defaults_unique_ids_and_required_providers() {
        let c = Catalog::builtin();
        let mut ids = std::collections::BTreeSet::new();
        for m in &c.models {
            assert!(ids.insert(m.id.as_str()), "duplicate id {}", m.id);
            let d = m.quality.default_prior();
            assert!(
                d.is_some_and(|d| (0.0..=1.0).contains(&d)),
                "{} has no default prior",
                m.id
            );
            assert!(
                m.max_output_tokens <= m.context_window,
                "{}: max output above context",
                m.id
            );
            if m.provider == "bedrock" {
                assert!(
                    m.id.as_str().starts_with("bedrock/"),
                    "{}: Bedrock ids are prefixed",
                    m.id
                );
                assert!(
                    m.api_name.is_some(),
                    "{}: Bedrock entries carry the Bedrock model id",
                    m.id
                );
            }
        }
        for provider in ["openai", "anthropic", "bedrock"] {
            let n = c.models.iter().filter(|m| m.provider == provider).count();
            assert!(n >= 4, "only {n} {provider} models in the built-in catalog");
        }
        assert!(c.models.len() >= 30, "{} models", c.models.len());
    }

    #[test]
    fn docs_list_every_builtin_model_with_its_default_prior() {
        let doc = include_str!("../../docs/catalog.md");
        for m in &Catalog::builtin().models {
            let start = format!("| `{}` |", m.id);
            let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with(&start)).collect();
            assert_eq!(
                rows.len(),
                2,
                "docs/catalog.md should list {} in both tables",
                m.id
            );
            let d = m.quality.default_prior().unwrap_or(f64::NAN);
            assert!(
                rows.iter().any(|r| r.contains(&format!("| {d} |"))),
                "docs/catalog.md does not show default prior {d} for {}",
                m.id
            );
        }
    }

    #[test]
    fn json_error_names_line_column_and_field() {
        let text = "{\n \"models\": [\n  {\"id\": \"a\", \"provider\": \"p\",\n   \"prices\": {\"input\": -1, \"output\": 1},\n   \"context_window\": 10, \"max_output_tokens\": 5}\n ]\n}";
        let e = Catalog::from_json_str(text).unwrap_err();
        let CatalogError::Parse { line, field, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*line, 4);
        assert_eq!(field.as_deref(), Some("models[0].prices.input"));
        let msg = e.to_string();
        assert!(msg.contains("<catalog>:4:"), "{msg}");
    }

    #[test]
    fn unknown_field_is_refused() {
        let text = r#"{"models": [{"id": "a", "provider": "p", "prices": {"input": 1, "output": 1}, "context_window": 10, "max_output_tokens": 5, "colour": "red"}]}"#;
        let e = Catalog::from_json_str(text).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn duplicate_id_is_refused_with_line() {
        let text = "{\"models\": [\n{\"id\": \"a\", \"provider\": \"p\", \"prices\": {\"input\": 1, \"output\": 1}, \"context_window\": 10, \"max_output_tokens\": 5},\n{\"id\": \"a\", \"provider\": \"p\", \"prices\": {\"input\": 1, \"output\": 1}, \"context_window\": 10, \"max_output_tokens\": 5}\n]}";
        match Catalog::from_json_str(text).unwrap_err() {
            CatalogError::DuplicateId { line, id, .. } => {
                assert_eq!(line, 3);
                assert_eq!(id, "a");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn toml_loads_and_nan_is_refused_with_position() {
        let ok = "as_of = \"2026-01-01\"\n[[models]]\nid = \"a\"\nprovider = \"p\"\ncontext_window = 100\nmax_output_tokens = 10\nprices = { input = 1.0, output = 2.0 }\nquality = { chat = 0.5 }\n";
        let c = Catalog::from_toml_str(ok).unwrap();
        assert_eq!(c.models[0].prices.output, 2.0);
        let bad = ok.replace("output = 2.0", "output = nan");
        match Catalog::from_toml_str(&bad).unwrap_err() {
            CatalogError::Parse { line, field, .. } => {
                assert_eq!(line, 7);
                assert_eq!(field.as_deref(), Some("models[0].prices.output"));
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn overlay_replaces_adds_and_patches() {
        let base = Catalog::builtin();
        let first = base.models[0].id.to_string();
        let over = format!(
            r#"{{"patches": [{{"id": "{first}", "prices": {{"input": 9.5, "output": 19}}}}],
               "models": [{{"id": "local-llama", "provider": "openai", "prices": {{"input": 0, "output": 0}}, "context_window": 8192, "max_output_tokens": 2048}}]}}"#
        );
        let c = base.clone().overlay_json(&over).unwrap();
        assert_eq!(c.get(&first).unwrap().prices.input, 9.5);
        assert!(c.get("local-llama").is_some());
        assert_eq!(c.models.len(), base.models.len() + 1);
        let e = base.overlay_json(r#"{"patches": [{"id": "nope"}]}"#).unwrap_err();
        assert!(matches!(e, CatalogError::PatchUnknownModel { .. }));
    }

    #[test]
    fn missing_file_and_unknown_extension_are_typed() {
        assert!(matches!(
            Catalog::from_path("/nonexistent/x.json").unwrap_err(),
            CatalogError::Io { .. }
        ));
        let dir = std::env::temp_dir().join(format!("taskroute-cat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.yaml");
        std::fs::write(&p, "x").unwrap();
        assert!(matches!(
            Catalog::from_path(&p).unwrap_err(),
            CatalogError::UnknownFormat { .. }
        ));
    }
}
