//! The plan's graph: the bounded dependency closure and the edges between nodes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::resolve::ResolvedPin;

use super::resolver::requirement_project;
use super::{Action, EdgeKind, PlanEdge, PlanNode};

/// Keep the direct requirements and their dependencies breadth-first, up to `max` packages.
pub(super) fn bounded_closure(pins: &[ResolvedPin], max: usize) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    let mut queue: VecDeque<&ResolvedPin> = pins
        .iter()
        .filter(|p| p.via.contains("-r") || p.via.is_empty())
        .collect();
    let mut seen: BTreeSet<String> = queue.iter().map(|p| p.name.to_string()).collect();
    while let Some(pin) = queue.pop_front() {
        if kept.len() >= max {
            break;
        }
        kept.insert(pin.name.to_string());
        for dep in pins.iter().filter(|d| d.via.contains(pin.name.as_ref())) {
            if seen.insert(dep.name.to_string()) {
                queue.push_back(dep);
            }
        }
    }
    kept
}

pub(super) fn edges_of(pins: &[ResolvedPin], nodes: &[PlanNode]) -> Vec<PlanEdge> {
    let id_of: BTreeMap<&str, &str> = nodes
        .iter()
        .map(|n| (n.name.normalized().as_ref(), n.id.as_str()))
        .collect();
    let mut edges = BTreeSet::new();
    for pin in pins {
        let Some(to) = id_of.get(pin.name.as_ref()) else {
            continue;
        };
        for parent in &pin.via {
            if let Some(from) = id_of.get(parent.as_str()) {
                edges.insert(PlanEdge {
                    from: from.to_string(),
                    to: to.to_string(),
                    kind: EdgeKind::Runtime,
                });
            }
        }
    }
    for node in nodes.iter().filter(|n| n.action == Action::Build) {
        for requirement in &node.build_requires {
            let name = requirement_project(requirement);
            if let Some(dep) = nodes.iter().find(|d| {
                name.as_ref() == Some(&d.name) && d.action == Action::Build && d.id != node.id
            }) {
                edges.insert(PlanEdge {
                    from: node.id.clone(),
                    to: dep.id.clone(),
                    kind: EdgeKind::Build,
                });
            }
        }
    }
    edges.into_iter().collect()
}
