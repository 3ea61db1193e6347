//! From raw samples to figures (JSON) and to docs/PERFORMANCE.md, with the performance targets
//! judged pass or miss and by how much.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::measure::Samples;
use crate::stub::Tally;
use crate::subject::{Function, Variant};

/// The machine and tools a run was made on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub memory_gb: f64,
    pub load_before: String,
    pub load_after: String,
    pub toolchain: String,
    pub date: String,
}

impl Machine {
    pub fn detect(toolchain: &str) -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, name)| name.trim().to_owned())
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            memory_gb: memory_kib * 1024.0 / 1e9,
            load_before: load_average(),
            load_after: String::new(),
            toolchain: toolchain.to_owned(),
            date: date.get(..10).unwrap_or_default().to_owned(),
        }
    }
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The figures of one subject against one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub subject: String,
    pub function: Function,
    pub variant: Variant,
    pub backend: String,
    pub cold_starts: usize,
    pub init_median: Duration,
    pub init_min: Duration,
    pub init_max: Duration,
    pub init_rss_kib: u64,
    pub first_median: Duration,
    pub warm_n: usize,
    pub warm_p50: Duration,
    pub warm_p99: Duration,
    pub peak_rss_kib: u64,
    /// Calls per cold start during init, per first invocation, per warm invocation.
    pub calls_init: BTreeMap<String, f64>,
    pub calls_first: BTreeMap<String, f64>,
    pub calls_warm: BTreeMap<String, f64>,
    /// New connections per cold start during init, per first invocation, per warm invocation.
    pub connections_init: f64,
    pub connections_first: BTreeMap<String, f64>,
    pub connections_warm: f64,
    /// The stub's own time per call it answered.
    pub stub_per_call: Option<Duration>,
    pub artifact_bytes: Option<u64>,
    pub zip_bytes: Option<u64>,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn per(map: &BTreeMap<String, u64>, n: usize) -> BTreeMap<String, f64> {
    map.iter()
        .map(|(key, count)| (key.clone(), *count as f64 / n.max(1) as f64))
        .collect()
}

impl Figures {
    pub fn from_samples(
        samples: &Samples,
        artifact_bytes: Option<u64>,
        zip_bytes: Option<u64>,
    ) -> Self {
        let sorted = |values: &[Duration]| {
            let mut values = values.to_vec();
            values.sort();
            values
        };
        let init = sorted(&samples.init);
        let first = sorted(&samples.first);
        let warm = sorted(&samples.warm);
        let mut init_rss = samples.init_rss_kib.clone();
        init_rss.sort_unstable();
        let n = samples.init.len();
        let total = |tally: &Tally| tally.connections.values().sum::<u64>() as f64;
        let all = [
            &samples.during_init,
            &samples.during_first,
            &samples.during_warm,
        ];
        let calls: u64 = all.iter().map(|tally| tally.total_calls()).sum();
        let busy: Duration = all.iter().map(|tally| tally.busy).sum();
        Self {
            subject: samples.subject.clone(),
            function: samples.function,
            variant: samples.variant,
            backend: samples.backend.clone(),
            cold_starts: n,
            init_median: percentile(&init, 50.0),
            init_min: init.first().copied().unwrap_or_default(),
            init_max: init.last().copied().unwrap_or_default(),
            init_rss_kib: init_rss.get(init_rss.len() / 2).copied().unwrap_or(0),
            first_median: percentile(&first, 50.0),
            warm_n: warm.len(),
            warm_p50: percentile(&warm, 50.0),
            warm_p99: percentile(&warm, 99.0),
            peak_rss_kib: samples.peak_rss_kib,
            calls_init: per(&samples.during_init.calls, n),
            calls_first: per(&samples.during_first.calls, n),
            calls_warm: per(&samples.during_warm.calls, warm.len()),
            connections_init: total(&samples.during_init) / n.max(1) as f64,
            connections_first: per(&samples.during_first.connections, n),
            connections_warm: total(&samples.during_warm) / warm.len().max(1) as f64,
            stub_per_call: (calls > 0 && samples.backend == "stub")
                .then(|| busy / u32::try_from(calls).unwrap_or(u32::MAX)),
            artifact_bytes,
            zip_bytes,
        }
    }
}

