//! Budgets: spend caps per window (global, per tenant, per key), kept by reserving the
//! expected cost before a call and settling the real cost after.
//!
//! A call first [reserves](BudgetStore::reserve) its expected cost in every scope it belongs
//! to, all or nothing; the reservation counts against the caps until it is
//! [settled](BudgetStore::settle) with the real cost or [released](BudgetStore::release) on
//! failure. Since `spent + reserved` never exceeds a cap, concurrent calls cannot overspend as
//! long as no call costs more than it reserved (the runtime reserves the worst case it knows: the
//! estimate at the request's `max_tokens`, times a safety factor). A real cost above its
//! reservation is still recorded (the money is gone) and reported as an overrun.
//!
//! Amounts are kept as whole nano-dollars, so the accounting is exact.
//!
//! The state sits behind the [`BudgetStore`] trait; [`InMemoryBudgetStore`] keeps it in the
//! process. A store shared by replicas (Redis, with the check-and-reserve in one script) plugs
//! in the same way.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Error;
use crate::runtime::clock::Clock;
use crate::task::Limits;

/// What a spend cap applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BudgetScope {
    /// Every call.
    Global,
    /// The calls of one tenant.
    Tenant(Arc<str>),
    /// The calls made with one API key (your own key id, never the secret itself).
    Key(Arc<str>),
}

impl BudgetScope {
    /// The scope of a tenant.
    pub fn tenant(name: impl AsRef<str>) -> Self {
        Self::Tenant(Arc::from(name.as_ref()))
    }

    /// The scope of a key id.
    pub fn key(id: impl AsRef<str>) -> Self {
        Self::Key(Arc::from(id.as_ref()))
    }
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetScope::Global => f.write_str("global"),
            BudgetScope::Tenant(t) => write!(f, "tenant `{t}`"),
            BudgetScope::Key(k) => write!(f, "key `{k}`"),
        }
    }
}

/// A spend cap: at most `limit_usd` per window (or in total without a window).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct BudgetCap {
    /// The cap in USD.
    pub limit_usd: f64,
    /// The window the cap applies to; `None` for a lifetime cap. Windows are fixed
    /// (tumbling), counted from the store's creation.
    pub window: Option<Duration>,
}

impl BudgetCap {
    /// A cap of `limit_usd` per `window`.
    pub fn per(limit_usd: f64, window: Duration) -> Self {
        Self {
            limit_usd,
            window: Some(window),
        }
    }

    /// A lifetime cap.
    pub fn total(limit_usd: f64) -> Self {
        Self {
            limit_usd,
            window: None,
        }
    }

    pub(crate) fn validate(&self, scope: &BudgetScope) -> Result<(), Error> {
        if !(self.limit_usd.is_finite() && self.limit_usd >= 0.0) || self.limit_usd > MAX_USD {
            return Err(Error::InvalidValue {
                field: format!("budget[{scope}].limit_usd"),
                value: self.limit_usd.to_string(),
                expected: "a finite amount in USD, >= 0 and below 1e9",
            });
        }
        if self.window.is_some_and(|w| w.is_zero()) {
            return Err(Error::InvalidValue {
                field: format!("budget[{scope}].window"),
                value: "0s".to_owned(),
                expected: "a non-zero window, or none for a lifetime cap",
            });
        }
        Ok(())
    }
}

const NANOS_PER_USD: f64 = 1e9;
const MAX_USD: f64 = 1e9;

fn to_nanos_ceil(usd: f64) -> u64 {
    if usd.is_nan() || usd <= 0.0 {
        0
    } else {
        (usd.min(MAX_USD) * NANOS_PER_USD).ceil() as u64
    }
}

fn to_usd(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_USD
}

/// Why a budget operation failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// The reservation would take a scope past its cap.
    #[error(
        "budget for {scope} exhausted: ${requested_usd:.6} requested, ${spent_usd:.6} spent and \
         ${reserved_usd:.6} reserved of ${limit_usd:.6}; wait for the window to roll over or raise the cap"
    )]
    Exceeded {
        /// The scope whose cap refused.
        scope: BudgetScope,
        /// Its cap.
        limit_usd: f64,
        /// Settled spend in the current window.
        spent_usd: f64,
        /// Reserved by calls in flight.
        reserved_usd: f64,
        /// What the call asked for.
        requested_usd: f64,
    },
    /// The store could not be reached or answered nonsense.
    #[error("budget store failed: {0}")]
    Store(Arc<dyn std::error::Error + Send + Sync>),
}

