//! What carrying out one change needs: the AWS clients, the line its progress shows on, how
//! long one step may take, and the builds started ahead for it.

use crate::aws::Aws;
use crate::prebuild::Prebuilds;
use crate::progress::Tracker;
use std::time::Duration;

pub struct ExecCtx<'a> {
    pub aws: &'a Aws,
    pub tracker: &'a Tracker,
    /// Longest wait for AWS to finish one step (table ACTIVE, deletion, ...).
    pub wait_timeout: Duration,
    /// Bundles whose builds started with the change (see [`crate::prebuild`]).
    pub prebuilds: &'a Prebuilds,
}
