//! Deployments in catalog files: which endpoints serve which model.
//!
//! A catalog file may have a `deployments` table, keyed by model id, each a list of
//! [`DeploymentEntry`]: the provider kind, its base URL or region, the **names** of the
//! environment variables that hold its credentials (never a secret itself), and its priority
//! tier, weight and optional limits:
//!
//! ```toml
//! [[deployments."gpt-4o"]]
//! id = "east"
//! provider = "openai"
//! base_url = "https://east.example.com/v1"
//! api_key_env = "OPENAI_KEY_EAST"
//! weight = 2.0
//! rpm = 500
//! tpm = 200000
//!
//! [[deployments."gpt-4o"]]
//! id = "spare"
//! provider = "openai"
//! api_key_env = "OPENAI_KEY_SPARE"
//! tier = 1
//! ```
//!
//! The runtime (feature `runtime`) builds a provider per entry and adds the deployments with
//! `RoutedClientBuilder::catalog_deployments`. A model without entries is called as before.
//! Entries are checked when the file is loaded: a bad one is a [`CatalogError::Deployment`]
//! naming the model, the entry and the field, with a typed [`DeploymentIssue`].
//!
//! [`CatalogError::Deployment`]: super::CatalogError::Deployment

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CatalogError;

/// The most deployments one model may have (the runtime keeps a bit per deployment).
pub const MAX_DEPLOYMENTS_PER_MODEL: usize = 64;

/// What kind of provider serves a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DeploymentProvider {
    /// OpenAI Chat Completions, or any OpenAI-compatible server by `base_url`.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// AWS Bedrock Converse, in a `region`.
    #[serde(rename = "bedrock")]
    Bedrock,
}

impl DeploymentProvider {
    /// The provider's name as catalogs write it (`"openai"`), which is also the crate feature
    /// that holds its client.
    pub const fn name(self) -> &'static str {
        match self {
            DeploymentProvider::OpenAi => "openai",
            DeploymentProvider::Anthropic => "anthropic",
            DeploymentProvider::Bedrock => "bedrock",
        }
    }
}

impl std::fmt::Display for DeploymentProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn one() -> f64 {
    1.0
}

/// One deployment of a model, as a catalog file lists it. Credentials are named by the
/// environment variables that hold them (`api_key_env = "OPENAI_KEY_EAST"`); the values are
/// read when the runtime builds the provider, never stored in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeploymentEntry {
    /// Its name, unique among the model's deployments (recorded on every attempt it serves).
    pub id: String,
    /// The kind of provider.
    pub provider: DeploymentProvider,
    /// The endpoint (OpenAI and Anthropic: the API's base URL with its version path; Bedrock:
    /// an endpoint override, such as a VPC endpoint). Without one, the provider's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The AWS region (Bedrock only, required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The environment variable holding the API key (OpenAI, Anthropic) or the Bedrock API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Bedrock with SigV4: the variable holding the access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_env: Option<String>,
    /// Bedrock with SigV4: the variable holding the secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_env: Option<String>,
    /// Bedrock with SigV4: the variable holding a session token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_env: Option<String>,
    /// The model's name on this deployment, when it differs from the model's `api_name` (an
    /// Azure deployment name, a Bedrock inference profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_name: Option<String>,
    /// Priority: tier 0 is used first (provisioned), higher tiers only when no deployment of
    /// a lower one can take the call (on-demand).
    #[serde(default)]
    pub tier: u8,
    /// Its share of the traffic within its tier. Positive and finite.
    #[serde(default = "one")]
    pub weight: f64,
    /// Requests per minute (unset: learned from the provider's headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (input plus output) per minute (unset: learned from the provider's headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Calls in flight at once, in one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

impl DeploymentEntry {
    /// A deployment named `id` of kind `provider`: tier 0, weight 1, no endpoint, credentials
    /// or limits set.
    pub fn new(id: impl Into<String>, provider: DeploymentProvider) -> Self {
        Self {
            id: id.into(),
            provider,
            base_url: None,
            region: None,
            api_key_env: None,
            access_key_id_env: None,
            secret_access_key_env: None,
            session_token_env: None,
            api_name: None,
            tier: 0,
            weight: 1.0,
            rpm: None,
            tpm: None,
            max_concurrency: None,
        }
    }

