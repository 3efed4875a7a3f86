//! A small Lambda Runtime API (the HTTP interface a `provided.*` runtime's `bootstrap`
//! polls), served on loopback so a test can run the real bundled executable: hand it an
//! event, collect its response. moto cannot run functions here (no Docker engine), so
//! this stands in for the Lambda service's side of the conversation.
//!
//! Implemented: `GET /2018-06-01/runtime/invocation/next` (long-polls until an event is
//! queued), `POST …/invocation/{id}/response`, `POST …/invocation/{id}/error`,
//! `POST /2018-06-01/runtime/init/error`.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What the function answered to one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response(serde_json::Value),
    /// The function reported an error (handler error or panic).
    Error(serde_json::Value),
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<(String, serde_json::Value)>>,
    queued: Notify,
    outcomes: Mutex<HashMap<String, Outcome>>,
    answered: Notify,
    init_error: Mutex<Option<String>>,
    /// When the function first asked for an invocation: the end of its cold start.
    first_poll: Mutex<Option<Instant>>,
    polled: Notify,
}

pub struct RuntimeApi {
    runtime: tokio::runtime::Runtime,
    state: Arc<State>,
    /// `127.0.0.1:PORT`: the value of AWS_LAMBDA_RUNTIME_API.
    pub address: String,
    next_id: std::sync::atomic::AtomicU64,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(State::default());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let serving = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            runtime,
            state,
            address,
            next_id: Default::default(),
        }
    }

    /// When the function first polled for an invocation, waiting up to `timeout` for it.
    pub fn first_poll(&self, timeout: Duration) -> Instant {
        let state = self.state.clone();
        let polled = async move {
            loop {
                let polled = state.polled.notified();
                if let Some(at) = *state.first_poll.lock().unwrap() {
                    return at;
                }
                polled.await;
            }
        };
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, polled).await })
            .expect("the function did not poll in time")
    }

    /// Queues `event` for the function and waits (up to `timeout`) for its answer.
    pub fn invoke(&self, event: serde_json::Value, timeout: Duration) -> Outcome {
        let id = format!(
            "test-invocation-{}",
            self.next_id
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        self.state
            .queue
            .lock()
            .unwrap()
            .push_back((id.clone(), event));
        self.state.queued.notify_one();
        let state = self.state.clone();
        let answer = async move {
            loop {
                let answered = state.answered.notified();
                if let Some(outcome) = state.outcomes.lock().unwrap().remove(&id) {
                    return outcome;
                }
                if let Some(e) = state.init_error.lock().unwrap().clone() {
                    panic!("the function failed to start: {e}");
                }
                answered.await;
            }
        };
        // The timer needs the runtime's context: create it inside.
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, answer).await })
            .expect("the function did not answer in time")
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn body_json(req: Request<Incoming>) -> serde_json::Value {
    let bytes = req.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()))
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => {
            state
                .first_poll
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
            state.polled.notify_waiters();
            let (id, event) = loop {
                let queued = state.queued.notified();
                if let Some(next) = state.queue.lock().unwrap().pop_front() {
                    break next;
                }
                queued.await;
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            Response::builder()
                .header("lambda-runtime-aws-request-id", &id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:e2e",
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000",
                )
                .body(Full::new(Bytes::from(event.to_string())))
                .unwrap()
        }
        (
            &Method::POST,
            [
                "2018-06-01",
                "runtime",
                "invocation",
                id,
                kind @ ("response" | "error"),
            ],
        ) => {
            let id = id.to_string();
            let outcome = if *kind == "response" {
                Outcome::Response(body_json(req).await)
            } else {
                Outcome::Error(body_json(req).await)
            };
            state.outcomes.lock().unwrap().insert(id, outcome);
            state.answered.notify_waiters();
            reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
        }
        (&Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            let body = body_json(req).await;
            *state.init_error.lock().unwrap() = Some(body.to_string());
            state.answered.notify_waiters();
            reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown Runtime API path"),
    }
}

/// A bundled executable, started as Lambda starts it: from its zip, with the Runtime API's
/// address, test credentials and region, and `env` (the function's name and environment).
pub struct Bootstrap(Child);

impl Bootstrap {
    pub fn start(zip: &Path, dir: &Path, api: &RuntimeApi, env: &[(&str, &str)]) -> Bootstrap {
        Bootstrap::spawn(&Bootstrap::extract(zip, dir), api, env)
    }

    /// Unzips the bundle's `bootstrap` into `dir`, checking it is the only entry and
    /// executable; its path.
    pub fn extract(zip: &Path, dir: &Path) -> std::path::PathBuf {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
        assert_eq!(archive.len(), 1, "the bundle holds only bootstrap");
        let mut entry = archive.by_name("bootstrap").unwrap();
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        let path = dir.join("bootstrap");
        std::io::copy(&mut entry, &mut std::fs::File::create(&path).unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Starts the executable at `path`.
    pub fn spawn(path: &Path, api: &RuntimeApi, env: &[(&str, &str)]) -> Bootstrap {
        let child = Command::new(path)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Bootstrap(child)
    }
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
