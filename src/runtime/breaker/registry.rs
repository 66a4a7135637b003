//! [`BreakerRegistry`]: one [`CircuitBreaker`] per model, and the router's health hook.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use super::{BreakerConfig, BreakerObserver, BreakerState, CircuitBreaker};
use crate::Error;
use crate::filter::Health;
use crate::model::ModelId;
use crate::runtime::clock::Clock;

/// One [`CircuitBreaker`] per model, created on first use, reading a shared [`Clock`].
///
/// It implements the core's [`Health`] hook: give it to
/// [`RouterBuilder::shared_health`](crate::RouterBuilder::shared_health) (or
/// [`Router::with_health`](crate::Router::with_health)) and models with open breakers are
/// rejected as [`Rejection::Unhealthy`](crate::Rejection::Unhealthy).
pub struct BreakerRegistry {
    config: BreakerConfig,
    overrides: HashMap<ModelId, BreakerConfig>,
    clock: Arc<dyn Clock>,
    breakers: RwLock<HashMap<ModelId, Arc<CircuitBreaker>>>,
    observer: Option<Arc<dyn BreakerObserver>>,
}

impl fmt::Debug for BreakerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerRegistry")
            .field("config", &self.config)
            .field("overrides", &self.overrides.len())
            .field("breakers", &self.read().len())
            .finish_non_exhaustive()
    }
}

impl BreakerRegistry {
    /// A registry giving every model `config`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the configuration is invalid.
    pub fn new(config: BreakerConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            config,
            overrides: HashMap::new(),
            clock,
            breakers: RwLock::new(HashMap::new()),
            observer: None,
        })
    }

    /// Gives every breaker made from now on `observer` (set it before the first call).
    pub fn with_observer(mut self, observer: Arc<dyn BreakerObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Gives `model` its own configuration (before its breaker is first used).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the configuration is invalid.
    pub fn with_config_for(
        mut self,
        model: impl Into<ModelId>,
        config: BreakerConfig,
    ) -> Result<Self, Error> {
        config.validate()?;
        self.overrides.insert(model.into(), config);
        Ok(self)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ModelId, Arc<CircuitBreaker>>> {
        self.breakers.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The breaker of `model`, created closed on first use.
    pub fn breaker(&self, model: &ModelId) -> Arc<CircuitBreaker> {
        if let Some(b) = self.read().get(model) {
            return Arc::clone(b);
        }
        let mut w = self.breakers.write().unwrap_or_else(|p| p.into_inner());
        let config = self.overrides.get(model).copied().unwrap_or(self.config);
        let now = self.clock.now();
        Arc::clone(w.entry(model.clone()).or_insert_with(|| {
            let b = CircuitBreaker::new(model.clone(), config, now);
            Arc::new(match &self.observer {
                Some(o) => b.with_observer(Arc::clone(o)),
                None => b,
            })
        }))
    }

    /// The state of `model`'s breaker now (closed for a model never called).
    pub fn state(&self, model: &ModelId) -> BreakerState {
        self.read()
            .get(model)
            .map_or(BreakerState::Closed, |b| b.state(self.clock.now()))
    }
}

impl Health for BreakerRegistry {
    fn is_available(&self, model: &ModelId) -> bool {
        self.read()
            .get(model)
            .is_none_or(|b| b.is_available(self.clock.now()))
    }
}
