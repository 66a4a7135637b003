//! Routes a planning, a reasoning and a code-completion task (and one that no model can serve)
//! on the built-in catalog under each built-in policy, and prints each decision explained.
//!
//! Run: `cargo run --example quickstart`

use std::sync::Arc;
use std::time::SystemTime;

use taskroute::{
    Capability, CostFirst, Date, Error, Limits, Policy, QualityFirst, Router, TaskKind, TaskSpec, Weighted,
};

#[path = "support/catalog.rs"]
mod catalog;
use catalog::builtin_catalog;

fn main() -> Result<(), Error> {
    let catalog = builtin_catalog();
    // Warn about models retired or retiring within 30 days, and route only to those still served.
    let today = Date::from_system_time(SystemTime::now());
    for warning in catalog.retirement_warnings(today, 30) {
        println!("{warning}");
    }
    let router = Router::builder()
        .models(catalog.into_models())
        .exclude_retired(today)
        .build()?;

    let tasks = [
        (
            "plan a data migration (tools required)",
            TaskSpec::new(TaskKind::Planning, 6_000)
                .with_output_tokens(1_500)
                .require(Capability::Tools),
        ),
        (
            "reason through a tricky pricing question",
            TaskSpec::new(TaskKind::Reasoning, 2_000).with_output_tokens(2_000),
        ),
        (
            "complete a line of code under 800 ms",
            TaskSpec::new(TaskKind::CodeCompletion, 1_500)
                .with_output_tokens(48)
                .with_limits(Limits::NONE.with_max_latency_ms(800.0)),
        ),
        (
            "summarise 3 million tokens for a tenth of a cent (no model can)",
            TaskSpec::new(TaskKind::Summarization, 3_000_000)
                .with_limits(Limits::NONE.with_max_cost_usd(0.001)),
        ),
    ];

    let policies: Vec<Arc<dyn Policy>> = vec![
        Arc::new(CostFirst::new(0.75)?),
        Arc::new(QualityFirst::new(0.05)?),
        Arc::new(Weighted::with_weights(1.0, 20.0, 0.02)?),
    ];

    for policy in &policies {
        println!(
            "==================== policy: {} ====================",
            policy.name()
        );
        for (what, task) in &tasks {
            println!("-- {what}");
            let routed = router.with_policy(Arc::clone(policy));
            match routed.route(task) {
                // The primary, three fallbacks and five rejections; the rest are counted.
                Ok(decision) => print!("{}", decision.explain().max_ranked(4).max_rejected(5)),
                Err(Error::NoEligibleModel { rejections, .. }) => {
                    println!(
                        "no model can serve it; all {} candidates were rejected, for example:",
                        rejections.len()
                    );
                    for (model, why) in rejections.iter().take(6) {
                        println!("  {model:<34} {why}");
                    }
                }
                Err(e) => return Err(e),
            }
            println!();
        }
    }
    Ok(())
}
