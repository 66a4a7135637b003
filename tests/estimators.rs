//! The estimator extension points as a downstream crate uses them (public items only): a
//! custom quality estimator that prepares its own columns and answers through the batch path,
//! the runtime's wrappers forwarding `prepare`, `latency_fn`, and the `Model`/`Task`
//! forwarding impls.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use taskroute::{
    CostFirst, Decision, LatencyProfile, Limits, Model, ModelSpec, PreparedQuality, Prices, QualityEstimator,
    Rejection, Router, Task, TaskKind, TaskSpec, Weighted, latency_fn, quality_fn,
};

/// Quality from a table keyed by (kind name, model id), as a team would load from its own
/// evaluation results. `prepare` turns it into one column per kind, in the router's model
/// order; the decision path then never hashes an id. Counts how it is asked.
#[derive(Debug, Default)]
struct TableQuality {
    table: HashMap<(String, String), f64>,
    one_by_one: AtomicUsize,
    prepared: AtomicUsize,
    batches: Arc<AtomicUsize>,
}

impl QualityEstimator for TableQuality {
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        self.one_by_one.fetch_add(1, Ordering::Relaxed);
        let key = (task.kind().name().to_owned(), model.id.as_str().to_owned());
        self.table.get(&key).copied()
    }

    fn prepare(&self, models: &[ModelSpec]) -> Option<Box<dyn PreparedQuality>> {
        self.prepared.fetch_add(1, Ordering::Relaxed);
        let mut columns: HashMap<String, Vec<Option<f64>>> = HashMap::new();
        for ((kind, id), q) in &self.table {
            let column = columns
                .entry(kind.clone())
                .or_insert_with(|| vec![None; models.len()]);
            if let Some(i) = models.iter().position(|m| m.id.as_str() == id) {
                column[i] = Some(*q);
            }
        }
        Some(Box::new(TableColumns {
            columns,
            batches: Arc::clone(&self.batches),
        }))
    }

    fn name(&self) -> &str {
        "table"
    }
}

struct TableColumns {
    columns: HashMap<String, Vec<Option<f64>>>,
    batches: Arc<AtomicUsize>,
}

impl PreparedQuality for TableColumns {
    fn estimate_all(&self, task: &dyn Task, _models: &[ModelSpec], out: &mut [Option<f64>]) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        match self.columns.get(task.kind().name()) {
            Some(c) => out.copy_from_slice(c),
            None => out.fill(None),
        }
    }
}

fn models() -> Vec<ModelSpec> {
    (0..12)
        .map(|i| {
            let p = 0.2 + f64::from(i);
            ModelSpec::new(format!("m{i}"), "p", Prices::new(p, 3.0 * p), 64_000)
                .with_latency(LatencyProfile::new(100.0 + 50.0 * f64::from(i), 80.0))
        })
        .collect()
}

fn table() -> TableQuality {
    let mut table = HashMap::new();
    for i in 0..12 {
        // m3 has no figure for chat: rejected for lack of an estimate.
        if i != 3 {
            table.insert(("chat".to_owned(), format!("m{i}")), 0.4 + 0.05 * f64::from(i));
        }
        table.insert(("math".to_owned(), format!("m{i}")), 0.9 - 0.05 * f64::from(i));
    }
    TableQuality {
        table,
        ..TableQuality::default()
    }
}

