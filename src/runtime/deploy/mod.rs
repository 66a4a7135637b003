//! Deployments: where a model's calls go. A model is what the router chooses; a
//! [`Deployment`] is one place that serves it (a provider instance with its own key, base URL
//! or region), with a priority [`tier`](Deployment::tier) (provisioned first, then on-demand),
//! a [`weight`](Deployment::weight) and optional rpm, tpm and concurrency
//! [limits](DeploymentLimits).
//!
//! For each call the runtime takes the lowest tier that has a deployment able to admit it,
//! lets the [`Balancer`] pick among that tier's deployments, and asks the picked one's
//! [`Limiter`] before sending. A refused deployment leaves the choice and the balancer picks
//! again; when none can admit the call, the model is refused with
//! [`AttemptOutcome::NoCapacity`](crate::runtime::AttemptOutcome::NoCapacity), which says when
//! capacity returns, and the ranking moves on (or, with
//! [`RequestOptions::wait_for_capacity`](crate::runtime::RequestOptions::wait_for_capacity),
//! the request waits in line, within its deadline).
//!
//! A model without deployments is called as before: through the provider its
//! [`ModelSpec::provider`](crate::ModelSpec::provider) names, with no limiter.
//!
//! See `docs/deployments.md`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use derive_setters::Setters;
use serde::{Deserialize, Serialize};

use crate::model::ModelSpec;
use crate::runtime::clock::Clock;
use crate::runtime::limit::{DeploymentLimits, Limiter, LocalLimiter, Refusal};

mod admit;
pub mod balancer;
#[cfg(feature = "catalog")]
mod catalog;

pub use balancer::{
    Balancer, Choice, LeastInFlight, LowestLatency, MostRemaining, Pick, StickyByKey, WeightedRandom,
};
#[cfg(feature = "catalog")]
#[cfg_attr(docsrs, doc(cfg(feature = "catalog")))]
pub use catalog::CatalogDeploymentError;

/// A deployment's name, unique among one model's deployments (`"openai-key-2"`, `"eu-west-1"`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(Arc<str>);

crate::id::shared_name!(DeploymentId, "an", "id");

impl fmt::Debug for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

fn one() -> f64 {
    1.0
}

/// One place that serves a model. Loadable from JSON or TOML (`id`, `provider`, and optional
/// `api_name`, `tier`, `weight`, `limits { rpm, tpm, max_concurrency }`).
///
/// ```
/// use taskroute::runtime::{Deployment, DeploymentLimits};
/// let d = Deployment::new("east", "openai-east")
///     .tier(0)
///     .weight(2.0)
///     .limits(DeploymentLimits::none().rpm(500).tpm(200_000));
/// assert_eq!(d.provider, "openai-east");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Setters)]
#[setters(generate = false)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Deployment {
    /// Its name (recorded on every attempt it serves).
    pub id: DeploymentId,
    /// The name of the registered provider that reaches it (one provider instance per key,
    /// base URL or region: [`RoutedClientBuilder::provider_named`](crate::runtime::RoutedClientBuilder::provider_named)).
    pub provider: String,
    /// The model's name on this deployment, when it differs from the model's
    /// [`api_name`](ModelSpec::api_name) (an Azure deployment name, a Bedrock inference profile).
    #[serde(default)]
    #[setters(generate, strip_option, into)]
    pub api_name: Option<String>,
    /// Priority: tier 0 is used first (provisioned throughput), higher tiers only when no
    /// deployment of a lower one can take the call (on-demand).
    #[serde(default)]
    #[setters(generate)]
    pub tier: u8,
    /// Its share of the traffic within its tier (weighted balancers). Positive and finite.
    #[serde(default = "one")]
    #[setters(generate)]
    pub weight: f64,
    /// Its configured limits (unset ones are learned from the provider's headers).
    #[serde(default)]
    #[setters(generate)]
    pub limits: DeploymentLimits,
}

impl Deployment {
    /// A deployment named `id` reached through the provider registered as `provider`: tier 0,
    /// weight 1, no configured limits.
    pub fn new(id: impl AsRef<str>, provider: impl Into<String>) -> Self {
        Self {
            id: DeploymentId::new(id),
            provider: provider.into(),
            api_name: None,
            tier: 0,
            weight: 1.0,
            limits: DeploymentLimits::none(),
        }
    }
}

