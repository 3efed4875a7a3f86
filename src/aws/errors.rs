//! AWS errors as people read them: the operation, the AWS error code and message, or why
//! the request never got an answer.
//!
//! A problem with reaching AWS at all, or with the credentials, is the same for every call
//! of a run: [`error`] keeps it typed ([`Access`]), so a command says it once, in a line
//! and a hint ([`explain`]), instead of once per resource. `-v` logs the whole chain.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::fmt;

/// Codes AWS answers when it does not accept the credentials themselves.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "AuthFailure",
];

/// Codes AWS answers when the identity may not make the call (its policies do not allow
/// it): IAM's, STS's and CloudWatch's, the JSON services', EC2's, SNS's.
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
];

/// Codes AWS answers when the credentials (a session) have run out.
const EXPIRED_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];

/// Why no call can succeed, whatever it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Nothing answered: the connection was refused, or timed out.
    Unreachable(String),
    /// The endpoint's host name could not be resolved (offline, a proxy not set, a region
    /// AWS does not have).
    Unresolved { host: String },
    /// No credentials were found.
    NoCredentials,
    /// AWS (or the emulator) refused the credentials.
    Refused { code: String, message: String },
    /// The credentials have expired.
    Expired { code: String },
    /// The identity's policies do not allow the call: the action and, where AWS says it,
    /// the resource and the identity.
    Denied {
        action: String,
        resource: Option<String>,
        identity: Option<String>,
    },
}

impl Access {
    /// A denied call from AWS's message, which names the identity, the action and the
    /// resource: "User: arn:... is not authorized to perform: dynamodb:DescribeTable on
    /// resource: arn:... because ..." (the resource and the reason are sometimes left
    /// out). `operation` (e.g. `DescribeTable`) stands in when the message names no action.
    fn denied(operation: &str, message: &str) -> Access {
        let after = |marker: &str| {
            message.split_once(marker).map(|(_, rest)| {
                rest.split([' ', ','])
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('.')
                    .to_string()
            })
        };
        Access::Denied {
            action: after("perform: ").unwrap_or_else(|| operation.to_string()),
            resource: after("on resource: "),
            identity: after("User: "),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Unreachable(why) => write!(f, "could not reach AWS: {why}"),
            Access::Unresolved { host } => {
                write!(
                    f,
                    "could not reach AWS: the host name {host} could not be resolved"
                )
            }
            Access::NoCredentials => write!(f, "no AWS credentials were found"),
            Access::Refused { code, message } => {
                write!(f, "AWS refused the credentials ({code}: {message})")
            }
            Access::Expired { code } => write!(f, "the AWS credentials have expired ({code})"),
            Access::Denied {
                action, resource, ..
            } => match resource {
                Some(resource) => write!(f, "AWS denied {action} on {resource}"),
                None => write!(f, "AWS denied {action}"),
            },
        }
    }
}

impl std::error::Error for Access {}

/// The access problem `err` (an answer to `operation`) is, if it is one.
pub fn access_problem<E, R>(operation: &str, err: &SdkError<E, R>) -> Option<Access>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if CREDENTIAL_CODES.contains(&code) {
                Some(Access::Refused {
                    code: code.to_string(),
                    message: service.err().message().unwrap_or("no message").to_string(),
                })
            } else if EXPIRED_CODES.contains(&code) {
                Some(Access::Expired {
                    code: code.to_string(),
                })
            } else if DENIED_CODES.contains(&code) {
                Some(Access::denied(
                    operation,
                    service.err().message().unwrap_or_default(),
                ))
            } else {
                None
            }
        }
        SdkError::TimeoutError(_) => Some(Access::Unreachable("no answer in time".into())),
        SdkError::DispatchFailure(failure) => {
            let text = DisplayErrorContext(err).to_string();
            if failure.is_other() && text.contains("credential") {
                Some(Access::NoCredentials)
            } else {
                let connector = failure
                    .as_connector_error()
                    .map(|c| c as &(dyn std::error::Error + 'static));
                if connector.is_some_and(crate::retry::unresolvable) {
                    let host =
                        crate::retry::unresolved_host().unwrap_or_else(|| "of the endpoint".into());
                    return Some(Access::Unresolved { host });
                }
                Some(Access::Unreachable(why_unreachable(connector, &text)))
            }
        }
        _ => None,
    }
}

