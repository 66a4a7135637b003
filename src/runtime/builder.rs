//! [`RoutedClientBuilder`]: providers, breakers, budget, statistics, retry policy, clock and
//! jitter seed, checked in [`build`](RoutedClientBuilder::build).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use derive_setters::Setters;

use crate::Error;
use crate::filter::Health;
use crate::model::ModelId;
use crate::provider::Provider;
use crate::router::Router;
use crate::runtime::backoff::RetryPolicy;
use crate::runtime::breaker::BreakerRegistry;
use crate::runtime::budget::{BudgetPolicy, BudgetStore};
use crate::runtime::client::RoutedClient;
use crate::runtime::clock::{Clock, TokioClock};
use crate::runtime::deploy::{Balancer, Deployment, Deployments, Live, WeightedRandom};
use crate::runtime::limit::Limiter;
use crate::runtime::stats::RuntimeStats;

/// The router's health hook as the client sees it: the model has a provider, and its breaker
/// (if any) lets calls through.
pub(crate) struct ClientHealth {
    served: HashSet<ModelId>,
    breakers: Option<Arc<BreakerRegistry>>,
}

impl Health for ClientHealth {
    fn is_available(&self, model: &ModelId) -> bool {
        self.served.contains(model) && self.breakers.as_ref().is_none_or(|b| b.is_available(model))
    }
}

/// A deployment given to the builder: its model, settings and own limiter, if any.
type PendingDeployment = (ModelId, Deployment, Option<Arc<dyn Limiter>>);

pub(crate) struct Budget {
    pub(crate) store: Arc<dyn BudgetStore>,
    pub(crate) policy: BudgetPolicy,
}

/// Builds a [`RoutedClient`].
#[derive(Setters)]
#[setters(generate = false)]
pub struct RoutedClientBuilder {
    router: Router,
    providers: HashMap<String, Arc<dyn Provider>>,
    /// Keeps circuit breakers; models with open breakers leave the ranking.
    #[setters(generate, strip_option)]
    breakers: Option<Arc<BreakerRegistry>>,
    budget: Option<Budget>,
    /// Records observed latency and errors (give the same [`RuntimeStats`] to the router's
    /// [`ObservedLatency`](crate::runtime::ObservedLatency) or
    /// [`FailureAwareQuality`](crate::runtime::FailureAwareQuality) to close the loop).
    #[setters(generate, strip_option)]
    stats: Option<Arc<RuntimeStats>>,
    /// Sets the retry policy (default: [`RetryPolicy::default`]).
    #[setters(generate)]
    retry: RetryPolicy,
    /// Sets the clock (default: [`TokioClock`]).
    #[setters(generate, strip_option)]
    clock: Option<Arc<dyn Clock>>,
    /// Sets the seed of the backoff jitter: request `n` jitters from `seed` and `n`, so a run
    /// is reproducible. Without it, the seed is drawn once per client from the process's
    /// random hash keys, so separate processes do not retry in lockstep.
    #[setters(generate, strip_option)]
    seed: Option<u64>,
    deployments: Vec<PendingDeployment>,
    balancer: Option<Arc<dyn Balancer>>,
}

impl fmt::Debug for RoutedClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutedClientBuilder")
            .field("providers", &self.providers.len())
            .field("retry", &self.retry)
            .field("deployments", &self.deployments.len())
            .finish_non_exhaustive()
    }
}

impl RoutedClientBuilder {
    /// Adds deployments of `model`: calls to it go to these (through the providers they name,
    /// each with an in-process [`LocalLimiter`](crate::runtime::LocalLimiter) over its
    /// limits) instead of the provider its [`ModelSpec::provider`](crate::ModelSpec::provider)
    /// names. A model with no deployment is called as before.
    pub fn deployments(
        mut self,
        model: impl Into<ModelId>,
        deployments: impl IntoIterator<Item = Deployment>,
    ) -> Self {
        let model = model.into();
        self.deployments
            .extend(deployments.into_iter().map(|d| (model.clone(), d, None)));
        self
    }

    /// Adds one deployment of `model` with its own [`Limiter`] (a shared one for fleets; its
    /// limits come from the limiter, not from [`Deployment::limits`]).
    pub fn deployment_with_limiter(
        mut self,
        model: impl Into<ModelId>,
        deployment: Deployment,
        limiter: Arc<dyn Limiter>,
    ) -> Self {
        self.deployments.push((model.into(), deployment, Some(limiter)));
        self
    }

    /// Sets how calls are spread over a model's deployments (default:
    /// [`WeightedRandom`]).
    pub fn balancer(mut self, balancer: impl Balancer + 'static) -> Self {
        self.balancer = Some(Arc::new(balancer));
        self
    }

