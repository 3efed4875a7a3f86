//! A fault-injecting proxy between the tool and the emulator: adds latency, answers with
//! the service's own throttling error or a 500/503, or drops the connection, at set rates
//! (seeded, so a run's faults are repeatable for the same request order) or only on named
//! operations. Those faults happen before the request is forwarded, as AWS throttles: the
//! emulator never sees a refused request.
//!
//! Two faults are scripted per operation instead: a named error (ResourceInUseException
//! while "the table is updating"), and a lost answer, where the request is forwarded and
//! carried out but the connection closes before the answer reaches the tool.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub latency: Duration,
    /// Share of requests answered with the service's throttling error.
    pub throttle: f64,
    /// Share answered with 500 or 503.
    pub server_error: f64,
    /// Share whose connection is closed without an answer.
    pub drop: f64,
    /// Share of requests forwarded (so carried out) whose answer is then lost.
    pub lost_answer: f64,
    /// When not empty, the rate faults hit only these operations.
    pub only: Vec<String>,
    /// Faults for the first calls of named operations, before any rate fault.
    pub scripted: Vec<Scripted>,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct Scripted {
    /// `CreateTable`, `CreateFunction`, ... (Lambda's REST calls are named too).
    pub operation: String,
    pub fault: Fault,
    /// How many of the operation's first calls get the fault.
    pub times: u32,
    /// Only calls whose body holds this text (a table's name, say).
    pub body_has: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// The service's error with this code, in the service's shape.
    Error(&'static str),
    /// Forwarded and carried out; the connection then closes without the answer.
    LostAnswer,
}

impl Scripted {
    pub fn new(operation: &str, fault: Fault, times: u32) -> Scripted {
        Scripted {
            operation: operation.to_string(),
            fault,
            times,
            body_has: None,
        }
    }

    /// Only calls whose body holds `text`.
    pub fn when_body_has(mut self, text: &str) -> Scripted {
        self.body_has = Some(text.to_string());
        self
    }
}

#[derive(Debug, Default, Clone)]
pub struct Injected {
    pub throttled: u64,
    pub server_errors: u64,
    pub dropped: u64,
    pub lost_answers: u64,
    /// Named errors sent by a script.
    pub errors: u64,
    pub forwarded: u64,
}

pub struct FaultProxy {
    /// Serves the proxy; its tasks end when it is dropped with the proxy.
    _runtime: tokio::runtime::Runtime,
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// What the proxy keeps across requests: its random numbers, the scripted faults left, and
/// what it injected.
struct State {
    rng: fastrand::Rng,
    scripted: Vec<Scripted>,
    injected: Injected,
    /// Every forwarded request: its operation, when it reached the proxy and when its
    /// answer went back.
    timings: Vec<(String, Instant, Instant)>,
}

/// How the request's service speaks, which decides what its errors look like.
enum Protocol {
    /// X-Amz-Target (DynamoDB, CloudWatch Logs, Tagging).
    Json,
    /// Action=... (IAM, STS).
    Query,
    /// Action=... to EC2, whose errors have their own shape.
    Ec2,
    /// Method and path (Lambda).
    Rest,
}

fn classify(req: &http::request::Parts, body: &[u8]) -> (Protocol, String) {
    if let Some(target) = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return (
            Protocol::Json,
            target.rsplit('.').next().unwrap_or(target).to_string(),
        );
    }
    let text = String::from_utf8_lossy(body);
    if let Some(action) = text.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        let ec2 = text.contains("Version=2016-11-15");
        return (
            if ec2 { Protocol::Ec2 } else { Protocol::Query },
            action.to_string(),
        );
    }
    (
        Protocol::Rest,
        lambda_operation(req.method.as_str(), req.uri.path()),
    )
}

