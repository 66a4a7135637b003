//! Per-prompt output lengths, hence costs: [`OutputLengths`] says how a
//! [`LearnedEstimator`] predicts each model's output tokens, and the estimator is an
//! [`OutputEstimator`] the [`Router`](crate::Router) prices them with
//! ([`RouterBuilder::output_estimator`](crate::RouterBuilder::output_estimator)).
//!
//! The model: `ln(1 + tokens)` of model j's answer is the mean of `ln(1 + tokens)` of j's
//! training answers on the task's kind, plus (for [`OutputLengths::Text`]) a ridge regression
//! per model on the same hashed text features as the quality learners. The prediction is turned
//! back into tokens with Duan's smearing factor (the mean of `exp(residual)` over the training
//! answers), so it estimates the mean number of tokens, which is what an expected cost needs,
//! rather than the median.

use std::fmt;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::Corruption;
use super::estimator::LearnedEstimator;
use super::features::Features;
use super::learners::{TrainInput, Weights, nan_as_null};
use crate::estimate::{OutputEstimator, one_by_batch};
use crate::model::ModelSpec;
use crate::task::Task;

/// How a [`LearnedEstimator`] predicts each model's output tokens for the router's cost
/// estimate (it is an [`OutputEstimator`]). Saved with the estimator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutputLengths {
    /// No prediction: the router keeps the task's own output-token estimate for every model
    /// (the default, and what files without the setting do).
    #[default]
    Task,
    /// Each model's mean output tokens on the task's kind in the training data.
    Kind,
    /// Per prompt: the per-kind mean corrected by a regression on the prompt's text features,
    /// one per model.
    Text,
}

impl OutputLengths {
    /// Every setting, in a fixed order.
    pub const ALL: [OutputLengths; 3] = [OutputLengths::Task, OutputLengths::Kind, OutputLengths::Text];

    /// The setting's name (`"text"`).
    pub const fn name(self) -> &'static str {
        match self {
            OutputLengths::Task => "task",
            OutputLengths::Kind => "kind",
            OutputLengths::Text => "text",
        }
    }

    /// The setting with this name.
    pub fn from_name(name: &str) -> Option<OutputLengths> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}

impl fmt::Display for OutputLengths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Weight, in answers, of a model's mean over all kinds in its per-kind mean.
const KIND_SMOOTHING: f64 = 2.0;

/// Most output tokens a prediction gives (a guard against a runaway exponential).
const MAX_PREDICTED_TOKENS: f32 = 10_000_000.0;

/// The trained length model inside an estimator (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LengthModel {
    /// `(kinds + 1) × m`: mean `ln(1 + tokens)` per (kind, model), pulled toward the model's
    /// mean over all kinds with the weight of [`KIND_SMOOTHING`] answers; the last row is that
    /// overall mean (for kinds it never saw). NaN (`null`) for a model without known lengths.
    #[serde(with = "nan_as_null")]
    base: Vec<f32>,
    /// `dim × m` regression weights of `ln(1 + tokens) - base` ([`OutputLengths::Text`]).
    weights: Option<Weights>,
    /// Per model: Duan's smearing factor, the mean of `exp(residual)` on the training answers.
    smear: Vec<f32>,
}

impl LengthModel {
    /// Fits on the answers of the input's data whose output tokens are known. `text` adds the
    /// regression.
    pub(crate) fn train(input: TrainInput<'_>, text: bool) -> Self {
        let kinds = input.priors.kinds.len();
        let m = input.data.models().len();
        let n = input.data.len();
        let target = |i: usize, j: usize| input.data.output_tokens(i, j).map(|t| t.ln_1p());
        let (mut sum, mut cnt) = (vec![0.0f64; (kinds + 1) * m], vec![0.0f64; (kinds + 1) * m]);
        for (i, k) in input.kind_of.iter().enumerate().take(n) {
            let k = k.unwrap_or(kinds);
            for j in 0..m {
                if let Some(y) = target(i, j) {
                    for idx in [k * m + j, kinds * m + j] {
                        sum[idx] += y;
                        cnt[idx] += 1.0;
                    }
                }
            }
        }
        let global: Vec<f64> = (0..m)
            .map(|j| {
                let c = cnt[kinds * m + j];
                if c > 0.0 { sum[kinds * m + j] / c } else { f64::NAN }
            })
            .collect();
        let mut base: Vec<f32> = (0..kinds * m)
            .map(|idx| ((sum[idx] + KIND_SMOOTHING * global[idx % m]) / (cnt[idx] + KIND_SMOOTHING)) as f32)
            .collect();
        base.extend(global.iter().map(|g| *g as f32));
        let base_of = |i: usize, j: usize| base[input.kind_of[i].unwrap_or(kinds) * m + j];
        let weights = text.then(|| {
            let mut w = Weights::zeros(input.dim, m);
            let mut rng = Pcg64Mcg::seed_from_u64(input.h.seed ^ 0x1e47);
            w.fit_adagrad(&input.feats[..n], &input.h, &mut rng, false, |i, z, grad| {
                for j in 0..m {
                    grad[j] = target(i, j).map_or(0.0, |y| z[j] - (y as f32 - base_of(i, j)));
                }
            });
            w
        });
        // Smearing: mean exp(residual) per model over the answers it was fitted on.
        let (mut es, mut ec) = (vec![0.0f64; m], vec![0.0f64; m]);
        let mut z = vec![0.0f32; m];
        for (i, x) in input.feats.iter().enumerate().take(n) {
            z.iter_mut().for_each(|v| *v = 0.0);
            if let Some(w) = &weights {
                w.add_dot(x, &mut z);
            }
            for j in 0..m {
                if let Some(y) = target(i, j) {
                    es[j] += (y - f64::from(base_of(i, j) + z[j])).exp();
                    ec[j] += 1.0;
                }
            }
        }
        let smear = (0..m)
            .map(|j| if ec[j] > 0.0 { (es[j] / ec[j]) as f32 } else { 1.0 })
            .collect();
        Self { base, weights, smear }
    }

