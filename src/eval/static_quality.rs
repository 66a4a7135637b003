//! [`StaticQuality`]: the per-task-kind (or per-label) mean quality of each model on a training
//! table, and [`KindSource`], which kind replayed prompts carry.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::data::Outcomes;
use crate::estimate::QualityEstimator;
use crate::model::{ModelId, ModelSpec};
use crate::task::{Task, TaskKind};

/// Which task kind replayed prompts carry, and so what [`StaticQuality`] and catalog priors key on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum KindSource {
    /// The prompt's [`TaskKind`] (from the data, or derived from its label).
    #[default]
    Kind,
    /// A custom kind named after the prompt's label (`"mmlu/anatomy"`): per-label estimates.
    Label,
}

impl KindSource {
    pub(super) fn kind_of(self, data: &Outcomes, p: usize) -> TaskKind {
        match self {
            KindSource::Kind => data.kind(p).clone(),
            KindSource::Label => TaskKind::Custom(Arc::from(data.label(p))),
        }
    }
}

/// The "per-task static" quality estimator: the mean recorded quality of each model on each task
/// kind (or label, with [`KindSource::Label`]) of a training table; the model's overall mean for
/// kinds the training table lacks.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticQuality {
    models: HashMap<ModelId, usize>,
    by_kind: HashMap<TaskKind, Vec<f64>>,
    overall: Vec<f64>,
}

impl StaticQuality {
    /// Fits the table of means on `train`.
    pub fn fit(train: &Outcomes, source: KindSource) -> Self {
        let m = train.models().len();
        let mut sums: HashMap<TaskKind, (Vec<f64>, f64)> = HashMap::new();
        for p in 0..train.prompts() {
            let e = sums
                .entry(source.kind_of(train, p))
                .or_insert_with(|| (vec![0.0; m], 0.0));
            for (j, s) in e.0.iter_mut().enumerate() {
                *s += train.quality(p, j);
            }
            e.1 += 1.0;
        }
        let by_kind = sums
            .into_iter()
            .map(|(k, (s, n))| (k, s.into_iter().map(|x| x / n).collect()))
            .collect();
        Self {
            models: train
                .models()
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, m)| (m, i))
                .collect(),
            by_kind,
            overall: (0..m).map(|j| train.mean_quality(j)).collect(),
        }
    }

    /// The fitted mean of `model` on `kind`, if the training table had both.
    pub fn mean(&self, kind: &TaskKind, model: &str) -> Option<f64> {
        let j = *self.models.get(model)?;
        self.by_kind.get(kind).map(|v| v[j])
    }
}

impl QualityEstimator for StaticQuality {
    fn estimate(&self, task: &dyn Task, model: &ModelSpec) -> Option<f64> {
        let j = *self.models.get(&model.id)?;
        Some(self.by_kind.get(task.kind()).map_or(self.overall[j], |v| v[j]))
    }
    fn name(&self) -> &str {
        "static per-task means"
    }
}