/// A deployment as the runtime keeps it: its settings, the model as sent to it, its limiter
/// and its observed latency.
pub(crate) struct Live {
    pub(crate) deployment: Deployment,
    pub(crate) model: ModelSpec,
    pub(crate) limiter: Arc<dyn Limiter>,
    latency: Arc<LatencyAverage>,
}

/// Moving average of a deployment's successful calls' latency in µs (0: none yet), shared by
/// the deployment and its open [`Slot`]s (a stream records it when it ends).
#[derive(Debug, Default)]
pub(crate) struct LatencyAverage(AtomicU64);

impl LatencyAverage {
    /// Records a successful call's latency (weight 1/8 for the newest).
    fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            Some(if old == 0 { us } else { old - old / 8 + us / 8 })
        });
    }

    fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deployment")
            .field("id", &self.deployment.id)
            .field("provider", &self.deployment.provider)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl Live {
    pub(crate) fn new(deployment: Deployment, model: &ModelSpec, limiter: Option<Arc<dyn Limiter>>) -> Self {
        let mut model = model.clone();
        if let Some(name) = &deployment.api_name {
            model.api_name = Some(name.clone());
        }
        let limiter = limiter.unwrap_or_else(|| Arc::new(LocalLimiter::new(deployment.limits)));
        Self {
            deployment,
            model,
            limiter,
            latency: Arc::default(),
        }
    }
}

/// The deployments of one model, lowest tier first, and the line requests that wait for
/// capacity stand in (first come, first served).
#[derive(Debug)]
pub(crate) struct Deployments {
    pub(crate) list: Vec<Live>,
    pub(crate) line: tokio::sync::Mutex<()>,
}

/// Why no deployment took a call: each asked deployment's refusal (by index).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Full {
    pub(crate) refusals: Vec<(usize, Refusal)>,
}

