//! The benches' clock, shared with `#[path = "support/clock.rs"] mod clock;` and chosen by
//! `TASKROUTE_BENCH_CLOCK`: by default criterion's wall clock; with `thread-cpu` (on Unix) the
//! benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which leaves out the time the thread
//! spends preempted: steadier figures on a shared, loaded machine. Those results are stored under
//! `cpu:`-prefixed names.

/// `fn main` that calls `$run(criterion, prefix)` (a `fn run<M: Measurement>(Criterion<M>, &str)`)
/// with the clock `TASKROUTE_BENCH_CLOCK` names.
macro_rules! clock_main {
    ($run:ident) => {
        fn main() {
            let clock = std::env::var("TASKROUTE_BENCH_CLOCK").unwrap_or_default();
            match clock.as_str() {
                #[cfg(unix)]
                "thread-cpu" => $run(
                    criterion::Criterion::default()
                        .with_measurement(clock::thread_cpu::ThreadCpu)
                        .configure_from_args(),
                    "cpu:",
                ),
                "" | "wall" => $run(criterion::Criterion::default().configure_from_args(), ""),
                other => panic!("TASKROUTE_BENCH_CLOCK={other}: expected `wall` or `thread-cpu`"),
            }
        }
    };
}
pub(crate) use clock_main;

/// A criterion measurement of the calling thread's CPU time.
#[cfg(unix)]
#[path = "thread_cpu.rs"]
pub(crate) mod thread_cpu;
