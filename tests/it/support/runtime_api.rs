//! The product's Lambda Runtime API (`cruddur_infra::local::runtime_api`), driven from
//! synchronous tests: a test runs the real bundled executable, hands it an event and
//! collects its response. moto cannot run functions here (no Docker engine), so this
//! stands in for the Lambda service's side of the conversation.

pub use cruddur_infra::local::runtime_api::Outcome;
use cruddur_infra::local::runtime_api::{FunctionInfo, RuntimeApi as Served};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RuntimeApi {
    // Dropped first: the server's task stops with it, then the runtime.
    served: Served,
    runtime: tokio::runtime::Runtime,
    /// `127.0.0.1:PORT`: the value of AWS_LAMBDA_RUNTIME_API.
    pub address: String,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let info = FunctionInfo {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:e2e".into(),
            timeout: Duration::from_secs(60),
        };
        let served = runtime.block_on(Served::start(info)).unwrap();
        RuntimeApi {
            address: served.address.clone(),
            served,
            runtime,
        }
    }

    /// When the function first polled for an invocation, waiting up to `timeout` for it.
    pub fn first_poll(&self, timeout: Duration) -> Instant {
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, self.served.first_poll()).await })
            .expect("the function did not poll in time")
    }

    /// Queues `event` for the function and waits (up to `timeout`) for its answer.
    pub fn invoke(&self, event: serde_json::Value, timeout: Duration) -> Outcome {
        // The timer needs the runtime's context: create it inside.
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, self.served.invoke(event)).await })
            .expect("the function did not answer in time")
    }
}

/// A bundled executable, started as Lambda starts it: from its zip, with the Runtime API's
/// address, test credentials and region, and `env` (the function's name and environment).
/// Synchronous, with the function's logs on the test's stderr.
pub struct Bootstrap(Child);

impl Bootstrap {
    pub fn start(zip: &Path, dir: &Path, api: &RuntimeApi, env: &[(&str, &str)]) -> Bootstrap {
        Bootstrap::spawn(&Bootstrap::extract(zip, dir), api, env)
    }

    /// Unzips the bundle's `bootstrap` into `dir` (the product's own unzipping, which
    /// checks it is the only entry and executable); its path.
    pub fn extract(zip: &Path, dir: &Path) -> std::path::PathBuf {
        cruddur_infra::local::bootstrap::extract(zip, dir).unwrap()
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
