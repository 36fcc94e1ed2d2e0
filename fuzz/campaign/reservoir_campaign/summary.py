"""summary.md and summary.json: per job the counters, then the bugs (by
triage's signature when the triage tool ran, else by the campaign's own
key), the plot and the time series, the corpus update and the history of
the run's rounds."""

import os
from pathlib import Path

ENGINE_NAMES = {"libfuzzer": "libFuzzer", "afl": "AFL++"}


def engine_name(s):
    name = ENGINE_NAMES[s["engine"]]
    if s.get("instance") not in (None, "default"):
        name += f" {s['instance']}"
    return name


def _link(path, run_dir):
    """A path relative to the run directory when it lies inside it."""
    try:
        return os.path.relpath(path, run_dir) if Path(path).resolve().is_relative_to(
            Path(run_dir).resolve()) else str(path)
    except (ValueError, OSError):
        return str(path)


def _job_state(s):
    if s["error"]:
        return f"FAILED: {s['error']}"
    if s["interrupted"]:
        return "interrupted"
    if s.get("stopped_by"):
        return f"stopped: {s['stopped_by']}"
    return "done"


def render_jobs(lines, summaries, args):
    lines.append("| target | engine | seconds | executions | exec/s | coverage | "
                 "corpus (new files) | crash files | bugs | first crash (s / execs) | "
                 "state |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in summaries:
        first = s.get("first_crash")
        first = f"{first['seconds']} / {first['executions']}" if first else "-"
        lines.append(
            f"| {s['target']} | {engine_name(s)} | {s['seconds']} | "
            f"{s['executions']} | {s['exec_per_second']} | "
            f"{s['coverage_edges']} | "
            f"{s['corpus_entries']} ({s['new_corpus_files']}) | "
            f"{s['crash_files']} | {s.get('bugs', 0)} | {first} | {_job_state(s)} |")
    if "afl" in args.engines:
        lines.append("")
        lines.append("coverage: libFuzzer's `cov` (covered edges); AFL++'s "
                     "`edges_found` (its map entries): not comparable across "
                     "engines. AFL++ corpus: queue entries (found by itself).")
    for s in summaries:
        if s.get("seed_crashes"):
            lines.append("")
            lines.append(f"{s['target']} ({engine_name(s)}): afl-fuzz skipped "
                         f"{len(s['seed_crashes'])} seed(s) that crash: "
                         + ", ".join(Path(p).name for p in s["seed_crashes"])
                         + ("; as every seed crashed, it started again from the "
                            "empty program" if s.get("from_empty") else ""))


def render_own_bugs(lines, records, round_no, run_dir):
    """The bugs by the campaign's own key (no triage tool)."""
    lines.append(f"## Bugs ({len(records)}, by first report line: class and "
                 "place, numbers stripped)")
    lines.append("")
    for record in records:
        known = record.get("round", 1) < round_no
        lines.append(f"### {record['key']}" + (" (known: found in round "
                                                f"{record['round']})" if known else ""))
        lines.append("")
        lines.append(f"    {record['first_line']}")
        if record.get("detail"):
            lines.append(f"    RESERVOIR DETAIL: {record['detail']}")
        lines.append("")
        lines.append(f"class {record['class']}; {record['crash_count']} crash "
                     f"file(s); targets: {', '.join(record['targets'])}; engines: "
                     f"{', '.join(ENGINE_NAMES[e] for e in record['engines'])}")
        lines.append(f"first found by {record['target']} ({ENGINE_NAMES[record['engine']]}) "
                     f"after {record['seconds']} s and about {record['executions']} "
                     "executions")
        lines.append(f"reproducer: {record['reproducer']}")
        lines.append(f"replay: {record['replay']}")
        lines.append("")


def render_triage(lines, triage, run_dir):
    """The bugs as triage grouped them (bugs.json, reservoir-triage-run/1)."""
    bugs = triage["bugs"]
    new = sum(1 for b in bugs if b["status"] == "new")
    lines.append(f"## Bugs ({len(bugs)} by triage signature: {new} new, "
                 f"{len(bugs) - new} known)")
    lines.append("")
    if bugs:
        lines.append("| signature | class | status | crashes | targets | engines | "
                     "reproduced | minimised (ops) | page |")
        lines.append("|---|---|---|---:|---|---|---:|---|---|")
    for bug in bugs:
        rate = bug.get("reproduction_rate")
        rate = f"{rate:.0%}" if isinstance(rate, (int, float)) else "-"
        ops = (f"{bug.get('ops_before', '?')} -> {bug.get('ops_after', '?')}"
               if bug.get("minimised") else "-")
        page = f"[html]({_link(bug['html'], run_dir)})" if bug.get("html") else "-"
        lines.append(
            f"| `{bug['signature']}` | {bug['class']} | {bug['status']}"
            + (" (fault-induced)" if bug.get("fault_induced") else "")
            + f" | {len(bug['crashes'])} | {', '.join(bug.get('targets', []))} | "
            f"{', '.join(bug.get('engines', []))} | {rate} | {ops} | {page} |")
    for bug in bugs:
        lines.append("")
        lines.append(f"### `{bug['signature']}` ({bug['status']})")
        lines.append("")
        if bug.get("first_line"):
            lines.append(f"    {bug['first_line']}")
            lines.append("")
        if bug.get("explanation"):
            lines.append(bug["explanation"])
            lines.append("")
        if bug.get("origin"):
            lines.append(f"origin: {bug['origin']}")
        if bug.get("minimised"):
            lines.append(f"minimised program: {_link(bug['minimised'], run_dir)}")
        if bug.get("html"):
            lines.append(f"report: [{_link(bug['html'], run_dir)}]"
                         f"({_link(bug['html'], run_dir)})")
        if bug.get("markdown"):
            lines.append(f"markdown: {_link(bug['markdown'], run_dir)}")
        if bug.get("alt_keys"):
            lines.append("also known as: " + ", ".join(f"`{k}`" for k in bug["alt_keys"]))
        shown = bug["crashes"][:5]
        lines.append("crashes: " + ", ".join(_link(c, run_dir) for c in shown)
                     + (f" and {len(bug['crashes']) - 5} more"
                        if len(bug["crashes"]) > 5 else ""))
    for name, title in (("unreproduced", "did not reproduce"),
                        ("no_crash", "replayed without a crash")):
        items = triage.get(name) or []
        if items:
            lines.append("")
            lines.append(f"{len(items)} crash file(s) {title}: "
                         + ", ".join(_link(str(i.get('crash', i)) if isinstance(i, dict)
                                           else str(i), run_dir) for i in items[:10])
                         + (" ..." if len(items) > 10 else ""))


def render_summary(report):
    """summary.md from the summary.json document."""
    run_dir = report["run_dir"]
    args = report["_args"]
    lines = []
    title = "Reservoir fuzzing campaign"
    if report["plant"]:
        title += f" (plant: {report['plant']})"
    adapter = report.get("adapter")
    if adapter:
        title += f" (adapter: {Path(adapter['path']).name}" + "".join(
            f" -D{d}" for d in adapter["defines"]) + (
            ", lockstep" if adapter["lockstep"] else "") + ")"
    lines.append(f"# {title}")
    lines.append("")
    lines.append(f"run directory: {run_dir}")
    lines.append(f"build: {', '.join(report['builds'].values())}; {args.time} s per "
                 "target" + (f", at most {args.runs} executions" if args.runs else "")
                 + (f", stop after {args.no_new_coverage} s without new coverage"
                    if args.no_new_coverage else "")
                 + (", no seed corpus" if args.no_seeds else "")
                 + (", stop at the first crash" if args.stop_on_first else
                    ", keeps going after crashes"))
    rounds = report["rounds"]
    if len(rounds) > 1:
        lines.append(f"round {len(rounds)} of this run (resumed); the counters "
                     "include the earlier rounds")
    lines.append("")
    render_jobs(lines, report["targets"], args)
    lines.append("")
    if report.get("plot"):
        lines.append(f"![coverage and bugs over time]({report['plot']})")
        lines.append("")
    lines.append(f"time series: [{report['timeseries']}]({report['timeseries']}) "
                 "(and timeseries.json)"
                 + ("" if report.get("plot") else
                    "; no plot: python3-matplotlib is not installed"))
    lines.append("")
    for s in report["targets"]:
        if s["error"]:
            lines.append(f"FAILED: {s['target']} ({engine_name(s)}): "
                         f"{s['error']} (log: {s['log']})")
    triage = report.get("triage") or {}
    if triage.get("error"):
        lines.append(f"triage: {triage['error']}; bugs below by the campaign's own key")
        lines.append("")
    if triage.get("bugs") is not None:
        render_triage(lines, triage["bugs"], run_dir)
        lines.append("")
    elif report["bugs"]:
        render_own_bugs(lines, report["bugs"], len(rounds), run_dir)
    if not report["bugs"] and not (triage.get("bugs") or {}).get("bugs"):
        lines.append("No findings.")
    update = report.get("corpus_update")
    if update is not None:
        lines.append("")
        lines.append("## Corpus update")
        lines.append("")
        for u in update:
            lines.append(f"- {u['target']} ({ENGINE_NAMES[u['engine']]}): "
                         + (f"FAILED: {u['error']}" if u["error"] else
                            f"{u['added']} new entries in {u['grown']}"))
    return "\n".join(lines) + "\n"