    /// Checks the entry on its own (not whether its id is unique among the model's).
    ///
    /// # Errors
    /// The field at fault and what is wrong with it.
    pub fn check(&self) -> Result<(), (&'static str, DeploymentIssue)> {
        use DeploymentIssue as I;
        if self.id.trim().is_empty() {
            return Err(("id", I::EmptyId));
        }
        if !(self.weight.is_finite() && self.weight > 0.0) {
            return Err(("weight", I::Weight { weight: self.weight }));
        }
        for (field, v) in [
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("max_concurrency", self.max_concurrency.map(u64::from)),
        ] {
            if v == Some(0) {
                return Err((field, I::ZeroLimit));
            }
        }
        for (field, name) in self.variables() {
            if !is_variable_name(name) {
                return Err((field, I::NotAVariableName));
            }
        }
        if let Some(url) = &self.base_url {
            check_url(url).map_err(|i| ("base_url", i))?;
        }
        let sigv4 = [
            ("access_key_id_env", &self.access_key_id_env),
            ("secret_access_key_env", &self.secret_access_key_env),
            ("session_token_env", &self.session_token_env),
        ];
        match self.provider {
            DeploymentProvider::OpenAi | DeploymentProvider::Anthropic => {
                if self.region.is_some() {
                    return Err((
                        "region",
                        I::NotFor {
                            provider: self.provider,
                        },
                    ));
                }
                if let Some((field, _)) = sigv4.iter().find(|(_, v)| v.is_some()) {
                    return Err((
                        field,
                        I::NotFor {
                            provider: self.provider,
                        },
                    ));
                }
                if self.api_key_env.is_none() && self.base_url.is_none() {
                    return Err(("api_key_env", I::Missing));
                }
            }
            DeploymentProvider::Bedrock => {
                if self.region.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    return Err(("region", I::Missing));
                }
                let keys = (&self.access_key_id_env, &self.secret_access_key_env);
                match (&self.api_key_env, keys) {
                    (Some(_), (Some(_), _) | (_, Some(_))) => return Err(("api_key_env", I::Conflict)),
                    (None, (None, None)) => return Err(("api_key_env", I::Missing)),
                    (None, (Some(_), None)) => return Err(("secret_access_key_env", I::Missing)),
                    (None, (None, Some(_))) => return Err(("access_key_id_env", I::Missing)),
                    _ => {}
                }
                if self.api_key_env.is_some() && self.session_token_env.is_some() {
                    return Err(("session_token_env", I::Conflict));
                }
            }
        }
        Ok(())
    }

    /// The credential fields that are set, with the variable each names.
    pub fn variables(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("api_key_env", &self.api_key_env),
            ("access_key_id_env", &self.access_key_id_env),
            ("secret_access_key_env", &self.secret_access_key_env),
            ("session_token_env", &self.session_token_env),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.as_deref().map(|v| (f, v)))
    }
}

/// What is wrong with a catalog's deployment entry (the field is named beside it).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentIssue {
    /// The id is empty.
    #[error("is empty: give the deployment a name")]
    EmptyId,
    /// Another deployment of the same model has this id.
    #[error("is used by another deployment of the model: ids are unique per model")]
    DuplicateId,
    /// The model has too many deployments.
    #[error("makes more than {max} deployments for one model")]
    TooMany {
        /// The most allowed.
        max: usize,
    },
    /// The model is not in the catalog.
    #[error("names a model that is not in the catalog: add it under `models` first")]
    UnknownModel,
    /// The weight is not a positive finite number.
    #[error("is {weight}: expected a positive finite number")]
    Weight {
        /// The weight given.
        weight: f64,
    },
    /// A limit is zero (no call would ever be admitted).
    #[error("is 0: leave it out for no limit, or give a positive number")]
    ZeroLimit,
    /// A credential field does not hold an environment variable's name. The value is not
    /// repeated: it may be a secret pasted in by mistake.
    #[error(
        "is not an environment variable name (letters, digits and `_`, not starting with a digit); \
         write the NAME of the variable that holds the secret, never the secret itself"
    )]
    NotAVariableName,
    /// The base URL is not an `http://` or `https://` URL.
    #[error("is not an http:// or https:// URL")]
    NotAUrl,
    /// The base URL carries credentials (`user:password@`). The value is not repeated.
    #[error("carries credentials (`user:password@host`): name them with `api_key_env` instead")]
    CredentialsInUrl,
    /// The base URL has a query string or a fragment (`?key=...`): a base URL is the API's
    /// root, and a key in its query would be shown wherever the URL is (the entry's and the
    /// client's `Debug`). The value is not repeated.
    #[error(
        "has a query string or fragment (`?...`, `#...`): give the API's root, and name a key with `api_key_env`"
    )]
    QueryInUrl,
    /// A required field is missing.
    #[error("is missing (required for this provider)")]
    Missing,
    /// The field does not apply to this provider.
    #[error("does not apply to a `{provider}` deployment")]
    NotFor {
        /// The deployment's provider.
        provider: DeploymentProvider,
    },
    /// The field conflicts with another credential field (Bedrock: an API key, or access
    /// keys, not both).
    #[error(
        "conflicts with the other credentials given: a Bedrock deployment takes an API key or access keys, not both"
    )]
    Conflict,
}

