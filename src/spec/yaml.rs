//! Reading the stack file: size and encoding limits, then YAML into the raw model with
//! duplicate keys and unknown fields rejected and input budgets that keep a hostile file
//! from exhausting memory or time. A YAML error becomes a diagnostic with its field path.

use crate::spec::diag::{self, Diagnostic, SpecErrors};
use crate::spec::raw::{self, RawFile};
use serde::Deserialize;
use std::path::Path;

/// Stack files are small; anything bigger is a mistake (or an attack on the parser).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

pub fn errors(file: &str, text: &str, diagnostics: Vec<Diagnostic>) -> SpecErrors {
    SpecErrors {
        file: file.to_string(),
        source_text: text.to_string(),
        diagnostics,
    }
}

/// The file's name (as given) and its text.
pub fn read_source(path: &Path) -> Result<(String, String), SpecErrors> {
    let file = path.display().to_string();
    let fail = |message: String, hint: &str| {
        let d = Diagnostic {
            severity: diag::Severity::Error,
            pos: None,
            path: String::new(),
            message,
            hint: Some(hint.to_string()),
        };
        errors(&file, "", vec![d])
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        fail(
            format!("cannot read the stack file: {e}"),
            "pass the stack file with -f FILE (default: ./stack.yaml)",
        )
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(
            format!(
                "the stack file is {} bytes; the limit is {MAX_FILE_BYTES}",
                meta.len()
            ),
            "a stack file describes a handful of resources; check you passed the right file",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        fail(
            format!("cannot read the stack file: {e}"),
            "check its permissions",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(
            format!(
                "the stack file is not UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            ),
            "save it as UTF-8",
        )
    })?;
    Ok((file, text))
}

/// YAML to the raw model, with duplicate keys and unknown fields rejected and input
/// budgets that keep a hostile file from exhausting memory or time.
pub fn parse<R: for<'de> Deserialize<'de>>(
    file: &str,
    text: &str,
) -> Result<RawFile<R>, SpecErrors> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 1,
            max_depth: 32,
            max_nodes: 50_000,
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_total_scalar_bytes: MAX_FILE_BYTES as usize,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        with_snippet: false,
    };
    let mut path = String::new();
    raw::reset_error_keys();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| errors(file, text, vec![yaml_diagnostic(&e, &path)]))
}

fn yaml_diagnostic(e: &serde_saphyr::Error, path: &str) -> Diagnostic {
    use serde_saphyr::MessageFormatter;
    let message = diag::sanitize(&serde_saphyr::UserMessageFormatter.format_message(e));
    // serde_path_to_error records the `value` field of the position-keeping wrapper, which
    // is not part of the user's path, and `?` for map keys it could not see, which the map
    // reader kept for us.
    let mut keys = raw::error_keys().into_iter();
    let path = path
        .replace(".value[", "[")
        .split('.')
        .filter(|seg| *seg != "value")
        .filter_map(|seg| match seg {
            "?" => keys.next(),
            other => Some(other.to_string()),
        })
        .collect::<Vec<_>>()
        .join(".");
    let hint = yaml_hint(&message);
    Diagnostic {
        severity: diag::Severity::Error,
        pos: e.location().as_ref().and_then(diag::Pos::of),
        path,
        message,
        hint,
    }
}

fn yaml_hint(message: &str) -> Option<String> {
    let hint = if message.contains("unknown field") {
        "remove the field or fix its spelling; docs/stack-file.md lists every field of each resource type"
    } else if message.contains("unknown variant") {
        "use one of the listed values (they are case-sensitive)"
    } else if message.contains("duplicate") {
        "each key may appear once in a mapping"
    } else if message.contains("missing field") {
        "add the field"
    } else if message.contains("budget") || message.contains("limit") {
        "the file is deeper or larger than a stack file needs to be"
    } else if message.contains("u64") || message.contains("i64") || message.contains("integer") {
        "expected a whole number"
    } else if message.contains("bool") {
        "expected true or false"
    } else {
        "check the YAML syntax and the value's type"
    };
    Some(hint.to_string())
}
