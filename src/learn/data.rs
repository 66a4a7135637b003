//! Training data: prompt texts, task kinds and per-model outcomes (and costs).

use std::collections::BTreeSet;

use super::LearnError;
use crate::model::ModelId;
use crate::prices::Prices;
use crate::task::TaskKind;

/// Examples to train a [`LearnedEstimator`](super::LearnedEstimator) on: for each prompt, its
/// text, its task kind, and for each model its outcome (quality in `[0, 1]`: 0/1 correctness
/// or a normalised judge score) and optionally its cost in USD.
///
/// A model may miss outcomes for some prompts (`None`): those pairs are left out of training.
/// Outcomes are stored row-major as `f32`, a missing one as NaN.
///
/// Each answer's output tokens, where known (recorded in an outcome table, or read from its
/// recorded cost once the models' prices are given with [`with_prices`](Self::with_prices)),
/// train the per-prompt output-length model ([`OutputLengths`](super::OutputLengths)).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingSet {
    models: Vec<ModelId>,
    texts: Vec<String>,
    kinds: Vec<TaskKind>,
    tokens: Vec<u32>,
    outcomes: Vec<f32>,
    costs: Vec<f32>,
    /// Output tokens per answer, row-major, NaN where unknown.
    outputs: Vec<f32>,
    /// Each model's prices, where given ([`with_prices`](Self::with_prices)); empty until then.
    prices: Vec<Option<Prices>>,
}

impl TrainingSet {
    /// An empty set over these models (at least one, each once).
    ///
    /// # Errors
    /// [`LearnError::NoModels`], [`LearnError::EmptyModelId`] or [`LearnError::DuplicateModel`].
    pub fn new<I, M>(models: I) -> Result<Self, LearnError>
    where
        I: IntoIterator<Item = M>,
        M: Into<ModelId>,
    {
        let models: Vec<ModelId> = models.into_iter().map(Into::into).collect();
        if models.is_empty() {
            return Err(LearnError::NoModels);
        }
        let mut seen = BTreeSet::new();
        for (index, m) in models.iter().enumerate() {
            if m.as_str().is_empty() {
                return Err(LearnError::EmptyModelId { index });
            }
            if !seen.insert(m.clone()) {
                return Err(LearnError::DuplicateModel { model: m.clone() });
            }
        }
        Ok(Self {
            models,
            ..Self::default()
        })
    }

