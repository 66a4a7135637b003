//! The learned-routing evaluation behind `docs/evaluation.md` ("Learned estimators").
//!
//! ```sh
//! cargo run --release --example learn_report --features learn,eval
//! ```
//!
//! Reads `../shared/data` (or `$TASKROUTE_DATA_DIR`). Every learned figure is measured on
//! prompts the estimator never saw; settings are chosen by cross-validation inside the training
//! part only.
//!
//! 1. RouterBench, seeded held-out split (30 % test, seed 42): AIQ and cost at gpt-4 parity for
//!    the learned estimators, the per-task static router, the zero router and the oracle; then a
//!    5-fold cross-validation of the chosen setting.
//! 2. RouteLLM GSM8K and MMLU (Mixtral weak, GPT-4 strong), 50/50 seeded split: APGR,
//!    CPT(50%), CPT(80%).
//! 3. A simulated online run: test prompts arrive in order; the bandit learns from the outcome of
//!    each choice; its reward per window beside the offline estimator's and the static router's.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use taskroute::eval::metrics::{self, Point};
use taskroute::eval::{
    Baselines, Builtin, KindSource, LoadOptions, Outcomes, PriceTable, PromptJoin, Replay, Split,
    StaticQuality,
};
use taskroute::learn::{LearnedEstimator, Learner, OnlineConfig, OnlineEstimator, TrainConfig, TrainingSet};
use taskroute::{QualityEstimator, Router, Weighted};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn data_dir() -> PathBuf {
    std::env::var_os("TASKROUTE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")))
}

const SWEEP: usize = 101;
/// Prior strength (pseudo-observations) of the warm-started bandit in the online run.
const WARM_STRENGTH: f64 = 50.0;

/// The points of a Weighted and a CostFirst sweep together (one learned router, two knobs).
fn curve(
    train: &Outcomes,
    test: &Outcomes,
    prices: &PriceTable,
    est: Arc<dyn QualityEstimator>,
) -> Res<Vec<Point>> {
    let replay = Replay::builder()
        .prices(prices.clone())
        .shared_estimator(est)
        .output_tokens_from(train)
        .build(test)?;
    let mut pts = replay.sweep_builtin(Builtin::Weighted, SWEEP)?.points();
    pts.extend(replay.sweep_builtin(Builtin::CostFirst, SWEEP)?.points());
    Ok(pts)
}

struct Row {
    name: String,
    aiq: f64,
    parity: Option<f64>,
    p95: Option<f64>,
}