/// The name of a Lambda REST call from its method and path (the ones the tool makes
/// changes with); any other keeps `METHOD path`.
fn lambda_operation(method: &str, path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let name = match (method, &parts[1..]) {
        ("POST", ["functions"]) => "CreateFunction",
        ("DELETE", ["functions", _]) => "DeleteFunction",
        ("PUT", ["functions", _, "configuration"]) => "UpdateFunctionConfiguration",
        ("PUT", ["functions", _, "code"]) => "UpdateFunctionCode",
        ("POST", ["event-source-mappings"]) => "CreateEventSourceMapping",
        ("PUT", ["event-source-mappings", _]) => "UpdateEventSourceMapping",
        ("DELETE", ["event-source-mappings", _]) => "DeleteEventSourceMapping",
        _ => return format!("{method} {path}"),
    };
    name.to_string()
}

/// The service's throttling error.
fn throttled(protocol: &Protocol) -> Response<Full<Bytes>> {
    match protocol {
        Protocol::Json => service_error(protocol, "ThrottlingException"),
        Protocol::Query => service_error(protocol, "Throttling"),
        Protocol::Ec2 => service_error(protocol, "RequestLimitExceeded"),
        Protocol::Rest => service_error(protocol, "TooManyRequestsException"),
    }
}

/// An error with `code`, shaped as the service would send it.
fn service_error(protocol: &Protocol, code: &str) -> Response<Full<Bytes>> {
    let message = format!("{code} (fault proxy)");
    let (status, content_type, body) = match protocol {
        Protocol::Json => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
        ),
        Protocol::Query => (
            StatusCode::BAD_REQUEST,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::Ec2 => (
            if code == "RequestLimitExceeded" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_REQUEST
            },
            "text/xml",
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
            ),
        ),
        Protocol::Rest => (
            match code {
                "TooManyRequestsException" => StatusCode::TOO_MANY_REQUESTS,
                "ResourceConflictException" => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            },
            "application/json",
            format!(r#"{{"message":"{message}","Type":"User"}}"#),
        ),
    };
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Protocol::Rest = protocol {
        builder = builder.header("x-amzn-errortype", code);
    }
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

/// The scripted fault for this call of `operation`, if one is left.
fn take_scripted(state: &mut State, operation: &str, body: &[u8]) -> Option<Fault> {
    let body = String::from_utf8_lossy(body);
    let script = state.scripted.iter_mut().find(|s| {
        s.operation == operation
            && s.times > 0
            && s.body_has.as_deref().is_none_or(|text| body.contains(text))
    })?;
    script.times -= 1;
    Some(script.fault.clone())
}

