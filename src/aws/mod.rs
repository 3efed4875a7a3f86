//! Talking to AWS: the clients of one environment (`client`), errors as people read them
//! (`errors`), reads a run makes once (`reads`), and finding EC2 networking chosen by id,
//! tags or default (`vpc`, `lookup`).

pub mod client;
pub mod codes;
pub mod errors;
pub mod lookup;
pub mod needs;
pub mod pace;
pub mod reads;
pub mod vpc;

pub use client::{Aws, AwsFlags, Settings, check_url};
pub use errors::{absent_on, answered, describe_error, error_code, returned, sdk};