/// A few words on why a request got no answer: the I/O error at the bottom of the chain.
fn why_unreachable(err: Option<&(dyn std::error::Error + 'static)>, text: &str) -> String {
    let mut cause = err;
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::TimedOut => "the connection timed out".into(),
                std::io::ErrorKind::ConnectionReset => "the connection was reset".into(),
                _ => io.to_string(),
            };
        }
        cause = e.source();
    }
    if text.contains("dns error") || text.contains("failed to lookup address") {
        "the host name could not be resolved".into()
    } else {
        "no answer".into()
    }
}

/// An SDK error as one readable line: the operation, and the AWS error code and message
/// (or why the request never got an answer).
pub fn describe_error<E, R>(operation: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    if let Some(access) = access_problem(operation, err) {
        return format!("{operation} failed: {access}");
    }
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            format!(
                "{operation} failed: {}: {}",
                e.code().unwrap_or("UnknownError"),
                e.message().unwrap_or("no message")
            )
        }
        _ => format!("{operation} failed: {}", DisplayErrorContext(err)),
    }
}

/// An SDK error for `?`: an access problem stays typed (see the module's comment); any
/// other is its readable line. The whole chain is logged at debug level (`-v`).
pub fn error<E, R>(operation: &str, err: &SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    tracing::debug!(operation, error = %DisplayErrorContext(err), "AWS call failed");
    match access_problem(operation, err) {
        Some(access) => anyhow::Error::new(access).context(format!("{operation} failed")),
        None => anyhow::anyhow!(describe_error(operation, err)),
    }
}

/// The access problem somewhere in `err`'s chain, if any.
pub fn access_of(err: &anyhow::Error) -> Option<&Access> {
    err.chain().find_map(|e| e.downcast_ref::<Access>())
}

