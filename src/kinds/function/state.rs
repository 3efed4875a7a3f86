//! A function's comparable state (with its log group), its live form, and conversions to
//! the SDK's types.

use super::release::{LiveRelease, ReleaseState};
use crate::bundle::Architecture;
use aws_sdk_lambda::types as lambda;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcState {
    pub subnet_ids: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
}

/// The comparable form of a function (and its log group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionState {
    /// The build-input hash the deployed code was built from (from its tag).
    pub code_hash: String,
    pub runtime: String,
    pub architecture: Architecture,
    pub memory: i32,
    pub timeout: i32,
    pub role: String,
    pub environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<VpcState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<i32>,
    /// `None`: no log group, or one whose logs never expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<i32>,
    /// Everything but the code hash tag, which is `code_hash` above.
    pub tags: BTreeMap<String, String>,
    /// The live alias and the version it points at (a function with `release:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseState>,
}

#[derive(Debug)]
pub struct LiveFunction {
    pub state: FunctionState,
    pub arn: String,
    pub log_group_exists: bool,
    /// False while Lambda is still creating it or applying an update.
    pub settled: bool,
    /// Its versions and alias, read when the file asks for a release.
    pub release: Option<LiveRelease>,
    /// The alias the file names (its mappings invoke it), when it asks for a release.
    pub alias: Option<String>,
}

pub fn log_group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

pub fn sdk_architecture(a: Architecture) -> lambda::Architecture {
    match a {
        Architecture::X86_64 => lambda::Architecture::X8664,
        Architecture::Arm64 => lambda::Architecture::Arm64,
    }
}

pub fn sdk_environment(variables: &BTreeMap<String, String>) -> lambda::Environment {
    lambda::Environment::builder()
        .set_variables(Some(variables.clone().into_iter().collect()))
        .build()
}

pub fn sdk_vpc(vpc: &VpcState) -> lambda::VpcConfig {
    lambda::VpcConfig::builder()
        .set_subnet_ids(Some(vpc.subnet_ids.iter().cloned().collect()))
        .set_security_group_ids(Some(vpc.security_group_ids.iter().cloned().collect()))
        .build()
}
