//! How EC2 networking is chosen, for the kinds that live in a VPC (a gateway endpoint, a
//! function's VPC config): by id, by tags, or by default. The stack file's forms are read
//! in `spec::network`; `lookup` finds what they choose in the live account.

use aws_sdk_ec2::types as ec2;
use std::collections::{BTreeMap, BTreeSet};

/// The VPC: the region's default one, one by id, or the one carrying some tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VpcChoice {
    Default,
    Id(String),
    Tags(BTreeMap<String, String>),
}

/// A set of EC2 things of one VPC chosen by ids, by tags, or "the VPC's default" (all
/// subnets; its `default` security group).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MemberChoice {
    Default,
    Ids(BTreeSet<String>),
    Tags(BTreeMap<String, String>),
}

/// `<prefix>` and 8 or 17 hex digits: the forms EC2 ids take (`vpc-`, `rtb-`, `subnet-`, `sg-`).
pub fn ec2_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

pub fn filter(name: &str, value: &str) -> ec2::Filter {
    ec2::Filter::builder().name(name).values(value).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_forms() {
        assert!(ec2_id("vpc-0a1b2c3d", "vpc-"));
        assert!(ec2_id("vpc-0a1b2c3d4e5f60718", "vpc-"));
        assert!(!ec2_id("vpc-xyz", "vpc-"));
        assert!(!ec2_id("rtb-0a1b2c3d", "vpc-"));
        assert!(ec2_id("rtb-0a1b2c3d4e5f60718", "rtb-"));
        assert!(!ec2_id("rtb-0A1B2C3D", "rtb-"));
    }
}