/// Whether `s` is a portable environment variable name.
fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 256
}

fn check_url(url: &str) -> Result<(), DeploymentIssue> {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err(DeploymentIssue::NotAUrl);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(DeploymentIssue::CredentialsInUrl);
    }
    if rest.contains(['?', '#']) {
        return Err(DeploymentIssue::QueryInUrl);
    }
    if authority.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(DeploymentIssue::NotAUrl);
    }
    Ok(())
}

/// The deployments of a catalog, by model id.
pub(crate) type DeploymentTable = BTreeMap<String, Vec<DeploymentEntry>>;

/// Checks every entry of `table` on its own and ids unique per model.
pub(crate) fn check_table(
    table: &DeploymentTable,
    source_name: &Option<PathBuf>,
) -> Result<(), CatalogError> {
    for (model, entries) in table {
        let err = |index: usize, field: &'static str, issue: DeploymentIssue| CatalogError::Deployment {
            source_name: source_name.clone(),
            model: model.clone(),
            index,
            id: entries[index].id.clone(),
            field,
            issue,
        };
        let mut seen = HashSet::new();
        for (i, e) in entries.iter().enumerate() {
            e.check().map_err(|(field, issue)| err(i, field, issue))?;
            if !seen.insert(e.id.as_str()) {
                return Err(err(i, "id", DeploymentIssue::DuplicateId));
            }
            if i >= MAX_DEPLOYMENTS_PER_MODEL {
                return Err(err(
                    i,
                    "id",
                    DeploymentIssue::TooMany {
                        max: MAX_DEPLOYMENTS_PER_MODEL,
                    },
                ));
            }
        }
    }
    Ok(())
}