/// What happens to one request.
enum Fate {
    Drop,
    Throttle,
    ServerError(StatusCode),
    Error(&'static str),
    Forward { lose_answer: bool },
}

fn decide(faults: &Faults, state: &mut State, operation: &str, body: &[u8]) -> Fate {
    if let Some(fault) = take_scripted(state, operation, body) {
        return match fault {
            Fault::Error(code) => Fate::Error(code),
            Fault::LostAnswer => Fate::Forward { lose_answer: true },
        };
    }
    let eligible = faults.only.is_empty() || faults.only.iter().any(|o| o == operation);
    let mut roll = state.rng.f64();
    if !eligible {
        return Fate::Forward { lose_answer: false };
    }
    for (rate, fate) in [
        (faults.drop, Fate::Drop),
        (faults.throttle, Fate::Throttle),
        (
            faults.server_error / 2.0,
            Fate::ServerError(StatusCode::INTERNAL_SERVER_ERROR),
        ),
        (
            faults.server_error / 2.0,
            Fate::ServerError(StatusCode::SERVICE_UNAVAILABLE),
        ),
        (faults.lost_answer, Fate::Forward { lose_answer: true }),
    ] {
        if roll < rate {
            return fate;
        }
        roll -= rate;
    }
    Fate::Forward { lose_answer: false }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One request: a fault, or forwarded to the emulator and its answer passed back (or lost).
async fn handle(
    req: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    faults: Arc<Faults>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let arrived = Instant::now();
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let (protocol, operation) = classify(&parts, &body);
    tokio::time::sleep(faults.latency).await;
    let fate = decide(&faults, &mut state.lock().unwrap(), &operation, &body);
    let count = |f: fn(&mut Injected)| f(&mut state.lock().unwrap().injected);
    let lose_answer = match fate {
        Fate::Drop => {
            count(|i| i.dropped += 1);
            return Err(BoxError::from("dropped by the fault proxy"));
        }
        Fate::Throttle => {
            count(|i| i.throttled += 1);
            return Ok(throttled(&protocol));
        }
        Fate::ServerError(status) => {
            count(|i| i.server_errors += 1);
            let mut response =
                Response::new(Full::new(Bytes::from_static(b"fault proxy: server error")));
            *response.status_mut() = status;
            return Ok(response);
        }
        Fate::Error(code) => {
            count(|i| i.errors += 1);
            return Ok(service_error(&protocol, code));
        }
        Fate::Forward { lose_answer } => lose_answer,
    };
    count(|i| i.forwarded += 1);
    let uri = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut forward = Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let response = client.request(forward.body(Full::new(body))?).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    state
        .lock()
        .unwrap()
        .timings
        .push((operation, arrived, Instant::now()));
    if lose_answer {
        count(|i| i.lost_answers += 1);
        return Err(BoxError::from("answer lost by the fault proxy"));
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (the emulator).
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        assert!(upstream.starts_with("http://127.0.0.1:"), "loopback only");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            rng: fastrand::Rng::with_seed(faults.seed),
            scripted: faults.scripted.clone(),
            injected: Injected::default(),
            timings: Vec::new(),
        }));
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream = upstream.to_string();
        let faults = Arc::new(faults);
        let shared = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (client, upstream, faults, state) = (
                    client.clone(),
                    upstream.clone(),
                    faults.clone(),
                    shared.clone(),
                );
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (client, upstream, faults, state) = (
                            client.clone(),
                            upstream.clone(),
                            faults.clone(),
                            state.clone(),
                        );
                        handle(req, client, upstream, faults, state)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            _runtime: runtime,
            url,
            state,
        }
    }

    /// Scripted operations whose faults were not all used (never called, or called less).
    pub fn scripts_left(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .scripted
            .iter()
            .filter(|s| s.times > 0)
            .map(|s| s.operation.clone())
            .collect()
    }

    pub fn injected(&self) -> Injected {
        self.state.lock().unwrap().injected.clone()
    }

    /// Forgets the requests forwarded so far (see [`FaultProxy::sequential_round_trips`]).
    pub fn clear_timings(&self) {
        self.state.lock().unwrap().timings.clear();
    }

    /// The longest chain of forwarded requests each of which reached the proxy after the
    /// answer to the one before had gone back: the round trips the tool waited for one
    /// after another, whatever the emulator's own speed. Its operations, in order.
    pub fn sequential_round_trips(&self) -> Vec<String> {
        let mut timings = self.state.lock().unwrap().timings.clone();
        timings.sort_by_key(|(_, arrived, _)| *arrived);
        // longest[i]: the longest chain ending with request i, and the request before it.
        let mut longest: Vec<(usize, Option<usize>)> = Vec::with_capacity(timings.len());
        for (i, (_, arrived, _)) in timings.iter().enumerate() {
            let before = (0..i)
                .filter(|&j| timings[j].2 <= *arrived)
                .max_by_key(|&j| longest[j].0);
            longest.push((before.map_or(1, |j| longest[j].0 + 1), before));
        }
        let mut chain = Vec::new();
        let mut at = (0..timings.len()).max_by_key(|&i| longest[i].0);
        while let Some(i) = at {
            chain.push(timings[i].0.clone());
            at = longest[i].1;
        }
        chain.reverse();
        chain
    }
}