    /// Registers a provider under its [`name`](Provider::name); models whose
    /// [`provider`](crate::ModelSpec::provider) is that name are sent to it.
    pub fn provider(self, provider: Arc<dyn Provider>) -> Self {
        let name = provider.name().to_owned();
        self.provider_named(name, provider)
    }

    /// Registers providers from a map of provider name to provider.
    pub fn providers<I, S>(mut self, providers: I) -> Self
    where
        I: IntoIterator<Item = (S, Arc<dyn Provider>)>,
        S: Into<String>,
    {
        self.providers
            .extend(providers.into_iter().map(|(name, p)| (name.into(), p)));
        self
    }

    /// Registers a provider under another name.
    pub fn provider_named(mut self, name: impl Into<String>, provider: Arc<dyn Provider>) -> Self {
        self.providers.insert(name.into(), provider);
        self
    }

    /// Keeps a budget.
    pub fn budget(mut self, store: Arc<dyn BudgetStore>, policy: BudgetPolicy) -> Self {
        self.budget = Some(Budget { store, policy });
        self
    }

    /// Checks the settings and builds the client. The router gets a health hook that keeps out
    /// models without a registered provider and models whose breaker is open (it replaces any
    /// health hook the router had).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an invalid retry or budget policy, or when no router model
    /// has a registered provider.
    pub fn build(self) -> Result<RoutedClient, Error> {
        self.retry.validate()?;
        if let Some(b) = &self.budget {
            b.policy.validate()?;
        }
        let deployments = self.build_deployments()?;
        let served: HashSet<ModelId> = self
            .router
            .models()
            .iter()
            .filter(|m| self.providers.contains_key(&m.provider) || deployments.contains_key(&m.id))
            .map(|m| m.id.clone())
            .collect();
        if served.is_empty() {
            return Err(Error::invalid(
                "providers",
                format!("{:?}", self.providers.keys().collect::<Vec<_>>()),
                "a provider for at least one of the router's models (register one named as ModelSpec::provider)",
            ));
        }
        let health = ClientHealth {
            served,
            breakers: self.breakers.clone(),
        };
        Ok(RoutedClient {
            #[cfg(feature = "metrics")]
            metrics: Arc::new(crate::telemetry::Metrics::new(self.router.models())),
            router: self.router.with_health(health),
            providers: self.providers,
            breakers: self.breakers,
            budget: self.budget,
            stats: self.stats,
            retry: self.retry,
            clock: self.clock.unwrap_or_else(|| Arc::new(TokioClock)),
            seed: self.seed.unwrap_or_else(process_seed),
            requests: AtomicU64::new(0),
            deployments,
            balancer: self.balancer.unwrap_or_else(|| Arc::new(WeightedRandom)),
        })
    }

    /// Checks the deployments (a known model, a registered provider, a positive finite
    /// weight, ids unique per model, at most 64 per model) and groups them by model.
    fn build_deployments(&self) -> Result<HashMap<ModelId, Deployments>, Error> {
        let mut by_model: HashMap<ModelId, Vec<Live>> = HashMap::new();
        for (model_id, d, limiter) in &self.deployments {
            let Some(model) = self.router.model(model_id.as_str()) else {
                return Err(Error::invalid(
                    "deployments",
                    model_id.to_string(),
                    "a model of the router",
                ));
            };
            let field = format!("deployments[{model_id}/{}]", d.id);
            if !self.providers.contains_key(&d.provider) {
                return Err(Error::invalid(
                    format!("{field}.provider"),
                    d.provider.clone(),
                    "the name of a registered provider (RoutedClientBuilder::provider_named)",
                ));
            }
            if !(d.weight.is_finite() && d.weight > 0.0) {
                return Err(Error::invalid(
                    format!("{field}.weight"),
                    d.weight.to_string(),
                    "a positive finite number",
                ));
            }
            let list = by_model.entry(model_id.clone()).or_default();
            if list.iter().any(|l| l.deployment.id == d.id) || list.len() >= 64 {
                return Err(Error::invalid(
                    &field,
                    d.id.to_string(),
                    "an id unique among the model's deployments, at most 64 of them",
                ));
            }
            list.push(Live::new(d.clone(), model, limiter.clone()));
        }
        Ok(by_model
            .into_iter()
            .map(|(m, list)| (m, Deployments::new(list)))
            .collect())
    }
}

/// splitmix64: spreads consecutive request numbers into unrelated seeds.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed that differs between processes (and between clients): the standard library's
/// per-process random hash keys.
fn process_seed() -> u64 {
    RandomState::new().hash_one(std::process::id())
}

impl RoutedClient {
    /// A builder over `router`.
    pub fn builder(router: Router) -> RoutedClientBuilder {
        RoutedClientBuilder {
            router,
            providers: HashMap::new(),
            breakers: None,
            budget: None,
            stats: None,
            retry: RetryPolicy::default(),
            clock: None,
            seed: None,
            deployments: Vec::new(),
            balancer: None,
        }
    }
}