    /// Predicted output tokens of every model (column order) into `out`: `x` is the prompt's
    /// features (`None`: the per-kind mean alone), `kind` its kind's index.
    pub(crate) fn predict(
        &self,
        x: Option<&Features>,
        kind: Option<usize>,
        z: &mut Vec<f32>,
        out: &mut [Option<u32>],
    ) {
        let m = self.smear.len();
        let kinds = self.base.len() / m - 1;
        let row = &self.base[kind.unwrap_or(kinds).min(kinds) * m..][..m];
        z.clear();
        z.resize(m, 0.0);
        if let (Some(w), Some(x)) = (&self.weights, x) {
            w.add_dot(x, z);
        }
        for (j, o) in out.iter_mut().enumerate().take(m) {
            let t = ((row[j] + z[j]).exp() * self.smear[j] - 1.0).clamp(0.0, MAX_PREDICTED_TOKENS);
            *o = (!t.is_nan()).then(|| t.round() as u32);
        }
    }

    /// Checks the shapes against `dim` features, `m` models and `kinds` kinds, and expands the
    /// weights read from a file.
    pub(crate) fn validate(&mut self, dim: usize, m: usize, kinds: usize) -> Result<(), Corruption> {
        let shape = Corruption::Shape {
            part: "output-length model",
        };
        if self.smear.len() != m
            || Some(self.base.len()) != kinds.checked_add(1).and_then(|k| k.checked_mul(m))
            || self.base.iter().any(|v| v.is_infinite())
            || self.smear.iter().any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(shape);
        }
        match &mut self.weights {
            Some(w) => w.densify(dim, m, "output-length weights"),
            None => Ok(()),
        }
    }

    /// Whether it has the text regression.
    pub(crate) fn uses_text(&self) -> bool {
        self.weights.is_some()
    }
}

impl OutputEstimator for LearnedEstimator {
    fn output_tokens(&self, task: &dyn Task, model: &ModelSpec) -> Option<u32> {
        one_by_batch(model, |models, out| self.output_tokens_all(task, models, out))
    }