#[test]
fn a_custom_estimator_is_prepared_once_and_asked_one_batch_per_decision() {
    let est = Arc::new(table());
    let router = Router::builder()
        .models(models())
        .policy(CostFirst::new(0.6).unwrap())
        .shared_quality_estimator(Arc::clone(&est) as Arc<dyn QualityEstimator>)
        .build()
        .unwrap();
    // The same figures asked model by model, through a closure (which prepares nothing).
    let reference = {
        let est = Arc::clone(&est);
        Router::builder()
            .models(models())
            .policy(CostFirst::new(0.6).unwrap())
            .quality_estimator(quality_fn(move |t, m| est.estimate(t, m)))
            .build()
            .unwrap()
    };
    assert_eq!(est.prepared.load(Ordering::Relaxed), 1);
    let asked_before = est.one_by_one.load(Ordering::Relaxed);
    let mut d = Decision::new();
    for (k, kind) in [TaskKind::Chat, TaskKind::Math, TaskKind::from_name("legal")]
        .into_iter()
        .enumerate()
    {
        let task = TaskSpec::new(kind, 2_000).with_output_tokens(300);
        let fast = router.route_into(&task, &mut d).map_err(|e| e.to_string());
        assert_eq!(est.batches.load(Ordering::Relaxed), k + 1);
        let slow = reference.route(&task);
        match (fast, slow) {
            // Compared as text: m3's missing estimate is a NaN quality.
            (Ok(()), Ok(slow)) => assert_eq!(format!("{d:?}"), format!("{slow:?}")),
            (Err(a), Err(b)) => assert_eq!(a, b.to_string()),
            (a, b) => panic!("{a:?} vs {b:?}"),
        }
    }
    // The router never asked the prepared estimator model by model.
    let reference_calls = 3 * 12;
    assert_eq!(
        est.one_by_one.load(Ordering::Relaxed) - asked_before,
        reference_calls
    );
    assert_eq!(est.prepared.load(Ordering::Relaxed), 1);
    // A router given the estimator later prepares it again, for its own models.
    let _ = reference.with_quality_estimator(Arc::clone(&est));
    assert_eq!(est.prepared.load(Ordering::Relaxed), 2);
}

#[test]
fn latency_fn_feeds_latency_limits() {
    let router = Router::builder()
        .models(models())
        .policy(Weighted::new(1.0).unwrap())
        .latency_estimator(latency_fn(|task, model| {
            (model.id.as_str() != "m0").then(|| f64::from(task.output_tokens()) * model.prices.input)
        }))
        .quality_estimator(quality_fn(|_, _| Some(0.8)))
        .build()
        .unwrap();
    let task = TaskSpec::new(TaskKind::Chat, 100)
        .with_output_tokens(100)
        .with_limits(Limits::NONE.with_max_latency_ms(500.0));
    let d = router.route(&task).unwrap();
    // m0 has no estimate (infinite), m5 and up are over 500 ms.
    let rejected: Vec<_> = d.rejected().map(|(m, _)| m.as_str().to_owned()).collect();
    assert_eq!(rejected, ["m0", "m5", "m6", "m7", "m8", "m9", "m10", "m11"]);
    assert!(matches!(
        d.candidate("m1").unwrap().estimate,
        Some(e) if e.latency_ms == 120.0
    ));
    assert!(matches!(
        d.rejected().next().unwrap().1,
        Rejection::LatencyLimit { estimated_ms, .. } if estimated_ms.is_infinite()
    ));
}

#[test]
fn models_and_tasks_forward_through_pointers() {
    let spec = models().remove(0).with_default_quality(0.9);
    let boxed: Box<dyn Model> = Box::new(spec.clone());
    let shared: Arc<ModelSpec> = Arc::new(spec.clone().with_default_quality(0.5));
    assert_eq!(ModelSpec::from_model(&boxed), spec);
    let router = Router::builder()
        .model(&spec)
        .build()
        .unwrap()
        .with_policy(CostFirst::new(0.7).unwrap());
    assert!(Router::builder().model(boxed).model(&spec).build().is_err()); // same id twice
    assert_eq!(
        Router::builder()
            .model(Arc::clone(&shared))
            .build()
            .unwrap()
            .models()[0],
        *shared
    );
    let task = TaskSpec::new(TaskKind::Chat, 10);
    let boxed_task: Box<dyn Task> = Box::new(task.clone());
    let shared_task: Arc<dyn Task + Send + Sync> = Arc::new(task.clone());
    let direct = router.route(&task).unwrap();
    assert_eq!(router.route(&boxed_task).unwrap(), direct);
    assert_eq!(router.route(&shared_task).unwrap(), direct);
    assert_eq!(boxed_task.output_tokens(), task.output_tokens());
}

#[cfg(feature = "runtime")]
mod runtime_wrappers {
    use std::time::Duration;

