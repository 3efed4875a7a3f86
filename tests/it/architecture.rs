//! The crate's shape, checked: modules form layers (values and clients, then the stack
//! file, then the kinds, the engine, the commands, main), each using only its own layer
//! and those below, and no two files (modules, at the depth of `kinds::table` or
//! `engine::plan`) use each other in a circle, here or in the stream processor
//! (`lambda/src`). The lists below are docs/architecture.md's "How it is built"; a new top-level
//! module must be placed in one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, lowest layer first.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves",
        &[
            "values",
            "plan",
            "exec",
            "aws",
            "tags",
            "policy",
            "retry",
            "wait",
            "progress",
            "stats",
            "graph",
            "bundle",
            "prebuild",
            "event_filter",
            "local",
            "lock",
            "index",
            "create_once",
            "render",
        ],
    ),
    ("spec", &["spec"]),
    ("kinds", &["kinds"]),
    ("engine", &["engine"]),
    ("dev", &["dev", "redrive"]),
    ("commands", &["cli", "commands"]),
    ("main", &["main"]),
];

fn layer_of(top: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&top))
}

/// A module as the check sees it: the first two segments of its path.
type Node = Vec<String>;

fn node(path: &[String]) -> Node {
    path.iter().take(2).cloned().collect()
}

/// The module path of a source file: `src/kinds/table/ops.rs` → `kinds::table::ops`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    match last.as_str() {
        "mod.rs" | "lib.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    parts
}

