//! [`Charge`]: a budget reservation that is settled or released whatever happens to the
//! future holding it, like tokio's `OwnedSemaphorePermit` releasing on drop.
//!
//! The runtime settles a call's reservation explicitly when it knows the outcome. When the
//! caller drops the request mid-call (or drops a stream), the guard's destructor does it: it
//! releases a reservation whose call was never sent, and charges the whole reservation for a
//! call that was sent (the provider may have billed it; the reservation covers the cost at
//! `max_tokens`). The destructor cannot wait, so it polls the store's future once (an
//! in-memory store finishes there) and hands an unfinished one to the current tokio runtime;
//! without one, the store's lease expiry is the last resort (logged).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;

use crate::runtime::budget::{BudgetStore, Reservation};

/// What to do with a reservation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// Give it back: nothing was billed.
    Release,
    /// Replace it with this cost in USD.
    Settle(f64),
}

/// A reservation for one call; see the [module docs](self).
pub(crate) struct Charge {
    amount_usd: f64,
    held: Option<(Arc<dyn BudgetStore>, Reservation)>,
    sent: bool,
    decided: Option<Outcome>,
}

impl Charge {
    /// No budget: nothing to settle; `amount_usd` is still what the call may cost.
    pub(crate) fn unbudgeted(amount_usd: f64) -> Self {
        Self {
            amount_usd,
            held: None,
            sent: false,
            decided: None,
        }
    }

    /// A reservation taken in `store`.
    pub(crate) fn reserved(store: Arc<dyn BudgetStore>, reservation: Reservation) -> Self {
        Self {
            amount_usd: reservation.amount_usd(),
            held: Some((store, reservation)),
            sent: false,
            decided: None,
        }
    }

    /// What the call may cost at most, as far as the runtime knows (the reserved amount).
    pub(crate) fn amount_usd(&self) -> f64 {
        self.amount_usd
    }

    /// The call is about to be sent: from now on, dropping charges the whole reservation.
    pub(crate) fn mark_sent(&mut self) {
        self.sent = true;
    }

    /// Replaces the reservation with the real cost.
    pub(crate) async fn settle(self, usd: f64) {
        self.finish(Outcome::Settle(usd)).await;
    }

    /// Gives the reservation back.
    pub(crate) async fn release(self) {
        self.finish(Outcome::Release).await;
    }

    /// Settles without waiting (for `Stream::poll_next`, which cannot await).
    pub(crate) fn settle_now(mut self, usd: f64) {
        self.decided = Some(Outcome::Settle(usd));
        // `Drop` does it.
    }

    async fn finish(mut self, outcome: Outcome) {
        // Should this future be dropped while the store works, `Drop` redoes it (stores
        // ignore a second settle or release of the same reservation).
        self.decided = Some(outcome);
        if let Some((store, r)) = &self.held {
            let res = match outcome {
                Outcome::Settle(usd) => store.settle(r, usd).await,
                Outcome::Release => store.release(r).await,
            };
            if let Err(e) = res {
                tracing::error!(error = %e, "budget store failed to settle; the reservation expires on its own");
            }
        }
        self.held = None;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        let Some((store, r)) = self.held.take() else {
            return;
        };
        let outcome = self.decided.unwrap_or(if self.sent {
            Outcome::Settle(self.amount_usd)
        } else {
            Outcome::Release
        });
        if self.decided.is_none() {
            tracing::info!(
                amount_usd = self.amount_usd,
                charged = self.sent,
                "request dropped mid-call: reservation settled by its guard"
            );
        }
        detach(Box::pin(async move {
            let res = match outcome {
                Outcome::Settle(usd) => store.settle(&r, usd).await,
                Outcome::Release => store.release(&r).await,
            };
            if let Err(e) = res {
                tracing::error!(error = %e, "budget store failed to settle a dropped call; the reservation expires on its own");
            }
        }));
    }
}

/// Runs `fut` without waiting: one poll here, the rest on the current tokio runtime.
fn detach(mut fut: BoxFuture<'static, ()>) {
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    if let Poll::Ready(()) = Pin::new(&mut fut).poll(&mut cx) {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(fut);
        }
        Err(_) => tracing::error!(
            "a dropped call's reservation could not be settled outside a tokio runtime; it expires on its own"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::budget::{BudgetCap, BudgetScope, InMemoryBudgetStore};
    use crate::runtime::clock::ManualClock;

    fn store() -> Arc<InMemoryBudgetStore> {
        Arc::new(
            InMemoryBudgetStore::new(Arc::new(ManualClock::new()))
                .with_cap(BudgetScope::Global, BudgetCap::total(1.0))
                .unwrap(),
        )
    }

    #[test]
    fn dropped_before_sending_releases_and_after_sending_charges_the_reservation() {
        let s = store();
        let g = [BudgetScope::Global];
        let c = Charge::reserved(s.clone(), s.reserve_now(&g, 0.25).unwrap());
        drop(c);
        assert_eq!(s.held(), 0);
        assert_eq!(s.usage(&BudgetScope::Global).unwrap().spent_usd, 0.0);
        let mut c = Charge::reserved(s.clone(), s.reserve_now(&g, 0.25).unwrap());
        c.mark_sent();
        drop(c);
        assert_eq!(s.held(), 0);
        assert_eq!(s.usage(&BudgetScope::Global).unwrap().spent_usd, 0.25);
        let c = Charge::reserved(s.clone(), s.reserve_now(&g, 0.25).unwrap());
        c.settle_now(0.1);
        assert!((s.usage(&BudgetScope::Global).unwrap().spent_usd - 0.35).abs() < 1e-12);
    }

    #[tokio::test]
    async fn settled_once_only() {
        let s = store();
        let mut c = Charge::reserved(s.clone(), s.reserve_now(&[BudgetScope::Global], 0.5).unwrap());
        c.mark_sent();
        c.settle(0.125).await;
        let u = s.usage(&BudgetScope::Global).unwrap();
        assert_eq!((u.spent_usd, u.reserved_usd), (0.125, 0.0));
    }
}
