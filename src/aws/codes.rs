//! Error codes matched as text. What an answer means is matched through the SDK's typed
//! errors (`aws::answered`, e.g. `UpdateTableError::is_resource_in_use_exception`) wherever
//! the SDK has one; these are the answers it has none for:
//!
//! - EC2's: its API model declares no error shapes at all, so the SDK reports every EC2
//!   error as a code (AWS documents them in the EC2 API's error code reference).
//! - A service's common errors, which any of its operations may answer and no operation's
//!   model lists (DynamoDB's ValidationException).
//!
//! The access problems every service shares (credentials refused, access denied, expired)
//! are common errors too; `errors.rs` keeps their lists, read for every call alike.
//!
//! `tests/it/error_codes.rs` checks that each code here is one the SDK reports only as a
//! code (the operation has no typed variant for it) and that no other code is compared as
//! text anywhere in the source.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// One error code, with where AWS answers it and where that is documented.
#[derive(Debug)]
pub struct Code {
    pub code: &'static str,
    /// The SDK crate's service: `aws-sdk-<service>`.
    pub service: &'static str,
    /// The operations whose answers it is compared with.
    pub operations: &'static [&'static str],
    /// Where AWS documents it.
    pub documented: &'static str,
}

impl Code {
    /// Whether `err` is AWS's answer with this code.
    pub fn is<E: ProvideErrorMetadata, R>(&self, err: &SdkError<E, R>) -> bool {
        super::error_code(err) == Some(self.code)
    }
}

/// DynamoDB's common "the request is not valid" error: UpdateTimeToLive answers it for a
/// TTL that is already set as asked, TagResource for a resource it keeps no tags on.
pub const VALIDATION: Code = Code {
    code: "ValidationException",
    service: "dynamodb",
    operations: &["UpdateTimeToLive", "TagResource"],
    documented: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html",
};

/// No endpoint of that id (also answered for one already deleted).
pub const NO_SUCH_ENDPOINT: Code = Code {
    code: "InvalidVpcEndpointId.NotFound",
    service: "ec2",
    operations: &["DescribeVpcEndpoints", "DeleteVpcEndpoints"],
    documented: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
};

/// No VPC of that id.
pub const NO_SUCH_VPC: Code = Code {
    code: "InvalidVpcID.NotFound",
    service: "ec2",
    operations: &["DescribeVpcs"],
    documented: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
};

/// DynamoDB Streams' "the request is not valid": GetShardIterator answers it for a sequence
/// number its shard does not hold.
pub const STREAM_VALIDATION: Code = Code {
    code: "ValidationException",
    service: "dynamodbstreams",
    operations: &["GetShardIterator"],
    documented: "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html",
};

/// Every code the source compares with as text.
pub const ALL: &[&Code] = &[
    &VALIDATION,
    &STREAM_VALIDATION,
    &NO_SUCH_ENDPOINT,
    &NO_SUCH_VPC,
];
