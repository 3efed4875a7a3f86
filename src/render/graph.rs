//! The dependency graph for people: what apply starts at once, and what waits for what, as
//! Mermaid (GitHub renders it in Markdown) or Graphviz DOT. Destroy runs it backwards.

/// One resource: its logical name, what to show, and its wave (apply starts every
/// resource of wave 1 at once, then each as soon as what it waits for is done).
pub struct Vertex {
    pub name: String,
    pub label: String,
    pub wave: usize,
}

/// `(from, to)`: `to` waits for `from`.
pub type Edge = (String, String);

/// The waves of resources in dependency order, `deps[i]` being the positions of what
/// resource `i` depends on (each earlier in the order).
pub fn waves(deps: &[Vec<usize>]) -> Vec<usize> {
    let mut wave = vec![1; deps.len()];
    for i in 0..deps.len() {
        wave[i] = deps[i].iter().map(|&d| wave[d] + 1).max().unwrap_or(1);
    }
    wave
}

pub fn mermaid(vertices: &[Vertex], edges: &[Edge]) -> String {
    let mut out = String::from("flowchart LR\n");
    let last = vertices.iter().map(|v| v.wave).max().unwrap_or(0);
    for wave in 1..=last {
        out.push_str(&format!(
            "  subgraph wave{wave} [\"wave {wave}: {}\"]\n",
            if wave == 1 {
                "starts at once"
            } else {
                "starts as what it waits for is done"
            }
        ));
        for v in vertices.iter().filter(|v| v.wave == wave) {
            out.push_str(&format!(
                "    {}[\"{}\"]\n",
                v.name,
                v.label.replace('"', "#quot;")
            ));
        }
        out.push_str("  end\n");
    }
    for (from, to) in edges {
        out.push_str(&format!("  {from} --> {to}\n"));
    }
    out
}

pub fn dot(vertices: &[Vertex], edges: &[Edge]) -> String {
    let mut out = String::from("digraph stack {\n  rankdir=LR;\n  node [shape=box];\n");
    let last = vertices.iter().map(|v| v.wave).max().unwrap_or(0);
    for wave in 1..=last {
        out.push_str("  { rank=same;");
        for v in vertices.iter().filter(|v| v.wave == wave) {
            out.push_str(&format!(" \"{}\";", v.name));
        }
        out.push_str(" }\n");
    }
    for v in vertices {
        out.push_str(&format!(
            "  \"{}\" [label=\"{}\"];\n",
            v.name,
            v.label.replace('"', "\\\"")
        ));
    }
    for (from, to) in edges {
        out.push_str(&format!("  \"{from}\" -> \"{to}\";\n"));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_follow_the_longest_chain() {
        // 0 and 1 independent; 2 waits for 0; 3 for 1 and 2.
        assert_eq!(waves(&[vec![], vec![], vec![0], vec![1, 2]]), [1, 1, 2, 3]);
    }

    #[test]
    fn both_forms_name_every_resource_and_edge() {
        let vertices = [
            Vertex {
                name: "t".into(),
                label: "dynamodb_table.t (t-dev)".into(),
                wave: 1,
            },
            Vertex {
                name: "f".into(),
                label: "lambda_function.f (f-dev)".into(),
                wave: 2,
            },
        ];
        let edges = [("t".to_string(), "f".to_string())];
        let m = mermaid(&vertices, &edges);
        assert!(
            m.contains("    t[\"dynamodb_table.t (t-dev)\"]") && m.contains("  t --> f\n"),
            "{m}"
        );
        let d = dot(&vertices, &edges);
        assert!(
            d.contains("{ rank=same; \"t\"; }") && d.contains("\"t\" -> \"f\";"),
            "{d}"
        );
    }
}
