//! `bench-harness`: cold-start and latency figures for Tenantry's functions, side by side with a
//! hello-world floor and with the same functions in Python and boto3.
//!
//! It runs each function as Lambda would (a Runtime API of its own, the environment Lambda sets),
//! against a stub of DynamoDB and STS that answers instantly and counts calls, and optionally
//! against the local DynamoDB server (moto); then it writes the figures as JSON and as
//! docs/PERFORMANCE.md. `scripts/bench.sh` builds, sets up and runs it; `scripts/bench_smoke.sh`
//! runs it with a few iterations as part of `make test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

mod measure;
mod report;
mod runtime_api;
mod stub;
mod subject;

use measure::{Plan, RunFailure};
use report::{Figures, Machine, Report};
use stub::Stub;
use subject::{Backend, Layout, Subject};

#[derive(Debug, Parser)]
#[command(about = "Cold-start and latency harness for Tenantry's Lambda functions")]
struct Args {
    /// The folder holding the function binaries (cargo's `release` output folder).
    #[arg(long)]
    bin_dir: PathBuf,
    /// The Python interpreter with boto3 and awslambdaric (the repository's .venv).
    #[arg(long)]
    python: PathBuf,
    /// The Python baselines.
    #[arg(long, default_value = "bench/baselines/python")]
    python_dir: PathBuf,
    /// The sample events.
    #[arg(long, default_value = "events")]
    events: PathBuf,
    /// Recorded cold starts per subject and backend (one more is run first, unrecorded).
    #[arg(long, default_value_t = 20)]
    cold_starts: usize,
    /// Warm invocations per subject and backend.
    #[arg(long, default_value_t = 1000)]
    warm: usize,
    /// Seconds to wait for init or for one invocation before failing.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// The local DynamoDB/STS server (moto), seeded by bench/moto_seed.py: also run end to end.
    #[arg(long)]
    moto: Option<String>,
    #[arg(long, default_value = "bench-data")]
    data_table: String,
    #[arg(long, default_value = "bench-control")]
    control_table: String,
    /// A folder with `<binary>.zip` and `python-<module>.zip`, for the zipped sizes.
    #[arg(long)]
    artifacts: Option<PathBuf>,
    /// Where the functions' logs go, one file per subject and backend.
    #[arg(long)]
    log_dir: PathBuf,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the report (docs/PERFORMANCE.md) here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// The compiler and interpreter versions, for the report.
    #[arg(long, default_value = "")]
    toolchain: String,
    /// A hand-written Markdown section appended to the report (what the figures don't show:
    /// the causes of the misses, measured separately).
    #[arg(long)]
    notes: Option<PathBuf>,
    /// Adds `KEY=VALUE` to every function's environment (repeatable; for experiments).
    #[arg(long = "set-env", value_parser = parse_assignment)]
    set_env: Vec<(String, String)>,
    /// Measures only the subjects whose key contains one of these (e.g. `products.ours`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text}"))
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(path).map_err(|err| format!("{}: {err}", path.display()))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|meta| meta.len())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match bench(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-harness: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> Result<(), String> {
    if args.cold_starts == 0 || args.warm == 0 {
        return Err("--cold-starts and --warm must be at least 1".into());
    }
    let home = args.log_dir.join("home");
    std::fs::create_dir_all(&home).map_err(|err| format!("{}: {err}", home.display()))?;
    let layout = Layout {
        bin_dir: absolute(&args.bin_dir)?,
        python: std::path::absolute(&args.python).map_err(|err| err.to_string())?,
        python_dir: absolute(&args.python_dir)?,
        events: absolute(&args.events)?,
        data_table: args.data_table.clone(),
        control_table: args.control_table.clone(),
        home: absolute(&home)?,
        extra_env: args.set_env.clone(),
    };
    let subjects: Vec<Subject> = Subject::all(&layout)
        .into_iter()
        .filter(|subject| {
            args.only.is_empty() || args.only.iter().any(|only| subject.key().contains(only))
        })
        .collect();
    for subject in &subjects {
        subject.check_installed()?;
    }
    let mut machine = Machine::detect(&args.toolchain);
    let stub = Stub::start()
        .await
        .map_err(|err| format!("starting the stub: {err}"))?;
    let plan = Plan {
        cold_starts: args.cold_starts,
        warm: args.warm,
        timeout: Duration::from_secs(args.timeout),
    };

    let mut backends = vec![Backend::Stub];
    backends.extend(args.moto.clone().map(Backend::Moto));
    let mut samples = Vec::new();
    for backend in &backends {
        let chosen: Vec<&Subject> = subjects
            .iter()
            .filter(|subject| *backend == Backend::Stub || subject.variant.uses_store())
            .collect();
        eprintln!(
            "bench-harness: {} subjects against the {}: {} cold starts each (+1 unrecorded), then {} warm invocations",
            chosen.len(),
            backend.name(),
            plan.cold_starts,
            plan.warm
        );
        let measured = measure::run(&chosen, &layout, &stub, backend, plan, &args.log_dir)
            .await
            .map_err(|RunFailure { failure, log }| {
                format!(
                    "{failure}\n--- last lines of {} ---\n{}",
                    log.display(),
                    tail(&log, 30)
                )
            })?;
        samples.extend(measured);
    }
    machine.load_after = report::load_average();

    let figures = samples
        .iter()
        .map(|samples| {
            let subject = subjects.iter().find(|s| s.key() == samples.subject);
            let artifact = subject.and_then(|s| file_size(&s.artifact));
            let zip = subject
                .zip(args.artifacts.as_ref())
                .and_then(|(s, dir)| file_size(&dir.join(format!("{}.zip", s.zip_name))));
            Figures::from_samples(samples, artifact, zip)
        })
        .collect();
    let report = Report {
        machine,
        cold_starts: plan.cold_starts,
        warm: plan.warm,
        moto: args.moto.is_some(),
        figures,
    };
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|err| err.to_string())?;
        std::fs::write(path, json).map_err(|err| format!("{}: {err}", path.display()))?;
    }
    let mut markdown = report.markdown();
    if let Some(path) = &args.notes {
        let notes =
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        markdown.push('\n');
        markdown.push_str(&notes);
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown).map_err(|err| format!("{}: {err}", path.display()))?;
        eprintln!("bench-harness: wrote {}", path.display());
    } else {
        println!("{markdown}");
    }
    Ok(())
}