/// Converts USD to whole nano-dollars, rounding up (NaN and negative amounts give 0; amounts
/// above 1e9 USD are clamped). The unit every [`Reservation`] is kept in.
pub fn usd_to_nanos(usd: f64) -> u64 {
    to_nanos_ceil(usd)
}

/// Converts whole nano-dollars back to USD.
pub fn nanos_to_usd(nanos: u64) -> f64 {
    to_usd(nanos)
}

/// A held reservation: pass it back to [`settle`](BudgetStore::settle) or
/// [`release`](BudgetStore::release).
///
/// It carries everything a store needs to settle it, even after the store has forgotten it
/// (its lease expired): the store's id, the scopes it was taken in, and the amount in whole
/// nano-dollars. A [`BudgetStore`] written outside this crate makes its reservations with
/// [`Reservation::new`] or [`Reservation::from_nanos`].
///
/// ```
/// use taskroute::runtime::{BudgetScope, Reservation};
/// let r = Reservation::new(7, vec![BudgetScope::Global, BudgetScope::tenant("acme")], 0.0025);
/// assert_eq!((r.id(), r.amount_nanos()), (7, 2_500_000));
/// assert_eq!(r.scopes().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    id: u64,
    scopes: Arc<[BudgetScope]>,
    amount_nanos: u64,
}

impl Reservation {
    /// A reservation of `amount_usd` (rounded up to whole nano-dollars) in `scopes`, known to
    /// its store as `id`.
    pub fn new(id: u64, scopes: impl Into<Arc<[BudgetScope]>>, amount_usd: f64) -> Self {
        Self::from_nanos(id, scopes, to_nanos_ceil(amount_usd))
    }

    /// A reservation of `amount_nanos` nano-dollars in `scopes`, known to its store as `id`.
    pub fn from_nanos(id: u64, scopes: impl Into<Arc<[BudgetScope]>>, amount_nanos: u64) -> Self {
        Self {
            id,
            scopes: scopes.into(),
            amount_nanos,
        }
    }

    /// The reserved amount in USD.
    pub fn amount_usd(&self) -> f64 {
        to_usd(self.amount_nanos)
    }

    /// The reserved amount in whole nano-dollars.
    pub fn amount_nanos(&self) -> u64 {
        self.amount_nanos
    }

    /// The store's id for it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The scopes it was taken in.
    pub fn scopes(&self) -> &[BudgetScope] {
        &self.scopes
    }
}

/// Where spend and reservations are kept. Every method is atomic across the scopes given.
///
/// Implement it to keep budgets elsewhere (a database, Redis shared by replicas): every type in
/// its signatures is public and constructible ([`Reservation::new`], [`BudgetError`]), and
/// `&T`, `Box<T>` and `Arc<T>` of a store are stores. What the runtime expects:
///
/// - `settle` and `release` are idempotent per reservation id: the second call records nothing;
/// - `settle` records the cost even when the reservation's lease has expired (the money was
///   spent all the same): the [`Reservation`] carries its scopes and amount for that;
/// - the runtime settles or releases every reservation it takes, also when the caller drops the
///   request mid-call (from a destructor; see `docs/reliability.md`).
#[async_trait]
pub trait BudgetStore: fmt::Debug + Send + Sync {
    /// Reserves `usd` in every capped scope among `scopes`, all or nothing.
    ///
    /// # Errors
    /// [`BudgetError::Exceeded`] naming the first scope that would go over its cap.
    async fn reserve(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError>;

    /// Replaces the reservation with the real cost.
    ///
    /// # Errors
    /// [`BudgetError::Store`] when the store fails.
    async fn settle(&self, reservation: &Reservation, actual_usd: f64) -> Result<(), BudgetError>;

    /// Drops the reservation (the call failed or was not made).
    ///
    /// # Errors
    /// [`BudgetError::Store`] when the store fails.
    async fn release(&self, reservation: &Reservation) -> Result<(), BudgetError>;

    /// What is left in the tightest capped scope among `scopes` (`None` when none is capped).
    ///
    /// # Errors
    /// [`BudgetError::Store`] when the store fails.
    async fn remaining(&self, scopes: &[BudgetScope]) -> Result<Option<f64>, BudgetError>;
}

macro_rules! forward_budget_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: BudgetStore + ?Sized> BudgetStore for $ty {
            async fn reserve(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError> {
                (**self).reserve(scopes, usd).await
            }
            async fn settle(&self, reservation: &Reservation, actual_usd: f64) -> Result<(), BudgetError> {
                (**self).settle(reservation, actual_usd).await
            }
            async fn release(&self, reservation: &Reservation) -> Result<(), BudgetError> {
                (**self).release(reservation).await
            }
            async fn remaining(&self, scopes: &[BudgetScope]) -> Result<Option<f64>, BudgetError> {
                (**self).remaining(scopes).await
            }
        }
    )*};
}