    /// The trained models' predicted output tokens ([`OutputLengths`]), at most each model's
    /// [`max_output_tokens`](ModelSpec::max_output_tokens); `None` for models it was not
    /// trained on, and for every model when it was trained with [`OutputLengths::Task`].
    fn output_tokens_all(&self, task: &dyn Task, models: &[ModelSpec], out: &mut [Option<u32>]) {
        self.predict_lengths(task.text(), task.kind(), task.input_tokens(), models, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::data::TrainingSet;
    use crate::learn::{LearnError, Learner, SelectConfig, TrainConfig};
    use crate::{CostFirst, Prices, Router, TaskKind, TaskSpec};

    /// Model j's prices: chatty's output is dear, plain's cheap.
    fn price(j: usize) -> Prices {
        [Prices::new(1.0, 20.0), Prices::new(1.0, 2.0)][j].clone()
    }

    /// "chatty" (dear output) writes 40 tokens per word it is asked for: long essays on
    /// "essay" prompts, two words on "yes" prompts; "plain" always writes 5. Costs are recorded
    /// from those lengths and `PRICES`. Both are always right, so only costs matter.
    fn chatty(n: usize, offset: usize) -> TrainingSet {
        let mut t = TrainingSet::new(["chatty", "plain"]).unwrap();
        for i in offset..offset + n {
            let (text, words) = if i % 2 == 0 {
                (
                    format!("write a long essay about the history of topic {i}"),
                    50u32,
                )
            } else {
                (format!("answer yes or no to question {i}"), 2)
            };
            let input = u32::try_from(text.chars().count().div_ceil(4)).unwrap();
            let cost = |j: usize, out: u32| Some(price(j).cost_usd(input, 0, out));
            t.push(
                text,
                TaskKind::Chat,
                &[Some(1.0), Some(1.0)],
                &[cost(0, 40 * words), cost(1, 5)],
            )
            .unwrap();
        }
        t.with_prices(&[Some(price(0)), Some(price(1))]).unwrap()
    }

    fn models() -> Vec<ModelSpec> {
        vec![
            ModelSpec::new("chatty", "p", price(0), 100_000),
            ModelSpec::new("plain", "p", price(1), 100_000),
        ]
    }

    fn lengths(est: &LearnedEstimator, text: &str) -> [Option<u32>; 2] {
        let mut out = [None; 2];
        est.output_tokens_all(
            &TaskSpec::new(TaskKind::Chat, 10).with_text(text),
            &models(),
            &mut out,
        );
        out
    }

    #[test]
    fn output_tokens_are_read_from_recorded_costs() {
        let t = chatty(4, 0);
        assert_eq!(t.output_tokens(0, 0), Some(2_000.0));
        assert_eq!(t.output_tokens(1, 0), Some(80.0));
        assert_eq!(t.output_tokens(1, 1), Some(5.0));
        assert!(matches!(
            t.clone().with_prices(&[None]),
            Err(LearnError::PriceCount {
                found: 1,
                expected: 2
            })
        ));
        // Without prices nothing is known, and lengths cannot be trained.
        let mut bare = TrainingSet::new(["a"]).unwrap();
        bare.push("x", TaskKind::Chat, &[Some(1.0)], &[Some(0.1)])
            .unwrap();
        assert_eq!(bare.output_tokens(0, 0), None);
        let e = LearnedEstimator::train(
            &bare,
            &TrainConfig::new(Learner::Prior).with_lengths(OutputLengths::Text),
        );
        assert!(matches!(e, Err(LearnError::NoOutputTokens)), "{e:?}");
    }

    #[test]
    fn each_setting_predicts_what_it_promises() {
        let t = chatty(200, 0);
        let (essay, yes) = (
            "write a long essay about the history of topic 1001",
            "answer yes or no to question 1002",
        );
        let train =
            |l| LearnedEstimator::train(&t, &TrainConfig::new(Learner::Prior).with_lengths(l)).unwrap();
        // Task: nothing predicted.
        assert_eq!(lengths(&train(OutputLengths::Task), essay), [None, None]);
        // Kind: each model's mean (chatty 1,040 on average, plain 5), whatever the text.
        let kind = train(OutputLengths::Kind);
        let [c, p] = lengths(&kind, essay);
        assert_eq!(lengths(&kind, yes), [c, p]);
        assert!(
            (1_000..=1_100).contains(&c.unwrap()) && p == Some(5),
            "{c:?} {p:?}"
        );
        // Text: the prompt says how long chatty's answer will be.
        let text = train(OutputLengths::Text);
        let ([ce, pe], [cy, py]) = (lengths(&text, essay), lengths(&text, yes));
        assert!(
            ce.unwrap() > 1_500 && cy.unwrap() < 300,
            "essay {ce:?}, yes {cy:?}"
        );
        assert_eq!((pe, py), (Some(5), Some(5)));
        // Never more than the model can write: chatty capped at 500 output tokens.
        let capped = [
            ModelSpec::new("chatty", "p", price(0), 100_000).with_max_output_tokens(500),
            models()[1].clone(),
        ];
        let mut out = [None; 2];
        let essay_task = TaskSpec::new(TaskKind::Chat, 10).with_text(essay);
        text.output_tokens_all(&essay_task, &capped, &mut out);
        assert_eq!(out, [Some(500), pe]);
        assert_eq!(text.output_tokens(&essay_task, &capped[0]), Some(500));
        // A model it was not trained on gets no prediction.
        let mut out = [Some(7)];
        let other = ModelSpec::new("other", "p", price(1), 100_000);
        text.output_tokens_all(
            &TaskSpec::new(TaskKind::Chat, 10).with_text(essay),
            &[other],
            &mut out,
        );
        assert_eq!(out, [None]);
        // Saved and loaded, it predicts the same; a broken smearing factor is refused.
        let json = text.to_json().unwrap();
        let back = LearnedEstimator::from_json(&json).unwrap();
        assert_eq!(lengths(&back, essay), [ce, pe]);
        assert!(back.predicts_lengths());
        let payload_start = json.find("\"payload\":").unwrap() + "\"payload\":".len();
        let payload = &json[payload_start..json.len() - 1];
        let smear = payload.find("\"smear\":[").unwrap() + "\"smear\":[".len();
        let end = smear + payload[smear..].find(',').unwrap();
        let broken = format!("{}0.0{}", &payload[..smear], &payload[end..]);
        let file = crate::learn::format::envelope_json(
            crate::learn::FORMAT_MAGIC,
            crate::learn::FORMAT_VERSION,
            &broken,
        );
        let e = LearnedEstimator::from_json(&file).unwrap_err();
        assert!(e.to_string().contains("output-length model"), "{e}");
    }

    #[test]
    fn the_router_prices_each_model_on_its_predicted_length() {
        let est = LearnedEstimator::train(
            &chatty(200, 0),
            &TrainConfig::new(Learner::Prior).with_lengths(OutputLengths::Text),
        )
        .unwrap();
        let router = Router::builder()
            .models(models())
            .quality_estimator(est.clone())
            .output_estimator(est)
            .policy(CostFirst::new(0.5).unwrap())
            .build()
            .unwrap();
        // The task claims 100 output tokens: on that, chatty (input 1, output 20 $/M) and plain
        // (1 and 2) differ by output price only; plain is cheaper either way. Chatty's cost
        // must follow its predicted length, not the task's 100 tokens.
        let cost = |text: &str| {
            let d = router
                .route(
                    &TaskSpec::new(TaskKind::Chat, 12)
                        .with_output_tokens(100)
                        .with_text(text),
                )
                .unwrap();
            d.candidates[0].estimate.unwrap().cost_usd
        };
        let (essay, yes) = (
            cost("write a long essay about the history of topic 77"),
            cost("answer yes or no to question 78"),
        );
        let at_100 = price(0).cost_usd(12, 0, 100);
        assert!(
            essay > 10.0 * at_100 && yes < at_100,
            "essay {essay}, yes {yes}, task's {at_100}"
        );
    }

    #[test]
    fn cross_validation_predicts_lengths_only_where_they_route_better() {
        // Both models are always right. Chatty's cost follows the prompt (dear on essays, 1.6
        // m$ on "yes" prompts); plain always writes 2,000 tokens (4 m$). Priced on one length
        // per kind (about 1,520 tokens), chatty looks dear everywhere and plain takes every
        // prompt; priced on its predicted length, chatty takes the "yes" prompts for less.
        let mut t = TrainingSet::new(["chatty", "plain"]).unwrap();
        let src = chatty(300, 0);
        for i in 0..src.len() {
            let input = src.input_tokens(i);
            let plain = price(1).cost_usd(input, 0, 2_000);
            t.push(
                src.text(i),
                TaskKind::Chat,
                &[Some(1.0), Some(1.0)],
                &[src.cost(i, 0), Some(plain)],
            )
            .unwrap();
        }
        let t = t.with_prices(&[Some(price(0)), Some(price(1))]).unwrap();
        let est = LearnedEstimator::fit(&t, &SelectConfig::new()).unwrap();
        let r = est.cv_report().unwrap().lengths.clone().unwrap();
        assert_eq!(r.chosen, OutputLengths::Text, "{r}");
        assert!(r.gain.as_ref().unwrap().low > 0.0, "{r}");
        assert_eq!(est.config().lengths, OutputLengths::Text);
        assert!(est.predicts_lengths());
        assert!(est.cv_report().unwrap().to_string().contains("output lengths"));

        // Lengths drawn at random, the same law for both models, unrelated to the text: no
        // setting routes better than one length per kind, so none is predicted.
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let mut noise = TrainingSet::new(["a", "b"]).unwrap();
        for i in 0..300 {
            let text = format!("prompt number {i} about {}", ["cats", "dogs", "fish"][i % 3]);
            let input = u32::try_from(text.chars().count().div_ceil(4)).unwrap();
            let y: Vec<Option<f64>> = (0..2)
                .map(|_| Some(f64::from(u8::from(rng.random::<f64>() < 0.7))))
                .collect();
            let c: Vec<Option<f64>> = (0..2)
                .map(|j| Some(price(j).cost_usd(input, 0, rng.random_range(10..400))))
                .collect();
            noise.push(text, TaskKind::Chat, &y, &c).unwrap();
        }
        let noise = noise.with_prices(&[Some(price(0)), Some(price(1))]).unwrap();
        let est = LearnedEstimator::fit(&noise, &SelectConfig::new()).unwrap();
        let r = est.cv_report().unwrap().lengths.clone().unwrap();
        assert_eq!(r.chosen, OutputLengths::Task, "{r}");
        assert!(!est.predicts_lengths());
    }
}
