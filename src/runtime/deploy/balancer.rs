//! [`Balancer`]: which of a tier's deployments takes a call, and the five built-ins.
//!
//! A balancer only orders; the runtime asks the picked deployment's limiter, and picks again
//! among the others when it refuses. Randomness comes from the request's seeded generator
//! ([`Pick::random`]), so runs are reproducible.

use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use super::Deployment;

/// One deployment the balancer may pick, with what is known of it now.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Choice<'a> {
    /// Its settings (id, weight, tier, limits).
    pub deployment: &'a Deployment,
    /// Calls in flight on it (from this process's limiter).
    pub in_flight: u32,
    /// Moving average of its successful calls' latency; `None` before the first.
    pub latency: Option<Duration>,
    /// The smallest share left of its requests and tokens limits, in `[0, 1]` (1 when
    /// nothing limits it).
    pub remaining_share: f64,
}

/// What a balancer knows of the call.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Pick<'a> {
    /// The task's [`caller_key`](crate::Task::caller_key) (a session or user id), if any.
    pub caller_key: Option<&'a str>,
    /// A uniform number in `[0, 1)` from the request's seeded generator.
    pub random: f64,
}

impl<'a> Pick<'a> {
    /// A pick for a call with this caller key and random number.
    pub fn new(caller_key: Option<&'a str>, random: f64) -> Self {
        Self { caller_key, random }
    }
}

/// Picks which deployment (an index into `choices`, never empty) takes a call.
///
/// An index out of range is taken as the last choice.
pub trait Balancer: fmt::Debug + Send + Sync {
    /// The index of the chosen deployment.
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize;
}

impl<B: Balancer + ?Sized> Balancer for std::sync::Arc<B> {
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize {
        (**self).pick(choices, pick)
    }
}

impl<B: Balancer + ?Sized> Balancer for Box<B> {
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize {
        (**self).pick(choices, pick)
    }
}

/// Picks with probability proportional to [`weight`](Deployment::weight) (the default).
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct with nothing to add
pub struct WeightedRandom;

impl Balancer for WeightedRandom {
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize {
        weighted(choices, pick.random)
    }
}

fn weight(c: &Choice<'_>) -> f64 {
    let w = c.deployment.weight;
    if w.is_finite() && w > 0.0 { w } else { 0.0 }
}