    use taskroute::runtime::{FailureAwareQuality, ManualClock, ObservedLatency, RuntimeStats, StatsConfig};
    use taskroute::{LatencyEstimator, PriorQuality, ProfileLatency};

    use super::*;

    fn stats(clock: &ManualClock) -> Arc<RuntimeStats> {
        Arc::new(RuntimeStats::new(StatsConfig::default(), Arc::new(clock.clone())).unwrap())
    }

    fn priced() -> Vec<ModelSpec> {
        models()
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.with_default_quality(0.5 + 0.04 * i as f64))
            .collect()
    }

    /// Routes with the prepared wrappers and with the same wrappers behind closures (the
    /// per-model path) and checks both see the same statistics.
    fn agree(prepared: &Router, per_model: &Router, task: &TaskSpec) {
        let (a, b) = (prepared.route(task).unwrap(), per_model.route(task).unwrap());
        assert_eq!(a.ranking, b.ranking);
        for (x, y) in a.candidates().iter().zip(b.candidates()) {
            let (x, y) = (x.estimate.unwrap(), y.estimate.unwrap());
            assert!((x.quality - y.quality).abs() < 1e-12, "{x:?} {y:?}");
            assert!((x.latency_ms - y.latency_ms).abs() < 1e-9, "{x:?} {y:?}");
        }
    }

    #[test]
    fn wrappers_prepare_what_they_wrap_and_follow_the_statistics() {
        let clock = ManualClock::new();
        let stats = stats(&clock);
        let quality = Arc::new(FailureAwareQuality::new(PriorQuality, Arc::clone(&stats), 1.0).unwrap());
        let latency = Arc::new(ObservedLatency::new(
            Arc::clone(&stats),
            ProfileLatency::default(),
        ));
        assert!(quality.prepare(&priced()).is_some());
        assert!(latency.prepare(&priced()).is_some());
        let prepared = Router::builder()
            .models(priced())
            .policy(Weighted::with_weights(1.0, 0.0, 0.0).unwrap())
            .shared_quality_estimator(quality.clone())
            .shared_latency_estimator(latency.clone())
            .build()
            .unwrap();
        let per_model = Router::builder()
            .models(priced())
            .policy(Weighted::with_weights(1.0, 0.0, 0.0).unwrap())
            .quality_estimator(quality_fn(move |t, m| quality.estimate(t, m)))
            .latency_estimator(latency_fn(move |t, m| latency.latency_ms(t, m)))
            .build()
            .unwrap();
        let task = TaskSpec::new(TaskKind::Chat, 1_000).with_output_tokens(200);
        let best = |r: &Router| {
            r.route(&task)
                .unwrap()
                .primary_model()
                .unwrap()
                .as_str()
                .to_owned()
        };
        assert_eq!(best(&prepared), "m11");
        agree(&prepared, &per_model, &task);
        // The best model fails twice and is slow three times: the prepared path sees it on the
        // next decision (a stale copy would still pick m11 at its published latency).
        let m11 = &priced()[11];
        stats.record_failure(&m11.id);
        stats.record_failure(&m11.id);
        for _ in 0..3 {
            stats.record_success(&priced()[10], Duration::from_secs(10), 200);
        }
        assert_eq!(best(&prepared), "m10");
        agree(&prepared, &per_model, &task);
        let slow = prepared.route(&task).unwrap();
        let e10 = slow.candidate("m10").unwrap().estimate.unwrap();
        assert!(e10.latency_ms > 9_000.0, "{e10:?}");
        // The error rate decays with time, without new records.
        clock.advance(Duration::from_secs(600));
        assert_eq!(best(&prepared), "m11");
        agree(&prepared, &per_model, &task);
    }

    #[test]
    fn a_wrapper_around_an_unprepared_estimator_prepares_nothing() {
        let stats = stats(&ManualClock::new());
        let q = FailureAwareQuality::new(quality_fn(|_, _| Some(0.5)), Arc::clone(&stats), 0.5).unwrap();
        assert!(q.prepare(&models()).is_none());
        let l = ObservedLatency::new(stats, latency_fn(|_, _| Some(1.0)));
        assert!(l.prepare(&models()).is_none());
    }
}
