//! The Lambda Runtime API (the HTTP interface a `provided.*` runtime's `bootstrap` polls),
//! served on loopback so the real bundled executable runs on this machine: `invoke` and
//! `dev` hand it events and collect its answers, as the Lambda service would.
//!
//! Served: `GET /2018-06-01/runtime/invocation/next` (long-polls until an event is
//! queued; the deadline header is the function's `timeout` from now),
//! `POST …/invocation/{id}/response`, `POST …/invocation/{id}/error` and
//! `POST /2018-06-01/runtime/init/error`. Memory is not limited.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function's response body.
    Response(Value),
    /// The function reported an error (a handler error or a panic).
    Error(Value),
    /// The bootstrap reported that it could not start.
    InitError(Value),
    /// No answer within the function's timeout.
    TimedOut,
}

/// What the served function is told about itself in each invocation's headers.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub arn: String,
    pub timeout: Duration,
}

struct Pending {
    id: String,
    event: Value,
}

struct State {
    info: FunctionInfo,
    queue: Mutex<VecDeque<Pending>>,
    queued: Notify,
    outcomes: Mutex<HashMap<String, Outcome>>,
    /// Taken by the function and not answered yet.
    in_flight: Mutex<std::collections::HashSet<String>>,
    init_error: Mutex<Option<Value>>,
    answered: Notify,
    /// When the function first asked for an invocation: the end of its cold start.
    first_poll: Mutex<Option<Instant>>,
    polled: Notify,
    /// Which bootstrap process is being served: bumped when one ends, so that the polls
    /// it left waiting are ended instead of handed an event nobody will answer.
    generation: AtomicU64,
    /// Told when an invocation times out: its process is still busy with it.
    timed_out: Notify,
}

/// A Runtime API for one function, listening on `127.0.0.1:<port>` until dropped.
pub struct RuntimeApi {
    state: Arc<State>,
    /// `127.0.0.1:PORT`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    next_id: AtomicU64,
    server: tokio::task::JoinHandle<()>,
    /// Held shared by each invocation, exclusively by `pause`.
    gate: tokio::sync::RwLock<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Starts serving on a free loopback port, on the current tokio runtime.
    pub async fn start(info: FunctionInfo) -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let state = Arc::new(State {
            info,
            queue: Mutex::default(),
            queued: Notify::new(),
            outcomes: Mutex::default(),
            in_flight: Mutex::default(),
            init_error: Mutex::default(),
            answered: Notify::new(),
            first_poll: Mutex::default(),
            polled: Notify::new(),
            generation: AtomicU64::new(0),
            timed_out: Notify::new(),
        });
        let serving = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
                    });
                    // A bootstrap that is killed mid-request ends its connection; nothing
                    // to report.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            state,
            address,
            next_id: AtomicU64::new(0),
            server,
            gate: tokio::sync::RwLock::new(()),
        })
    }

    /// When the function first polled for an invocation.
    pub async fn first_poll(&self) -> Instant {
        loop {
            let polled = self.state.polled.notified();
            if let Some(at) = *lock(&self.state.first_poll) {
                return at;
            }
            polled.await;
        }
    }

    /// Queues `event` for the function and waits for its answer, at most the function's
    /// timeout after the function took it (and for as long as it takes to be taken).
    pub async fn invoke(&self, event: Value) -> Outcome {
        let _running = self.gate.read().await;
        let id = format!("local-{:08}", self.next_id.fetch_add(1, Ordering::SeqCst));
        lock(&self.state.queue).push_back(Pending {
            id: id.clone(),
            event,
        });
        self.state.queued.notify_one();
        loop {
            let answered = self.state.answered.notified();
            if let Some(outcome) = lock(&self.state.outcomes).remove(&id) {
                return outcome;
            }
            if let Some(error) = lock(&self.state.init_error).take() {
                // The invocation never started: take it back so a restarted bootstrap
                // does not run it unasked.
                lock(&self.state.queue).retain(|p| p.id != id);
                return Outcome::InitError(error);
            }
            answered.await;
        }
    }

    /// Waits until an invocation times out (the process that took it is still running it:
    /// on Lambda, its execution environment is stopped and the next one starts afresh).
    pub async fn timed_out(&self) {
        self.state.timed_out.notified().await;
    }

    /// Waits until no invocation is running and holds new ones back until the guard is
    /// dropped: the moment to swap the bootstrap for a new build, as Lambda lets running
    /// invocations finish on the old code.
    pub async fn pause(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().await
    }

    /// The function's process ended (a crash, or a restart): fails every invocation it
    /// took and did not answer, as Lambda reports it (`Runtime.ExitError`), and ends the
    /// polls it left waiting, so that only the next process is handed events.
    pub fn abandon(&self, why: &str) {
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        self.state.queued.notify_waiters();
        let taken: Vec<String> = lock(&self.state.in_flight).drain().collect();
        let mut outcomes = lock(&self.state.outcomes);
        for id in taken {
            outcomes.entry(id).or_insert_with(|| {
                Outcome::Error(serde_json::json!({
                    "errorType": "Runtime.ExitError",
                    "errorMessage": why,
                }))
            });
        }
        drop(outcomes);
        self.state.answered.notify_waiters();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn body_json(req: Request<Incoming>) -> Value {
    let bytes = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return Value::String(format!("unreadable body: {e}")),
    };
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
}

