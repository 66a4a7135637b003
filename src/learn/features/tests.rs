//! Featurizer tests.

use super::*;

fn fz() -> Featurizer {
    Featurizer::new(FeatureConfig::default()).unwrap()
}

#[test]
fn deterministic_and_in_range() {
    let f = fz();
    let a = f.featurize(
        "Write a Python function that returns 42.",
        &TaskKind::CodeGeneration,
    );
    let b = f.featurize(
        "Write a Python function that returns 42.",
        &TaskKind::CodeGeneration,
    );
    assert_eq!(a, b);
    assert_eq!(a.indices.len(), a.values.len());
    assert!(a.indices.iter().all(|&i| (i as usize) < f.dim()));
    assert!(a.values.iter().all(|v| v.is_finite()));
    // dense block present once, in order
    for i in 0..DENSE_FEATURES {
        assert_eq!(a.indices[i] as usize, i);
    }
    assert_eq!(a.dense(0), 1.0);
    assert!(a.dense(19) > 0.0, "imperative code words");
    assert!(a.dense(20) != 0.0, "tokens estimated from the text");
    let mut t = Features::new();
    f.featurize_task_into("", &TaskKind::Chat, 1000, &mut String::new(), &mut t);
    assert!(
        (t.dense(20) - (1001f32.ln() - 5.0) / 2.0).abs() < 1e-6,
        "the task's own count"
    );
}

#[test]
fn empty_text_gives_dense_block_and_kind_only() {
    let f = fz();
    let x = f.featurize("", &TaskKind::Chat);
    assert_eq!(x.len(), DENSE_FEATURES + 1);
    assert_eq!(x.dense(17), 1.0, "empty marker");
    assert_eq!(x.dense(1), 0.0);
    let no_kind = Featurizer::new(FeatureConfig {
        kind_feature: false,
        ..FeatureConfig::default()
    })
    .unwrap();
    assert_eq!(no_kind.featurize("", &TaskKind::Chat).len(), DENSE_FEATURES);
}

#[test]
fn markers_fire() {
    let f = fz();
    let q = f.featurize("Why is the sky blue?", &TaskKind::Chat);
    assert_eq!(q.dense(9), 1.0);
    assert_eq!(q.dense(10), 1.0);
    let code = f.featurize("def f(x):\n    return {x: [1]}", &TaskKind::CodeGeneration);
    assert!(code.dense(7) > q.dense(7));
    let math = f.featurize("Solve x^2 + 3x = 10 for x, where 12345 > x", &TaskKind::Math);
    assert!(math.dense(8) > 0.3);
    assert!(math.dense(3) > 0.0);
    let mc = f.featurize("Pick one\nA) red\nB) blue\nC) green", &TaskKind::Classification);
    assert!(mc.dense(14) > 0.5);
    let zh = f.featurize("天空为什么是蓝色的？", &TaskKind::Chat);
    assert_eq!(zh.dense(9), 1.0);
    assert!(zh.dense(5) > 0.9);
    assert!(
        zh.len() > DENSE_FEATURES + 5,
        "character n-grams cover unspaced scripts"
    );
    let ar = f.featurize("لماذا السماء زرقاء؟", &TaskKind::Chat);
    assert_eq!(ar.dense(10), 1.0);
}

#[test]
fn different_texts_and_kinds_differ() {
    let f = fz();
    let a = f.featurize("sort a list in rust", &TaskKind::CodeGeneration);
    let b = f.featurize("sort a list in rust", &TaskKind::Chat);
    let c = f.featurize("bake a cake", &TaskKind::CodeGeneration);
    assert_ne!(a, b);
    assert_ne!(a, c);
}

#[test]
fn huge_and_odd_input_do_not_panic() {
    let f = fz();
    let big = "λ x → y; ".repeat(120_000); // > 1 MB
    assert!(big.len() > 1_000_000);
    let x = f.featurize(&big, &TaskKind::Reasoning);
    assert_eq!(x.dense(16), 1.0, "truncated marker");
    // n-grams are bounded by max_chars, whatever the text length
    let per_char = usize::from(f.config().word_ngrams) + 2;
    assert!(x.len() < DENSE_FEATURES + 1 + per_char * f.config().max_chars);
    for s in ["\u{0}", "🦀🦀🦀🦀", "İ", "\u{301}\u{301}", "a\r\nb", "   ", "ß?"] {
        let x = f.featurize(s, &TaskKind::Custom("x".into()));
        assert!(x.values.iter().all(|v| v.is_finite()), "{s:?}");
    }
}