forward_budget_store!(&T, Box<T>, Arc<T>);

/// Spend of one scope in its current window.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ScopeUsage {
    /// The cap.
    pub limit_usd: f64,
    /// Settled in the current window.
    pub spent_usd: f64,
    /// Reserved by calls in flight.
    pub reserved_usd: f64,
    /// Real costs above their reservations, summed over the store's life.
    pub overrun_usd: f64,
}

#[derive(Debug)]
struct ScopeState {
    limit: u64,
    window: Option<Duration>,
    window_index: u64,
    spent: u64,
    reserved: u64,
    overrun: u64,
}

#[derive(Debug)]
struct Held {
    scopes: Arc<[BudgetScope]>,
    amount: u64,
    at: Instant,
}

#[derive(Debug)]
struct Inner {
    scopes: HashMap<BudgetScope, ScopeState>,
    held: BTreeMap<u64, Held>,
    next_id: u64,
}

/// A [`BudgetStore`] in this process's memory, behind one lock.
///
/// Reservations never settled nor released (a caller dropped mid-call) expire after
/// `reservation_ttl` (10 minutes unless set), so they cannot hold budget forever.
pub struct InMemoryBudgetStore {
    clock: Arc<dyn Clock>,
    epoch: Instant,
    caps: HashMap<BudgetScope, BudgetCap>,
    tenant_cap: Option<BudgetCap>,
    key_cap: Option<BudgetCap>,
    reservation_ttl: Duration,
    inner: Mutex<Inner>,
}

impl fmt::Debug for InMemoryBudgetStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryBudgetStore")
            .field("caps", &self.caps)
            .field("tenant_cap", &self.tenant_cap)
            .field("key_cap", &self.key_cap)
            .field("held", &self.lock().held.len())
            .finish_non_exhaustive()
    }
}

