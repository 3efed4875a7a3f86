//! A fault-injecting proxy between the tool and the emulator: adds latency, answers with
//! the service's own throttling error or a 500/503, or drops the connection, at set rates
//! (seeded, so a run's faults are repeatable for the same request order) or only on named
//! operations. Faults happen before the request is forwarded, as AWS throttles: the
//! emulator never sees a refused request.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub latency: Duration,
    /// Share of requests answered with the service's throttling error.
    pub throttle: f64,
    /// Share answered with 500 or 503.
    pub server_error: f64,
    /// Share whose connection is closed without an answer.
    pub drop: f64,
    /// When not empty, faults hit only these operations.
    pub only: Vec<String>,
    pub seed: u64,
}

#[derive(Debug, Default, Clone)]
pub struct Injected {
    pub throttled: u64,
    pub server_errors: u64,
    pub dropped: u64,
    pub forwarded: u64,
}

pub struct FaultProxy {
    /// Serves the proxy; its tasks end when it is dropped with the proxy.
    _runtime: tokio::runtime::Runtime,
    pub url: String,
    injected: Arc<Mutex<Injected>>,
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
    (Protocol::Rest, format!("{} {}", req.method, req.uri.path()))
}

fn throttled(protocol: &Protocol) -> Response<Full<Bytes>> {
    let (status, content_type, body, error_type) = match protocol {
        Protocol::Json => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded (fault proxy)"}"#.to_string(),
            None,
        ),
        Protocol::Query => (
            StatusCode::BAD_REQUEST,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded (fault proxy)</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>".to_string(),
            None,
        ),
        Protocol::Ec2 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/xml",
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded (fault proxy)</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>".to_string(),
            None,
        ),
        Protocol::Rest => (
            StatusCode::TOO_MANY_REQUESTS,
            "application/json",
            r#"{"message":"Rate exceeded (fault proxy)","Type":"User"}"#.to_string(),
            Some("TooManyRequestsException"),
        ),
    };
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Some(t) = error_type {
        builder = builder.header("x-amzn-errortype", t);
    }
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One request: a fault, or forwarded to the emulator and its answer passed back.
async fn handle(
    req: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    faults: Arc<Faults>,
    rng: Arc<Mutex<fastrand::Rng>>,
    counts: Arc<Mutex<Injected>>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let (protocol, operation) = classify(&parts, &body);
    tokio::time::sleep(faults.latency).await;
    let eligible = faults.only.is_empty() || faults.only.contains(&operation);
    let roll = rng.lock().unwrap().f64();
    if eligible && roll < faults.drop {
        counts.lock().unwrap().dropped += 1;
        return Err(BoxError::from("dropped by the fault proxy"));
    }
    let roll = roll - faults.drop;
    if eligible && (0.0..faults.throttle).contains(&roll) {
        counts.lock().unwrap().throttled += 1;
        return Ok(throttled(&protocol));
    }
    let roll = roll - faults.throttle;
    if eligible && (0.0..faults.server_error).contains(&roll) {
        counts.lock().unwrap().server_errors += 1;
        let status = if roll < faults.server_error / 2.0 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let mut response =
            Response::new(Full::new(Bytes::from_static(b"fault proxy: server error")));
        *response.status_mut() = status;
        return Ok(response);
    }
    counts.lock().unwrap().forwarded += 1;
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
        let injected = Arc::new(Mutex::new(Injected::default()));
        let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(faults.seed)));
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream = upstream.to_string();
        let faults = Arc::new(faults);
        let counts = injected.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (client, upstream, faults, rng, counts) = (
                    client.clone(),
                    upstream.clone(),
                    faults.clone(),
                    rng.clone(),
                    counts.clone(),
                );
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (client, upstream, faults, rng, counts) = (
                            client.clone(),
                            upstream.clone(),
                            faults.clone(),
                            rng.clone(),
                            counts.clone(),
                        );
                        handle(req, client, upstream, faults, rng, counts)
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
            injected,
        }
    }

    pub fn injected(&self) -> Injected {
        self.injected.lock().unwrap().clone()
    }
}
