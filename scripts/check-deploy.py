#!/usr/bin/env python3
"""Checks the deployment files without a container engine (CI runs it; none runs here).

    python3 scripts/check-deploy.py [--bin target/release/refinery]

For containers/refinery/ (Containerfile, compose.yaml, k8s/*.yaml):
  * every YAML document parses; Kubernetes documents have apiVersion, kind and a name;
    compose services name existing services in depends_on and declared secrets;
  * the Containerfile's instructions are known ones, its JSON forms parse, the files it
    COPYs from the build context exist, and its pinned tool versions (ARG *_VERSION) are
    those scripts/setup.sh installs;
  * every `refinery` command the files run (compose `command`, Kubernetes `args`, the
    image's ENTRYPOINT + CMD) uses a subcommand from the README's command table and only
    flags that `refinery SUBCOMMAND --help` lists; every environment variable they give
    the refinery is named in the README or in `--help`.
Exit status 0 when all hold; 1 with one line per problem. Needs PyYAML.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("check-deploy: PyYAML is needed (pip install pyyaml)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "containers", "refinery")
IMAGE = "localhost/refinery:latest"
INSTRUCTIONS = {"FROM", "RUN", "COPY", "ADD", "WORKDIR", "ENV", "ARG", "LABEL", "USER",
                "VOLUME", "EXPOSE", "ENTRYPOINT", "CMD", "HEALTHCHECK", "SHELL", "STOPSIGNAL"}
# Set by the container images themselves, not read by the refinery.
FOREIGN_ENV = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATA"}

problems = []


def problem(where, text):
    problems.append(f"{os.path.relpath(where, ROOT)}: {text}")


def find_binary(given):
    if given:
        return given
    env = os.environ.get("REFINERY_BIN")
    if env:
        return env
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    found = [os.path.join(target, p, "refinery") for p in ("release", "debug")]
    found = [p for p in found if os.path.isfile(p)]
    if not found:
        sys.exit("check-deploy: no refinery binary: build it (cargo build -p refinery) or pass --bin")
    return max(found, key=os.path.getmtime)


def readme_commands(readme):
    """Subcommands of the README's command table (`| `refinery serve …` | … |`)."""
    return set(re.findall(r"^\| `refinery (?:\[)?([a-z]+)", readme, re.M))


_help_cache = {}


