//! The dependency graph between resources: who must exist before whom.

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Orders `deps.len()` resources so that each comes after everything it depends on.
/// `deps[i]` holds the indices resource `i` depends on. On a cycle, returns the cycle as
/// indices in dependency order (first element repeated at the end).
pub fn topological_order(deps: &[BTreeSet<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<NodeIndex> = (0..deps.len()).map(|i| graph.add_node(i)).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            // Edge from dependency to dependent: the dependency comes first.
            graph.add_edge(nodes[d], nodes[i], ());
        }
    }
    match toposort(&graph, None) {
        Ok(order) => Ok(order.into_iter().map(|n| graph[n]).collect()),
        Err(_) => Err(find_cycle(&graph, deps)),
    }
}

/// One cycle of the graph, for the error message: in a strongly connected component with
/// more than one node (or a node depending on itself), the shortest way from its first
/// node back to itself.
fn find_cycle(graph: &DiGraph<usize, ()>, deps: &[BTreeSet<usize>]) -> Vec<usize> {
    let component: BTreeSet<usize> = tarjan_scc(graph)
        .into_iter()
        .map(|c| c.into_iter().map(|n| graph[n]).collect::<BTreeSet<usize>>())
        .find(|c| c.len() > 1 || c.iter().any(|&i| deps[i].contains(&i)))
        .expect("toposort reported a cycle");
    let start = *component.first().expect("non-empty component");
    // Breadth-first search along dependencies, remembering how each node was reached.
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        for &next in deps[current].iter().filter(|d| component.contains(d)) {
            if next == start {
                let mut path = vec![start, current];
                let mut at = current;
                while at != start {
                    at = came_from[&at];
                    path.push(at);
                }
                path.reverse();
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = came_from.entry(next) {
                e.insert(current);
                queue.push_back(next);
            }
        }
    }
    unreachable!("a strongly connected component always leads back to its start")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(spec: &[&[usize]]) -> Vec<BTreeSet<usize>> {
        spec.iter().map(|d| d.iter().copied().collect()).collect()
    }

    #[test]
    fn dependencies_come_first() {
        // 0 depends on 2, 1 depends on 0.
        let order = topological_order(&deps(&[&[2], &[0], &[]])).unwrap();
        let pos = |i| order.iter().position(|&x| x == i).unwrap();
        assert!(pos(2) < pos(0) && pos(0) < pos(1));
    }

    #[test]
    fn cycle_search_does_not_get_stuck_in_a_side_loop() {
        // 0 -> 1, 1 -> {2, 3}, 2 -> 1, 3 -> 0: the cycle through 0 is 0, 1, 3, 0.
        let cycle = topological_order(&deps(&[&[1], &[2, 3], &[1], &[0]])).unwrap_err();
        assert_eq!(cycle, [0, 1, 3, 0]);
    }

    #[test]
    fn cycles_are_reported_as_a_path() {
        let cycle = topological_order(&deps(&[&[1], &[2], &[0], &[]])).unwrap_err();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
        let self_loop = topological_order(&deps(&[&[0]])).unwrap_err();
        assert_eq!(self_loop, [0, 0]);
    }
}
