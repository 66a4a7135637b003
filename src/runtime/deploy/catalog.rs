//! Deployments from a catalog file (features `runtime` and `catalog`): a provider client per
//! [`DeploymentEntry`], its credentials read from the environment variables the entry names,
//! registered with the builder together with the [`Deployment`].

use std::sync::Arc;

use crate::catalog::{Catalog, DeploymentEntry, DeploymentProvider};
use crate::provider::{Provider, ProviderError};
use crate::runtime::builder::RoutedClientBuilder;
use crate::runtime::deploy::Deployment;
use crate::runtime::limit::DeploymentLimits;

/// Why a catalog's deployment could not be set up. Never holds a credential: variables are
/// named, their values are not shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogDeploymentError {
    /// A variable the entry names is unset or empty.
    #[error(
        "deployment `{deployment}` of model `{model}`: the environment variable `{variable}` (its `{field}`) is not set or empty"
    )]
    MissingVariable {
        /// The model.
        model: String,
        /// The deployment's id.
        deployment: String,
        /// The entry's field that names the variable (`api_key_env`, ...).
        field: &'static str,
        /// The variable's name.
        variable: String,
    },
    /// The deployment's provider client is not compiled in.
    #[error(
        "deployment `{deployment}` of model `{model}` is served by {provider}: build taskroute with the `{feature}` feature"
    )]
    FeatureDisabled {
        /// The model.
        model: String,
        /// The deployment's id.
        deployment: String,
        /// The provider kind.
        provider: DeploymentProvider,
        /// The crate feature that holds its client.
        feature: &'static str,
    },
    /// The provider client refused its settings (an invalid base URL, a key over plain http to
    /// a host that is not loopback, an invalid region).
    #[error("deployment `{deployment}` of model `{model}`: {source}")]
    Provider {
        /// The model.
        model: String,
        /// The deployment's id.
        deployment: String,
        /// The client's error (kind [`Config`](crate::provider::ErrorKind::Config)).
        source: ProviderError,
    },
}

impl RoutedClientBuilder {
    /// Adds the deployments `catalog` lists ([`Catalog::deployments`]): for each entry, a
    /// provider client built from its kind, base URL or region and the credentials in the
    /// environment variables it names, registered as `catalog:<model>/<id>`, and the
    /// [`Deployment`] with its tier, weight and limits. Models without entries are untouched.
    ///
    /// The entries were checked when the catalog was loaded; [`build`](Self::build) checks
    /// that their models are the router's.
    ///
    /// # Errors
    /// [`CatalogDeploymentError`] naming the model, the deployment and the variable or setting
    /// at fault.
    pub fn catalog_deployments(self, catalog: &Catalog) -> Result<Self, CatalogDeploymentError> {
        self.catalog_deployments_from_vars(catalog, |k| std::env::var(k).ok())
    }

    /// As [`catalog_deployments`](Self::catalog_deployments), reading the variables from `var`
    /// (tests, or another configuration source) rather than the environment.
    ///
    /// # Errors
    /// As [`catalog_deployments`](Self::catalog_deployments).
    pub fn catalog_deployments_from_vars(
        mut self,
        catalog: &Catalog,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CatalogDeploymentError> {
        for (model, entries) in &catalog.deployments {
            for e in entries {
                let provider = connect(model, e, &var)?;
                let name = format!("catalog:{model}/{}", e.id);
                let mut limits = DeploymentLimits::none();
                limits.rpm = e.rpm;
                limits.tpm = e.tpm;
                limits.max_concurrency = e.max_concurrency;
                let mut d = Deployment::new(&e.id, name.clone())
                    .tier(e.tier)
                    .weight(e.weight)
                    .limits(limits);
                d.api_name.clone_from(&e.api_name);
                self = self
                    .provider_named(name, provider)
                    .deployments(model.as_str(), [d]);
            }
        }
        Ok(self)
    }
}

/// The provider client of one entry.
fn connect(
    model: &str,
    e: &DeploymentEntry,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>, CatalogDeploymentError> {
    // A named variable must be set: a typo would otherwise mean no credentials.
    let read = |field: &'static str, name: &Option<String>| match name {
        None => Ok(None),
        Some(name) => var(name)
            .filter(|v| !v.trim().is_empty())
            .map(Some)
            .ok_or_else(|| CatalogDeploymentError::MissingVariable {
                model: model.to_owned(),
                deployment: e.id.clone(),
                field,
                variable: name.clone(),
            }),
    };
    let provider_err = |source: ProviderError| CatalogDeploymentError::Provider {
        model: model.to_owned(),
        deployment: e.id.clone(),
        source,
    };
    let api_key = read("api_key_env", &e.api_key_env)?;
    // A client that takes a key and a base URL (OpenAI, Anthropic).
    #[allow(unused_macros)] // with neither feature on
    macro_rules! keyed {
        ($client:ty) => {{
            let mut b = <$client>::builder();
            if let Some(k) = api_key {
                b = b.api_key(k);
            }
            if let Some(u) = &e.base_url {
                b = b.base_url(u);
            }
            Ok(Arc::new(b.build().map_err(provider_err)?))
        }};
    }
    match e.provider {
        #[cfg(feature = "openai")]
        DeploymentProvider::OpenAi => keyed!(crate::provider::openai::OpenAi),
        #[cfg(feature = "anthropic")]
        DeploymentProvider::Anthropic => keyed!(crate::provider::anthropic::Anthropic),
        #[cfg(feature = "bedrock")]
        DeploymentProvider::Bedrock => {
            let mut b = crate::provider::bedrock::Bedrock::builder();
            if let Some(r) = &e.region {
                b = b.region(r);
            }
            if let Some(u) = &e.base_url {
                b = b.endpoint(u);
            }
            if let Some(k) = api_key {
                b = b.bearer_token(k);
            }
            let id = read("access_key_id_env", &e.access_key_id_env)?;
            let secret = read("secret_access_key_env", &e.secret_access_key_env)?;
            if let (Some(id), Some(secret)) = (id, secret) {
                b = b.credentials(id, secret);
            }
            if let Some(t) = read("session_token_env", &e.session_token_env)? {
                b = b.session_token(t);
            }
            Ok(Arc::new(b.build().map_err(provider_err)?))
        }
        #[allow(unreachable_patterns)] // with every provider feature on
        provider => {
            let _ = (api_key, provider_err);
            Err(CatalogDeploymentError::FeatureDisabled {
                model: model.to_owned(),
                deployment: e.id.clone(),
                provider,
                feature: provider.name(),
            })
        }
    }
}
