//! What the function reads from its environment.

/// The table and index the function works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TABLE_NAME`: the messages table.
    pub table_name: String,
    /// `INDEX_NAME`: the index on `message_group_uuid` + `sk`.
    pub index_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "environment variable {0} is not set (or empty): set it in the function's \
         configuration ({1})"
    )]
    Missing(&'static str, &'static str),
}

impl Config {
    /// Reads `TABLE_NAME` and `INDEX_NAME` from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let read = |name: &'static str, what: &'static str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(ConfigError::Missing(name, what))
        };
        Ok(Config {
            table_name: read("TABLE_NAME", "the messages table, e.g. cruddur-messages")?,
            index_name: read(
                "INDEX_NAME",
                "the index on message_group_uuid + sk, e.g. message-group-sk-index",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn reads_both_names() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "cruddur-messages-local"),
            ("INDEX_NAME", "message-group-sk-index"),
        ]))
        .unwrap();
        assert_eq!(config.table_name, "cruddur-messages-local");
        assert_eq!(config.index_name, "message-group-sk-index");
    }

    #[test]
    fn a_missing_or_empty_name_is_an_error_that_says_which() {
        let err = Config::from_lookup(lookup(&[("INDEX_NAME", "i")])).unwrap_err();
        assert!(err.to_string().contains("TABLE_NAME is not set"), "{err}");
        let err =
            Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("INDEX_NAME", " ")])).unwrap_err();
        assert!(
            matches!(err, ConfigError::Missing("INDEX_NAME", _)),
            "{err}"
        );
    }
}