impl InMemoryBudgetStore {
    /// A store without caps (add them with the `with_*` methods).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let epoch = clock.now();
        Self {
            clock,
            epoch,
            caps: HashMap::new(),
            tenant_cap: None,
            key_cap: None,
            reservation_ttl: Duration::from_secs(600),
            inner: Mutex::new(Inner {
                scopes: HashMap::new(),
                held: BTreeMap::new(),
                next_id: 0,
            }),
        }
    }

    /// Caps one scope.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a negative, non-finite or huge limit, or a zero window.
    pub fn with_cap(mut self, scope: BudgetScope, cap: BudgetCap) -> Result<Self, Error> {
        cap.validate(&scope)?;
        self.caps.insert(scope, cap);
        Ok(self)
    }

    /// Caps every tenant without a cap of its own.
    ///
    /// # Errors
    /// As [`with_cap`](Self::with_cap).
    pub fn with_tenant_cap(mut self, cap: BudgetCap) -> Result<Self, Error> {
        cap.validate(&BudgetScope::tenant("*"))?;
        self.tenant_cap = Some(cap);
        Ok(self)
    }

    /// Caps every key without a cap of its own.
    ///
    /// # Errors
    /// As [`with_cap`](Self::with_cap).
    pub fn with_key_cap(mut self, cap: BudgetCap) -> Result<Self, Error> {
        cap.validate(&BudgetScope::key("*"))?;
        self.key_cap = Some(cap);
        Ok(self)
    }

    /// Sets how long an unsettled reservation is held.
    pub fn with_reservation_ttl(mut self, ttl: Duration) -> Self {
        self.reservation_ttl = ttl;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update under the lock is applied whole before anything can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cap_of(&self, scope: &BudgetScope) -> Option<BudgetCap> {
        self.caps.get(scope).copied().or(match scope {
            BudgetScope::Global => None,
            BudgetScope::Tenant(_) => self.tenant_cap,
            BudgetScope::Key(_) => self.key_cap,
        })
    }

    fn window_index(&self, window: Option<Duration>, now: Instant) -> u64 {
        window.map_or(0, |w| {
            (now.saturating_duration_since(self.epoch).as_nanos() / w.as_nanos()) as u64
        })
    }

    /// Brings `scope`'s state to the current window; `None` for an uncapped scope.
    fn state<'a>(
        &self,
        inner: &'a mut Inner,
        scope: &BudgetScope,
        now: Instant,
    ) -> Option<&'a mut ScopeState> {
        let cap = self.cap_of(scope)?;
        let idx = self.window_index(cap.window, now);
        let st = inner.scopes.entry(scope.clone()).or_insert_with(|| ScopeState {
            limit: to_nanos_ceil(cap.limit_usd),
            window: cap.window,
            window_index: idx,
            spent: 0,
            reserved: 0,
            overrun: 0,
        });
        if st.window.is_some() && st.window_index != idx {
            // A new window: spend starts again; calls in flight keep their reservations.
            st.window_index = idx;
            st.spent = 0;
        }
        Some(st)
    }

    fn expire(&self, inner: &mut Inner, now: Instant) {
        while let Some(entry) = inner.held.first_entry() {
            if now.saturating_duration_since(entry.get().at) < self.reservation_ttl {
                break;
            }
            let held = entry.remove();
            tracing::warn!(
                amount_usd = to_usd(held.amount),
                "budget reservation expired unsettled"
            );
            for s in held.scopes.iter() {
                if let Some(st) = inner.scopes.get_mut(s) {
                    st.reserved = st.reserved.saturating_sub(held.amount);
                }
            }
        }
    }

    /// [`BudgetStore::reserve`] without the async wrapper.
    ///
    /// # Errors
    /// [`BudgetError::Exceeded`] naming the first scope that would go over its cap.
    pub fn reserve_now(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError> {
        let now = self.clock.now();
        let amount = to_nanos_ceil(usd);
        let mut g = self.lock();
        self.expire(&mut g, now);
        let mut capped = Vec::with_capacity(scopes.len());
        for s in scopes {
            if capped.contains(s) {
                continue;
            }
            if let Some(st) = self.state(&mut g, s, now) {
                if st.spent.saturating_add(st.reserved).saturating_add(amount) > st.limit {
                    return Err(BudgetError::Exceeded {
                        scope: s.clone(),
                        limit_usd: to_usd(st.limit),
                        spent_usd: to_usd(st.spent),
                        reserved_usd: to_usd(st.reserved),
                        requested_usd: to_usd(amount),
                    });
                }
                capped.push(s.clone());
            }
        }
        for s in &capped {
            if let Some(st) = g.scopes.get_mut(s) {
                st.reserved += amount;
            }
        }
        let id = g.next_id;
        g.next_id += 1;
        let reservation = Reservation::from_nanos(id, capped, amount);
        g.held.insert(
            id,
            Held {
                scopes: Arc::clone(&reservation.scopes),
                amount,
                at: now,
            },
        );
        Ok(reservation)
    }

    /// [`BudgetStore::settle`] without the async wrapper. Settling a reservation twice, or
    /// one that expired, records nothing the second time.
    pub fn settle_now(&self, reservation: &Reservation, actual_usd: f64) {
        let now = self.clock.now();
        let actual = to_nanos_ceil(actual_usd);
        let mut g = self.lock();
        self.expire(&mut g, now);
        let Some(held) = g.held.remove(&reservation.id) else {
            return;
        };
        let over = actual.saturating_sub(held.amount);
        if over > 0 {
            tracing::warn!(
                reserved_usd = to_usd(held.amount),
                actual_usd = to_usd(actual),
                "call cost more than it reserved"
            );
        }
        for s in held.scopes.iter() {
            if let Some(st) = self.state(&mut g, s, now) {
                st.reserved = st.reserved.saturating_sub(held.amount);
                st.spent = st.spent.saturating_add(actual);
                st.overrun = st.overrun.saturating_add(over);
            }
        }
    }

    /// [`BudgetStore::release`] without the async wrapper.
    pub fn release_now(&self, reservation: &Reservation) {
        let mut g = self.lock();
        if let Some(held) = g.held.remove(&reservation.id) {
            for s in held.scopes.iter() {
                if let Some(st) = g.scopes.get_mut(s) {
                    st.reserved = st.reserved.saturating_sub(held.amount);
                }
            }
        }
    }

    /// [`BudgetStore::remaining`] without the async wrapper.
    pub fn remaining_now(&self, scopes: &[BudgetScope]) -> Option<f64> {
        let now = self.clock.now();
        let mut g = self.lock();
        self.expire(&mut g, now);
        let mut least: Option<u64> = None;
        for s in scopes {
            if let Some(st) = self.state(&mut g, s, now) {
                let left = st.limit.saturating_sub(st.spent.saturating_add(st.reserved));
                least = Some(least.map_or(left, |l| l.min(left)));
            }
        }
        least.map(to_usd)
    }

    /// The usage of a capped scope in its current window.
    pub fn usage(&self, scope: &BudgetScope) -> Option<ScopeUsage> {
        let now = self.clock.now();
        let mut g = self.lock();
        self.expire(&mut g, now);
        self.state(&mut g, scope, now).map(|st| ScopeUsage {
            limit_usd: to_usd(st.limit),
            spent_usd: to_usd(st.spent),
            reserved_usd: to_usd(st.reserved),
            overrun_usd: to_usd(st.overrun),
        })
    }

    /// Reservations currently held.
    pub fn held(&self) -> usize {
        self.lock().held.len()
    }
}