/// The text with comments, string and character literals blanked out (newlines kept, so
/// line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char(prev(&chars, i))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(chars[i..j.min(chars.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{0}'), or else a lifetime.
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev(chars: &[char], i: usize) -> char {
    if i == 0 { ' ' } else { chars[i - 1] }
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path a `use` tree names: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn use_paths(tree: &str) -> Vec<Vec<String>> {
    fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
        let tree = tree.trim();
        if tree.is_empty() {
            return;
        }
        match tree.find('{') {
            Some(open) => {
                let head: Vec<String> = tree[..open]
                    .split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                let close = tree.rfind('}').unwrap_or(tree.len());
                let inner = &tree[open + 1..close];
                let mut path = prefix.to_vec();
                path.extend(head);
                let mut depth = 0;
                let mut start = 0;
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            expand(&path, &inner[start..i], out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                expand(&path, &inner[start..], out);
            }
            None => {
                let tree = tree.split(" as ").next().unwrap_or("");
                let mut path = prefix.to_vec();
                path.extend(
                    tree.split("::")
                        .map(str::trim)
                        .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                        .map(String::from),
                );
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    expand(&[], tree, &mut out);
    out
}

/// Paths written inline: `crate::tags::sync(`, `super::state::Key`, `child::f()`.
fn inline_paths(code: &str, roots: &BTreeSet<String>) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let bytes: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < bytes.len() {
            if ident_char(bytes[i]) && (i == 0 || !ident_char(bytes[i - 1]) && bytes[i - 1] != ':')
            {
                let start = i;
                let mut j = i;
                let mut segments = Vec::new();
                loop {
                    let s = j;
                    while j < bytes.len() && ident_char(bytes[j]) {
                        j += 1;
                    }
                    segments.push(bytes[s..j].iter().collect::<String>());
                    if j + 2 < bytes.len()
                        && bytes[j] == ':'
                        && bytes[j + 1] == ':'
                        && ident_char(bytes[j + 2])
                    {
                        j += 2;
                    } else {
                        break;
                    }
                }
                if segments.len() > 1 && roots.contains(&segments[0]) {
                    found.push((n + 1, segments));
                }
                i = j.max(start + 1);
            } else {
                i += 1;
            }
        }
    }
    found
}

/// What a crate's own absolute paths start with.
struct Root {
    /// The crate's name as code writes it (`cruddur_infra`): `main.rs` reaches the library
    /// by it.
    name: String,
    /// The names `lib.rs` brings in (`pub use processor::Error`) and the paths they stand
    /// for: `crate::Error` is a use of the module that defines it, not of the crate root,
    /// or a crate whose modules import through `lib.rs` would hide every circle.
    reexports: BTreeMap<String, Vec<String>>,
}

/// Resolves a path written in the file at `module` to the module it points into.
fn resolve(
    root: &Root,
    module: &[String],
    children: &BTreeSet<String>,
    path: &[String],
) -> Option<Vec<String>> {
    let mut base: Vec<String>;
    let mut rest = path;
    match path.first()?.as_str() {
        first if first == "crate" || first == root.name => {
            rest = &path[1..];
            base = match rest.first().and_then(|name| root.reexports.get(name)) {
                Some(target) => {
                    rest = &rest[1..];
                    target.clone()
                }
                None => Vec::new(),
            };
        }
        "super" | "self" => {
            // A file's `self` is its own module; `super` is the module above.
            base = module.to_vec();
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "super" => {
                        base.pop();
                        rest = &rest[1..];
                    }
                    "self" => rest = &rest[1..],
                    _ => break,
                }
            }
        }
        child if children.contains(child) => {
            base = module.to_vec();
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Modules written inline (`mod tests { ... }`): their names and the lines they span.
fn inline_modules(code: &str) -> Vec<(String, std::ops::RangeInclusive<usize>)> {
    let mut found = Vec::new();
    let mut offset = 0;
    while let Some(at) = code[offset..].find("mod ") {
        let start = offset + at;
        offset = start + 4;
        if start > 0 && ident_char(code[..start].chars().last().unwrap()) {
            continue;
        }
        let rest = &code[start + 4..];
        let name: String = rest.chars().take_while(|&c| ident_char(c)).collect();
        let after = rest[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = start + 4 + rest.find('{').unwrap();
        let mut depth = 0;
        let mut close = code.len();
        for (i, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let line_of = |at: usize| code[..at].matches('\n').count() + 1;
        found.push((name, line_of(open)..=line_of(close)));
    }
    found
}

struct Source {
    file: PathBuf,
    module: Vec<String>,
    /// (line, the module path it uses)
    uses: Vec<(usize, Vec<String>)>,
}

/// A crate of the workspace whose modules are checked.
struct Crate {
    /// Its source folder, from the workspace root.
    dir: &'static str,
    name: &'static str,
}

/// The deployer, and the stream processor it deploys (`lambda/`): the processor's modules
/// have no layers, but a circle there is as much a tangle as one here.
const CRATES: &[Crate] = &[
    Crate {
        dir: "src",
        name: "cruddur_infra",
    },
    Crate {
        dir: "lambda/src",
        name: "cruddur_stream_processor",
    },
];

/// The deployer's modules, which the layer check reads.
fn deployer() -> Vec<Source> {
    read(&CRATES[0])
}

/// Every `.rs` file under the crate's folder, read.
fn read(krate: &Crate) -> Vec<Source> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(krate.dir);
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files.sort();
    sources(&src, krate.name, files)
}

/// The modules a crate's files use, from the files' text (`src` is the crate's folder):
/// no file system, so the checks can be tried on a crate written in a test.
fn sources(src: &Path, crate_name: &str, files: Vec<(PathBuf, String)>) -> Vec<Source> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(f, _)| module_path(src, f)).collect();
    /// A file's paths as written, before they are resolved.
    struct Written {
        file: PathBuf,
        module: Vec<String>,
        children: BTreeSet<String>,
        inline: Vec<(String, std::ops::RangeInclusive<usize>)>,
        paths: Vec<(usize, Vec<String>)>,
    }
    let written: Vec<Written> = files
        .into_iter()
        .map(|(file, text)| {
            let module = module_path(src, &file);
            let is_mod_file = matches!(
                file.file_name().and_then(|n| n.to_str()),
                Some("mod.rs" | "lib.rs" | "main.rs")
            );
            let code = code_only(&text);
            // Child modules this file declares (bare paths into them are uses too).
            let children: BTreeSet<String> = modules
                .iter()
                .filter(|m| m.len() == module.len() + 1 && m.starts_with(&module))
                .map(|m| m.last().unwrap().clone())
                .filter(|_| is_mod_file)
                .collect();
            let mut roots: BTreeSet<String> = ["crate", "super", "self", crate_name]
                .map(String::from)
                .into();
            roots.extend(children.iter().cloned());
            let mut paths: Vec<(usize, Vec<String>)> = Vec::new();
            // `use` statements, with their brace groups expanded.
            let mut offset = 0;
            while let Some(at) = code[offset..].find("use ") {
                let start = offset + at;
                let word_start = start == 0 || !ident_char(code[..start].chars().last().unwrap());
                let end = code[start..].find(';').map_or(code.len(), |e| start + e);
                if word_start {
                    let line = code[..start].matches('\n').count() + 1;
                    for path in use_paths(&code[start + 4..end]) {
                        paths.push((line, path));
                    }
                }
                offset = start + 4;
            }
            paths.extend(inline_paths(&code, &roots));
            let inline = inline_modules(&code);
            Written {
                file,
                module,
                children,
                inline,
                paths,
            }
        })
        .collect();
    // What `lib.rs` imports from the crate's own modules (a module's name is never taken
    // for a re-export of the same name: `crate::plan::X` is the module).
    let mut root = Root {
        name: crate_name.to_string(),
        reexports: BTreeMap::new(),
    };
    let lib = written
        .iter()
        .find(|w| w.module.is_empty() && w.file.file_name().is_some_and(|n| n == "lib.rs"));
    if let Some(lib) = lib {
        let reexports = lib
            .paths
            .iter()
            .filter_map(|(_, path)| {
                let target = resolve(&root, &[], &lib.children, path)?;
                let name = path.last()?.clone();
                let from_a_module = target.len() > 1 && lib.children.contains(&target[0]);
                (from_a_module && !lib.children.contains(&name)).then_some((name, target))
            })
            .collect();
        root.reexports = reexports;
    }
    written
        .into_iter()
        .map(|w| {
            let uses = w
                .paths
                .into_iter()
                .filter_map(|(line, path)| {
                    // In `mod tests { ... }`, `super` is this file's module.
                    let mut here = w.module.clone();
                    here.extend(
                        w.inline
                            .iter()
                            .filter(|(_, lines)| lines.contains(&line))
                            .map(|(name, _)| name.clone()),
                    );
                    Some((line, resolve(&root, &here, &w.children, &path)?))
                })
                .filter(|(_, target)| !target.is_empty())
                .collect();
            Source {
                file: w.file,
                module: w.module,
                uses,
            }
        })
        .collect()
}

#[test]
fn lower_layers_never_use_higher_ones() {
    let mut problems = Vec::new();
    for source in deployer() {
        let Some(top) = source.module.first() else {
            continue; // lib.rs: the table of contents.
        };
        let from = layer_of(top)
            .unwrap_or_else(|| panic!("module `{top}` is in no layer: add it to LAYERS"));
        for (line, target) in &source.uses {
            let Some(to) = layer_of(&target[0]) else {
                continue;
            };
            if to > from {
                problems.push(format!(
                    "{}:{line}: `{}` ({}) uses `{}` ({})",
                    source.file.display(),
                    source.module.join("::"),
                    LAYERS[from].0,
                    target.join("::"),
                    LAYERS[to].0
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "layers used upwards:\n{}",
        problems.join("\n")
    );
}

/// A circle among the crate's modules, if there is one: each step of it, with the file
/// and line of a use that makes it.
fn circle(sources: &[Source]) -> Option<String> {
    let nodes: BTreeSet<Node> = sources
        .iter()
        .filter(|s| !s.module.is_empty())
        .map(|s| node(&s.module))
        .collect();
    // The deepest known module a path points into, cut to a node.
    let target_node = |path: &[String]| -> Option<Node> {
        (1..=path.len().min(2))
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|candidate| nodes.contains(candidate))
    };
    let mut edges: BTreeMap<Node, BTreeMap<Node, String>> = BTreeMap::new();
    for source in sources {
        if source.module.is_empty() {
            continue;
        }
        let from = node(&source.module);
        for (line, target) in &source.uses {
            if let Some(to) = target_node(target)
                && to != from
            {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("{}:{line}", source.file.display()));
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        n: &Node,
        edges: &BTreeMap<Node, BTreeMap<Node, String>>,
        path: &mut Vec<Node>,
        done: &mut BTreeSet<Node>,
    ) -> Option<Vec<Node>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.clone());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.clone());
        for next in edges.get(n).into_iter().flat_map(|e| e.keys()) {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    let cycle = nodes
        .iter()
        .find_map(|n| visit(n, &edges, &mut Vec::new(), &mut done))?;
    let steps: Vec<String> = cycle
        .windows(2)
        .map(|w| {
            format!(
                "  {} → {} ({})",
                w[0].join("::"),
                w[1].join("::"),
                edges[&w[0]][&w[1]]
            )
        })
        .collect();
    Some(steps.join("\n"))
}

#[test]
fn no_modules_use_each_other_in_a_circle() {
    let circles: Vec<String> = CRATES
        .iter()
        .filter_map(|krate| {
            let steps = circle(&read(krate))?;
            Some(format!("{} ({}):\n{steps}", krate.name, krate.dir))
        })
        .collect();
    assert!(
        circles.is_empty(),
        "modules use each other in a circle:\n{}",
        circles.join("\n")
    );
}

/// The stream processor as it was before `error.rs` (issue 23): the store imported the
/// error from the processor, which imports the store.
#[test]
fn the_check_finds_a_circle_through_lib_rs() {
    let files = |store: &str| {
        let file = |name: &str, text: &str| (PathBuf::from("src").join(name), text.to_string());
        vec![
            file(
                "lib.rs",
                "mod error;\nmod processor;\nmod store;\npub use error::Error;\n\
                 pub use processor::{Outcome, Processor};\n",
            ),
            file("error.rs", "pub enum Error {}\n"),
            file(
                "processor.rs",
                "use crate::store::Store;\nuse crate::error::Error;\npub struct Outcome;\n",
            ),
            file("store.rs", store),
        ]
    };
    let check = |store: &str| circle(&sources(Path::new("src"), "example", files(store)));
    let steps = check("use crate::processor::Outcome;\n").expect("a circle");
    assert_eq!(
        steps,
        "  processor → store (src/processor.rs:1)\n  store → processor (src/store.rs:1)"
    );
    // The same circle, written through lib.rs's re-exports, or by the crate's name.
    let steps = check("\nuse crate::{Outcome, Error};\n").expect("a circle");
    assert!(
        steps.contains("store → processor (src/store.rs:2)"),
        "{steps}"
    );
    let steps = check("fn f() -> example::Processor { todo!() }\n").expect("a circle");
    assert!(
        steps.contains("store → processor (src/store.rs:1)"),
        "{steps}"
    );
    // Importing the error from its own module, or from lib.rs, is no circle.
    assert_eq!(check("use crate::error::Error;\n"), None);
    assert_eq!(check("use crate::Error;\n"), None);
}

#[test]
fn the_check_sees_uses() {
    let paths = use_paths("crate::kinds::{kind::{Kind, Live}, declared::Resource as R}");
    assert_eq!(
        paths,
        [
            vec!["crate", "kinds", "kind", "Kind"],
            vec!["crate", "kinds", "kind", "Live"],
            vec!["crate", "kinds", "declared", "Resource"],
        ]
    );
    let code =
        code_only("let s = \"crate::x::y\"; // crate::z\nlet c = '\"'; crate::tags::sync(a)");
    let roots: BTreeSet<String> = ["crate".to_string()].into();
    let found = inline_paths(&code, &roots);
    assert_eq!(
        found,
        [(2, vec!["crate".into(), "tags".into(), "sync".into()])]
    );
    let module: Vec<String> = vec!["kinds".into(), "table".into(), "ops".into()];
    let root = Root {
        name: "cruddur_infra".into(),
        reexports: BTreeMap::new(),
    };
    let resolved = resolve(
        &root,
        &module,
        &BTreeSet::new(),
        &["super".into(), "state".into(), "Key".into()],
    );
    assert_eq!(resolved.unwrap(), ["kinds", "table", "state", "Key"]);
}

#[test]
fn files_stay_readable() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let long: Vec<String> = CRATES
        .iter()
        .flat_map(read)
        .map(|s| {
            (
                s.file.clone(),
                std::fs::read_to_string(&s.file).unwrap().lines().count(),
            )
        })
        .filter(|(_, lines)| *lines > 720)
        .map(|(file, lines)| {
            format!(
                "{} ({lines} lines)",
                file.strip_prefix(&workspace).unwrap().display()
            )
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over ~700 lines: {}",
        long.join(", ")
    );
    // The deployer's lib.rs only; the stream processor's is its documentation.
    let lib = std::fs::read_to_string(workspace.join("src/lib.rs"))
        .unwrap()
        .lines()
        .count();
    assert!(
        lib <= 120,
        "lib.rs is a table of contents; it has {lib} lines"
    );
}
