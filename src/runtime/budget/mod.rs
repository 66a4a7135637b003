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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::Error;

mod memory;
mod policy;

pub use memory::{InMemoryBudgetStore, ScopeUsage};
pub use policy::BudgetPolicy;

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
            return Err(Error::invalid(
                format!("budget[{scope}].limit_usd"),
                self.limit_usd,
                "a finite amount in USD, >= 0 and below 1e9",
            ));
        }
        if self.window.is_some_and(|w| w.is_zero()) {
            return Err(Error::invalid(
                format!("budget[{scope}].window"),
                "0s",
                "a non-zero window, or none for a lifetime cap",
            ));
        }
        Ok(())
    }
}

const NANOS_PER_USD: f64 = 1e9;
const MAX_USD: f64 = 1e9;

pub(crate) fn to_nanos_ceil(usd: f64) -> u64 {
    if usd.is_nan() || usd <= 0.0 {
        0
    } else {
        (usd.min(MAX_USD) * NANOS_PER_USD).ceil() as u64
    }
}

pub(crate) fn to_usd(nanos: u64) -> f64 {
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

/// Refusals are equal when their figures are; store failures when they are the same failure
/// (the same `Arc`), as an error type need not be comparable.
impl PartialEq for BudgetError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                BudgetError::Exceeded {
                    scope,
                    limit_usd,
                    spent_usd,
                    reserved_usd,
                    requested_usd,
                },
                BudgetError::Exceeded {
                    scope: s2,
                    limit_usd: l2,
                    spent_usd: sp2,
                    reserved_usd: r2,
                    requested_usd: rq2,
                },
            ) => {
                scope == s2
                    && limit_usd == l2
                    && spent_usd == sp2
                    && reserved_usd == r2
                    && requested_usd == rq2
            }
            (BudgetError::Store(a), BudgetError::Store(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
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

    /// [`reserve`](Self::reserve) for a call that ends within `within` (the time left before
    /// the request's deadline; `Duration::MAX` without one): a store whose reservations are
    /// leases may hold this one only that long plus a margin. The [`RoutedClient`] reserves
    /// through this method. The default ignores `within`.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    ///
    /// [`RoutedClient`]: crate::runtime::RoutedClient
    async fn reserve_within(
        &self,
        scopes: &[BudgetScope],
        usd: f64,
        within: Duration,
    ) -> Result<Reservation, BudgetError> {
        let _ = within;
        self.reserve(scopes, usd).await
    }

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
            async fn reserve_within(
                &self,
                scopes: &[BudgetScope],
                usd: f64,
                within: Duration,
            ) -> Result<Reservation, BudgetError> {
                (**self).reserve_within(scopes, usd, within).await
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