#[async_trait]
impl BudgetStore for InMemoryBudgetStore {
    async fn reserve(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError> {
        self.reserve_now(scopes, usd)
    }
    async fn settle(&self, reservation: &Reservation, actual_usd: f64) -> Result<(), BudgetError> {
        self.settle_now(reservation, actual_usd);
        Ok(())
    }
    async fn release(&self, reservation: &Reservation) -> Result<(), BudgetError> {
        self.release_now(reservation);
        Ok(())
    }
    async fn remaining(&self, scopes: &[BudgetScope]) -> Result<Option<f64>, BudgetError> {
        Ok(self.remaining_now(scopes))
    }
}

/// What the runtime does as a budget runs low.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct BudgetPolicy {
    /// Route with the task's cost limit lowered to what is left (so the router steps down to
    /// cheaper models) before refusing. When `false`, the routed model is tried as ranked and
    /// a refused reservation ends the request.
    pub step_down: bool,
    /// Reservations are the expected cost times this factor (≥ 1; raise it when token estimates
    /// run low).
    pub reserve_factor: f64,
}

impl Default for BudgetPolicy {
    /// Steps down; reserves the expected cost as it is.
    fn default() -> Self {
        Self {
            step_down: true,
            reserve_factor: 1.0,
        }
    }
}

impl BudgetPolicy {
    /// Turns stepping down on or off.
    pub fn with_step_down(mut self, on: bool) -> Self {
        self.step_down = on;
        self
    }

