#!/usr/bin/env python3
"""Fail when modules of a crate import each other in a cycle.

For every crate under crates/*/src, this reads the module tree from the crate root
(lib.rs, main.rs) along its `mod x;` declarations, collects the paths each module names
(`crate::a::b`, `super::x`, `self::x`, `use` trees with braces, and the crate root's
re-exports), and builds a graph between sibling modules: between the top-level modules
of the crate, and between the children of each module. A reference from a module to its
own parent or child is not an edge (that is how Rust nests modules); a reference
anywhere below a sibling counts as a reference to that sibling.

Comments (doc comments too), string literals and test code are left out: `#[cfg(test)]`
items (the `mod tests { ... }` blocks and `#[cfg(test)] mod x;` files) and any module
named `tests`.

Strongly connected components (Tarjan) of more than one module are cycles: each is
printed as `crate: a -> b -> a` (a shortest cycle through the component, with where each
step's first reference is) and the script exits 1. Otherwise it prints one summary line
and exits 0.

Usage: python3 scripts/check-module-cycles.py [--verbose] [--allow CRATE:MODULE] [REPO_ROOT]
(`--allow` reports a known cycle between the submodules of MODULE without failing.)
"""

import argparse
import os
import re
import sys
from collections import deque

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS_START = ("crate", "super", "self")


# --------------------------------------------------------------------------------------
# Source cleaning: comments, strings and char literals out; line numbers kept.


