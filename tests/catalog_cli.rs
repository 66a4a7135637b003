//! `taskroute catalog import` and `catalog diff`, and the retirement warnings of `taskroute route`.

mod cli_support;
use cli_support::taskroute;

#[test]
fn import_writes_an_overlay_that_diff_and_route_read() {
    let out = cli_support::scratch("catalog_cli", "prices.json", "");
    let out = out.to_str().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/litellm_prices_trimmed.json"
    );
    let (ok, _, err) = taskroute(&[
        "catalog",
        "import",
        "--litellm",
        fixture,
        "--provider",
        "openai,anthropic,bedrock,google",
        "--as-of",
        "2026-12-02",
        "-o",
        out,
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("not chat models") && err.contains("embedding 1"),
        "{err}"
    );
    assert!(
        err.contains("`taskroute-test/malformed-price`: `input_cost_per_token`"),
        "{err}"
    );
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    let patched = |id: &str| {
        written["patches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id)
    };
    assert!(patched("claude-sonnet-4-5"));

    let (ok, diff, err) = taskroute(&["catalog", "diff", "builtin", out]);
    assert!(ok, "{err}");
    // LiteLLM gives GPT-5's input limit (272k) where the built-in catalog has the whole window.
    assert!(
        diff.contains("~ gpt-5\n") && diff.contains("context_window: 400000 -> 272000"),
        "{diff}"
    );
    // The built-in catalog's extra prices are generated from the same LiteLLM release
    // (scripts/catalog/fresh.py), so an import of it changes no price of a built-in model.
    assert!(!diff.contains("prices."), "{diff}");
    // `gemini/...` entries are Google's, with the built-in ids.
    assert!(patched("gemini-2.5-pro"));
    // Bedrock entries patch the built-in model with the same wire name (the ids differ).
    assert!(patched("bedrock/claude-sonnet-4-5") && patched("bedrock/nova-pro"));
    assert!(
        !written
            .to_string()
            .contains("\"id\":\"bedrock/us.amazon.nova-pro-v1:0\"")
    );

    let task = r#"{"kind": "chat", "input_tokens": 2000}"#;
    let (ok, _, err) = taskroute(&["route", "--catalog", out, "--task", task, "--today", "2026-12-02"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("warning: claude-sonnet-4-5 was retired on 2026-11-30"),
        "{err}"
    );
    let (ok, explained, err) = taskroute(&[
        "route",
        "--task",
        task,
        "--today",
        "2026-12-02",
        "--exclude-retired",
    ]);
    assert!(ok, "{err}");
    assert!(explained.contains("retired on 2026-11-30"), "{explained}");
}
