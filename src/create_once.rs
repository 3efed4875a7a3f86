//! Making a resource exactly once when an answer can be lost.
//!
//! A create whose answer never arrives (connection closed, timeout, a 5xx after AWS acted)
//! may have been carried out. A resource with a unique name (table, role, function) says so
//! when it is created again, "already exists", and its kind then checks that the one there
//! carries this resource's ownership tags ([`crate::tags::same_owner`]). A resource without
//! a name of its own (a VPC endpoint, an event source mapping) would simply be made twice,
//! so for those the SDK does not resend the create: [`create_once`] looks for the resource
//! by its tags first, and sends again only when it is not there.

use crate::aws::describe_error;
use crate::wait::{Check, Wait, until};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one send of a create came to.
pub enum Attempt<T> {
    Created(T),
    /// Refused with nothing made (throttled, or busy): send again later.
    NotYet(String),
    /// It may have been made: look for it before sending again.
    Unknown(String),
}

impl<T> Attempt<T> {
    /// The same attempt with what a create returned turned into what the kind needs.
    pub fn map<U>(self, f: impl FnOnce(T) -> anyhow::Result<U>) -> anyhow::Result<Attempt<U>> {
        Ok(match self {
            Attempt::Created(out) => Attempt::Created(f(out)?),
            Attempt::NotYet(why) => Attempt::NotYet(why),
            Attempt::Unknown(why) => Attempt::Unknown(why),
        })
    }
}

/// What a failed call says about whether AWS carried it out.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Refused, nothing done; the error says why.
    Refused,
    /// Throttled: nothing done, send again later.
    Throttled,
    /// No answer, or a server error: it may have been carried out.
    Unknown,
}

pub fn outcome<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Outcome {
    use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
    match err {
        SdkError::ConstructionFailure(_) => Outcome::Refused,
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if THROTTLING_ERRORS.contains(&code) {
                Outcome::Throttled
            } else if TRANSIENT_ERRORS.contains(&code) || service.raw().status().is_server_error() {
                Outcome::Unknown
            } else {
                Outcome::Refused
            }
        }
        // Timeouts, dropped connections, unreadable answers.
        _ => Outcome::Unknown,
    }
}

/// The usual reading of a create's result: refused is an error, anything else is sent
/// again (after a look, when it may have been made).
pub fn attempt<T, E>(
    operation: &str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> anyhow::Result<Attempt<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let e = match result {
        Ok(out) => return Ok(Attempt::Created(out)),
        Err(e) => e,
    };
    let text = describe_error(operation, &e);
    tracing::debug!(operation, error = %text, outcome = ?outcome(&e), "create failed");
    match outcome(&e) {
        Outcome::Refused => Err(crate::aws::errors::error(operation, &e)),
        Outcome::Throttled => Ok(Attempt::NotYet(brief(operation, &e))),
        Outcome::Unknown => Ok(Attempt::Unknown(brief(operation, &e))),
    }
}

/// A failure in a few words, for the progress line (`-v` logs it whole).
pub fn brief<E: ProvideErrorMetadata, R>(operation: &str, err: &SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(service) => format!(
            "{operation}: {}",
            service.err().code().unwrap_or("UnknownError")
        ),
        SdkError::TimeoutError(_) => format!("{operation}: timed out"),
        _ => format!("{operation}: no answer"),
    }
}

/// Sends a create until it is made, exactly once: after an attempt that may have made it,
/// `find` (a fresh read, never the plan's cached one) looks for the resource by its
/// ownership tags, and what it finds is taken as the result.
pub async fn create_once<T, S, SFut, F, FFut>(wait: Wait<'_>, send: S, find: F) -> anyhow::Result<T>
where
    S: Fn() -> SFut,
    SFut: Future<Output = anyhow::Result<Attempt<T>>>,
    F: Fn() -> FFut,
    FFut: Future<Output = anyhow::Result<Option<T>>>,
{
    let maybe_made = AtomicBool::new(false);
    let what = wait.doing;
    until(wait, || async {
        if maybe_made.load(Ordering::Relaxed)
            && let Some(found) = find().await?
        {
            tracing::debug!(what, "found what an unanswered create made");
            return Ok(Check::Done(found));
        }
        Ok(match send().await? {
            Attempt::Created(out) => Check::Done(out),
            Attempt::NotYet(why) => Check::Waiting(why),
            Attempt::Unknown(why) => {
                maybe_made.store(true, Ordering::Relaxed);
                Check::Waiting(format!("{why}; looking for it before sending again"))
            }
        })
    })
    .await
}
