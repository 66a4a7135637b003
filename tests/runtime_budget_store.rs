//! A `BudgetStore` written as a downstream crate would write one: public items only (no
//! `crate::` access, nothing `#[doc(hidden)]`), run under the routed client.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use runtime_support::Fake;
use taskroute::provider::{ChatRequest, Provider};
use taskroute::runtime::{
    BudgetError, BudgetPolicy, BudgetScope, BudgetStore, RequestOptions, Reservation, RoutedClient,
    RoutedError, usd_to_nanos,
};
use taskroute::{QualityFirst, TaskKind, TaskSpec};

/// One global lifetime cap, kept in nano-dollars, with a ledger of every call the runtime made.
#[derive(Debug)]
struct LedgerStore {
    cap_nanos: u64,
    state: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    spent: u64,
    held: HashMap<u64, u64>,
    next_id: u64,
    settled: Vec<(u64, f64)>,
    released: Vec<u64>,
}

impl LedgerStore {
    fn new(cap_usd: f64) -> Self {
        Self {
            cap_nanos: usd_to_nanos(cap_usd),
            state: Mutex::new(Ledger::default()),
        }
    }
}

#[async_trait]
impl BudgetStore for LedgerStore {
    async fn reserve(&self, scopes: &[BudgetScope], usd: f64) -> Result<Reservation, BudgetError> {
        let mut l = self.state.lock().unwrap();
        let amount = usd_to_nanos(usd);
        let reserved: u64 = l.held.values().sum();
        if l.spent + reserved + amount > self.cap_nanos {
            return Err(BudgetError::Exceeded {
                scope: BudgetScope::Global,
                limit_usd: self.cap_nanos as f64 / 1e9,
                spent_usd: l.spent as f64 / 1e9,
                reserved_usd: reserved as f64 / 1e9,
                requested_usd: usd,
            });
        }
        let id = l.next_id;
        l.next_id += 1;
        l.held.insert(id, amount);
        Ok(Reservation::from_nanos(id, scopes.to_vec(), amount))
    }

    async fn settle(&self, r: &Reservation, actual_usd: f64) -> Result<(), BudgetError> {
        let mut l = self.state.lock().unwrap();
        if l.held.remove(&r.id()).is_some() {
            l.spent += usd_to_nanos(actual_usd);
            l.settled.push((r.id(), actual_usd));
        }
        Ok(())
    }

    async fn release(&self, r: &Reservation) -> Result<(), BudgetError> {
        let mut l = self.state.lock().unwrap();
        if l.held.remove(&r.id()).is_some() {
            l.released.push(r.id());
        }
        Ok(())
    }

    async fn remaining(&self, _scopes: &[BudgetScope]) -> Result<Option<f64>, BudgetError> {
        let l = self.state.lock().unwrap();
        let used = l.spent + l.held.values().sum::<u64>();
        Ok(Some(self.cap_nanos.saturating_sub(used) as f64 / 1e9))
    }
}

fn client(store: Arc<dyn BudgetStore>) -> RoutedClient {
    let router = runtime_support::cheap_and_dear()
        .policy(QualityFirst::unbounded())
        .build()
        .unwrap();
    RoutedClient::builder(router)
        .provider(Arc::new(Fake::new("fake")) as Arc<dyn Provider>)
        .budget(store, BudgetPolicy::default())
        .build()
        .unwrap()
}

fn is_store<S: BudgetStore>() {}

#[test]
fn references_boxes_and_arcs_of_stores_are_stores() {
    is_store::<&LedgerStore>();
    is_store::<Box<LedgerStore>>();
    is_store::<Arc<LedgerStore>>();
    is_store::<Box<dyn BudgetStore>>();
    is_store::<Arc<dyn BudgetStore>>();
}

#[tokio::test(start_paused = true)]
async fn the_runtime_runs_on_a_downstream_store() {
    let store = Arc::new(LedgerStore::new(0.01));
    // through the `Box<T>` forwarding impl, as a host wrapping its store would
    let c = client(Arc::new(Box::new(Arc::clone(&store))));
    let task = TaskSpec::new(TaskKind::Chat, 100).with_output_tokens(50);
    let req = ChatRequest::new().user("hello");
    let mut charged = 0.0;
    let mut models = Vec::new();
    let refused = loop {
        match c
            .complete(&task, &req, RequestOptions::within(Duration::from_secs(5)))
            .await
        {
            Ok(r) => {
                charged += r.total_cost_usd();
                models.push(r.model().as_str().to_owned());
            }
            Err(e) => break e,
        }
        assert!(models.len() < 1000, "the budget never ran out");
    };
    assert!(
        matches!(
            refused,
            RoutedError::NoRoute {
                budget_limited: true,
                ..
            }
        ),
        "{refused}"
    );
    assert!(models.contains(&"dear".to_owned()) && models.contains(&"cheap".to_owned()));
    let l = store.state.lock().unwrap();
    assert!(l.held.is_empty(), "every reservation was settled or released");
    assert_eq!(l.settled.len(), models.len());
    let settled: f64 = l.settled.iter().map(|(_, usd)| usd).sum();
    assert!((settled - charged).abs() < 1e-12, "{settled} vs {charged}");
    assert!(
        l.spent <= store.cap_nanos,
        "spent {} of {}",
        l.spent,
        store.cap_nanos
    );
}