#[test]
fn config_is_validated() {
    assert!(Featurizer::new(FeatureConfig::default().with_hash_bits(30)).is_err());
    assert!(Featurizer::new(FeatureConfig::default().with_char_ngrams(4, 2)).is_err());
    assert!(Featurizer::new(FeatureConfig::default().with_max_chars(0)).is_err());
    assert!(
        Featurizer::new(
            FeatureConfig::default()
                .with_word_ngrams(0)
                .with_char_ngrams(0, 0)
        )
        .is_ok()
    );
}

proptest::proptest! {
    /// Any text, any kind: no panic, finite values, indices in range, the dense block in
    /// order, and the same vector twice.
    #[test]
    fn any_text_is_featurized_deterministically(text in "\\PC{0,300}", kind in "[a-z_]{1,12}") {
        let f = fz();
        let kind = TaskKind::from_name(&kind);
        let a = f.featurize(&text, &kind);
        proptest::prop_assert_eq!(&a, &f.featurize(&text, &kind));
        proptest::prop_assert_eq!(a.indices.len(), a.values.len());
        proptest::prop_assert!(a.values.iter().all(|v| v.is_finite()));
        proptest::prop_assert!(a.indices.iter().all(|&i| (i as usize) < f.dim()));
        for i in 0..DENSE_FEATURES {
            proptest::prop_assert_eq!(a.indices[i] as usize, i);
        }
    }
}

#[test]
fn word_ngrams_count() {
    let f = Featurizer::new(
        FeatureConfig::default()
            .with_char_ngrams(0, 0)
            .with_word_ngrams(3),
    )
    .unwrap();
    let x = f.featurize("a b c d", &TaskKind::Chat);
    // 4 unigrams + 3 bigrams + 2 trigrams + kind
    assert_eq!(x.len(), DENSE_FEATURES + 4 + 3 + 2 + 1);
}

#[test]
fn math_block_counts_quantities_and_operation_words() {
    let f = Featurizer::new(FeatureConfig::default().with_math_features(true)).unwrap();
    let text = "Josh buys a house for $80,000 and puts in $50,000 in repairs. The value rose by \
                150%. He sold half of it, and 1/2 of the rest is left. How much profit did he make?";
    let x = f.featurize(text, &TaskKind::Math);
    let base = DENSE_FEATURES + (1 << 16);
    assert_eq!(x.indices.len(), x.values.len());
    let tail = &x.indices[x.indices.len() - MATH_FEATURES..];
    assert!(tail.iter().enumerate().all(|(i, &ix)| ix as usize == base + i));
    assert!(tail.iter().all(|&i| (i as usize) < f.dim()));
    let v = |name: &str| {
        let i = MATH_FEATURE_NAMES.iter().position(|n| *n == name).unwrap();
        x.values[x.values.len() - MATH_FEATURES + i]
    };
    // 80,000 50,000 150 1 2: five quantities, five distinct.
    assert!((v("log_quantities") - (6f32).ln() / 2.0).abs() < 1e-6);
    assert!((v("log_distinct_numbers") - (6f32).ln() / 2.0).abs() < 1e-6);
    // Four sentences; the question has six words.
    assert!((v("log_sentences") - (5f32).ln() / 2.0).abs() < 1e-6);
    assert!((v("log_question_words") - (7f32).ln() / 3.0).abs() < 1e-6);
    assert!(v("half") > 0.0 && v("left") > 0.0 && v("each") == 0.0);
    assert!(v("fractions") > 0.0 && v("percent_signs") > 0.0 && v("currency_signs") > 0.0);
    // Off by default; empty text and any script give finite values.
    assert_eq!(fz().dim(), DENSE_FEATURES + (1 << 16));
    for t in ["", "日本語の文章。", "٣ + ٤ = ?"] {
        assert!(
            f.featurize(t, &TaskKind::Math)
                .values
                .iter()
                .all(|v| v.is_finite())
        );
    }
}
