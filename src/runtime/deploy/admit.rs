//! Taking a deployment for one call of a model: admission now, or in line for capacity
//! (first come, first served) when the request allows waiting; a refusal is recorded as
//! [`AttemptOutcome::NoCapacity`] and the ranking moves on.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{Either, select};

use super::{Deployments, Full, Pick, Slot};
use crate::model::ModelSpec;
use crate::provider::ChatRequest;
use crate::runtime::attempt::{Attempt, AttemptOutcome};
use crate::runtime::client::RoutedClient;
use crate::runtime::request::{RequestCtx, Turn};

impl RoutedClient {
    /// A slot on one of `deps` for a call of `request` (its tokens estimated as the task's input
    /// plus `max_tokens`), or the turn's end.
    #[allow(clippy::too_many_arguments)] // the turn's state, passed through
    pub(crate) async fn take_slot<T>(
        &self,
        ctx: &mut RequestCtx,
        deps: &Deployments,
        model: &ModelSpec,
        rank: u32,
        retry: u32,
        request: &ChatRequest,
        avoid: u64,
    ) -> Result<Slot, Turn<T>> {
        let tokens = u64::from(ctx.input_tokens) + u64::from(request.max_tokens_or_default(model));
        let random = ctx.rng.unit();
        let caller_key = ctx.caller_key.take();
        let pick = Pick::new(caller_key.as_deref(), random);
        let admitted = match deps.line.try_lock() {
            // Nobody waits: take capacity now if there is some.
            Ok(_alone) => {
                deps.admit(&*self.balancer, &pick, tokens, &*self.clock, avoid)
                    .await
            }
            Err(_) if !ctx.wait_for_capacity => {
                deps.admit(&*self.balancer, &pick, tokens, &*self.clock, avoid)
                    .await
            }
            // Others wait for capacity: stand behind them.
            Err(_) => Err(Full {
                retry_after: Some(Duration::ZERO),
            }),
        };
        let admitted = match admitted {
            Err(full) if ctx.wait_for_capacity && full.retry_after.is_some() => {
                #[cfg(feature = "metrics")]
                let start = self.clock.now();
                let admitted = self.wait_in_line(ctx, deps, &pick, tokens, avoid).await;
                #[cfg(feature = "metrics")]
                self.metrics
                    .capacity_waited(model, self.clock.now().saturating_duration_since(start));
                admitted
            }
            other => other,
        };
        ctx.caller_key = caller_key;
        match admitted {
            Ok(i) => Ok(Slot::new(i, &deps.list[i], Arc::clone(&self.clock), tokens)),
            Err(full) => {
                #[cfg(feature = "metrics")]
                self.metrics.capacity_refused(model);
                tracing::info!(model = %model.id, rank, retry, retry_after_ms = full.retry_after.map(|d| d.as_millis()), "no deployment has capacity");
                ctx.attempts.push(Attempt::new(
                    &model.id,
                    rank,
                    retry,
                    AttemptOutcome::NoCapacity {
                        retry_after: full.retry_after,
                    },
                ));
                Err(if ctx.expired(self.clock.now()) {
                    Turn::Stop(crate::runtime::request::Stop::Deadline)
                } else {
                    Turn::Next
                })
            }
        }
    }

    /// Waits in the model's line, then for capacity, within the request's deadline.
    async fn wait_in_line(
        &self,
        ctx: &RequestCtx,
        deps: &Deployments,
        pick: &Pick<'_>,
        tokens: u64,
        avoid: u64,
    ) -> Result<usize, Full> {
        let remaining = ctx.remaining(self.clock.now());
        let _turn = match select(Box::pin(deps.line.lock()), self.clock.sleep(remaining)).await {
            Either::Left((guard, _)) => guard,
            Either::Right(((), _)) => return Err(Full { retry_after: None }),
        };
        loop {
            let full = match deps
                .admit(&*self.balancer, pick, tokens, &*self.clock, avoid)
                .await
            {
                Ok(i) => return Ok(i),
                Err(full) => full,
            };
            let Some(wait) = full.retry_after else {
                return Err(full);
            };
            let wait = wait.max(MIN_WAIT);
            if wait >= ctx.remaining(self.clock.now()) {
                return Err(full);
            }
            self.clock.sleep(wait).await;
        }
    }
}

/// The shortest wait between two admission checks of a waiting request.
const MIN_WAIT: Duration = Duration::from_millis(1);