async fn handle(state: &Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => {
            let generation = state.generation.load(Ordering::SeqCst);
            lock(&state.first_poll).get_or_insert_with(Instant::now);
            state.polled.notify_waiters();
            let next = loop {
                let queued = state.queued.notified();
                if state.generation.load(Ordering::SeqCst) != generation {
                    // From a process that has ended: the event stays queued for the next.
                    return reply(StatusCode::GONE, "this bootstrap process has ended");
                }
                if let Some(next) = lock(&state.queue).pop_front() {
                    break next;
                }
                queued.await;
            };
            lock(&state.in_flight).insert(next.id.clone());
            watch_deadline(state.clone(), next.id.clone());
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .saturating_add(state.info.timeout)
                .as_millis();
            Response::builder()
                .header("lambda-runtime-aws-request-id", &next.id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header("lambda-runtime-invoked-function-arn", &state.info.arn)
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000",
                )
                .body(Full::new(Bytes::from(next.event.to_string())))
                .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "bad header"))
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
            let body = body_json(req).await;
            let outcome = if *kind == "response" {
                Outcome::Response(body)
            } else {
                Outcome::Error(body)
            };
            // An answer after the deadline is too late, as on Lambda: the timeout stands.
            lock(&state.in_flight).remove(&id);
            lock(&state.outcomes).entry(id).or_insert(outcome);
            state.answered.notify_waiters();
            reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
        }
        (&Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            *lock(&state.init_error) = Some(body_json(req).await);
            state.answered.notify_waiters();
            reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown Runtime API path"),
    }
}

/// Records a timeout for invocation `id` unless it is answered within the function's
/// timeout.
fn watch_deadline(state: Arc<State>, id: String) {
    tokio::spawn(async move {
        tokio::time::sleep(state.info.timeout).await;
        lock(&state.in_flight).remove(&id);
        let timed_out = match lock(&state.outcomes).entry(id) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Outcome::TimedOut);
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
        };
        if timed_out {
            state.answered.notify_waiters();
            state.timed_out.notify_one();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    /// A bootstrap's side of the conversation, by hand.
    struct FakeBootstrap {
        client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
        base: String,
    }

    impl FakeBootstrap {
        fn new(api: &RuntimeApi) -> FakeBootstrap {
            FakeBootstrap {
                client: Client::builder(TokioExecutor::new()).build_http(),
                base: format!("http://{}/2018-06-01/runtime", api.address),
            }
        }

        /// The next invocation: its id, its deadline (ms) and its event.
        async fn next(&self) -> (String, u128, Value) {
            let uri = format!("{}/invocation/next", self.base);
            let response = self.client.get(uri.parse().unwrap()).await.unwrap();
            let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
            let id = header("lambda-runtime-aws-request-id");
            let deadline = header("lambda-runtime-deadline-ms").parse().unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (id, deadline, serde_json::from_slice(&body).unwrap())
        }

        async fn post(&self, path: &str, body: &str) {
            let request = Request::post(format!("{}/{path}", self.base))
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap();
            let response = self.client.request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
        }
    }

    async fn api(timeout: Duration) -> RuntimeApi {
        let info = FunctionInfo {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            timeout,
        };
        RuntimeApi::start(info).await.unwrap()
    }

    #[tokio::test]
    async fn an_event_goes_out_and_its_response_or_error_comes_back() {
        let api = api(Duration::from_secs(30)).await;
        let bootstrap = FakeBootstrap::new(&api);
        let served = async {
            let (id, deadline, event) = bootstrap.next().await;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis();
            assert!(
                deadline > now && deadline <= now + 30_000,
                "{deadline} vs {now}"
            );
            assert_eq!(event, serde_json::json!({"n": 1}));
            bootstrap
                .post(&format!("invocation/{id}/response"), "{\"ok\":true}")
                .await;
            let (id, _, _) = bootstrap.next().await;
            bootstrap
                .post(
                    &format!("invocation/{id}/error"),
                    "{\"errorType\":\"Boom\"}",
                )
                .await;
        };
        let invoked = async {
            let first = api.invoke(serde_json::json!({"n": 1})).await;
            let second = api.invoke(serde_json::json!({"n": 2})).await;
            (first, second)
        };
        let ((), (first, second)) = tokio::join!(served, invoked);
        assert_eq!(first, Outcome::Response(serde_json::json!({"ok": true})));
        assert_eq!(
            second,
            Outcome::Error(serde_json::json!({"errorType": "Boom"}))
        );
        assert!(api.first_poll().await.elapsed() < Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn an_invocation_not_answered_in_the_functions_timeout_times_out() {
        let api = api(Duration::from_secs(3)).await;
        let bootstrap = FakeBootstrap::new(&api);
        let taken = async {
            bootstrap.next().await;
            // ... and no answer.
        };
        let ((), outcome) = tokio::join!(taken, api.invoke(serde_json::json!({})));
        assert_eq!(outcome, Outcome::TimedOut);
    }

    #[tokio::test]
    async fn a_bootstrap_that_cannot_start_fails_the_invocation() {
        let api = api(Duration::from_secs(30)).await;
        let bootstrap = FakeBootstrap::new(&api);
        let failed = bootstrap.post("init/error", "{\"errorType\":\"Runtime.ExitError\"}");
        let ((), outcome) = tokio::join!(failed, api.invoke(serde_json::json!({})));
        assert_eq!(
            outcome,
            Outcome::InitError(serde_json::json!({"errorType": "Runtime.ExitError"}))
        );
        // Nothing was left queued for a restarted bootstrap.
        assert!(lock(&api.state.queue).is_empty());
    }
}
