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
pub(crate) mod thread_cpu {
    use criterion::Throughput;
    use criterion::measurement::{Measurement, ValueFormatter};
    use rustix::time::{ClockId, clock_gettime};

    pub(crate) struct ThreadCpu;

    fn now_ns() -> u64 {
        let t = clock_gettime(ClockId::ThreadCPUTime);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }

    impl Measurement for ThreadCpu {
        type Intermediate = u64;
        type Value = u64;

        fn start(&self) -> u64 {
            now_ns()
        }
        fn end(&self, start: u64) -> u64 {
            now_ns() - start
        }
        fn add(&self, a: &u64, b: &u64) -> u64 {
            a + b
        }
        fn zero(&self) -> u64 {
            0
        }
        fn to_f64(&self, v: &u64) -> f64 {
            *v as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            &Nanoseconds
        }
    }

    struct Nanoseconds;

    impl ValueFormatter for Nanoseconds {
        fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
            let (factor, unit) = match typical_ns {
                t if t < 1e3 => (1.0, "ns (cpu)"),
                t if t < 1e6 => (1e-3, "µs (cpu)"),
                _ => (1e-6, "ms (cpu)"),
            };
            values.iter_mut().for_each(|v| *v *= factor);
            unit
        }
        fn scale_throughputs(
            &self,
            typical_ns: f64,
            throughput: &Throughput,
            values: &mut [f64],
        ) -> &'static str {
            let per_iteration = match *throughput {
                Throughput::Elements(n)
                | Throughput::Bytes(n)
                | Throughput::BytesDecimal(n)
                | Throughput::Bits(n) => n as f64,
            };
            let _ = typical_ns;
            values.iter_mut().for_each(|v| *v = per_iteration * 1e3 / *v);
            "M/s (cpu)"
        }
        fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
            "ns"
        }
    }
}
