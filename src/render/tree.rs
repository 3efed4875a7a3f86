//! A resource's field changes as a nested tree of lines, the way Terraform shows them:
//! objects and maps as `{ … }` blocks, sets as `[ … ]` with one `+`/`-` line per element,
//! changed leaves as `before → after`. A block's symbol says what happens inside it (`+`
//! all new, `-` all gone, `~` some change); a note shared by everything in a block is said
//! once, on the block. A policy statement that changed names itself by its Sid, or by its
//! effect and actions.

use crate::plan::{FieldChange, ResourceChange, Segment, plain, sides};
use crate::values::show;
use serde_json::Value;

/// Keys of a policy statement in the order people read them.
const STATEMENT_ORDER: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Longer labels are not padded to, so short ones stay readable.
const MAX_ALIGN: usize = 32;

/// One line of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `+`, `-`, `~`, or ` ` for a closing bracket.
    pub symbol: char,
    pub depth: usize,
    pub text: String,
    pub forces_replacement: bool,
    pub note: Option<String>,
}

#[derive(Default)]
struct Node<'a> {
    children: Vec<(Segment, Node<'a>)>,
    change: Option<&'a FieldChange>,
}

impl<'a> Node<'a> {
    fn insert(&mut self, segments: &[Segment], change: &'a FieldChange) {
        let Some((first, rest)) = segments.split_first() else {
            self.change = Some(change);
            return;
        };
        let at = match self.children.iter().position(|(s, _)| s == first) {
            Some(at) => at,
            None => {
                self.children.push((first.clone(), Node::default()));
                self.children.len() - 1
            }
        };
        self.children[at].1.insert(rest, change);
    }

    fn leaves(&self) -> Vec<&'a FieldChange> {
        let mut all: Vec<&'a FieldChange> = self.change.into_iter().collect();
        for (_, child) in &self.children {
            all.extend(child.leaves());
        }
        all
    }
}

/// The lines for `rc`'s field changes.
pub fn lines(rc: &ResourceChange) -> Vec<Line> {
    let mut root = Node::default();
    for change in &rc.changes {
        root.insert(&change.path.0, change);
    }
    let mut out = Vec::new();
    let context = Context {
        before: &rc.states.before,
        after: &rc.states.after,
    };
    block(&root, &[], 0, None, &context, &mut out);
    out
}

/// The whole states, to name a statement by what it is.
struct Context<'a> {
    before: &'a Value,
    after: &'a Value,
}

fn symbol_of(changes: &[&FieldChange]) -> char {
    if changes.iter().all(|c| c.added()) {
        '+'
    } else if changes.iter().all(|c| c.removed()) {
        '-'
    } else {
        '~'
    }
}

/// A block is new (`+`) where nothing was, gone (`-`) where nothing will be, changed (`~`)
/// otherwise.
fn block_symbol(path: &[Segment], cx: &Context) -> char {
    match sides(cx.before, cx.after, path) {
        (None, _) => '+',
        (_, None) => '-',
        _ => '~',
    }
}

fn label(segment: &Segment) -> Option<String> {
    match segment {
        Segment::Key(k) if plain(k) => Some(k.clone()),
        Segment::Key(k) => Some(Value::String(k.clone()).to_string()),
        Segment::Index(_) => None,
    }
}

/// The children of `node` (at `path`), one level deeper than `depth`'s opener.
fn block(
    node: &Node,
    path: &[Segment],
    depth: usize,
    shared_note: Option<&str>,
    cx: &Context,
    out: &mut Vec<Line>,
) {
    let mut children: Vec<&(Segment, Node)> = node.children.iter().collect();
    if is_statement(path, cx) {
        let rank = |s: &Segment| match s {
            Segment::Key(k) => STATEMENT_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(STATEMENT_ORDER.len()),
            Segment::Index(_) => 0,
        };
        children.sort_by_key(|(s, _)| rank(s));
    }
    let width = children
        .iter()
        .filter(|(_, child)| child.children.is_empty())
        .filter_map(|(s, _)| label(s))
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_ALIGN);
    for (segment, child) in children {
        let mut child_path = path.to_vec();
        child_path.push(segment.clone());
        let label = label(segment);
        if child.children.is_empty() {
            let Some(change) = child.change else { continue };
            out.push(leaf(change, label.as_deref(), width, depth, shared_note));
            continue;
        }
        let leaves = child.leaves();
        let symbol = block_symbol(&child_path, cx);
        // A note every leaf below shares is said once, on the lowest block that holds
        // them all (not on a block whose one child is another block).
        let note = leaves
            .first()
            .and_then(|c| c.note.clone())
            .filter(|n| leaves.iter().all(|c| c.note.as_deref() == Some(n)))
            .filter(|_| child.children.len() > 1 || child.children[0].1.children.is_empty());
        let sets = matches!(child.children.first(), Some((Segment::Index(_), _)));
        let open = if sets { "[" } else { "{" };
        let mut text = match &label {
            Some(l) => format!("{l} = {open}"),
            None => open.to_string(),
        };
        if symbol == '~' && is_statement(&child_path, cx) {
            text.push_str(&format!("   # {}", statement_name(&child_path, cx)));
        }
        out.push(Line {
            symbol,
            depth,
            text,
            forces_replacement: false,
            note: note.clone().filter(|n| Some(n.as_str()) != shared_note),
        });
        block(
            child,
            &child_path,
            depth + 1,
            note.as_deref().or(shared_note),
            cx,
            out,
        );
        out.push(Line {
            symbol: ' ',
            depth,
            text: if sets { "]" } else { "}" }.into(),
            forces_replacement: false,
            note: None,
        });
    }
}

fn leaf(
    change: &FieldChange,
    label: Option<&str>,
    width: usize,
    depth: usize,
    shared_note: Option<&str>,
) -> Line {
    let value = if change.added() {
        show(&change.after)
    } else if change.removed() {
        show(&change.before)
    } else {
        format!("{} → {}", show(&change.before), show(&change.after))
    };
    let text = match label {
        Some(l) => format!("{l:width$} = {value}"),
        None => value,
    };
    Line {
        symbol: symbol_of(&[change]),
        depth,
        text,
        forces_replacement: change.forces_replacement,
        note: change
            .note
            .clone()
            .filter(|n| Some(n.as_str()) != shared_note),
    }
}

fn element<'v>(path: &[Segment], cx: &'v Context) -> Option<&'v Value> {
    let (before, after) = sides(cx.before, cx.after, path);
    after.or(before)
}

/// A policy statement: an element of a set that has an `Effect`.
fn is_statement(path: &[Segment], cx: &Context) -> bool {
    matches!(path.last(), Some(Segment::Index(_)))
        && element(path, cx).is_some_and(|v| v.get("Effect").is_some())
}

/// "Sid ReadStream", or "Allow dynamodb:GetRecords, dynamodb:GetShardIterator".
fn statement_name(path: &[Segment], cx: &Context) -> String {
    let Some(statement) = element(path, cx) else {
        return "statement".into();
    };
    if let Some(sid) = statement.get("Sid").and_then(Value::as_str) {
        return format!("Sid {sid}");
    }
    let effect = statement
        .get("Effect")
        .and_then(Value::as_str)
        .unwrap_or("Allow");
    let actions: Vec<&str> = statement
        .get("Action")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!("{effect} {}", actions.join(", "))
}
