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
            needs,
            finished: BTreeSet::new(),
            running: BTreeSet::new(),
        }
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