fn weighted(choices: &[Choice<'_>], random: f64) -> usize {
    let total: f64 = choices.iter().map(weight).sum();
    if total <= 0.0 {
        return 0;
    }
    let mut target = random.clamp(0.0, 1.0) * total;
    for (i, c) in choices.iter().enumerate() {
        let w = weight(c);
        if target < w {
            return i;
        }
        target -= w;
    }
    choices.len() - 1
}

/// The smallest `key`, ties broken by weighted random among the tied.
fn min_by<K: PartialOrd + Copy>(
    choices: &[Choice<'_>],
    pick: &Pick<'_>,
    key: impl Fn(&Choice<'_>) -> K,
) -> usize {
    let Some(best) = choices.iter().map(&key).reduce(|a, b| if b < a { b } else { a }) else {
        return 0;
    };
    let tied: f64 = choices.iter().filter(|c| key(c) == best).map(weight).sum();
    let mut target = pick.random.clamp(0.0, 1.0) * tied;
    let mut last = 0;
    for (i, c) in choices.iter().enumerate().filter(|(_, c)| key(c) == best) {
        last = i;
        if target < weight(c) {
            return i;
        }
        target -= weight(c);
    }
    last
}

/// Picks the deployment with the fewest calls in flight per unit of weight.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct with nothing to add
pub struct LeastInFlight;

impl Balancer for LeastInFlight {
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize {
        min_by(choices, pick, |c| {
            f64::from(c.in_flight) / weight(c).max(f64::MIN_POSITIVE)
        })
    }
}

/// Picks the deployment with the lowest observed latency; deployments not yet measured go
/// first, so each gets measured.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct with nothing to add
pub struct LowestLatency;

impl Balancer for LowestLatency {
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize {
        min_by(choices, pick, |c| c.latency.unwrap_or(Duration::ZERO))
    }
}

/// Picks the deployment with the largest share of its limits left.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct with nothing to add
pub struct MostRemaining;

impl Balancer for MostRemaining {
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize {
        min_by(choices, pick, |c| -c.remaining_share)
    }
}

/// Sends a caller key to the same deployment every time (a session keeps hitting a warm
/// prompt cache), by weighted rendezvous hashing: when a deployment cannot take a call only
/// its keys move, and they come back when it can. Without a caller key, weighted random.
///
/// The hash is the standard library's `DefaultHasher` with its fixed keys, so the same key
/// goes to the same deployment in every process built with the same Rust version.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct with nothing to add
pub struct StickyByKey;

impl Balancer for StickyByKey {
    fn pick(&self, choices: &[Choice<'_>], pick: &Pick<'_>) -> usize {
        let Some(key) = pick.caller_key else {
            return weighted(choices, pick.random);
        };
        let score = |c: &Choice<'_>| {
            let mut h = DefaultHasher::new();
            key.hash(&mut h);
            c.deployment.id.as_str().hash(&mut h);
            // A uniform number in (0, 1); -w / ln(u) is weighted rendezvous hashing.
            let u = ((h.finish() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            -weight(c) / u.ln()
        };
        choices
            .iter()
            .enumerate()
            .map(|(i, c)| (i, score(c)))
            .fold(
                (0, f64::NEG_INFINITY),
                |best, (i, s)| if s > best.1 { (i, s) } else { best },
            )
            .0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps() -> Vec<Deployment> {
        vec![
            Deployment::new("a", "p").weight(3.0),
            Deployment::new("b", "p").weight(1.0),
            Deployment::new("c", "p").weight(0.0),
        ]
    }

    fn choices(d: &[Deployment]) -> Vec<Choice<'_>> {
        d.iter()
            .map(|deployment| Choice {
                deployment,
                in_flight: 0,
                latency: None,
                remaining_share: 1.0,
            })
            .collect()
    }

    #[test]
    fn weighted_random_follows_the_weights() {
        let d = deps();
        let c = choices(&d);
        let mut counts = [0; 3];
        for i in 0..1000 {
            counts[WeightedRandom.pick(&c, &Pick::new(None, f64::from(i) / 1000.0))] += 1;
        }
        assert_eq!(counts, [750, 250, 0]);
    }

    #[test]
    fn least_in_flight_lowest_latency_most_remaining() {
        let d = deps();
        let mut c = choices(&d);
        let p = Pick::new(None, 0.0);
        c[2].in_flight = 9;
        c[0].in_flight = 6;
        c[1].in_flight = 1;
        assert_eq!(LeastInFlight.pick(&c, &p), 1);
        c[0].in_flight = 3; // 1 per unit of weight, as b
        assert_eq!(LeastInFlight.pick(&c, &Pick::new(None, 0.9)), 1);
        assert_eq!(LeastInFlight.pick(&c, &Pick::new(None, 0.1)), 0);
        c[0].latency = Some(Duration::from_millis(50));
        c[1].latency = Some(Duration::from_millis(20));
        c[2].latency = Some(Duration::from_millis(90));
        assert_eq!(LowestLatency.pick(&c, &p), 1);
        c[1].latency = None;
        assert_eq!(LowestLatency.pick(&c, &p), 1);
        c[0].remaining_share = 0.9;
        c[1].remaining_share = 0.2;
        c[2].remaining_share = 0.5;
        assert_eq!(MostRemaining.pick(&c, &p), 0);
    }

    #[test]
    fn sticky_keeps_a_key_and_moves_only_the_missing_deployments_keys() {
        let d: Vec<Deployment> = (0..4).map(|i| Deployment::new(format!("d{i}"), "p")).collect();
        let all = choices(&d);
        let without_d0 = choices(&d[1..]);
        let mut per = [0; 4];
        for k in 0..400 {
            let key = format!("session-{k}");
            let p = Pick::new(Some(&key), f64::from(k) / 400.0);
            let first = StickyByKey.pick(&all, &p);
            assert_eq!(StickyByKey.pick(&all, &Pick::new(Some(&key), 0.5)), first);
            per[first] += 1;
            if first != 0 {
                // Its deployment is still there: the key stays.
                assert_eq!(StickyByKey.pick(&without_d0, &p) + 1, first);
            }
        }
        assert!(per.iter().all(|&n| (60..140).contains(&n)), "{per:?}");
    }
}
