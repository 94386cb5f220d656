//! Which ready build runs next: dependencies first, then shortest-first (by past average
//! duration) or plan order.

use std::collections::{BTreeSet, HashMap};

use refinery_plan::{Plan, PlanNode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Known-short builds first, from history; unknown ones after, in plan order.
    #[default]
    ShortestFirst,
    /// Plan order.
    Fifo,
}

/// The builds of a run and what each waits for.
#[derive(Debug)]
pub struct BuildQueue<'a> {
    /// Waiting nodes in priority order.
    waiting: Vec<&'a PlanNode>,
    /// Node id -> ids of the build nodes it needs first (build and runtime edges).
    needs: HashMap<String, BTreeSet<String>>,
    finished: BTreeSet<String>,
    running: BTreeSet<String>,
    /// See [`BuildQueue::width`].
    width: usize,
}

impl<'a> BuildQueue<'a> {
    pub fn new(
        plan: &'a Plan,
        nodes: Vec<&'a PlanNode>,
        schedule: Schedule,
        durations: &HashMap<String, f64>,
    ) -> Self {
        let ids: BTreeSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
        let needs = nodes
            .iter()
            .map(|n| {
                let deps = plan
                    .dependencies_of(&n.id)
                    .into_iter()
                    .filter(|e| ids.contains(e.to.as_str()) && e.to != n.id)
                    .map(|e| e.to.clone())
                    .collect();
                (n.id.clone(), deps)
            })
            .collect();
        let mut waiting = nodes;
        if schedule == Schedule::ShortestFirst {
            // Stable sort: unknown durations keep plan order, after the known ones.
            waiting.sort_by(|a, b| {
                let key = |n: &PlanNode| {
                    durations
                        .get(n.name.as_str())
                        .copied()
                        .unwrap_or(f64::INFINITY)
                };
                key(a).total_cmp(&key(b))
            });
        }
        BuildQueue {
            waiting,
            width: width(&needs),
            needs,
            finished: BTreeSet::new(),
            running: BTreeSet::new(),
        }
    }

    /// The most builds of this queue that can ever run at once: the largest set of them
    /// none of which waits for another, directly or through others. `numpy` then `pandas`
    /// (a build edge): 1, so each build may use every core.
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// The next node whose dependencies have all finished. When nothing runs and nothing
    /// is ready, the rest form a cycle: take the first so the run still ends.
    pub fn next_ready(&mut self) -> Option<&'a PlanNode> {
        let ready = self.waiting.iter().position(|n| {
            self.needs
                .get(&n.id)
                .is_none_or(|deps| deps.iter().all(|d| self.finished.contains(d)))
        });
        let index = match ready {
            Some(index) => index,
            None if self.running.is_empty() && !self.waiting.is_empty() => 0,
            None => return None,
        };
        let node = self.waiting.remove(index);
        self.running.insert(node.id.clone());
        Some(node)
    }

    pub fn finish(&mut self, id: &str) {
        self.running.remove(id);
        self.finished.insert(id.to_string());
    }
}

