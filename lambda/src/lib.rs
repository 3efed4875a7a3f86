//! The Cruddur stream processor: keeps each conversation's `GRP#` summary rows current as
//! `MSG#` rows arrive on the `cruddur-messages` table's stream.
//!
//! Only the key parsing lives here so far; the handler, its Lambda runtime and its bundling
//! come with the stream-processor issue.

/// The message group a message row belongs to: `MSG#<group>` → `<group>`. Any other key
/// (a `GRP#` summary row, say) is not a message and yields `None`.
pub fn message_group(pk: &str) -> Option<&str> {
    pk.strip_prefix("MSG#").filter(|group| !group.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_message_rows_have_a_group() {
        assert_eq!(
            message_group("MSG#5ae290ed-55d1-47a0-bc6d-fe2bc2700399"),
            Some("5ae290ed-55d1-47a0-bc6d-fe2bc2700399")
        );
        assert_eq!(message_group("GRP#618e67a7"), None);
        assert_eq!(message_group("MSG#"), None);
    }
}
