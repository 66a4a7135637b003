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
        // `Err(None)`: others wait for capacity in this model's line.
        let admitted = match deps.line.try_lock() {
            // Nobody waits: take capacity now if there is some.
            Ok(_alone) => deps
                .admit(&*self.balancer, &pick, tokens, &*self.clock, avoid)
                .await
                .map_err(Some),
            Err(_) if !ctx.wait_for_capacity => deps
                .admit(&*self.balancer, &pick, tokens, &*self.clock, avoid)
                .await
                .map_err(Some),
            // Others wait for capacity: stand behind them.
            Err(_) => Err(None),
        };
        let admitted = match admitted {
            Ok(i) => Ok(i),
            Err(full) if ctx.wait_for_capacity && full.as_ref().is_none_or(|f| f.next_check().is_some()) => {
                #[cfg(feature = "metrics")]
                let start = self.clock.now();
                let admitted = self.wait_in_line(ctx, deps, &pick, tokens, avoid, full).await;
                #[cfg(feature = "metrics")]
                self.metrics
                    .capacity_waited(model, self.clock.now().saturating_duration_since(start));
                admitted
            }
            Err(full) => Err(full.unwrap_or_default()),
        };
        ctx.caller_key = caller_key;
        match admitted {
            Ok(i) => Ok(Slot::new(i, &deps.list[i], Arc::clone(&self.clock), tokens)),
            Err(full) => {
                let retry_after = full.retry_after();
                #[cfg(feature = "metrics")]
                self.metrics.capacity_refused(model);
                tracing::info!(model = %model.id, rank, retry, retry_after_ms = retry_after.map(|d| d.as_millis()), refused = full.refusals.len(), "no deployment has capacity");
                let refusals = full
                    .refusals
                    .into_iter()
                    .map(|(i, r)| (deps.list[i].deployment.id.clone(), r))
                    .collect();
                ctx.attempts.push(Attempt::new(
                    &model.id,
                    rank,
                    retry,
                    AttemptOutcome::NoCapacity {
                        retry_after,
                        refusals,
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

    /// Waits in the model's line, then for capacity, within the request's deadline. Gives up
    /// with the last refusals seen (`last`, when the line did not let it ask at all).
    async fn wait_in_line(
        &self,
        ctx: &RequestCtx,
        deps: &Deployments,
        pick: &Pick<'_>,
        tokens: u64,
        avoid: u64,
        last: Option<Full>,
    ) -> Result<usize, Full> {
        let remaining = ctx.remaining(self.clock.now());
        let _turn = match select(Box::pin(deps.line.lock()), self.clock.sleep(remaining)).await {
            Either::Left((guard, _)) => guard,
            Either::Right(((), _)) => return Err(last.unwrap_or_default()),
        };
        loop {
            let full = match deps
                .admit(&*self.balancer, pick, tokens, &*self.clock, avoid)
                .await
            {
                Ok(i) => return Ok(i),
                Err(full) => full,
            };
            let Some(wait) = full.next_check() else {
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
