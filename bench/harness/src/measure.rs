//! Cold starts and warm runs: spawning a function as Lambda would, timing it through the Runtime
//! API, and reading its memory from `/proc`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde::Serialize;
use tokio::time::sleep;

use crate::runtime_api::{RuntimeApi, Verdict};
use crate::stub::{Stub, Tally};
use crate::subject::{Backend, Layout, Subject};

/// How often a waiting harness checks whether the function died.
const EXIT_POLL: Duration = Duration::from_millis(50);

/// Why a run failed. Every one of them fails the harness: a benchmark of a broken function is
/// not a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{subject}: {context}: {source}")]
    Io {
        subject: String,
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{subject}: init failed, the runtime reported: {body}")]
    InitError { subject: String, body: String },
    #[error("{subject}: the process exited during {phase} ({status})")]
    Exited {
        subject: String,
        phase: &'static str,
        status: String,
    },
    #[error("{subject}: no answer within {seconds} s during {phase}")]
    Timeout {
        subject: String,
        phase: &'static str,
        seconds: u64,
    },
    #[error("{subject}: the invocation failed: {body}")]
    InvocationError { subject: String, body: String },
    #[error("{subject}: wrong answer: {reason}")]
    WrongAnswer { subject: String, reason: String },
}

impl Failure {
    fn io(subject: &Subject, context: &'static str) -> impl FnOnce(std::io::Error) -> Failure {
        let subject = subject.key();
        move |source| Failure::Io {
            subject,
            context,
            source,
        }
    }
}

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub cold_starts: usize,
    pub warm: usize,
    pub timeout: Duration,
}

/// The raw measurements of one subject against one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Samples {
    pub subject: String,
    pub function: crate::subject::Function,
    pub variant: crate::subject::Variant,
    pub backend: String,
    /// Process start to first poll, one per measured cold start.
    pub init: Vec<Duration>,
    /// Peak RSS at the end of init (VmHWM), KiB, one per cold start.
    pub init_rss_kib: Vec<u64>,
    /// The first invocation of each cold start.
    pub first: Vec<Duration>,
    /// Every invocation of the warm run, after the first.
    pub warm: Vec<Duration>,
    /// Peak RSS (VmHWM) at the end of the warm run, KiB.
    pub peak_rss_kib: u64,
    /// Stub calls and connections during init, summed over the measured cold starts.
    pub during_init: Tally,
    /// The same during the first invocations, summed over the measured cold starts.
    pub during_first: Tally,
    /// The same during the warm run, summed over its invocations.
    pub during_warm: Tally,
}

impl Samples {
    fn new(subject: &Subject, backend: &Backend) -> Self {
        Self {
            subject: subject.key(),
            function: subject.function,
            variant: subject.variant,
            backend: backend.name().to_owned(),
            init: Vec::new(),
            init_rss_kib: Vec::new(),
            first: Vec::new(),
            warm: Vec::new(),
            peak_rss_kib: 0,
            during_init: Tally::default(),
            during_first: Tally::default(),
            during_warm: Tally::default(),
        }
    }
}

fn add(total: &mut Tally, delta: &Tally) {
    for (key, count) in &delta.calls {
        *total.calls.entry(key.clone()).or_default() += count;
    }
    for (key, count) in &delta.connections {
        *total.connections.entry(key.clone()).or_default() += count;
    }
    total.busy += delta.busy;
}

/// One execution environment: the function's process and its Runtime API.
struct Environment<'a> {
    subject: &'a Subject,
    child: Child,
    api: RuntimeApi,
    pid: u32,
    timeout: Duration,
}

impl<'a> Environment<'a> {
    /// Spawns the function and waits for the end of its init.
    async fn start(
        subject: &'a Subject,
        layout: &Layout,
        stub: &Stub,
        backend: &Backend,
        log: &Path,
        timeout: Duration,
    ) -> Result<(Environment<'a>, Duration), Failure> {
        let api = RuntimeApi::start(&subject.key())
            .await
            .map_err(Failure::io(subject, "starting the runtime API"))?;
        let output = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(Failure::io(subject, "opening the function log"))?;
        let errors = output
            .try_clone()
            .map_err(Failure::io(subject, "opening the function log"))?;
        let mut command = subject.command(layout, &api.address(), stub, backend);
        command.stdin(Stdio::null()).stdout(output).stderr(errors);
        let started = Instant::now();
        let child = command
            .spawn()
            .map_err(Failure::io(subject, "spawning the function"))?;
        let pid = child.id();
        let mut environment = Environment {
            subject,
            child,
            api,
            pid,
            timeout,
        };
        let key = subject.key();
        let polled = tokio::select! {
            polled = &mut environment.api.first_poll => polled.map_err(|_| Failure::Exited {
                subject: key.clone(),
                phase: "init",
                status: "the runtime API stopped".into(),
            })?,
            body = &mut environment.api.init_error => {
                return Err(Failure::InitError {
                    subject: key,
                    body: String::from_utf8_lossy(&body.unwrap_or_default()).into_owned(),
                });
            }
            status = exited(&mut environment.child) => {
                return Err(Failure::Exited { subject: key, phase: "init", status });
            }
            () = sleep(timeout) => {
                return Err(Failure::Timeout { subject: key, phase: "init", seconds: timeout.as_secs() });
            }
        };
        Ok((environment, polled.saturating_duration_since(started)))
    }