/// Where requests went, as an error names it.
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    /// A loopback endpoint: the local emulator.
    Emulator(&'a str),
    /// Another endpoint URL.
    Endpoint(&'a str),
    /// AWS itself, in a region.
    Region(&'a str),
}

/// An error that is an access problem, as a line and a hint for where requests went (and
/// the profile credentials were asked of, if one was named); any other error as it is.
pub fn explain(
    err: anyhow::Error,
    destination: Destination,
    profile: Option<&str>,
) -> anyhow::Error {
    let Some(access) = access_of(&err) else {
        return err;
    };
    let local = matches!(destination, Destination::Emulator(_));
    let place = match destination {
        Destination::Emulator(url) => format!("the local emulator at {url}"),
        Destination::Endpoint(url) => url.to_string(),
        Destination::Region(region) => format!("AWS in {region}"),
    };
    // A named profile that gave nothing is most likely misspelt, or an SSO session that
    // ran out.
    let no_profile = profile.map(|name| {
        (
            format!("profile `{name}` gave no AWS credentials for {place}"),
            format!(
                "check its name (`aws configure list-profiles` lists them) and its keys; if it signs in with SSO, run `aws sso login --profile {name}`"
            ),
        )
    });
    let (line, hint) = match access {
        Access::NoCredentials if no_profile.is_some() => {
            let (line, hint) = no_profile.unwrap_or_default();
            return anyhow::anyhow!("{line}\n  hint: {hint}");
        }
        Access::Unresolved { host } => (
            format!("could not reach {place}: the host name {host} could not be resolved"),
            match destination {
                Destination::Emulator(_) => {
                    "check the emulator's address (--endpoint-url, the environment's `emulator`)"
                }
                Destination::Endpoint(_) => {
                    "check the endpoint's host name (--endpoint-url, AWS_ENDPOINT_URL, the environment's `endpoint_url`), and that this machine is online"
                }
                Destination::Region(_) => {
                    "this machine may be offline, or reach the internet only through a proxy (set HTTPS_PROXY), or the region may be wrong (--region, the environment's `region`)"
                }
            },
        ),
        Access::Unreachable(why) => (
            format!("could not reach {place}: {why}"),
            if local {
                "start it (`scripts/emulator start` runs this repository's), or point --endpoint-url at the one running"
            } else {
                "check your network and proxy, and the endpoint (--endpoint-url, AWS_ENDPOINT_URL, the environment's `endpoint_url`)"
            },
        ),
        Access::NoCredentials => (
            format!("no AWS credentials were found for {place}"),
            "set AWS_PROFILE (or pass --profile), or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables; for local work use an environment with `emulator:`",
        ),
        Access::Refused { code, message } => (
            format!("{place} refused the credentials ({code}: {message})"),
            "check which identity is in use (`aws sts get-caller-identity`) and the profile (AWS_PROFILE, --profile, the environment's `profile`)",
        ),
        Access::Expired { code } => (
            format!("the AWS credentials have expired ({code})"),
            "refresh them (e.g. `aws sso login`) and run again",
        ),
        Access::Denied { identity, .. } => (
            format!(
                "{access}{}",
                identity
                    .as_ref()
                    .map(|who| format!(" to {who}"))
                    .unwrap_or_default()
            ),
            "the identity running cruddur-infra lacks this permission: `cruddur-infra permissions --env ENV` prints the policy it needs (`-v` lists every call that was denied)",
        ),
    };
    anyhow::anyhow!("{line}\n  hint: {hint}")
}

/// The AWS error code of a service error, if that is what `err` is. Only for saying it:
/// what an answer means is matched by its typed variant ([`answered`]), or, where the SDK
/// has none, by a [`crate::aws::codes::Code`].
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// Whether `err` is the answer `is` names: one of the operation's typed errors, e.g.
/// `answered(&e, UpdateTableError::is_resource_in_use_exception)`.
pub fn answered<E, R>(err: &SdkError<E, R>, is: impl Fn(&E) -> bool) -> bool {
    err.as_service_error().is_some_and(is)
}

/// The answer of `operation`, or `None` when AWS answered `absent` (the typed error by
/// which the operation says there is no such resource: they differ by service and call).
pub fn absent_on<T, E, R>(
    absent: impl Fn(&E) -> bool,
    operation: &str,
    result: Result<T, SdkError<E, R>>,
) -> anyhow::Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match result {
        Err(e) if answered(&e, absent) => Ok(None),
        result => sdk(operation, result).map(Some),
    }
}

/// A field of an answer that AWS always fills in, though the SDK's model makes it optional
/// (an ARN, an id): its value, or an error naming the operation and the field.
pub fn returned<T>(value: Option<T>, operation: &str, field: &str) -> anyhow::Result<T> {
    value.ok_or_else(|| anyhow::anyhow!("{operation} returned no {field}"))
}

/// Turns an SDK result into one with a readable error (see [`error`]).
pub fn sdk<T, E, R>(operation: &str, result: Result<T, SdkError<E, R>>) -> anyhow::Result<T>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => {
            tracing::debug!(operation, "AWS call succeeded");
            Ok(out)
        }
        Err(e) => Err(error(operation, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn answered(code: &str) -> SdkError<DescribeTableError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message("no").build();
        SdkError::service_error(
            DescribeTableError::generic(meta),
            HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn credentials_problems_are_access_problems() {
        assert!(matches!(
            access_problem("DescribeTable", &answered("UnrecognizedClientException")),
            Some(Access::Refused { .. })
        ));
        assert!(matches!(
            access_problem("DescribeTable", &answered("ExpiredTokenException")),
            Some(Access::Expired { .. })
        ));
        assert_eq!(
            access_problem("DescribeTable", &answered("ResourceNotFoundException")),
            None
        );
    }

    #[test]
    fn an_access_problem_is_explained_in_a_line_and_a_hint() {
        let err = error("DescribeTable", &answered("InvalidClientTokenId"))
            .context("reading dynamodb_table.messages");
        let text = format!("{:#}", explain(err, Destination::Region("us-east-1"), None));
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.starts_with("AWS in us-east-1 refused the credentials (InvalidClientTokenId: no)")
        );
        let other = error("DescribeTable", &answered("ValidationException"));
        assert!(
            format!("{:#}", explain(other, Destination::Region("r"), None))
                .contains("ValidationException")
        );
    }

    #[test]
    fn a_denied_call_names_action_resource_and_identity_in_one_line() {
        let aws = Access::denied(
            "DescribeTable",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: dynamodb:DescribeTable on resource: arn:aws:dynamodb:us-east-1:123456789012:table/t because no identity-based policy allows the dynamodb:DescribeTable action",
        );
        assert_eq!(
            aws,
            Access::Denied {
                action: "dynamodb:DescribeTable".into(),
                resource: Some("arn:aws:dynamodb:us-east-1:123456789012:table/t".into()),
                identity: Some("arn:aws:iam::123456789012:user/ci".into()),
            }
        );
        // The emulator's message names no resource; a bare one names nothing.
        let short = Access::denied(
            "GetRole",
            "User: arn:aws:iam::1:user/u is not authorized to perform: iam:GetRole",
        );
        assert_eq!(short.to_string(), "AWS denied iam:GetRole");
        assert_eq!(
            Access::denied("GetRole", "Access denied").to_string(),
            "AWS denied GetRole"
        );
        let err = error("DescribeTable", &answered("AccessDeniedException"));
        let text = format!("{:#}", explain(err, Destination::Region("us-east-1"), None));
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.starts_with("AWS denied DescribeTable"), "{text}");
    }
}