def strip_source(text):
    """The source with comments, strings and char literals blanked (newlines kept)."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if c == "/" and nxt == "*":
            depth = 1
            j = i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth += 1
                    j += 2
                elif text.startswith("*/", j):
                    depth -= 1
                    j += 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
            continue
        if c == '"':
            j = skip_string(text, i + 1)
            out.append('"' + blank(text[i + 1 : j - 1]) + '"')
            i = j
            continue
        if c == "'":
            j = char_literal_end(text, i)
            if j:
                out.append("' '")
                i = j
                continue
            out.append(c)
            i += 1
            continue
        if c.isalpha() or c == "_":
            m = IDENT.match(text, i)
            word = m.group(0)
            j = m.end()
            if word in ("r", "br", "cr") and j < n and text[j] in '#"':
                k = j
                while k < n and text[k] == "#":
                    k += 1
                if k < n and text[k] == '"':
                    hashes = k - j
                    close = '"' + "#" * hashes
                    end = text.find(close, k + 1)
                    end = n if end < 0 else end + len(close)
                    out.append('""' + blank(text[k + 1 : end]))
                    i = end
                    continue
            out.append(word)
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


def blank(s):
    return "".join("\n" if ch == "\n" else " " for ch in s)


def skip_string(text, i):
    """Index just past the closing quote of a string whose body starts at `i`."""
    n = len(text)
    while i < n:
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return n


def char_literal_end(text, i):
    """End of a char literal starting at `i` (a quote), or None for a lifetime."""
    n = len(text)
    if i + 1 >= n:
        return None
    if text[i + 1] == "\\":
        j = text.find("'", i + 2)
        return None if j < 0 else j + 1
    if i + 2 < n and text[i + 2] == "'":
        return i + 3
    return None


# --------------------------------------------------------------------------------------
# Test code out.

CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")
INNER_CFG_TEST = re.compile(r"#\s*!\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")
ATTRIBUTE = re.compile(r"\s*#\s*\[")


def matching(text, i, open_ch, close_ch):
    """Index just past the bracket that closes the one at `i`."""
    depth = 0
    n = len(text)
    while i < n:
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def item_end(text, i):
    """End of the item starting at `i`: its `;` or the `}` closing its first block."""
    n = len(text)
    depth = 0
    while i < n:
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "{" and depth == 0:
            return matching(text, i, "{", "}")
        elif c == ";" and depth == 0:
            return i + 1
        i += 1
    return n


def strip_test_items(code):
    """`code` with every `#[cfg(test)]` item blanked; the names of `#[cfg(test)] mod x;`."""
    test_mods = set()
    while True:
        m = CFG_TEST.search(code)
        if not m:
            return code, test_mods
        j = m.end()
        while True:
            a = ATTRIBUTE.match(code, j)
            if not a:
                break
            j = matching(code, code.index("[", a.start()), "[", "]")
        end = item_end(code, j)
        item = code[j:end]
        decl = re.match(r"\s*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", item)
        if decl:
            test_mods.add(decl.group(1))
        code = code[: m.start()] + blank(code[m.start() : end]) + code[end:]


# --------------------------------------------------------------------------------------
# The module tree.

MOD_DECL = re.compile(
    r"(?:^|[;{}\]\s])(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;"
)


class Module:
    def __init__(self, path, file, code):
        self.path = path  # tuple of names below the crate root
        self.file = file
        self.code = code


def read_module(path, file, modules):
    with open(file, encoding="utf-8") as f:
        text = f.read()
    code = strip_source(text)
    if INNER_CFG_TEST.search(code):
        return
    code, test_mods = strip_test_items(code)
    modules[path] = Module(path, file, code)
    base = os.path.basename(file)
    if base in ("lib.rs", "main.rs", "mod.rs"):
        child_dir = os.path.dirname(file)
    else:
        child_dir = os.path.join(os.path.dirname(file), base[: -len(".rs")])
    for m in MOD_DECL.finditer(code):
        name = m.group(1)
        if name in test_mods or name == "tests":
            continue
        for candidate in (
            os.path.join(child_dir, name + ".rs"),
            os.path.join(child_dir, name, "mod.rs"),
        ):
            if os.path.isfile(candidate):
                read_module(path + (name,), candidate, modules)
                break


# --------------------------------------------------------------------------------------
# References.

PATH_START = re.compile(r"(?<![A-Za-z0-9_:])\$?(crate|super|self)\s*::")
USE_STMT = re.compile(r"(?<![A-Za-z0-9_])use\s+")


def parse_tree(code, i):
    """Parse a path or use tree at `i`: (list of segment lists, end index)."""
    n = len(code)
    segments = []
    while True:
        while i < n and code[i].isspace():
            i += 1
        if i < n and code[i] == "{":
            paths = []
            i += 1
            while True:
                while i < n and code[i] in " \t\r\n,":
                    i += 1
                if i >= n or code[i] == "}":
                    i += 1
                    break
                sub, i = parse_tree(code, i)
                paths.extend(sub)
                # `as x`, stray tokens: skip to the next `,` or `}` of this group.
                depth = 0
                while i < n:
                    if code[i] == "{":
                        depth += 1
                    elif code[i] == "}":
                        if depth == 0:
                            break
                        depth -= 1
                    elif code[i] == "," and depth == 0:
                        break
                    i += 1
            return [segments + p for p in paths] or [segments], i
        if i < n and code[i] == "*":
            return [segments + ["*"]], i + 1
        m = IDENT.match(code, i)
        if not m:
            return [segments], i
        segments.append(m.group(0))
        i = m.end()
        k = i
        while k < n and code[k].isspace():
            k += 1
        if code.startswith("::", k):
            i = k + 2
            continue
        return [segments], i


def line_of(code, i):
    return code.count("\n", 0, i) + 1


def references(module):
    """(absolute segment list, line) for each path the module names."""
    code = module.code
    found = []
    seen_at = set()
    # `use` trees first, so that braces are expanded.
    for m in USE_STMT.finditer(code):
        start = m.end()
        if code.startswith("::", start):
            start += 2
        paths, _ = parse_tree(code, start)
        line = line_of(code, m.start())
        for p in paths:
            absolute = absolutize(module.path, p)
            if absolute is not None:
                found.append((absolute, line))
        seen_at.add(start)
    for m in PATH_START.finditer(code):
        start = m.start(1)
        if start in seen_at:
            continue
        paths, _ = parse_tree(code, start)
        line = line_of(code, start)
        for p in paths:
            absolute = absolutize(module.path, p)
            if absolute is not None:
                found.append((absolute, line))
    return found


def absolutize(here, segments):
    """Segments below the crate root for a path named in module `here`, or None."""
    if not segments:
        return None
    if segments[0] == "crate":
        return list(segments[1:])
    if segments[0] in ("super", "self"):
        base = list(here)
        rest = list(segments)
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                if not base:
                    return None
                base.pop()
            rest.pop(0)
        return base + rest
    # A plain `use a::b` names a child module (2018 paths), an external crate or an item.
    return list(here) + list(segments) if len(segments) > 1 else None


def root_reexports(root):
    """Names the crate root re-exports: name -> segment list of where it comes from."""
    table = {}
    for m in re.finditer(r"(?<![A-Za-z0-9_])pub(?:\s*\([^)]*\))?\s+use\s+", root.code):
        paths, _ = parse_tree(root.code, m.end())
        for p in paths:
            if p and p[-1] != "*" and p[0] not in ("crate", "self", "super"):
                table[p[-1]] = p
            elif len(p) > 1 and p[0] in ("crate", "self"):
                table[p[-1]] = p[1:]
    return table


def resolve(segments, modules, reexports):
    """The deepest known module a path lands in (a tuple), or None for the root."""
    if segments and len(segments) >= 1 and (segments[0],) not in modules:
        target = reexports.get(segments[0])
        if target is None:
            return None
        segments = list(target) + list(segments[1:])
    best = None
    for k in range(1, len(segments) + 1):
        if tuple(segments[:k]) in modules:
            best = tuple(segments[:k])
        else:
            break
    return best


# --------------------------------------------------------------------------------------
# Graph and cycles.


def sibling_edge(source, target):
    """The pair of sibling modules a reference from `source` to `target` joins, or None."""
    k = 0
    while k < len(source) and k < len(target) and source[k] == target[k]:
        k += 1
    if k == len(source) or k == len(target):
        return None  # one contains the other
    return source[: k + 1], target[: k + 1]


def tarjan(nodes, edges):
    index = {}
    low = {}
    stack = []
    on_stack = set()
    components = []
    counter = [0]

    def connect(v):
        # Iterative Tarjan (no recursion limit on deep graphs).
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                components.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            connect(v)
    return components


def shortest_cycle(start, members, edges):
    """A shortest cycle from `start` back to itself inside `members`."""
    prev = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(edges.get(v, ())):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start, start]


def name(path):
    return "::".join(path)


def check_crate(label, root_file, repo, verbose):
    modules = {}
    read_module((), root_file, modules)
    reexports = root_reexports(modules[()])
    edges = {}
    where = {}
    for module in modules.values():
        for segments, line in references(module):
            target = resolve(segments, modules, reexports)
            if target is None:
                continue
            pair = sibling_edge(module.path, target)
            if pair is None:
                continue
            a, b = pair
            edges.setdefault(a, set()).add(b)
            where.setdefault(
                (a, b),
                "{}:{} names {}".format(
                    os.path.relpath(module.file, repo), line, name(("crate",) + target)
                ),
            )
    nodes = set(edges) | {b for bs in edges.values() for b in bs}
    cycles = []
    for component in tarjan(nodes, edges):
        if len(component) < 2:
            continue
        members = set(component)
        cycle = shortest_cycle(component[0], members, edges)
        cycles.append((component, cycle))
    if verbose:
        for (a, b), at in sorted(where.items()):
            print("{}: {} -> {}   ({})".format(label, name(a), name(b), at))
    return len(modules), sum(len(bs) for bs in edges.values()), cycles, where


def allowed(label, component, allow):
    """Whether `--allow CRATE:MODULE` covers this cycle: all its modules lie below MODULE."""
    for crate, module in allow:
        if crate != label:
            continue
        prefix = tuple(module.split("::"))
        if all(len(p) > len(prefix) and p[: len(prefix)] == prefix for p in component):
            return True
    return False


def main(argv):
    parser = argparse.ArgumentParser(
        description="Fail when modules of a crate under crates/*/src import each other in a cycle."
    )
    parser.add_argument("root", nargs="?", help="the repository (default: this script's)")
    parser.add_argument(
        "--verbose", action="store_true", help="print every edge and where it comes from"
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="CRATE:MODULE",
        help="report cycles between the submodules of MODULE in CRATE without failing "
        "(a known cycle being worked on; e.g. refinery-build:verify)",
    )
    args = parser.parse_args(argv)
    allow = []
    for item in args.allow:
        crate, sep, module = item.partition(":")
        if not sep or not crate or not module:
            parser.error("--allow takes CRATE:MODULE, e.g. refinery-build:verify")
        allow.append((crate, module))
    repo = os.path.abspath(args.root) if args.root else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))
    )
    crates_dir = os.path.join(repo, "crates")
    total_modules = total_edges = crates = 0
    found = []
    for crate in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, crate, "src")
        for root_name in ("lib.rs", "main.rs"):
            root_file = os.path.join(src, root_name)
            if not os.path.isfile(root_file):
                continue
            label = crate if root_name == "lib.rs" else crate + " (bin)"
            count, edge_count, cycles, where = check_crate(label, root_file, repo, args.verbose)
            crates += 1
            total_modules += count
            total_edges += edge_count
            for component, cycle in cycles:
                found.append((label, component, cycle, where))
    failing = 0
    for label, component, cycle, where in found:
        tolerated = allowed(label, component, allow)
        failing += not tolerated
        prefix = "allowed (--allow), " if tolerated else ""
        print("{}{}: {}".format(prefix, label, " -> ".join(name(p) for p in cycle)))
        if len(component) > len(cycle) - 1:
            print("  (one component: {})".format(", ".join(name(p) for p in component)))
        for a, b in zip(cycle, cycle[1:]):
            print("  {} -> {}: {}".format(name(a), name(b), where[(a, b)]))
    if failing:
        print(
            "error: {} module cycle(s); make the dependency go one way (move the shared "
            "item down, or pass it in from above)".format(failing),
            file=sys.stderr,
        )
        return 1
    print(
        "module cycles: none{} in {} crate targets ({} modules, {} edges between sibling "
        "modules)".format(
            " but the {} allowed above".format(len(found)) if found else "",
            crates,
            total_modules,
            total_edges,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