    /// One invocation: its latency, after checking the answer.
    async fn invoke(&mut self, event: &Bytes, phase: &'static str) -> Result<Duration, Failure> {
        let key = self.subject.key();
        let outcome = self
            .api
            .submit(event.clone())
            .await
            .map_err(Failure::io(self.subject, "queueing an event"))?;
        let outcome = tokio::select! {
            outcome = outcome => outcome.map_err(|_| Failure::Exited {
                subject: key.clone(),
                phase,
                status: "the runtime API stopped".into(),
            })?,
            status = exited(&mut self.child) => {
                return Err(Failure::Exited { subject: key, phase, status });
            }
            () = sleep(self.timeout) => {
                return Err(Failure::Timeout { subject: key, phase, seconds: self.timeout.as_secs() });
            }
        };
        if outcome.verdict == Verdict::Error {
            return Err(Failure::InvocationError {
                subject: key,
                body: String::from_utf8_lossy(&outcome.body).into_owned(),
            });
        }
        self.subject
            .check(&outcome.body)
            .map_err(|reason| Failure::WrongAnswer {
                subject: key,
                reason,
            })?;
        Ok(outcome.latency)
    }

    /// The process's peak resident set so far (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> Result<u64, Failure> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(Failure::io(self.subject, "reading /proc/<pid>/status"))?;
        Ok(status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0))
    }
}

/// Lambda freezes or kills an environment it no longer needs; so does the harness, also when a
/// run fails half-way, so that no function process outlives it.
impl Drop for Environment<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resolves when the process has exited, with its status. Polled, because this is only the
/// failure path: a function that dies instead of answering.
async fn exited(child: &mut Child) -> String {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) => sleep(EXIT_POLL).await,
            Err(err) => return err.to_string(),
        }
    }
}

/// A failed run, with the log of the function that failed.
#[derive(Debug, thiserror::Error)]
#[error("{failure} (function log: {})", log.display())]
pub struct RunFailure {
    pub failure: Failure,
    pub log: PathBuf,
}

/// Measures every subject against one backend. Cold starts are interleaved across subjects
/// (round after round), so that a burst of load from elsewhere on the machine hits them all
/// alike; round 0 warms the page cache and is not recorded. The last round's environment then
/// serves the warm run.
pub async fn run(
    subjects: &[&Subject],
    layout: &Layout,
    stub: &Stub,
    backend: &Backend,
    plan: Plan,
    log_dir: &Path,
) -> Result<Vec<Samples>, RunFailure> {
    let logs: Vec<PathBuf> = subjects
        .iter()
        .map(|subject| log_dir.join(format!("{}.{}.log", subject.key(), backend.name())))
        .collect();
    let mut events = Vec::new();
    for (subject, log) in subjects.iter().zip(&logs) {
        let event = std::fs::read(&subject.event).map_err(|source| RunFailure {
            failure: Failure::io(subject, "reading the event")(source),
            log: log.clone(),
        })?;
        events.push(Bytes::from(event));
    }
    let mut samples: Vec<Samples> = subjects
        .iter()
        .map(|subject| Samples::new(subject, backend))
        .collect();
    for round in 0..=plan.cold_starts {
        for (index, subject) in subjects.iter().enumerate() {
            let entry = &mut samples[index];
            let measured = cold_start(
                subject,
                &events[index],
                layout,
                stub,
                backend,
                plan,
                &logs[index],
                entry,
                round,
            )
            .await;
            measured.map_err(|failure| RunFailure {
                failure,
                log: logs[index].clone(),
            })?;
        }
    }
    Ok(samples)
}

/// One cold start and first invocation (recorded unless it is round 0), and after the last one,
/// the warm run.
#[allow(clippy::too_many_arguments)]
async fn cold_start(
    subject: &Subject,
    event: &Bytes,
    layout: &Layout,
    stub: &Stub,
    backend: &Backend,
    plan: Plan,
    log: &Path,
    entry: &mut Samples,
    round: usize,
) -> Result<(), Failure> {
    let before = stub.snapshot();
    let (mut environment, init) =
        Environment::start(subject, layout, stub, backend, log, plan.timeout).await?;
    let after_init = stub.snapshot();
    let init_rss = environment.peak_rss_kib()?;
    let first = environment.invoke(event, "the first invocation").await?;
    let after_first = stub.snapshot();
    if round > 0 {
        entry.init.push(init);
        entry.init_rss_kib.push(init_rss);
        entry.first.push(first);
        add(&mut entry.during_init, &after_init.since(&before));
        add(&mut entry.during_first, &after_first.since(&after_init));
    }
    if round == plan.cold_starts {
        entry.warm.reserve(plan.warm);
        for _ in 0..plan.warm {
            let latency = environment.invoke(event, "the warm run").await?;
            entry.warm.push(latency);
        }
        entry.during_warm = stub.snapshot().since(&after_first);
        entry.peak_rss_kib = environment.peak_rss_kib()?;
    }
    drop(environment);
    Ok(())
}
