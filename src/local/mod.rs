//! Running a function's bundle on this machine, as Lambda runs it: the Runtime API it
//! polls and the `bootstrap` process. Used by `invoke` (and `dev`); the test suite's
//! harness uses the same.

pub mod bootstrap;
pub mod logs;
pub mod runtime_api;