fn row(name: &str, pts: &[Point], best: Point) -> Row {
    Row {
        name: name.to_owned(),
        aiq: metrics::aiq(pts, best.cost).unwrap_or(f64::NAN),
        parity: metrics::cost_share_at_parity(pts, best),
        p95: metrics::cost_share_at_parity(pts, Point::new(best.cost, 0.95 * best.quality)),
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("never".into(), |v| format!("{:.1} %", 100.0 * v))
}

fn train_cfg(learner: Learner, shrink: f64) -> TrainConfig {
    TrainConfig::new(learner).with_shrink(shrink)
}

fn learned(train: &Outcomes, cfg: &TrainConfig) -> Res<Arc<dyn QualityEstimator>> {
    let set = TrainingSet::from_outcomes(train, None);
    Ok(Arc::new(LearnedEstimator::train(&set, cfg)?))
}

/// Largest shortfall of `ours` below `reference` along the cost axis (hulls with the origin).
fn worst_gap(ours: &[Point], reference: &[Point], cost_max: f64) -> (f64, f64) {
    let with0 = |p: &[Point]| {
        let mut v = p.to_vec();
        v.push(Point::new(0.0, 0.0));
        metrics::hull(&v)
    };
    let (a, b) = (with0(ours), with0(reference));
    let mut worst = (0.0, 0.0);
    for i in 1..=200 {
        let c = cost_max * f64::from(i) / 200.0;
        let gap =
            metrics::hull_quality_at(&b, c).unwrap_or(0.0) - metrics::hull_quality_at(&a, c).unwrap_or(0.0);
        if gap > worst.0 {
            worst = (gap, c);
        }
    }
    worst
}

fn routerbench(prices: &PriceTable) -> Res<()> {
    let dir = data_dir().join("routerbench");
    let all = Outcomes::read_wide_csv(dir.join("outcomes.csv"))?
        .with_prompts_jsonl(&PromptJoin::routerbench(&dir))?;
    println!(
        "## RouterBench: {} prompts x {} models\n",
        all.prompts(),
        all.models().len()
    );
    let split = Split::seeded(all.prompts(), 0.3, 42)?;
    let (train, test) = (all.subset(&split.train), all.subset(&split.test));
    println!(
        "Held-out split: `Split::seeded(n, 0.3, 42)`: {} train, {} test.\n",
        train.prompts(),
        test.prompts()
    );

    // 1. Model selection: 5-fold CV inside the training part, Weighted+CostFirst AIQ.
    let folds = Split::kfold(train.prompts(), 5, 7)?;
    let mut best_cfg = None;
    let mut best_aiq = f64::NEG_INFINITY;
    println!("Model selection (5-fold CV on the training part only; mean AIQ):\n");
    println!("| learner | shrink | kNN by kind | CV AIQ |\n|---|---|---|---|");
    let grid = [Learner::LogReg, Learner::Knn, Learner::Irt, Learner::Ensemble]
        .into_iter()
        .flat_map(|l| [(l, false), (l, true)])
        .filter(|&(l, by_kind)| !by_kind || matches!(l, Learner::Knn | Learner::Ensemble));
    for (learner, by_kind) in grid {
        for shrink in [0.0, 0.3, 0.6] {
            let cfg = train_cfg(learner, shrink).with_knn_by_kind(by_kind);
            let mut sum = 0.0;
            for f in &folds {
                let (tr, va) = (train.subset(&f.train), train.subset(&f.test));
                let b = Baselines::compute(&va, 1);
                let best = b.singles[b.best_single].point();
                let pts = curve(&tr, &va, prices, learned(&tr, &cfg)?)?;
                sum += metrics::aiq(&pts, best.cost).unwrap_or(f64::NAN);
            }
            let mean = sum / folds.len() as f64;
            println!("| {learner} | {shrink} | {by_kind} | {mean:.4} |");
            if mean > best_aiq {
                best_aiq = mean;
                best_cfg = Some(cfg);
            }
        }
    }
    let cfg = best_cfg.ok_or("no configuration")?;
    println!(
        "\nChosen by CV: `{}` with shrink {}, kNN by kind {}.\n",
        cfg.learner, cfg.shrink, cfg.knn_by_kind
    );

    // 2. Held-out test.
    let b = Baselines::compute(&test, 1);
    let best = b.singles[b.best_single].point();
    println!(
        "Test part: best single model `{}` quality {:.4} at {:.3} m$ per prompt; oracle {:.4} at {:.3} m$.\n",
        test.models()[b.best_single],
        best.quality,
        best.cost * 1e3,
        b.oracle.quality,
        b.oracle.cost * 1e3
    );
    let static_est: Arc<dyn QualityEstimator> = Arc::new(StaticQuality::fit(&train, KindSource::Kind));
    let static_pts = curve(&train, &test, prices, static_est)?;
    let mut rows = vec![row("per-task static router", &static_pts, best)];
    let zero: Vec<Point> = b.singles.iter().map(|s| s.point()).collect();
    rows.push(row("zero router (hull of single models)", &zero, best));
    rows.push(row("oracle", &[b.oracle.point()], best));
    let mut chosen_pts = Vec::new();
    for (learner, by_kind) in [
        Learner::Prior,
        Learner::LogReg,
        Learner::Knn,
        Learner::Irt,
        Learner::Ensemble,
    ]
    .into_iter()
    .flat_map(|l| [(l, false), (l, true)])
    .filter(|&(l, by_kind)| !by_kind || matches!(l, Learner::Knn | Learner::Ensemble))
    {
        let c = cfg.clone().with_learner(learner).with_knn_by_kind(by_kind);
        let t0 = Instant::now();
        let est = learned(&train, &c)?;
        let secs = t0.elapsed().as_secs_f64();
        let pts = curve(&train, &test, prices, est)?;
        let by = if by_kind { ", kNN by kind" } else { "" };
        let mut r = row(
            &format!("learned `{learner}` (shrink {}{by}, train {secs:.2} s)", c.shrink),
            &pts,
            best,
        );
        if learner == cfg.learner && by_kind == cfg.knn_by_kind {
            r.name.push_str(" **chosen**");
            chosen_pts = pts;
        }
        rows.push(r);
    }
    println!("| router | AIQ | cost at gpt-4 parity | cost at 95 % of gpt-4 |\n|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.4} | {} | {} |",
            r.name,
            r.aiq,
            pct(r.parity),
            pct(r.p95)
        );
    }
    let (gap, at) = worst_gap(&chosen_pts, &static_pts, best.cost);
    println!(
        "\nLargest shortfall of the chosen learned router below the static router's hull: {gap:.4} quality at {:.3} m$.\n",
        at * 1e3
    );

    // 3. k-fold over all prompts with the chosen setting.
    println!(
        "5-fold cross-validation over all {} prompts (setting fixed above):\n",
        all.prompts()
    );
    println!("| fold | learned AIQ | static AIQ | zero-router AIQ |\n|---|---|---|---|");
    let (mut sl, mut ss, mut sz) = (0.0, 0.0, 0.0);
    let folds = Split::kfold(all.prompts(), 5, 11)?;
    for (i, f) in folds.iter().enumerate() {
        let (tr, te) = (all.subset(&f.train), all.subset(&f.test));
        let b = Baselines::compute(&te, 1);
        let best = b.singles[b.best_single].point();
        let l = metrics::aiq(&curve(&tr, &te, prices, learned(&tr, &cfg)?)?, best.cost).unwrap_or(f64::NAN);
        let st: Arc<dyn QualityEstimator> = Arc::new(StaticQuality::fit(&tr, KindSource::Kind));
        let s = metrics::aiq(&curve(&tr, &te, prices, st)?, best.cost).unwrap_or(f64::NAN);
        let z = metrics::aiq(
            &b.singles.iter().map(|s| s.point()).collect::<Vec<_>>(),
            best.cost,
        )
        .unwrap_or(f64::NAN);
        println!("| {i} | {l:.4} | {s:.4} | {z:.4} |");
        sl += l;
        ss += s;
        sz += z;
    }
    let k = folds.len() as f64;
    println!("| mean | {:.4} | {:.4} | {:.4} |\n", sl / k, ss / k, sz / k);

    // 4. Online.
    online(&train, &test, prices, &cfg)?;
    Ok(())
}