def help_text(binary, sub):
    if sub not in _help_cache:
        out = subprocess.run([binary, sub, "--help"], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            _help_cache[sub] = None
        else:
            _help_cache[sub] = out.stdout
    return _help_cache[sub]


def check_command(where, argv, env, binary, readme, commands):
    if not argv:
        problem(where, "runs the image without a command")
        return
    sub = argv[0]
    if sub not in commands:
        problem(where, f"`refinery {sub}` is not in the README's command table ({', '.join(sorted(commands))})")
        return
    text = help_text(binary, sub)
    if text is None:
        problem(where, f"`refinery {sub} --help` fails")
        return
    for arg in argv[1:]:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            if not re.search(rf"(^|[\s,]){re.escape(flag)}([\s=,<]|$)", text, re.M):
                problem(where, f"`refinery {sub}` has no flag {flag} (see `refinery {sub} --help`)")
    for name in env:
        if name in FOREIGN_ENV:
            continue
        if name not in readme and name not in text:
            problem(where, f"environment variable {name} is documented neither in the README nor in `refinery {sub} --help`")


def check_containerfile(path, binary, readme, commands):
    text = open(path, encoding="utf-8").read()
    # Join continuation lines, drop comments.
    logical, buf = [], ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        buf += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(buf.strip())
            buf = ""
    entrypoint, cmd = None, None
    stages = set()
    for line in logical:
        word, _, rest = line.partition(" ")
        if word.upper() not in INSTRUCTIONS:
            problem(path, f"unknown instruction {word}")
            continue
        word = word.upper()
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            if m:
                stages.add(m.group(1))
        if word in ("ENTRYPOINT", "CMD"):
            try:
                value = json.loads(rest)
            except json.JSONDecodeError as e:
                problem(path, f"{word} is not a JSON array: {e}")
                continue
            if word == "ENTRYPOINT":
                entrypoint = value
            else:
                cmd = value
        if word == "COPY":
            parts = shlex.split(rest)
            if any(p.startswith("--from=") for p in parts):
                src = parts[1:-1]
                if parts[0].split("=", 1)[1] not in stages:
                    problem(path, f"COPY {parts[0]} names no earlier stage")
                continue
            for src in parts[:-1]:
                if not os.path.exists(os.path.join(ROOT, src)):
                    problem(path, f"COPY source {src} does not exist in the repository")
        if word == "RUN":
            for script in re.findall(r"\b(scripts/[\w./-]+)", rest):
                if not os.path.exists(os.path.join(ROOT, script)):
                    problem(path, f"RUN uses {script}, which does not exist")
    # The pinned tools must be the versions scripts/setup.sh installs.
    setup = open(os.path.join(ROOT, "scripts", "setup.sh"), encoding="utf-8").read()
    pins = dict(re.findall(r"^([A-Z_]+_VERSION)=(\S+)$", setup, re.M))
    for name, value in re.findall(r"^ARG ([A-Z_]+_VERSION)=(\S+)$", text, re.M):
        if name not in pins:
            problem(path, f"ARG {name} is not a pin of scripts/setup.sh")
        elif pins[name] != value:
            problem(path, f"ARG {name}={value}, but scripts/setup.sh installs {pins[name]}")
    if entrypoint != ["refinery"]:
        problem(path, f'ENTRYPOINT is {entrypoint}, expected ["refinery"]')
    else:
        check_command(path, cmd or [], {}, binary, readme, commands)


def load_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        problem(path, f"is not valid YAML: {e}")
        return []


def env_names(env):
    if isinstance(env, dict):
        return list(env)
    if isinstance(env, list):
        return [e["name"] if isinstance(e, dict) else str(e).split("=", 1)[0] for e in env]
    return []


def check_compose(path, binary, readme, commands):
    docs = load_yaml(path)
    if len(docs) != 1 or not isinstance(docs[0].get("services"), dict):
        problem(path, "is not a compose file with services")
        return
    doc = docs[0]
    services = doc["services"]
    secrets = set((doc.get("secrets") or {}).keys())
    ran = 0
    for name, svc in services.items():
        where = f"{path} (service {name})"
        for dep in svc.get("depends_on") or []:
            if dep not in services:
                problems.append(f"{os.path.relpath(path, ROOT)}: service {name} depends on unknown service {dep}")
        for s in svc.get("secrets") or []:
            if (s if isinstance(s, str) else s.get("source")) not in secrets:
                problems.append(f"{os.path.relpath(path, ROOT)}: service {name} uses undeclared secret {s}")
        if svc.get("image") == IMAGE:
            command = svc.get("command")
            if isinstance(command, str):
                command = shlex.split(command)
            ran += 1
            check_command_at(path, name, command or ["serve"], env_names(svc.get("environment")), binary, readme, commands)
    if ran == 0:
        problem(path, f"no service runs {IMAGE}")


def check_command_at(path, name, argv, env, binary, readme, commands):
    before = len(problems)
    check_command(path, [str(a) for a in argv], env, binary, readme, commands)
    for i in range(before, len(problems)):
        problems[i] = problems[i].replace(": ", f" ({name}): ", 1)


def check_k8s(path, binary, readme, commands):
    for doc in load_yaml(path):
        for key in ("apiVersion", "kind", "metadata"):
            if key not in doc:
                problem(path, f"a document has no {key}")
        name = (doc.get("metadata") or {}).get("name")
        if not name:
            problem(path, f"a {doc.get('kind')} has no metadata.name")
        spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in spec.get("containers") or []:
            if c.get("image") != IMAGE:
                continue
            if c.get("command"):
                problem(path, f"{name}: overrides the image's entrypoint")
            check_command_at(path, f"{doc.get('kind')} {name}", c.get("args") or ["serve"], env_names(c.get("env")), binary, readme, commands)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", help="the refinery binary (default: REFINERY_BIN or the newest target/*/refinery)")
    args = parser.parse_args()
    binary = find_binary(args.bin)
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    commands = readme_commands(readme)
    if not {"serve", "worker"} <= commands:
        sys.exit(f"check-deploy: the README's command table lists {sorted(commands)}, without serve and worker")
    check_containerfile(os.path.join(DEPLOY, "Containerfile"), binary, readme, commands)
    check_compose(os.path.join(DEPLOY, "compose.yaml"), binary, readme, commands)
    k8s = os.path.join(DEPLOY, "k8s")
    files = sorted(f for f in os.listdir(k8s) if f.endswith((".yaml", ".yml")))
    if not files:
        problem(k8s, "has no manifests")
    for f in files:
        check_k8s(os.path.join(k8s, f), binary, readme, commands)
    for p in problems:
        print(f"check-deploy: {p}")
    checked = ", ".join(["Containerfile", "compose.yaml"] + [f"k8s/{f}" for f in files])
    if problems:
        print(f"check-deploy: {len(problems)} problem(s) in {checked}")
        return 1
    print(f"check-deploy: ok ({checked}; commands checked against {os.path.relpath(binary, ROOT) if binary.startswith(ROOT) else binary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
