"""The hand-off to the triage tool (triage/reservoir-triage, when the
repository has it): at the end of a run it reproduces, deduplicates and
minimises the run's crashes into <run>/triage/ (a resumed run's later
rounds: triage.<n>/), against a store of known bugs, and its bugs.json
(schema reservoir-triage-run/1) is what the summary renders."""

import json
import subprocess
import sys
from pathlib import Path

SCHEMA = "reservoir-triage-run/1"
DEFAULT_STORE = Path("build") / "triage" / "findings.json"
BUG_FIELDS = ("signature", "alt_keys", "class", "origin", "status",
              "fault_induced", "crashes", "targets", "engines",
              "reproduction_rate", "minimised", "ops_before", "ops_after",
              "html", "markdown", "first_line", "explanation")


def triage_tool(root):
    tool = Path(root) / "triage" / "reservoir-triage"
    return tool if tool.is_file() else None


def triage_out_dir(run_dir, round_no):
    return Path(run_dir) / ("triage" if round_no == 1 else f"triage.{round_no}")


def load_bugs(path):
    """bugs.json, checked against the schema; raises ValueError."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a {SCHEMA} document")
    bugs = data.get("bugs")
    if not isinstance(bugs, list):
        raise ValueError(f"{path}: 'bugs' is not a list")
    for index, bug in enumerate(bugs):
        missing = [f for f in ("signature", "class", "status", "crashes")
                   if f not in bug]
        if missing:
            raise ValueError(f"{path}: bug {index} lacks {', '.join(missing)}")
        if bug["status"] not in ("new", "known"):
            raise ValueError(f"{path}: bug {index} has status {bug['status']!r}")
    data.setdefault("unreproduced", [])
    data.setdefault("no_crash", [])
    return data


def run_triage(root, run_dir, store, round_no, log, build_dir=None, env=None):
    """Runs the triage tool on the crashes of `run_dir`, replaying them on
    `build_dir` (the build the campaign fuzzed, planted or not) in `env`
    (which names the plant of a runtime-plant build); returns
    (bugs.json data or None, a one-line problem or None, the output
    directory)."""
    tool = triage_tool(root)
    out = triage_out_dir(run_dir, round_no)
    command = [sys.executable, str(tool), "run", str(run_dir),
               "--store", str(store), "--out", str(out)]
    if build_dir is not None:
        command += ["--build", str(build_dir)]
    with open(log, "w") as output:
        output.write("# " + " ".join(command) + "\n")
        output.flush()
        status = subprocess.call(command, cwd=root, stdout=output,
                                 stderr=subprocess.STDOUT, env=env)
    bugs = out / "bugs.json"
    if not bugs.exists():
        return None, f"triage exited with status {status} and wrote no " \
                     f"bugs.json (log: {log})", out
    try:
        return load_bugs(bugs), None, out
    except (ValueError, json.JSONDecodeError) as error:
        return None, f"triage's bugs.json is unreadable: {error}", out