/// The width of the wait-for order of `needs` (node -> the nodes it waits for): by
/// Dilworth's theorem, the nodes minus a maximum matching between each node and the nodes
/// it waits for transitively (Kuhn's augmenting paths; plans have at most hundreds of
/// builds). Nodes in a cycle run one at a time, like a chain.
fn width(needs: &HashMap<String, BTreeSet<String>>) -> usize {
    let ids: Vec<&str> = needs.keys().map(String::as_str).collect();
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    // waits_for[i]: every node i waits for, directly or through others.
    let waits_for: Vec<BTreeSet<usize>> = ids
        .iter()
        .map(|id| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![*id];
            while let Some(at) = stack.pop() {
                for next in needs.get(at).into_iter().flatten() {
                    if let Some(&j) = index.get(next.as_str()) {
                        if seen.insert(j) {
                            stack.push(next);
                        }
                    }
                }
            }
            seen.remove(&index[id]);
            seen
        })
        .collect();
    // Nodes of a cycle reach each other; the queue runs them one at a time, as a chain:
    // keep one direction (the lower index first) so they match as a chain does.
    let waits_for: Vec<Vec<usize>> = waits_for
        .iter()
        .enumerate()
        .map(|(i, set)| {
            set.iter()
                .copied()
                .filter(|&j| !waits_for[j].contains(&i) || i < j)
                .collect()
        })
        .collect();
    fn augment(
        i: usize,
        waits_for: &[Vec<usize>],
        tried: &mut [bool],
        matched_to: &mut [Option<usize>],
    ) -> bool {
        for &j in &waits_for[i] {
            if !tried[j] {
                tried[j] = true;
                if matched_to[j].is_none_or(|k| augment(k, waits_for, tried, matched_to)) {
                    matched_to[j] = Some(i);
                    return true;
                }
            }
        }
        false
    }
    let mut matched_to = vec![None; ids.len()];
    let matching = (0..ids.len())
        .filter(|&i| augment(i, &waits_for, &mut vec![false; ids.len()], &mut matched_to))
        .count();
    ids.len() - matching
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_plan::{Action, EdgeKind, PlanEdge, Strategy};

    fn node(name: &str) -> PlanNode {
        PlanNode {
            id: format!("{name}==1"),
            name: name.parse().unwrap(),
            version: Some("1".parse().unwrap()),
            action: Action::Build,
            reason: String::new(),
            source: None,
            steps: Vec::new(),
            build_requires: Vec::new(),
            direct: true,
            overrides: None,
        }
    }

    fn plan(names: &[&str], edges: &[(&str, &str)]) -> Plan {
        Plan {
            schema: 1,
            id: "x".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            strategy: Strategy::Pinned,
            nodes: names.iter().map(|n| node(n)).collect(),
            edges: edges
                .iter()
                .map(|(a, b)| PlanEdge {
                    from: format!("{a}==1"),
                    to: format!("{b}==1"),
                    kind: EdgeKind::Build,
                })
                .collect(),
            rejected: Vec::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn drain(queue: &mut BuildQueue<'_>) -> Vec<String> {
        let mut order = Vec::new();
        while let Some(n) = queue.next_ready() {
            order.push(n.name.to_string());
            queue.finish(&n.id);
        }
        order
    }

    #[test]
    fn shortest_first_uses_history_and_keeps_plan_order_for_unknowns() {
        let p = plan(&["a", "b", "c", "d"], &[]);
        let durations = HashMap::from([("c".to_string(), 5.0), ("b".to_string(), 50.0)]);
        let mut q = BuildQueue::new(
            &p,
            p.nodes.iter().collect(),
            Schedule::ShortestFirst,
            &durations,
        );
        assert_eq!(drain(&mut q), ["c", "b", "a", "d"]);
        let mut fifo = BuildQueue::new(&p, p.nodes.iter().collect(), Schedule::Fifo, &durations);
        assert_eq!(drain(&mut fifo), ["a", "b", "c", "d"]);
    }

    #[test]
    fn dependencies_run_first_and_block_while_running() {
        let p = plan(&["app", "lib"], &[("app", "lib")]);
        let mut q = BuildQueue::new(
            &p,
            p.nodes.iter().collect(),
            Schedule::Fifo,
            &HashMap::new(),
        );
        let first = q.next_ready().unwrap();
        assert_eq!(first.name.as_str(), "lib");
        assert!(q.next_ready().is_none(), "app must wait for lib");
        q.finish(&first.id);
        assert_eq!(q.next_ready().unwrap().name.as_str(), "app");
    }

    #[test]
    fn width_is_the_most_builds_that_can_run_at_once() {
        let width = |names: &[&str], edges: &[(&str, &str)]| {
            let p = plan(names, edges);
            BuildQueue::new(
                &p,
                p.nodes.iter().collect(),
                Schedule::Fifo,
                &HashMap::new(),
            )
            .width()
        };
        assert_eq!(width(&[], &[]), 0);
        assert_eq!(width(&["a", "b", "c"], &[]), 3);
        // A chain (scikit-learn after scipy after numpy) runs one build at a time.
        let chain = [
            ("sklearn", "scipy"),
            ("scipy", "numpy"),
            ("sklearn", "numpy"),
        ];
        assert_eq!(width(&["numpy", "scipy", "sklearn"], &chain), 1);
        // matplotlib waits for numpy, contourpy (which waits for numpy), kiwisolver and
        // pillow: at most numpy or contourpy, kiwisolver and pillow at once.
        let mpl = [
            ("matplotlib", "numpy"),
            ("matplotlib", "contourpy"),
            ("matplotlib", "kiwisolver"),
            ("matplotlib", "pillow"),
            ("contourpy", "numpy"),
        ];
        assert_eq!(
            width(
                &["numpy", "contourpy", "kiwisolver", "pillow", "matplotlib"],
                &mpl
            ),
            3
        );
        // A diamond: b and c between a and d.
        let diamond = [("d", "b"), ("d", "c"), ("b", "a"), ("c", "a")];
        assert_eq!(width(&["a", "b", "c", "d"], &diamond), 2);
        // Edges to packages outside the queue (reused wheels) do not count.
        assert_eq!(width(&["a", "b"], &[("a", "x"), ("b", "x")]), 2);
        // A cycle drains one build at a time.
        assert_eq!(width(&["a", "b"], &[("a", "b"), ("b", "a")]), 1);
        assert_eq!(
            width(&["a", "b", "c", "d"], &[("a", "b"), ("b", "c"), ("c", "a")]),
            2
        );
    }

    #[test]
    fn a_cycle_still_drains() {
        let p = plan(&["a", "b"], &[("a", "b"), ("b", "a")]);
        let mut q = BuildQueue::new(
            &p,
            p.nodes.iter().collect(),
            Schedule::Fifo,
            &HashMap::new(),
        );
        assert_eq!(drain(&mut q).len(), 2);
        assert!(q.is_empty());
    }
}
