//! A minimal Lambda Runtime API: the HTTP API a function's runtime polls for events and posts its
//! answers to. One server per execution environment (per function process), as on Lambda.
//!
//! Timing is taken where Lambda takes it: init ends when the runtime first asks for an event
//! (`GET .../invocation/next`); an invocation lasts from the moment its event is handed to that
//! poll until the runtime's `POST .../response` (or `.../error`) has been read.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The invocation timeout Lambda would give (template.yaml: `Timeout: 10`); sent as the deadline.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Response,
    Error,
}

/// What the runtime posted for one invocation, and how long after it got the event.
#[derive(Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    pub body: Bytes,
    pub latency: Duration,
}

#[derive(Debug)]
struct Invocation {
    id: String,
    event: Bytes,
    done: oneshot::Sender<Outcome>,
}

#[derive(Debug)]
struct Environment {
    function_arn: String,
    first_poll: Mutex<Option<oneshot::Sender<Instant>>>,
    init_error: Mutex<Option<oneshot::Sender<Bytes>>>,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, (Instant, oneshot::Sender<Outcome>)>>,
}

/// The Runtime API of one execution environment.
#[derive(Debug)]
pub struct RuntimeApi {
    address: SocketAddr,
    invocations: mpsc::Sender<Invocation>,
    /// When the runtime first polled for an event: the end of init.
    pub first_poll: oneshot::Receiver<Instant>,
    /// The body of a `POST /runtime/init/error`, if the runtime reported one.
    pub init_error: oneshot::Receiver<Bytes>,
    next_id: u64,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (invocations, queue) = mpsc::channel(1);
        let (first_poll_tx, first_poll) = oneshot::channel();
        let (init_error_tx, init_error) = oneshot::channel();
        let environment = Arc::new(Environment {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            first_poll: Mutex::new(Some(first_poll_tx)),
            init_error: Mutex::new(Some(init_error_tx)),
            queue: tokio::sync::Mutex::new(queue),
            pending: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error_posted))
            .with_state(environment);
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("runtime API: {err}");
            }
        });
        Ok(Self {
            address,
            invocations,
            first_poll,
            init_error,
            next_id: 0,
            server,
        })
    }

    /// `host:port`, the form `AWS_LAMBDA_RUNTIME_API` takes.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Queues an event for the runtime's next poll; the receiver gets the outcome.
    pub async fn submit(&mut self, event: Bytes) -> io::Result<oneshot::Receiver<Outcome>> {
        self.next_id += 1;
        let (done, outcome) = oneshot::channel();
        let invocation = Invocation {
            id: format!("00000000-0000-4000-8000-{:012x}", self.next_id),
            event,
            done,
        };
        self.invocations
            .send(invocation)
            .await
            .map_err(|_| io::Error::other("the runtime API server has stopped"))?;
        Ok(outcome)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

async fn next(State(environment): State<Arc<Environment>>) -> Response {
    let polled = Instant::now();
    if let Some(first_poll) = take(&environment.first_poll) {
        let _ = first_poll.send(polled);
    }
    let invocation = environment.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(FUNCTION_TIMEOUT)
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", invocation.id.clone());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        environment.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-6745a1b0-{:024x};Parent=00000000000000a1;Sampled=0",
            deadline
        ),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let dispatched = Instant::now();
    environment
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(invocation.id, (dispatched, invocation.done));
    (headers, invocation.event).into_response()
}

fn complete(environment: &Environment, id: &str, verdict: Verdict, body: Bytes) -> Response {
    let received = Instant::now();
    let pending = environment
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(id);
    match pending {
        Some((dispatched, done)) => {
            let _ = done.send(Outcome {
                verdict,
                body,
                latency: received.saturating_duration_since(dispatched),
            });
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}"#,
        )
            .into_response(),
    }
}

async fn response(
    State(environment): State<Arc<Environment>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    complete(&environment, &id, Verdict::Response, body)
}

async fn error(
    State(environment): State<Arc<Environment>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    complete(&environment, &id, Verdict::Error, body)
}

async fn init_error_posted(State(environment): State<Arc<Environment>>, body: Bytes) -> Response {
    if let Some(init_error) = take(&environment.init_error) {
        let _ = init_error.send(body);
    }
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