    /// Adds one prompt. `outcomes` has one entry per model, in the set's model order; `costs`
    /// is empty (no costs) or has one entry per model. The prompt's input tokens are estimated
    /// as its characters / 4 (see [`push_with_tokens`](Self::push_with_tokens)).
    ///
    /// # Errors
    /// [`LearnError::WrongLength`] when a list has the wrong length,
    /// [`LearnError::OutcomeOutOfRange`] when an outcome is outside `[0, 1]` or NaN,
    /// [`LearnError::InvalidCost`] when a cost is negative or not finite. Nothing is added then.
    pub fn push(
        &mut self,
        text: impl Into<String>,
        kind: TaskKind,
        outcomes: &[Option<f64>],
        costs: &[Option<f64>],
    ) -> Result<(), LearnError> {
        let text = text.into();
        let tokens = u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX);
        self.push_with_tokens(text, kind, tokens, outcomes, costs)
    }

    /// As [`push`](Self::push), with the prompt's input token count.
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_with_tokens(
        &mut self,
        text: impl Into<String>,
        kind: TaskKind,
        input_tokens: u32,
        outcomes: &[Option<f64>],
        costs: &[Option<f64>],
    ) -> Result<(), LearnError> {
        let m = self.models.len();
        let example = self.texts.len();
        let wrong = |list: &'static str, found: usize| LearnError::WrongLength {
            example,
            list,
            found,
            expected: m,
        };
        if outcomes.len() != m {
            return Err(wrong("outcomes", outcomes.len()));
        }
        if !costs.is_empty() && costs.len() != m {
            return Err(wrong("costs", costs.len()));
        }
        for (j, o) in outcomes.iter().enumerate() {
            if let Some(q) = o
                && !(0.0..=1.0).contains(q)
            {
                return Err(LearnError::OutcomeOutOfRange {
                    example: Some(example),
                    model: self.models[j].clone(),
                    value: *q,
                });
            }
        }
        for (j, c) in costs.iter().enumerate() {
            if let Some(c) = c
                && !(c.is_finite() && *c >= 0.0)
            {
                return Err(LearnError::InvalidCost {
                    example: Some(example),
                    model: self.models[j].clone(),
                    value: *c,
                });
            }
        }
        self.texts.push(text.into());
        self.kinds.push(kind);
        self.tokens.push(input_tokens);
        self.outcomes
            .extend(outcomes.iter().map(|o| o.map_or(f32::NAN, |q| q as f32)));
        if costs.is_empty() {
            self.costs.extend(std::iter::repeat_n(f32::NAN, m));
        } else {
            self.costs
                .extend(costs.iter().map(|c| c.map_or(f32::NAN, |c| c as f32)));
        }
        let i = self.texts.len() - 1;
        let outputs: Vec<f32> = (0..m).map(|j| self.output_from_cost(i, j)).collect();
        self.outputs.extend(outputs);
        Ok(())
    }

    /// Gives each model's prices (column order; `None` where unknown). Every answer whose
    /// output tokens are not known yet gets them from its recorded cost:
    /// `(cost - input tokens x input price) / output price`, rounded, at least 0, for a model with an
    /// output price above 0. The length model ([`OutputLengths`](super::OutputLengths)) learns
    /// from those, and cross-validation turns predicted lengths back into costs with the same
    /// prices.
    ///
    /// # Errors
    /// [`LearnError::PriceCount`] when `prices` does not have one entry per model.
    pub fn with_prices(mut self, prices: &[Option<Prices>]) -> Result<Self, LearnError> {
        let m = self.models.len();
        if prices.len() != m {
            return Err(LearnError::PriceCount {
                found: prices.len(),
                expected: m,
            });
        }
        self.prices = prices.to_vec();
        for i in 0..self.len() {
            for j in 0..m {
                if self.outputs[i * m + j].is_nan() {
                    self.outputs[i * m + j] = self.output_from_cost(i, j);
                }
            }
        }
        Ok(self)
    }

    /// Output tokens of model `j` on prompt `i` read from its cost and price, NaN if either is
    /// unknown.
    fn output_from_cost(&self, i: usize, j: usize) -> f32 {
        let m = self.models.len();
        match (self.prices.get(j), self.costs[i * m + j]) {
            (Some(Some(p)), c) if p.output > 0.0 && !c.is_nan() => {
                let input = f64::from(self.tokens[i]) * p.input;
                ((f64::from(c) * 1e6 - input) / p.output).max(0.0).round() as f32
            }
            _ => f32::NAN,
        }
    }

    /// Output tokens of model `j`'s answer to prompt `i`, where known.
    pub fn output_tokens(&self, i: usize, j: usize) -> Option<f64> {
        let v = self.outputs[i * self.models.len() + j];
        (!v.is_nan()).then_some(f64::from(v))
    }

    /// Model `j`'s prices, where given ([`with_prices`](Self::with_prices)).
    pub fn price(&self, j: usize) -> Option<&Prices> {
        self.prices.get(j).and_then(Option::as_ref)
    }

    /// Whether any answer's output tokens are known.
    pub(crate) fn has_output_tokens(&self) -> bool {
        self.outputs.iter().any(|v| !v.is_nan())
    }

    /// The models, in column order.
    pub fn models(&self) -> &[ModelId] {
        &self.models
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there are no prompts.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The text of prompt `i`.
    pub fn text(&self, i: usize) -> &str {
        &self.texts[i]
    }

    /// The kind of prompt `i`.
    pub fn kind(&self, i: usize) -> &TaskKind {
        &self.kinds[i]
    }

    /// The input tokens of prompt `i`.
    pub fn input_tokens(&self, i: usize) -> u32 {
        self.tokens[i]
    }

    /// Outcome of model `j` on prompt `i`, `None` where missing.
    pub fn outcome(&self, i: usize, j: usize) -> Option<f64> {
        let v = self.outcomes[i * self.models.len() + j];
        (!v.is_nan()).then_some(f64::from(v))
    }

    /// Cost of model `j` on prompt `i`, `None` where missing.
    pub fn cost(&self, i: usize, j: usize) -> Option<f64> {
        let v = self.costs[i * self.models.len() + j];
        (!v.is_nan()).then_some(f64::from(v))
    }

    /// Row `i` of outcomes (NaN where missing).
    pub(crate) fn outcome_row(&self, i: usize) -> &[f32] {
        let m = self.models.len();
        &self.outcomes[i * m..(i + 1) * m]
    }

    /// A new set with the prompts at `rows`, in that order (for splits and folds).
    ///
    /// # Panics
    /// Never for indices `< len()`; an index out of range panics, as slice indexing does.
    pub fn select(&self, rows: &[usize]) -> TrainingSet {
        let m = self.models.len();
        let mut out = TrainingSet {
            models: self.models.clone(),
            prices: self.prices.clone(),
            ..TrainingSet::default()
        };
        for &i in rows {
            out.texts.push(self.texts[i].clone());
            out.kinds.push(self.kinds[i].clone());
            out.tokens.push(self.tokens[i]);
            out.outcomes.extend_from_slice(&self.outcomes[i * m..(i + 1) * m]);
            out.costs.extend_from_slice(&self.costs[i * m..(i + 1) * m]);
            out.outputs.extend_from_slice(&self.outputs[i * m..(i + 1) * m]);
        }
        out
    }

    /// The prompts of an [`Outcomes`](crate::eval::Outcomes) table at `rows` (every prompt when
    /// `rows` is `None`), with every model, its recorded qualities, costs and output tokens
    /// (where recorded), each prompt's text (empty where the table has none) and kind.
    #[cfg(feature = "eval")]
    #[cfg_attr(docsrs, doc(cfg(feature = "eval")))]
    pub fn from_outcomes(data: &crate::eval::Outcomes, rows: Option<&[usize]>) -> TrainingSet {
        Self::from_outcomes_with(data, rows, |p| data.kind(p).clone())
    }

    /// As [`from_outcomes`](Self::from_outcomes), with each prompt's kind a custom kind named
    /// after its label (`"mmlu/anatomy"`), as `eval::KindSource::Label` gives replayed tasks.
    #[cfg(feature = "eval")]
    #[cfg_attr(docsrs, doc(cfg(feature = "eval")))]
    pub fn from_outcomes_by_label(data: &crate::eval::Outcomes, rows: Option<&[usize]>) -> TrainingSet {
        Self::from_outcomes_with(data, rows, |p| {
            TaskKind::Custom(std::sync::Arc::from(data.label(p)))
        })
    }

    #[cfg(feature = "eval")]
    fn from_outcomes_with(
        data: &crate::eval::Outcomes,
        rows: Option<&[usize]>,
        kind_of: impl Fn(usize) -> TaskKind,
    ) -> TrainingSet {
        let all: Vec<usize>;
        let rows = match rows {
            Some(r) => r,
            None => {
                all = (0..data.prompts()).collect();
                &all
            }
        };
        let m = data.models().len();
        let mut out = TrainingSet {
            models: data.models().to_vec(),
            ..TrainingSet::default()
        };
        for &p in rows {
            out.texts.push(data.text(p).unwrap_or_default().to_owned());
            out.kinds.push(kind_of(p));
            out.tokens.push(data.input_tokens(p));
            out.outcomes.extend((0..m).map(|j| data.quality(p, j) as f32));
            out.costs.extend((0..m).map(|j| data.cost(p, j) as f32));
            out.outputs
                .extend((0..m).map(|j| data.output_tokens(p, j).map_or(f32::NAN, |t| t as f32)));
        }
        out
    }

    /// Checks that the set can be trained on: not empty, and every model has an outcome.
    pub(crate) fn check_trainable(&self) -> Result<(), LearnError> {
        if self.is_empty() {
            return Err(LearnError::EmptyTrainingSet);
        }
        let m = self.models.len();
        for (j, model) in self.models.iter().enumerate() {
            if (0..self.len()).all(|i| self.outcomes[i * m + j].is_nan()) {
                return Err(LearnError::NoObservations { model: model.clone() });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_validates() {
        assert!(TrainingSet::new(Vec::<String>::new()).is_err());
        assert!(TrainingSet::new(["a", "a"]).is_err());
        assert!(TrainingSet::new([""]).is_err());
        let mut t = TrainingSet::new(["a", "b"]).unwrap();
        assert!(t.push("x", TaskKind::Chat, &[Some(1.0)], &[]).is_err());
        assert!(t.push("x", TaskKind::Chat, &[Some(1.5), None], &[]).is_err());
        assert!(t.push("x", TaskKind::Chat, &[Some(f64::NAN), None], &[]).is_err());
        assert!(
            t.push("x", TaskKind::Chat, &[Some(1.0), None], &[Some(-1.0), None])
                .is_err()
        );
        assert!(t.is_empty(), "nothing half-added");
        t.push("x", TaskKind::Chat, &[Some(1.0), None], &[Some(0.1), None])
            .unwrap();
        assert_eq!(t.outcome(0, 0), Some(1.0));
        assert_eq!(t.outcome(0, 1), None);
        assert_eq!(t.cost(0, 1), None);
        let e = t.check_trainable().unwrap_err().to_string();
        assert!(e.contains("`b` has no outcomes"), "{e}");
        assert!(TrainingSet::new(["a"]).unwrap().check_trainable().is_err());
    }

    #[test]
    fn select_copies_rows() {
        let mut t = TrainingSet::new(["a"]).unwrap();
        for i in 0..3 {
            t.push(format!("p{i}"), TaskKind::Chat, &[Some(f64::from(i) / 2.0)], &[])
                .unwrap();
        }
        let s = t.select(&[2, 0]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.text(0), "p2");
        assert_eq!(s.outcome(1, 0), Some(0.0));
    }
}