fn online(train: &Outcomes, test: &Outcomes, prices: &PriceTable, cfg: &TrainConfig) -> Res<()> {
    println!("### Simulated online run\n");
    // The test prompts arrive one by one in a seeded order; each router decides before it sees
    // the outcome; the bandit then gets the chosen model's recorded outcome and cost.
    let stream = Replay::builder()
        .prices(prices.clone())
        .output_tokens_from(train)
        .build(test)?;
    let lambda = 100.0;
    let policy = Weighted::new(lambda)?;
    let models = stream.router().models().to_vec();
    let online = Arc::new(OnlineEstimator::new(OnlineConfig::default().with_seed(3)));
    let bandit = Router::builder()
        .models(models.clone())
        .shared_quality_estimator(online.clone())
        .policy(policy)
        .build()?;
    let offline_est = learned(train, cfg)?;
    let offline = Router::builder()
        .models(models.clone())
        .shared_quality_estimator(offline_est.clone())
        .policy(policy)
        .build()?;
    // The bandit warm-started from the offline estimator: its estimate for each prompt is the
    // prior, worth WARM_STRENGTH observations; feedback corrects it per (kind, model).
    let warm_online = Arc::new(OnlineEstimator::with_base(
        OnlineConfig::default()
            .with_seed(3)
            .with_prior_strength(WARM_STRENGTH),
        offline_est.clone(),
    ));
    let warm = Router::builder()
        .models(models.clone())
        .shared_quality_estimator(warm_online.clone())
        .policy(policy)
        .build()?;
    let fixed = Router::builder()
        .models(models)
        .quality_estimator(StaticQuality::fit(train, KindSource::Kind))
        .policy(policy)
        .build()?;
    println!(
        "The {} test prompts arrive one at a time in a seeded random order (`Split::seeded(n, 0.5, 5)`, \
         then interleaved). Three routers with the same policy, `Weighted::new({lambda})` (one quality \
         point is worth 10 m$), decide each prompt before seeing its outcome: the online bandit \
         (`OnlineEstimator`, Thompson sampling per task kind and model, Beta(1, 1) priors, seed 3, fed \
         the chosen model's recorded outcome and cost with `observe` after each decision), the offline \
         learned estimator (`{}`, trained once on the {} training prompts) and the per-task static router \
         (fitted on the same training prompts). Reward = quality - {lambda} x cost (USD), averaged per window.\n",
        test.prompts(),
        cfg.learner,
        train.prompts()
    );
    println!(
        "| prompts | bandit quality | bandit m$ | bandit reward | warm bandit reward | offline reward | static reward |\n|---|---|---|---|---|---|---|"
    );
    let order = Split::seeded(test.prompts(), 0.5, 5)?;
    let seq: Vec<usize> = order
        .test
        .iter()
        .zip(&order.train)
        .flat_map(|(a, b)| [*a, *b])
        .chain(order.train.iter().skip(order.test.len()).copied())
        .collect();
    let mut d = taskroute::Decision::new();
    let pick = |r: &Router, p: usize, d: &mut taskroute::Decision| -> Res<usize> {
        r.route_into(&stream.task(p), d)?;
        let id = d.primary_model().ok_or("no model")?;
        Ok(test.model_index(id.as_str()).ok_or("unknown model")?)
    };
    // A bandit's pick for prompt `p`, after which it learns the pick's recorded outcome.
    let pick_and_learn = |r: &Router, learner: &OnlineEstimator, p: usize, d: &mut taskroute::Decision| {
        let j = pick(r, p, d)?;
        learner.observe(
            &stream.task(p),
            &test.models()[j],
            test.quality(p, j),
            test.cost(p, j),
        )?;
        Res::Ok(j)
    };
    let window = 100;
    let (mut wq, mut wc, mut wo, mut ws, mut ww, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
    let (mut tq, mut tc, mut to, mut ts, mut tw) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let reward = |p: usize, j: usize| test.quality(p, j) - lambda * test.cost(p, j);
    for (i, &p) in seq.iter().enumerate() {
        let j = pick_and_learn(&bandit, &online, p, &mut d)?;
        let jw = pick_and_learn(&warm, &warm_online, p, &mut d)?;
        ww += reward(p, jw);
        let jo = pick(&offline, p, &mut d)?;
        let js = pick(&fixed, p, &mut d)?;
        wq += test.quality(p, j);
        wc += test.cost(p, j);
        wo += reward(p, jo);
        ws += reward(p, js);
        n += 1;
        if n == window || i + 1 == seq.len() {
            let k = n as f64;
            println!(
                "| {}-{} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                i + 1 - n + 1,
                i + 1,
                wq / k,
                wc / k * 1e3,
                (wq - lambda * wc) / k,
                ww / k,
                wo / k,
                ws / k
            );
            (tq, tc, to, ts, tw) = (tq + wq, tc + wc, to + wo, ts + ws, tw + ww);
            (wq, wc, wo, ws, ww, n) = (0.0, 0.0, 0.0, 0.0, 0.0, 0);
        }
    }
    let k = seq.len() as f64;
    println!(
        "| all {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
        seq.len(),
        tq / k,
        tc / k * 1e3,
        (tq - lambda * tc) / k,
        tw / k,
        to / k,
        ts / k
    );
    Ok(())
}

/// APGR, CPT(50%), CPT(80%) of `est` on `test` from a cost-first floor sweep (201 points):
/// x = share of calls to the strong model.
fn pair_metrics(
    train: &Outcomes,
    test: &Outcomes,
    prices: &PriceTable,
    kinds: KindSource,
    est: Arc<dyn QualityEstimator>,
    strong: usize,
) -> Res<(f64, Option<f64>, Option<f64>)> {
    let weak = 1 - strong;
    let (wq, sq) = (test.mean_quality(weak), test.mean_quality(strong));
    let replay = Replay::builder()
        .prices(prices.clone())
        .shared_estimator(est)
        .kinds(kinds)
        .output_tokens_from(train)
        .build(test)?;
    let pts: Vec<(f64, f64)> = replay
        .sweep_builtin(Builtin::CostFirst, 201)?
        .points
        .iter()
        .map(|s| (s.share[strong], s.quality))
        .collect();
    Ok((
        metrics::apgr(&pts, wq, sq).unwrap_or(f64::NAN),
        metrics::cpt(&pts, wq, sq, 0.5),
        metrics::cpt(&pts, wq, sq, 0.8),
    ))
}

/// The configuration of `grid` with the best mean APGR over 5 folds of `train` (fitted by `fit`
/// on each fold's training part, scored on its test part). Prints a table row per configuration:
/// `columns(config)`, then its CV APGR.
fn choose_by_cv(
    train: &Outcomes,
    prices: &PriceTable,
    kinds: KindSource,
    strong: usize,
    grid: Vec<TrainConfig>,
    fit: impl Fn(&Outcomes, &TrainConfig) -> Res<Arc<dyn QualityEstimator>>,
    columns: impl Fn(&TrainConfig) -> String,
) -> Res<TrainConfig> {
    let folds = Split::kfold(train.prompts(), 5, 7)?;
    let mut best: Option<(f64, TrainConfig)> = None;
    for c in grid {
        let mut sum = 0.0;
        for fo in &folds {
            let (tr, va) = (train.subset(&fo.train), train.subset(&fo.test));
            sum += pair_metrics(&tr, &va, prices, kinds, fit(&tr, &c)?, strong)?.0;
        }
        let mean = sum / folds.len() as f64;
        println!("| {} | {mean:.4} |", columns(&c));
        if best.as_ref().is_none_or(|b| mean > b.0) {
            best = Some((mean, c));
        }
    }
    Ok(best.ok_or("no configuration")?.1)
}

/// Each of `learners` with `chosen`'s other settings, fitted by `fit`, and its name (`label`
/// after the learner's; the chosen one marked).
fn each_learner(
    chosen: &TrainConfig,
    learners: &[Learner],
    label: &str,
    fit: impl Fn(&TrainConfig) -> Res<Arc<dyn QualityEstimator>>,
) -> Res<Vec<(String, Arc<dyn QualityEstimator>)>> {
    learners
        .iter()
        .map(|&learner| {
            let c = chosen.clone().with_learner(learner);
            let tag = if learner == chosen.learner {
                " **chosen**"
            } else {
                ""
            };
            Ok((
                format!("learned `{learner}`{label} (shrink {}){tag}", c.shrink),
                fit(&c)?,
            ))
        })
        .collect()
}

fn routellm(prices: &PriceTable) -> Res<()> {
    let dir = data_dir().join("routellm");
    let opts = LoadOptions::new().prices(prices.clone()).default_output_tokens(1);
    let all = Outcomes::read_wide_csv_with(dir.join("mmlu_gsm8k_outcomes.csv"), &opts)?
        .with_prompts_jsonl(&PromptJoin::routellm_gsm8k(&dir))?;
    let strong = all.model_index("gpt-4-1106-preview").ok_or("no gpt-4 column")?;
    let weak = 1 - strong;
    println!(
        "## RouteLLM pair: weak `{}`, strong `{}`\n",
        all.models()[weak],
        all.models()[strong]
    );
    println!(
        "50/50 seeded split (`Split::seeded(n, 0.5, 42)`) within each benchmark. Curve: a 201-point \
         cost-first floor sweep (the weak model is taken when its estimate clears the floor: a threshold \
         on the estimate, as RouteLLM thresholds its router's score); x = share of calls to the strong model. \
         The learner (and its shrinkage) is chosen by 5-fold CV APGR on the training half only.\n"
    );
    let f = |v: Option<f64>| v.map_or("-".into(), |x| format!("{:.1} %", 100.0 * x));
    for bench in ["gsm8k", "mmlu"] {
        let rows: Vec<usize> = (0..all.prompts())
            .filter(|&p| all.label(p).split('/').next() == Some(bench))
            .collect();
        let data = all.subset(&rows);
        let split = Split::seeded(data.prompts(), 0.5, 42)?;
        let (train, test) = (data.subset(&split.train), data.subset(&split.test));
        let kinds = if bench == "mmlu" {
            KindSource::Label
        } else {
            KindSource::Kind
        };
        let mut ests: Vec<(String, Arc<dyn QualityEstimator>)> = vec![(
            format!("static per {}", if bench == "mmlu" { "subject" } else { "task" }),
            Arc::new(StaticQuality::fit(&train, kinds)),
        )];
        if bench == "gsm8k" {
            // CV on the training half.
            println!("GSM8K model selection (5-fold CV APGR on the training half):\n");
            println!("| learner | shrink | word n-grams | math block | CV APGR |\n|---|---|---|---|---|");
            let learners = [Learner::LogReg, Learner::Knn, Learner::Irt, Learner::Ensemble];
            let mut grid = Vec::new();
            for learner in learners {
                for (shrink, words, math) in [
                    (0.0, 2, false),
                    (0.3, 2, false),
                    (0.0, 1, false),
                    (0.0, 2, true),
                    (0.0, 1, true),
                    (0.0, 0, true),
                ] {
                    // words 0: no n-grams at all (dense statistics and the math block only).
                    let fc = taskroute::learn::FeatureConfig::default()
                        .with_word_ngrams(words)
                        .with_math_features(math);
                    let fc = if words == 0 { fc.with_char_ngrams(0, 0) } else { fc };
                    grid.push(train_cfg(learner, shrink).with_features(fc));
                }
            }
            let chosen = choose_by_cv(&train, prices, kinds, strong, grid, learned, |c| {
                let f = &c.features;
                format!(
                    "{} | {} | 1..{} | {}",
                    c.learner, c.shrink, f.word_ngrams, f.math_features
                )
            })?;
            println!(
                "\nChosen: `{}` with shrink {}, word n-grams 1..{}, math block {}.\n",
                chosen.learner, chosen.shrink, chosen.features.word_ngrams, chosen.features.math_features
            );
            ests.extend(each_learner(&chosen, &learners, "", |c| learned(&train, c))?);
        }
        if bench == "mmlu" {
            // No prompt texts: the learners see the subject (as the task kind) and the length.
            let by_label = |o: &Outcomes, c: &TrainConfig| -> Res<Arc<dyn QualityEstimator>> {
                Ok(Arc::new(LearnedEstimator::train(
                    &TrainingSet::from_outcomes_by_label(o, None),
                    c,
                )?))
            };
            println!(
                "MMLU model selection (5-fold CV APGR on the training half; subject and length only):\n"
            );
            println!("| learner | shrink | CV APGR |\n|---|---|---|");
            let learners = [Learner::Prior, Learner::LogReg, Learner::Irt];
            let grid = learners
                .iter()
                .flat_map(|&learner| [0.0, 0.3].map(|shrink| train_cfg(learner, shrink)))
                .collect();
            let chosen = choose_by_cv(&train, prices, kinds, strong, grid, by_label, |c| {
                format!("{} | {}", c.learner, c.shrink)
            })?;
            println!("\nChosen: `{}` with shrink {}.\n", chosen.learner, chosen.shrink);
            ests.extend(each_learner(&chosen, &learners, ", subject + length", |c| {
                by_label(&train, c)
            })?);
        }
        println!(
            "| benchmark | estimator | test prompts | APGR | CPT(50%) | CPT(80%) |\n|---|---|---|---|---|---|"
        );
        for (name, est) in ests {
            let (apgr, c50, c80) = pair_metrics(&train, &test, prices, kinds, est, strong)?;
            println!(
                "| {bench} | {name} | {} | {apgr:.4} | {} | {} |",
                test.prompts(),
                f(c50),
                f(c80)
            );
        }
        println!();
    }
    Ok(())
}

fn main() -> Res<()> {
    let dir = data_dir();
    if !dir.join("routerbench/outcomes.csv").exists() {
        println!(
            "learn_report: {} not found; set TASKROUTE_DATA_DIR",
            dir.display()
        );
        return Ok(());
    }
    let prices = PriceTable::read_csv(dir.join("prices.csv"))?;
    let t0 = Instant::now();
    // LEARN_REPORT_ONLY=routerbench|routellm runs one part.
    let only = std::env::var("LEARN_REPORT_ONLY").unwrap_or_default();
    if only != "routellm" {
        routerbench(&prices)?;
    }
    if only != "routerbench" {
        routellm(&prices)?;
    }
    println!("(report took {:.1} s)", t0.elapsed().as_secs_f64());
    Ok(())
}