impl Full {
    /// When capacity returns on the first deployment to have some, where a refusal says
    /// (a concurrency refusal does not: a slot frees when a call ends).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.refusals.iter().filter_map(|(_, r)| r.retry_after()).min()
    }

    /// When a waiting request should ask again: when capacity returns, or, for a concurrency
    /// refusal, after a short poll; `None` when nothing will change by waiting.
    pub(crate) fn next_check(&self) -> Option<Duration> {
        let poll = self
            .refusals
            .iter()
            .any(|(_, r)| matches!(r, Refusal::Concurrency { .. }))
            .then_some(CONCURRENCY_POLL);
        match (self.retry_after(), poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Deployments {
    pub(crate) fn new(mut list: Vec<Live>) -> Self {
        list.sort_by_key(|l| l.deployment.tier);
        Self {
            list,
            line: tokio::sync::Mutex::new(()),
        }
    }

    /// Admits a call of `tokens` tokens on one deployment: the lowest tier with one that can
    /// take it, the balancer's pick within the tier; deployments in `avoid` (a bit per index:
    /// they failed this request) only when no other can. Returns the deployment's index.
    pub(crate) async fn admit(
        &self,
        balancer: &dyn Balancer,
        pick: &Pick<'_>,
        tokens: u64,
        clock: &dyn Clock,
        avoid: u64,
    ) -> Result<usize, Full> {
        let mut full = Full::default();
        for pass_avoided in [false, true] {
            let mut start = 0;
            while start < self.list.len() {
                let tier = self.list[start].deployment.tier;
                let end = start
                    + self.list[start..]
                        .iter()
                        .take_while(|l| l.deployment.tier == tier)
                        .count();
                let mut open: Vec<usize> = (start..end)
                    .filter(|&i| (avoid >> i.min(63) & 1 == 1) == pass_avoided)
                    .collect();
                while !open.is_empty() {
                    let now = clock.now();
                    let choices: Vec<Choice<'_>> = open.iter().map(|&i| self.choice(i, now)).collect();
                    let k = balancer.pick(&choices, pick).min(open.len() - 1);
                    let i = open[k];
                    match self.list[i].limiter.acquire(tokens, now).decided().await {
                        Ok(()) => return Ok(i),
                        Err(refusal) => {
                            full.refusals.push((i, refusal));
                            open.swap_remove(k);
                        }
                    }
                }
                start = end;
            }
            if avoid == 0 {
                break;
            }
        }
        Err(full)
    }

    fn choice(&self, i: usize, now: Instant) -> Choice<'_> {
        let l = &self.list[i];
        let capacity = l.limiter.capacity(now);
        Choice {
            deployment: &l.deployment,
            in_flight: capacity.in_flight,
            latency: l.latency.get(),
            remaining_share: capacity.remaining_share,
        }
    }

    /// Whether some deployment not in `avoid` is left to try.
    pub(crate) fn untried(&self, avoid: u64) -> bool {
        (0..self.list.len()).any(|i| avoid >> i.min(63) & 1 == 0)
    }
}

/// How often a request waiting for a concurrency slot looks again.
const CONCURRENCY_POLL: Duration = Duration::from_millis(10);

/// A call admitted by a deployment's limiter: settled once, on [`finish`](Self::finish) or
/// [`fail`](Self::fail), or on drop (the request was dropped, or a stream ended early): the
/// concurrency slot is freed either way; the tokens are given back when the call was never
/// [sent](Self::mark_sent), and stand when it was (the provider may have billed them).
pub(crate) struct Slot {
    pub(crate) index: usize,
    pub(crate) id: DeploymentId,
    limiter: Arc<dyn Limiter>,
    latency: Arc<LatencyAverage>,
    clock: Arc<dyn Clock>,
    reserved: u64,
    open: bool,
    sent: bool,
}

impl Slot {
    pub(crate) fn new(index: usize, live: &Live, clock: Arc<dyn Clock>, reserved: u64) -> Self {
        Self {
            index,
            id: live.deployment.id.clone(),
            limiter: Arc::clone(&live.limiter),
            latency: Arc::clone(&live.latency),
            clock,
            reserved,
            open: true,
            sent: false,
        }
    }

    /// The call is about to be sent: from now on, dropping keeps the tokens taken.
    pub(crate) fn mark_sent(&mut self) {
        self.sent = true;
    }

    fn settle(&mut self, used: Option<u64>) {
        if std::mem::take(&mut self.open) {
            self.limiter.settle(self.reserved, used, self.clock.now());
        }
    }

    /// The call was not sent: everything is given back but the request.
    pub(crate) fn cancel(mut self) {
        self.settle(Some(0));
    }

    /// The call answered after `took` with `usage` tokens (`None`: not reported) and these
    /// headers; `took` enters the deployment's latency average.
    pub(crate) fn finish(
        mut self,
        took: Duration,
        used: Option<u64>,
        seen: Option<&crate::provider::RateLimits>,
    ) {
        self.latency.record(took);
        if let Some(seen) = seen {
            self.limiter.learn(seen, self.clock.now());
        }
        self.settle(used);
    }

    /// What the provider's rate-limit headers said while the call is open (a stream's
    /// [`RateLimits`](crate::provider::StreamEvent::RateLimits) event).
    pub(crate) fn learn(&self, seen: &crate::provider::RateLimits) {
        self.limiter.learn(seen, self.clock.now());
    }

    /// Learns from an error; a rate-limit error pauses the deployment.
    fn observe(&self, e: &crate::provider::ProviderError) {
        let now = self.clock.now();
        if let Some(seen) = e.rate_limits() {
            self.limiter.learn(seen, now);
        }
        if e.is_rate_limited() {
            self.limiter.throttled(e.retry_after(), now);
        }
    }

    /// The call failed: learn from the error; a rate-limit error pauses the deployment. A
    /// timeout keeps the reservation (it may have been billed), other errors give it back.
    pub(crate) fn fail(mut self, e: &crate::provider::ProviderError) {
        self.observe(e);
        self.settle(if e.is_timeout() { None } else { Some(0) });
    }

    /// A stream failed after tokens were delivered: learn from the error (a throttling error
    /// mid-stream pauses the deployment); the reservation stands (the tokens were billed).
    pub(crate) fn interrupted(mut self, e: &crate::provider::ProviderError) {
        self.observe(e);
        self.settle(None);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.settle(if self.sent { None } else { Some(0) });
    }
}