/// Checks that every model with deployments is among `has_model`'s.
pub(crate) fn check_models(
    table: &DeploymentTable,
    has_model: impl Fn(&str) -> bool,
    source_name: &Option<PathBuf>,
) -> Result<(), CatalogError> {
    match table
        .iter()
        .find(|(m, entries)| !entries.is_empty() && !has_model(m))
    {
        Some((model, entries)) => Err(CatalogError::Deployment {
            source_name: source_name.clone(),
            model: model.clone(),
            index: 0,
            id: entries[0].id.clone(),
            field: "model",
            issue: DeploymentIssue::UnknownModel,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    const MODEL: &str = r#""models": [{"id": "m", "provider": "openai", "prices": {"input": 1, "output": 2},
        "context_window": 1000, "max_output_tokens": 100}]"#;

    fn with(deployments: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_json_str(&format!(
            r#"{{ {MODEL}, "deployments": {{ "m": [{deployments}] }} }}"#
        ))
    }

    fn issue(deployments: &str) -> (String, usize, &'static str, DeploymentIssue, String) {
        match with(deployments).unwrap_err() {
            e @ CatalogError::Deployment { .. } => {
                let text = e.to_string();
                let CatalogError::Deployment {
                    model,
                    index,
                    field,
                    issue,
                    ..
                } = e
                else {
                    unreachable!()
                };
                (model, index, field, issue, text)
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn json_and_toml_load_the_same_entries_and_round_trip() {
        let json = with(
            r#"{"id": "east", "provider": "openai", "base_url": "https://east.example.com/v1",
                "api_key_env": "KEY_EAST", "weight": 2.0, "rpm": 500, "tpm": 200000, "max_concurrency": 8},
               {"id": "us", "provider": "bedrock", "region": "us-east-1", "api_key_env": "BR_KEY",
                "tier": 1, "api_name": "us.anthropic.x"}"#,
        )
        .unwrap();
        let d = &json.deployments["m"];
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].provider, DeploymentProvider::OpenAi);
        assert_eq!(
            (d[0].weight, d[0].rpm, d[0].tpm, d[0].max_concurrency),
            (2.0, Some(500), Some(200_000), Some(8))
        );
        assert_eq!(
            (d[1].tier, d[1].weight, d[1].region.as_deref()),
            (1, 1.0, Some("us-east-1"))
        );
        let toml = Catalog::from_toml_str(
            r#"
[[models]]
id = "m"
provider = "openai"
prices = { input = 1.0, output = 2.0 }
context_window = 1000
max_output_tokens = 100

[[deployments.m]]
id = "east"
provider = "openai"
base_url = "https://east.example.com/v1"
api_key_env = "KEY_EAST"
weight = 2.0
rpm = 500
tpm = 200000
max_concurrency = 8

[[deployments.m]]
id = "us"
provider = "bedrock"
region = "us-east-1"
api_key_env = "BR_KEY"
tier = 1
api_name = "us.anthropic.x"
"#,
        )
        .unwrap();
        assert_eq!(toml, json);
        let back = Catalog::from_json_str(&json.to_json_pretty()).unwrap();
        assert_eq!(back, json);
        // A catalog without deployments writes no `deployments` key (older readers load it).
        let plain = Catalog::from_json_str(&format!("{{ {MODEL} }}")).unwrap();
        assert!(!plain.to_json_pretty().contains("deployments"));
    }

    #[test]
    fn bad_entries_name_the_model_the_entry_and_the_field() {
        let cases: [(&str, usize, &str, DeploymentIssue); 12] = [
            (
                r#"{"id": "a", "provider": "openai", "api_key_env": "K", "weight": 0}"#,
                0,
                "weight",
                DeploymentIssue::Weight { weight: 0.0 },
            ),
            (
                r#"{"id": "a", "provider": "openai", "api_key_env": "K"}, {"id": "a", "provider": "openai", "api_key_env": "K"}"#,
                1,
                "id",
                DeploymentIssue::DuplicateId,
            ),
            (
                r#"{"id": " ", "provider": "openai", "api_key_env": "K"}"#,
                0,
                "id",
                DeploymentIssue::EmptyId,
            ),
            (
                r#"{"id": "a", "provider": "openai", "api_key_env": "K", "rpm": 0}"#,
                0,
                "rpm",
                DeploymentIssue::ZeroLimit,
            ),
            (
                r#"{"id": "a", "provider": "openai"}"#,
                0,
                "api_key_env",
                DeploymentIssue::Missing,
            ),
            (
                r#"{"id": "a", "provider": "openai", "api_key_env": "K", "region": "us-east-1"}"#,
                0,
                "region",
                DeploymentIssue::NotFor {
                    provider: DeploymentProvider::OpenAi,
                },
            ),
            (
                r#"{"id": "a", "provider": "anthropic", "api_key_env": "K", "access_key_id_env": "A"}"#,
                0,
                "access_key_id_env",
                DeploymentIssue::NotFor {
                    provider: DeploymentProvider::Anthropic,
                },
            ),
            (
                r#"{"id": "a", "provider": "bedrock", "api_key_env": "K"}"#,
                0,
                "region",
                DeploymentIssue::Missing,
            ),
            (
                r#"{"id": "a", "provider": "bedrock", "region": "r", "access_key_id_env": "A"}"#,
                0,
                "secret_access_key_env",
                DeploymentIssue::Missing,
            ),
            (
                r#"{"id": "a", "provider": "bedrock", "region": "r", "api_key_env": "K", "access_key_id_env": "A"}"#,
                0,
                "api_key_env",
                DeploymentIssue::Conflict,
            ),
            (
                r#"{"id": "a", "provider": "openai", "base_url": "ftp://x"}"#,
                0,
                "base_url",
                DeploymentIssue::NotAUrl,
            ),
            (
                r#"{"id": "a", "provider": "openai", "api_key_env": "K"}, {"id": "b", "provider": "openai", "api_key_env": "K", "weight": -1}"#,
                1,
                "weight",
                DeploymentIssue::Weight { weight: -1.0 },
            ),
        ];
        for (entries, want_index, want_field, want_issue) in cases {
            let (model, index, field, issue, text) = issue(entries);
            assert_eq!(
                (model.as_str(), index, field, &issue),
                ("m", want_index, want_field, &want_issue),
                "{entries}"
            );
            assert!(text.contains("`m`") && text.contains(want_field), "{text}");
        }
    }

    #[test]
    fn a_pasted_secret_is_refused_and_never_repeated() {
        let secret = "sk-proj-abcdef0123456789";
        for entry in [
            format!(r#"{{"id": "a", "provider": "openai", "api_key_env": "{secret}"}}"#),
            format!(
                r#"{{"id": "a", "provider": "openai", "base_url": "https://user:{secret}@h.example/v1"}}"#
            ),
            format!(
                r#"{{"id": "a", "provider": "openai", "base_url": "https://h.example/v1?key={secret}"}}"#
            ),
            format!(r#"{{"id": "a", "provider": "openai", "base_url": "https://h.example/v1#{secret}"}}"#),
        ] {
            let e = with(&entry).unwrap_err();
            assert!(matches!(
                e,
                CatalogError::Deployment {
                    issue: DeploymentIssue::NotAVariableName
                        | DeploymentIssue::CredentialsInUrl
                        | DeploymentIssue::QueryInUrl,
                    ..
                }
            ));
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("abcdef"), "{shown}");
            }
        }
        // A secret under a field of its own is an unknown field: refused, and serde names the
        // field, not the value.
        let e = with(&format!(
            r#"{{"id": "a", "provider": "openai", "api_key": "{secret}"}}"#
        ))
        .unwrap_err();
        assert!(
            matches!(&e, CatalogError::Parse { field: Some(f), .. } if f.contains("deployments.m[0]")),
            "{e:?}"
        );
        assert!(!e.to_string().contains("abcdef"), "{e}");
    }

    #[test]
    fn unknown_models_and_kinds_are_refused_and_overlays_replace_a_models_list() {
        let e = Catalog::from_json_str(&format!(
            r#"{{ {MODEL}, "deployments": {{ "nope": [{{"id": "a", "provider": "openai", "api_key_env": "K"}}] }} }}"#
        ))
        .unwrap_err();
        assert!(
            matches!(&e, CatalogError::Deployment { model, issue: DeploymentIssue::UnknownModel, .. } if model == "nope"),
            "{e:?}"
        );
        let e = with(r#"{"id": "a", "provider": "azure", "api_key_env": "K"}"#).unwrap_err();
        assert!(
            matches!(&e, CatalogError::Parse { field: Some(f), .. } if f == "deployments.m[0].provider"),
            "{e:?}"
        );

        // Over the built-in catalog: a file of deployments alone names built-in models.
        let base = Catalog::builtin();
        assert!(base.deployments.is_empty());
        let over = r#"{"deployments": {"gpt-4o": [{"id": "a", "provider": "openai", "api_key_env": "K1"},
                                                   {"id": "b", "provider": "openai", "api_key_env": "K2"}]}}"#;
        let c = base.clone().overlay_json(over).unwrap();
        assert_eq!(c.deployments["gpt-4o"].len(), 2);
        assert_eq!(c.models, base.models);
        // A second overlay replaces the model's list; other models keep theirs.
        let c = c
            .overlay_json(r#"{"deployments": {"gpt-4o": [{"id": "c", "provider": "openai", "api_key_env": "K3"}],
                                               "gpt-4o-mini": [{"id": "d", "provider": "openai", "api_key_env": "K4"}]}}"#)
            .unwrap();
        assert_eq!(c.deployments["gpt-4o"][0].id, "c");
        assert_eq!(c.deployments["gpt-4o"].len(), 1);
        assert_eq!(c.deployments["gpt-4o-mini"][0].id, "d");
        assert!(matches!(
            base.overlay_json(
                r#"{"deployments": {"nope": [{"id": "a", "provider": "openai", "api_key_env": "K"}]}}"#
            ),
            Err(CatalogError::Deployment {
                issue: DeploymentIssue::UnknownModel,
                ..
            })
        ));
    }
}