/// Everything a report is made of.
#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub cold_starts: usize,
    pub warm: usize,
    pub moto: bool,
    pub figures: Vec<Figures>,
}

fn duration(value: Duration) -> String {
    let ms = value.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb < 0.1 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{mb:.1} MB")
    }
}

fn kib_as_mb(kib: u64) -> String {
    megabytes(kib * 1024)
}

fn count(value: f64) -> String {
    // An empty sum of f64 is -0.0.
    let value = value + 0.0;
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn calls(map: &BTreeMap<String, f64>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(key, value)| format!("{key} ×{}", count(*value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ratio(numerator: Duration, denominator: Duration) -> f64 {
    numerator.as_secs_f64() / denominator.as_secs_f64().max(1e-12)
}

fn pass(ok: bool) -> &'static str {
    if ok { "**pass**" } else { "**miss**" }
}

impl Report {
    fn find(&self, function: Function, variant: Variant, backend: &str) -> Option<&Figures> {
        self.figures
            .iter()
            .find(|f| f.function == function && f.variant == variant && f.backend == backend)
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(out, "# Performance\n");
        let _ = writeln!(
            out,
            "Generated by `make bench` (`scripts/bench.sh`, the harness in `bench/harness`) on {}. \
             Do not edit by hand: rerun it.\n",
            m.date
        );
        let _ = writeln!(
            out,
            "**Machine:** {} ({} cores), {:.0} GB RAM, Linux {}. Load average (1/5/15 min) {} before \
             the run, {} after: the machine is shared, so absolute figures move between runs; the \
             ratios, taken from interleaved cold starts, move much less. **Tools:** {}.\n",
            m.cpu, m.cores, m.memory_gb, m.kernel, m.load_before, m.load_after, m.toolchain
        );
        let _ = writeln!(
            out,
            "Not Lambda: there is no Firecracker VM and no CPU throttling here (a 256 MB function \
             gets a fraction of a vCPU), and the stub and moto speak plain HTTP, so no TLS \
             handshake is ever timed. Read the absolute numbers as this machine's, and the ratios \
             and call counts as what carries over to AWS.\n"
        );
        self.targets(&mut out);
        for function in Function::ALL {
            self.function_section(&mut out, function);
        }
        self.method(&mut out);
        out
    }

    fn targets(&self, out: &mut String) {
        let _ = writeln!(out, "## Targets\n");
        let _ = writeln!(out, "| target | function | measured | verdict |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for function in Function::ALL {
            let name = match function {
                Function::PreToken => "pre-token-generation",
                Function::Products => "products-api GET",
            };
            let (Some(ours), Some(floor), Some(python)) = (
                self.find(function, Variant::Ours, "stub"),
                self.find(function, Variant::Floor, "stub"),
                self.find(function, Variant::Python, "stub"),
            ) else {
                continue;
            };
            let init_ratio = ratio(ours.init_median, floor.init_median);
            let over = ours.init_median.as_secs_f64() - 1.3 * floor.init_median.as_secs_f64();
            let _ = writeln!(
                out,
                "| init ≤ 1.3× the floor | {name} | {} vs {} = {init_ratio:.2}× | {}{} |",
                duration(ours.init_median),
                duration(floor.init_median),
                pass(init_ratio <= 1.3),
                if init_ratio <= 1.3 {
                    String::new()
                } else {
                    format!(
                        ": over by {:.2}× ({} too slow)",
                        init_ratio - 1.3,
                        duration(Duration::from_secs_f64(over.max(0.0)))
                    )
                }
            );
            let python_ratio = ratio(python.init_median, ours.init_median);
            let _ = writeln!(
                out,
                "| Python/boto3 init ≥ 5× ours | {name} | {} vs {} = {python_ratio:.1}× | {}{} |",
                duration(python.init_median),
                duration(ours.init_median),
                pass(python_ratio >= 5.0),
                if python_ratio >= 5.0 {
                    String::new()
                } else {
                    format!(": short by {:.1}×", 5.0 - python_ratio)
                }
            );
            let overhead = ours.warm_p50.saturating_sub(floor.warm_p50);
            let stub = ours
                .stub_per_call
                .map(|d| format!("; the stub's own time {} per call", duration(d)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| warm overhead ≤ 50 µs p50 (ours − floor, against the stub) | {name} | {} − {} = {}, \
                 with {} stub round trip(s) per invocation{stub} | {}{} |",
                duration(ours.warm_p50),
                duration(floor.warm_p50),
                duration(overhead),
                count(ours.calls_warm.values().sum()),
                pass(overhead <= Duration::from_micros(50)),
                if overhead <= Duration::from_micros(50) {
                    String::new()
                } else {
                    format!(
                        ": over by {}",
                        duration(overhead - Duration::from_micros(50))
                    )
                }
            );
            let warm_calls: f64 = ours.calls_warm.values().sum();
            let warm_dynamodb: f64 = ours
                .calls_warm
                .iter()
                .filter(|(key, _)| key.starts_with("dynamodb:"))
                .map(|(_, v)| v)
                .sum();
            let first_calls: f64 = ours.calls_first.values().sum();
            match function {
                Function::Products => {
                    let ok =
                        (warm_dynamodb - 1.0).abs() < 0.005 && (warm_calls - 1.0).abs() < 0.005;
                    let _ = writeln!(
                        out,
                        "| 1 DynamoDB call per CRUD request, 0 extra for authorization (warm) | {name} | {} | {} |",
                        calls(&ours.calls_warm),
                        pass(ok)
                    );
                    let ok = first_calls <= 1.0;
                    let _ = writeln!(
                        out,
                        "| the same on a tenant's first request in an environment | {name} | {} | {}{} |",
                        calls(&ours.calls_first),
                        pass(ok),
                        if ok {
                            String::new()
                        } else {
                            format!(
                                ": {} extra call(s), once per tenant per environment (cached after)",
                                count(first_calls - 1.0)
                            )
                        }
                    );
                }
                Function::PreToken => {
                    let ok = first_calls <= 1.0 && warm_calls <= 1.0;
                    let _ = writeln!(
                        out,
                        "| pre-token ≤ 1 call | {name} | first: {}; warm: {} | {} |",
                        calls(&ours.calls_first),
                        calls(&ours.calls_warm),
                        pass(ok)
                    );
                }
            }
            let opened: f64 = ours.connections_first.values().sum();
            let _ = writeln!(
                out,
                "| no TLS handshake or credential fetch on the first request that init could do | {name} | \
                 new connections during init: {}; on the first request: {} | {}{} |",
                count(ours.connections_init),
                calls(&ours.connections_first),
                pass(opened == 0.0),
                if opened == 0.0 {
                    String::new()
                } else {
                    format!(
                        ": {} connection(s) opened by the first request: on AWS, {} TLS handshake(s) on the request path",
                        count(opened),
                        count(opened)
                    )
                }
            );
            let _ = writeln!(
                out,
                "| nothing in init that a cold start doesn't need | {name} | init {init_ratio:.2}× the floor; \
                 calls during init (connection warm-up): {} | {} |",
                calls(&ours.calls_init),
                pass(init_ratio <= 1.3)
            );
            match (ours.artifact_bytes, ours.zip_bytes) {
                (Some(binary), Some(zip)) => {
                    let ok_binary = binary <= 6_000_000;
                    let ok_zip = zip <= 3_000_000;
                    let _ = writeln!(
                        out,
                        "| binary ≤ 6 MB, zipped ≤ 3 MB | {name} | {} ({binary} B), zipped {} ({zip} B) | {}{}{} |",
                        megabytes(binary),
                        megabytes(zip),
                        pass(ok_binary && ok_zip),
                        if ok_binary {
                            String::new()
                        } else {
                            format!(": binary over by {}", megabytes(binary - 6_000_000))
                        },
                        if ok_zip {
                            String::new()
                        } else {
                            format!(": zipped over by {}", megabytes(zip - 3_000_000))
                        }
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "| binary ≤ 6 MB, zipped ≤ 3 MB | {name} | not measured (no release artifacts) | – |"
                    );
                }
            }
            let peak = self
                .figures
                .iter()
                .filter(|f| f.function == function && f.variant == Variant::Ours)
                .map(|f| f.peak_rss_kib)
                .max()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "| peak RSS ≤ 32 MB | {name} | {} (the larger of the stub and moto runs) | {} |",
                kib_as_mb(peak),
                pass(peak * 1024 <= 32_000_000)
            );
        }
        let _ = writeln!(out, "\nMB = 10⁶ bytes throughout.\n");
    }

    fn function_section(&self, out: &mut String, function: Function) {
        let columns: Vec<(Variant, &Figures)> = Variant::ALL
            .iter()
            .filter_map(|v| self.find(function, *v, "stub").map(|f| (*v, f)))
            .collect();
        if columns.is_empty() {
            return;
        }
        let moto = |variant: Variant| self.find(function, variant, "moto");
        let _ = writeln!(out, "## {}\n", function.title());
        let _ = writeln!(out, "Event: `events/{}`.\n", function.event());
        let _ = write!(out, "| |");
        for (variant, _) in &columns {
            let _ = write!(out, " {} |", variant.title());
        }
        let _ = write!(out, "\n| --- |");
        for _ in &columns {
            let _ = write!(out, " --- |");
        }
        let _ = writeln!(out);
        let mut row = |label: String, cell: &dyn Fn(Variant, &Figures) -> String| {
            let _ = write!(out, "| {label} |");
            for (variant, figures) in &columns {
                let _ = write!(out, " {} |", cell(*variant, figures));
            }
            let _ = writeln!(out);
        };
        row(
            format!("init, median of {} cold starts (min–max)", self.cold_starts),
            &|_, f| {
                format!(
                    "{} ({}–{})",
                    duration(f.init_median),
                    duration(f.init_min),
                    duration(f.init_max)
                )
            },
        );
        row("peak RSS at the end of init".into(), &|_, f| {
            kib_as_mb(f.init_rss_kib)
        });
        row("first invocation, stub (median)".into(), &|_, f| {
            duration(f.first_median)
        });
        row(
            format!("warm p50 / p99, stub ({} invocations)", self.warm),
            &|_, f| format!("{} / {}", duration(f.warm_p50), duration(f.warm_p99)),
        );
        if self.moto {
            row("first invocation, moto (median)".into(), &|v, _| {
                moto(v).map_or("–".into(), |m| duration(m.first_median))
            });
            row(
                format!("warm p50 / p99, moto ({} invocations)", self.warm),
                &|v, _| {
                    moto(v).map_or("–".into(), |m| {
                        format!("{} / {}", duration(m.warm_p50), duration(m.warm_p99))
                    })
                },
            );
        }
        row("peak RSS after the warm run".into(), &|v, f| {
            let peak = moto(v).map_or(f.peak_rss_kib, |m| m.peak_rss_kib.max(f.peak_rss_kib));
            kib_as_mb(peak)
        });
        row("calls during init".into(), &|_, f| calls(&f.calls_init));
        row("calls, first invocation".into(), &|_, f| {
            calls(&f.calls_first)
        });
        row("calls per warm invocation".into(), &|_, f| {
            calls(&f.calls_warm)
        });
        row(
            "new connections: init / first invocation / per warm invocation".into(),
            &|_, f| {
                format!(
                    "{} / {} / {}",
                    count(f.connections_init),
                    count(f.connections_first.values().sum()),
                    count(f.connections_warm)
                )
            },
        );
        row("deployable / zipped".into(), &|v, f| {
            let artifact = f.artifact_bytes.map_or("–".into(), megabytes);
            let zip = f.zip_bytes.map_or("–".into(), megabytes);
            let what = match v {
                Variant::Python | Variant::PythonFloor => {
                    " (handler only; boto3 is in the runtime)"
                }
                _ => "",
            };
            format!("{artifact} / {zip}{what}")
        });
        let _ = writeln!(out);

        let (Some(ours), Some(floor), Some(python)) = (
            self.find(function, Variant::Ours, "stub"),
            self.find(function, Variant::Floor, "stub"),
            self.find(function, Variant::Python, "stub"),
        ) else {
            return;
        };
        let _ = writeln!(out, "| ratio | ours / floor | Python / ours |");
        let _ = writeln!(out, "| --- | --- | --- |");
        let pair = |a: Duration, b: Duration, c: Duration| {
            format!("{:.2}× | {:.1}×", ratio(a, b), ratio(c, a))
        };
        let _ = writeln!(
            out,
            "| init | {} |",
            pair(ours.init_median, floor.init_median, python.init_median)
        );
        let _ = writeln!(
            out,
            "| first invocation (stub) | {} |",
            pair(ours.first_median, floor.first_median, python.first_median)
        );
        let _ = writeln!(
            out,
            "| warm p50 (stub) | {} |",
            pair(ours.warm_p50, floor.warm_p50, python.warm_p50)
        );
        let _ = writeln!(
            out,
            "| warm p99 (stub) | {} |",
            pair(ours.warm_p99, floor.warm_p99, python.warm_p99)
        );
        if let (Some(ours_moto), Some(python_moto)) = (moto(Variant::Ours), moto(Variant::Python)) {
            let _ = writeln!(
                out,
                "| first invocation (moto) | – | {:.1}× |",
                ratio(python_moto.first_median, ours_moto.first_median)
            );
            let _ = writeln!(
                out,
                "| warm p50 (moto) | – | {:.1}× |",
                ratio(python_moto.warm_p50, ours_moto.warm_p50)
            );
        }
        let _ = writeln!(
            out,
            "| peak RSS | {:.2}× | {:.1}× |\n",
            ours.peak_rss_kib as f64 / floor.peak_rss_kib.max(1) as f64,
            python.peak_rss_kib as f64 / ours.peak_rss_kib.max(1) as f64
        );
    }

    fn method(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## How these are measured\n\n\
             - The harness is a minimal Lambda Runtime API (`GET .../invocation/next`, \
             `POST .../response`, `.../error`, `.../init/error`). It spawns each function's release \
             binary (the Python baselines: `python -m awslambdaric module.handler`) with only the \
             environment Lambda sets: `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_*`, \
             `AWS_LAMBDA_LOG_*`, `AWS_REGION`, `LAMBDA_TASK_ROOT`, `_HANDLER`, function-role \
             credentials, the function's own variables from template.yaml, and \
             `AWS_ENDPOINT_URL_*` pointing at the backend.\n\
             - **init**: process start to its first `next` poll; median of {} cold starts. Cold \
             starts are interleaved across all subjects, round after round; a first, unrecorded \
             round warms the page cache (as on a Lambda host that has run the function before); the \
             Python handler modules are compiled at every cold start, as in Lambda's read-only task \
             root. **first invocation**: from the event being handed to that \
             poll to the response being read, in the same cold environment. **warm**: {} further \
             invocations in the last environment, one at a time, nearest-rank p50 and p99.\n\
             - **peak RSS**: `VmHWM` from `/proc/<pid>/status` at the end of init and after the \
             warm run.\n\
             - **stub**: DynamoDB, STS, Cognito and a catch-all endpoint on 127.0.0.1, one port \
             each (one host each on AWS), answering fixed valid responses at once; it counts calls \
             by `service:Operation` and accepted connections per phase. **moto**: the local \
             DynamoDB/STS server (`local/moto_serialized.py`), tables from template.yaml, items \
             from `bench/moto_seed.py`; end-to-end figures, its calls are not counted.\n\
             - **floor**: `bench/hello`, a hello-world `lambda_runtime` function built with the \
             same release profile, fed the same event. **Python**: `bench/baselines/python`, the \
             same behaviour in idiomatic boto3, clients created at module load. \
             **overhead** = ours − floor, warm p50 against the stub: what the function adds to the \
             runtime's own cost, stub round trips included.\n\
             - **zipped**: the binary as `bootstrap` in a deflated zip, as `cargo lambda build \
             --output-format zip` packs it.\n",
            self.cold_starts, self.warm
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&values[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_micros(213)), "213 µs");
        assert_eq!(duration(Duration::from_micros(4_126)), "4.13 ms");
        assert_eq!(duration(Duration::from_millis(412)), "412 ms");
    }

    #[test]
    fn call_counts_show_fractions_only_when_there_are_some() {
        let mut map = BTreeMap::new();
        map.insert("dynamodb:GetItem".to_owned(), 1.0);
        map.insert("sts:AssumeRole".to_owned(), 0.25);
        assert_eq!(calls(&map), "dynamodb:GetItem ×1, sts:AssumeRole ×0.25");
        assert_eq!(calls(&BTreeMap::new()), "none");
    }
}