    /// Sets the reserve factor.
    pub fn with_reserve_factor(mut self, factor: f64) -> Self {
        self.reserve_factor = factor;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a reserve factor below 1 or not finite.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.reserve_factor.is_finite() && self.reserve_factor >= 1.0) {
            return Err(Error::InvalidValue {
                field: "budget.reserve_factor".to_owned(),
                value: self.reserve_factor.to_string(),
                expected: "a finite factor >= 1",
            });
        }
        Ok(())
    }

    /// The task's limits with the cost limit lowered to `remaining` when stepping down.
    pub fn limits(&self, limits: Limits, remaining: Option<f64>) -> Limits {
        match remaining {
            Some(left) if self.step_down => {
                // The router compares the estimate, the store the reserved (estimate × factor).
                let left = left / self.reserve_factor;
                let cap = limits.max_cost_usd.map_or(left, |c| c.min(left));
                limits.with_max_cost_usd(cap)
            }
            _ => limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::ManualClock;
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    fn store(clock: &ManualClock) -> InMemoryBudgetStore {
        InMemoryBudgetStore::new(Arc::new(clock.clone()))
    }

    #[test]
    fn reserve_settle_release_and_refuse() {
        let clock = ManualClock::new();
        let s = store(&clock)
            .with_cap(BudgetScope::Global, BudgetCap::total(1.0))
            .unwrap();
        let g = [BudgetScope::Global];
        let a = s.reserve_now(&g, 0.6).unwrap();
        let err = s.reserve_now(&g, 0.5).unwrap_err();
        assert!(matches!(err, BudgetError::Exceeded { .. }));
        assert!(err.to_string().contains("global"), "{err}");
        s.settle_now(&a, 0.25);
        assert!((s.remaining_now(&g).unwrap() - 0.75).abs() < 1e-12);
        let b = s.reserve_now(&g, 0.7).unwrap();
        s.release_now(&b);
        let u = s.usage(&BudgetScope::Global).unwrap();
        assert_eq!((u.spent_usd, u.reserved_usd), (0.25, 0.0));
        // settling twice records nothing more
        s.settle_now(&a, 0.25);
        assert_eq!(s.usage(&BudgetScope::Global).unwrap().spent_usd, 0.25);
    }

    #[test]
    fn all_or_nothing_across_scopes_and_default_tenant_caps() {
        let clock = ManualClock::new();
        let s = store(&clock)
            .with_cap(BudgetScope::Global, BudgetCap::total(10.0))
            .unwrap()
            .with_tenant_cap(BudgetCap::total(1.0))
            .unwrap();
        let acme = [BudgetScope::Global, BudgetScope::tenant("acme")];
        let _r = s.reserve_now(&acme, 0.9).unwrap();
        let err = s.reserve_now(&acme, 0.2).unwrap_err();
        assert!(err.to_string().contains("tenant `acme`"), "{err}");
        // the refused call reserved nothing globally
        assert!((s.usage(&BudgetScope::Global).unwrap().reserved_usd - 0.9).abs() < 1e-12);
        // another tenant has its own cap
        s.reserve_now(&[BudgetScope::Global, BudgetScope::tenant("zeta")], 0.9)
            .unwrap();
        // an uncapped key scope is no limit
        assert_eq!(s.remaining_now(&[BudgetScope::key("k1")]), None);
    }

    #[test]
    fn windows_roll_over_and_in_flight_reservations_carry() {
        let clock = ManualClock::new();
        let s = store(&clock)
            .with_cap(BudgetScope::Global, BudgetCap::per(1.0, Duration::from_secs(60)))
            .unwrap();
        let g = [BudgetScope::Global];
        let a = s.reserve_now(&g, 0.5).unwrap();
        let b = s.reserve_now(&g, 0.5).unwrap();
        s.settle_now(&a, 0.5);
        assert!(s.reserve_now(&g, 0.1).is_err());
        clock.advance(Duration::from_secs(61));
        // new window: spend reset, the in-flight 0.5 still held
        assert!((s.remaining_now(&g).unwrap() - 0.5).abs() < 1e-12);
        s.settle_now(&b, 0.4);
        assert!((s.remaining_now(&g).unwrap() - 0.6).abs() < 1e-12);
    }

    #[test]
    fn unsettled_reservations_expire_and_overruns_are_reported() {
        let clock = ManualClock::new();
        let s = store(&clock)
            .with_cap(BudgetScope::Global, BudgetCap::total(1.0))
            .unwrap()
            .with_reservation_ttl(Duration::from_secs(5));
        let g = [BudgetScope::Global];
        let _lost = s.reserve_now(&g, 1.0).unwrap();
        assert!(s.reserve_now(&g, 0.1).is_err());
        clock.advance(Duration::from_secs(6));
        let r = s.reserve_now(&g, 0.1).unwrap();
        assert_eq!(s.held(), 1);
        s.settle_now(&r, 0.3);
        let u = s.usage(&BudgetScope::Global).unwrap();
        assert!((u.overrun_usd - 0.2).abs() < 1e-12);
    }

    #[test]
    fn bad_caps_are_refused() {
        let clock = ManualClock::new();
        let e = store(&clock)
            .with_cap(BudgetScope::Global, BudgetCap::total(f64::NAN))
            .unwrap_err();
        assert!(e.to_string().contains("budget[global].limit_usd"), "{e}");
        assert!(
            store(&clock)
                .with_tenant_cap(BudgetCap::per(1.0, Duration::ZERO))
                .is_err()
        );
    }

    #[test]
    fn step_down_lowers_the_cost_limit() {
        let p = BudgetPolicy::default();
        assert_eq!(p.limits(Limits::NONE, Some(0.5)).max_cost_usd, Some(0.5));
        let tight = Limits::NONE.with_max_cost_usd(0.1);
        assert_eq!(p.limits(tight, Some(0.5)).max_cost_usd, Some(0.1));
        assert_eq!(p.limits(Limits::NONE, None), Limits::NONE);
        let off = p.with_step_down(false);
        assert_eq!(off.limits(Limits::NONE, Some(0.5)), Limits::NONE);
        let doubled = p.with_reserve_factor(2.0);
        assert_eq!(doubled.limits(Limits::NONE, Some(0.5)).max_cost_usd, Some(0.25));
        assert!(p.with_reserve_factor(0.5).validate().is_err());
    }

    #[test]
    fn threads_hammering_one_cap_never_overspend() {
        let clock = ManualClock::new();
        let s = Arc::new(
            store(&clock)
                .with_cap(BudgetScope::Global, BudgetCap::total(5.0))
                .unwrap(),
        );
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let mut rng = Pcg64Mcg::seed_from_u64(t);
                    for _ in 0..2_000 {
                        let want = rng.random::<f64>() * 0.01;
                        if let Ok(r) = s.reserve_now(&[BudgetScope::Global], want) {
                            if rng.random_bool(0.5) {
                                s.settle_now(&r, want * rng.random::<f64>());
                            } else {
                                s.release_now(&r);
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let u = s.usage(&BudgetScope::Global).unwrap();
        assert!(u.spent_usd <= 5.0, "spent {}", u.spent_usd);
        assert!(
            u.spent_usd > 4.0,
            "the cap should have been approached: {}",
            u.spent_usd
        );
        assert_eq!(u.reserved_usd, 0.0);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Reserve(u8, u32),
        Settle(usize, f64),
        Release(usize),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..4, 1u32..400_000).prop_map(|(t, a)| Op::Reserve(t, a)),
            3 => (any::<usize>(), 0.0f64..=1.0).prop_map(|(i, f)| Op::Settle(i, f)),
            1 => any::<usize>().prop_map(Op::Release),
            1 => (0u64..90).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Any interleaving of reserves, settles (at or below the reservation), releases and
        /// time keeps every scope's settled plus reserved spend within its cap, and settled
        /// spend summed over a window never exceeds it.
        #[test]
        fn reserve_settle_never_exceeds_caps(ops in proptest::collection::vec(op(), 1..300)) {
            let clock = ManualClock::new();
            let window = Duration::from_secs(60);
            let s = store(&clock)
                .with_cap(BudgetScope::Global, BudgetCap::per(1.0, window)).unwrap()
                .with_tenant_cap(BudgetCap::total(0.4)).unwrap();
            let mut held: Vec<(Reservation, u64)> = Vec::new();
            let mut window_settled: HashMap<u64, f64> = HashMap::new();
            let mut tenant_settled = [0.0f64; 4];
            for op in ops {
                match op {
                    Op::Reserve(t, micro) => {
                        let scopes = [BudgetScope::Global, BudgetScope::tenant(t.to_string())];
                        if let Ok(r) = s.reserve_now(&scopes, f64::from(micro) / 1e6) {
                            held.push((r, u64::from(t)));
                        }
                    }
                    Op::Settle(i, f) if !held.is_empty() => {
                        let (r, t) = held.swap_remove(i % held.len());
                        let actual = r.amount_usd() * f;
                        s.settle_now(&r, actual);
                        let w = clock.elapsed().as_secs() / 60;
                        *window_settled.entry(w).or_default() += to_usd(to_nanos_ceil(actual));
                        tenant_settled[t as usize] += to_usd(to_nanos_ceil(actual));
                    }
                    Op::Release(i) if !held.is_empty() => {
                        let (r, _) = held.swap_remove(i % held.len());
                        s.release_now(&r);
                    }
                    Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                    _ => {}
                }
                let g = s.usage(&BudgetScope::Global).unwrap();
                prop_assert!(g.spent_usd + g.reserved_usd <= 1.0 + 1e-9);
                prop_assert_eq!(g.overrun_usd, 0.0);
                for t in 0..4u8 {
                    let u = s.usage(&BudgetScope::tenant(t.to_string())).unwrap();
                    prop_assert!(u.spent_usd + u.reserved_usd <= 0.4 + 1e-9);
                }
            }
            for (_, v) in window_settled { prop_assert!(v <= 1.0 + 1e-9); }
            for v in tenant_settled { prop_assert!(v <= 0.4 + 1e-9); }
        }
    }
}
