"""report: per-bug pages (Markdown, self-contained HTML, JSON).

A bug page holds: the class, the signature and why it is what it is, the
first line and the detail of the report, the minimised program, a trace of
its operations with each zone's free pages against the min/low/high
watermarks and the strict reserve (a table, and in HTML an inline SVG
chart), the reserve nodes, the injected faults, every input and engine
that mapped to the bug, and the reproduction rate. The HTML page has its
CSS inline and loads nothing: it can be mailed or attached as it is.

`bug_data()` builds the JSON document; `render_markdown()` and
`render_html()` render it. The command `report` does this for one crash
file (usually a minimised program); `run` does it for every bug it finds.
"""
import html
import os
import sys

from . import replay as replay_mod
from . import trace as trace_mod
from .reproduce import add_replay_arguments, make_replayer, reproduce
from .util import TriageError, dump_json, fail, fresh_directory, \
    write_atomically

NAME = "report"
HELP = "write a bug page (Markdown, HTML, JSON) for one crash file"
SCHEMA = "reservoir-triage-bug/1"


def trace_program(replayer, text):
    """(steps, log) of `text` replayed with --trace."""
    import tempfile
    fd, path = tempfile.mkstemp(prefix="reservoir-triage-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        outcome = replayer.run(path, None, ["--trace"])
    finally:
        os.unlink(path)
    return [s.to_json() for s in trace_mod.parse_trace(outcome.log)], outcome


def bug_data(signature, record, minimised_text, steps, crashes,
             reproduction_rate, status=None, ops_before=None, ops_after=None,
             minimised_path=None, slipped=()):
    """The JSON document of one bug page.

    crashes: [{"path", "target", "engine"}] that mapped to the bug."""
    return {
        "schema": SCHEMA,
        "signature": signature.key,
        "alt_keys": list(signature.alt_keys),
        "explanation": signature.explanation,
        "class": record.crash_type,
        "origin": record.origin,
        "status": status,
        "first_line": record.title,
        "place": record.place,
        "detail": record.detail,
        "fault_induced": record.fault_induced,
        "faults": list(record.faults),
        "faults_injected": record.faults_injected,
        "fault_config": record.fault_config,
        "program_faults": record.program_faults,
        "failing_operation": record.operation,
        "failing_operation_index": record.operation_index,
        "frames": [f.to_json() for f in record.frames
                   if f.kind == "project"][:10],
        "minimised": minimised_path,
        "minimised_program": minimised_text,
        "ops_before": ops_before,
        "ops_after": ops_after,
        "trace": steps,
        "crashes": list(crashes),
        "targets": sorted({c["target"] for c in crashes if c.get("target")}),
        "engines": sorted({c["engine"] for c in crashes if c.get("engine")}),
        "reproduction_rate": reproduction_rate,
        "slipped": list(slipped),
    }


# ---------------------------------------------------------------------------
# Markdown

def _zone_cells(step):
    cells = []
    for z in step.get("zones", []):
        cells.append(f"{z.get('name')}: {z.get('free')} free "
                     f"(min {z.get('min')} / low {z.get('low')} / high "
                     f"{z.get('high')}, strict {z.get('strict')})")
    return "; ".join(cells)


def _reserve_cells(step):
    return "; ".join(f"#{r.get('index')} {r.get('usage')}/{r.get('limit')} B"
                     f", {r.get('pages')} p" for r in step.get("reserves", [])
                     if r.get("pages") or r.get("limit") or r.get("usage"))


def render_markdown(d):
    lines = [f"# {d['class']}: {d['place'] or ''}", ""]
    add = lines.append
    add(f"- **first line**: `{d['first_line']}`")
    if d.get("detail"):
        add(f"- **detail**: {d['detail']}")
    add(f"- **signature**: `{d['signature']}`"
        + (f" ({d['status']})" if d.get("status") else ""))
    add(f"- **why this signature**: {d['explanation']}")
    if d["alt_keys"]:
        add("- **older keys**: " + ", ".join(f"`{k}`" for k in d["alt_keys"]))
    add(f"- **origin**: {d['origin']}; **fault-induced**: "
        f"{'yes' if d['fault_induced'] else 'no'}")
    rate = d.get("reproduction_rate")
    if rate is not None:
        add(f"- **reproduction rate**: {rate:.0%}")
    if d.get("ops_before") is not None:
        add(f"- **minimised**: {d['ops_before']} -> {d['ops_after']} "
            "operations")
    if d.get("failing_operation"):
        add(f"- **failing operation**: `{d['failing_operation']}`")
    add("")
    add("## Minimised program")
    add("")
    add("```")
    lines.extend((d.get("minimised_program") or "").rstrip("\n").split("\n"))
    add("```")
    add("")
    if d["frames"]:
        add("## Project frames")
        add("")
        for f in d["frames"]:
            add(f"- `{f.get('function')}` {f.get('file') or ''}"
                f"{':' + str(f['line']) if f.get('line') else ''}")
        add("")
    add("## Injected faults")
    add("")
    if d["faults"] or d.get("fault_config") or d.get("program_faults"):
        if d.get("program_faults"):
            add(f"- program: `{d['program_faults']}`")
        if d.get("fault_config"):
            add(f"- injector: `{d['fault_config']}`")
        for f in d["faults"]:
            add(f"- `{f}`")
    else:
        add("None: the bug needs no injected fault.")
    add("")
    add("## Trace")
    add("")
    if d["trace"]:
        add("| # | operation | result | zones after it (pages) "
            "| reserves (usage/limit, pages) |")
        add("|---|---|---|---|---|")
        for s in d["trace"]:
            add(f"| {s['index']} | `{s['op']}` | {s['outcome']} | "
                f"{_zone_cells(s)} | {_reserve_cells(s)} |")
        if d.get("failing_operation"):
            add(f"| {d.get('failing_operation_index', '')} | "
                f"`{d['failing_operation']}` | **bug reported** | | |")
    else:
        add("(no trace: the replay printed no steps)")
    add("")
    add("## Inputs that mapped to this bug")
    add("")
    for c in d["crashes"]:
        add(f"- `{c['path']}` (target {c.get('target') or '-'}, engine "
            f"{c.get('engine') or '-'})")
    for s in d.get("slipped", []):
        add(f"- slipped while minimising: `{s['signature']}` "
            f"(`{s['path']}`)")
    add("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# HTML

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;
color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
code,pre{font:12.5px/1.4 ui-monospace,monospace;background:#f4f4f4}
pre{padding:.7em;overflow-x:auto;border:1px solid #ddd}
table{border-collapse:collapse;font-size:12.5px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;
vertical-align:top}
th{background:#eee}tr.bug td{background:#fdd}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}
dt{font-weight:600}dd{margin:0}
.legend span{margin-right:1.2em}
"""

SERIES = (("free", "#1f5fbf", ""), ("min", "#b02020", "4 3"),
          ("low", "#d08000", "4 3"), ("high", "#2a8a2a", "4 3"),
          ("strict", "#7a1fa0", "1 2"))


def svg_chart(steps, zone_name, width=640, height=180):
    """An inline SVG line chart of one zone across the steps: free pages
    and the min/low/high watermarks and the strict reserve."""
    points = {name: [] for name, _, _ in SERIES}
    for s in steps:
        for z in s.get("zones", []):
            if z.get("name") == zone_name:
                for name, _, _ in SERIES:
                    points[name].append(int(z.get(name, 0)))
    n = len(points["free"])
    if n == 0:
        return ""
    top = max(max(v) for v in points.values() if v) or 1
    pad = 30

    def xy(i, v):
        x = pad + (width - 2 * pad) * (i / max(n - 1, 1))
        y = height - pad - (height - 2 * pad) * (v / top)
        return f"{x:.1f},{y:.1f}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img" aria-label="zone '
             f'{html.escape(zone_name)}: free pages and watermarks">',
             f'<rect x="0" y="0" width="{width}" height="{height}" '
             'fill="#fff" stroke="#ccc"/>',
             f'<text x="{pad}" y="16" font-size="11">zone '
             f'{html.escape(zone_name)} (pages, max {top})</text>',
             f'<text x="{pad}" y="{height - 8}" font-size="10">step 0</text>',
             f'<text x="{width - pad - 40}" y="{height - 8}" font-size="10">'
             f'step {n - 1}</text>']
    for name, colour, dash in SERIES:
        values = points[name]
        path = " ".join(xy(i, v) for i, v in enumerate(values))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" '
                     f'stroke-width="1.6"{dash_attr} points="{path}"/>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(d):
    e = html.escape
    title = f"{d['class']}: {d['place'] or ''}"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{e(title)}</h1><dl>"]

    def row(name, value, code=False):
        if value is None or value == "":
            return
        value = e(str(value))
        out.append(f"<dt>{e(name)}</dt><dd>"
                   + (f"<code>{value}</code>" if code else value) + "</dd>")
    row("first line", d["first_line"], True)
    row("detail", d.get("detail"))
    row("signature", d["signature"] + (f" ({d['status']})"
                                       if d.get("status") else ""), True)
    row("why this signature", d["explanation"])
    if d["alt_keys"]:
        row("older keys", ", ".join(d["alt_keys"]), True)
    row("origin", d["origin"])
    row("fault-induced", "yes" if d["fault_induced"] else "no")
    if d.get("reproduction_rate") is not None:
        row("reproduction rate", f"{d['reproduction_rate']:.0%}")
    if d.get("ops_before") is not None:
        row("minimised", f"{d['ops_before']} -> {d['ops_after']} operations")
    row("failing operation", d.get("failing_operation"), True)
    out.append("</dl><h2>Minimised program</h2>")
    out.append(f"<pre>{e(d.get('minimised_program') or '')}</pre>")
    if d["frames"]:
        out.append("<h2>Project frames</h2><ul>")
        for f in d["frames"]:
            loc = (f.get("file") or "") + (f":{f['line']}" if f.get("line")
                                           else "")
            out.append(f"<li><code>{e(str(f.get('function')))}</code> "
                       f"{e(loc)}</li>")
        out.append("</ul>")
    out.append("<h2>Injected faults</h2>")
    faults = ([f"program: {d['program_faults']}"] if d.get("program_faults")
              else []) + ([f"injector: {d['fault_config']}"]
                          if d.get("fault_config") else []) + d["faults"]
    if faults:
        out.append("<ul>" + "".join(f"<li><code>{e(f)}</code></li>"
                                    for f in faults) + "</ul>")
    else:
        out.append("<p>None: the bug needs no injected fault.</p>")
    out.append("<h2>Trace</h2>")
    zones = []
    for s in d["trace"]:
        for z in s.get("zones", []):
            if z.get("name") not in zones:
                zones.append(z.get("name"))
    if zones:
        out.append('<p class="legend">' + "".join(
            f'<span style="color:{c}">&#9644; {n}</span>'
            for n, c, _ in SERIES) + "</p>")
        for zone in zones:
            out.append(svg_chart(d["trace"], zone))
    if d["trace"]:
        out.append("<table><tr><th>#</th><th>operation</th><th>result</th>"
                   "<th>zones after it (pages)</th>"
                   "<th>reserves (usage/limit bytes, pages)</th></tr>")
        for s in d["trace"]:
            out.append(f"<tr><td>{s['index']}</td><td><code>{e(s['op'])}"
                       f"</code></td><td>{e(s['outcome'])}</td><td>"
                       f"{e(_zone_cells(s))}</td><td>{e(_reserve_cells(s))}"
                       "</td></tr>")
        if d.get("failing_operation"):
            out.append(f'<tr class="bug"><td>'
                       f"{e(str(d.get('failing_operation_index', '')))}</td>"
                       f"<td><code>{e(d['failing_operation'])}</code></td>"
                       "<td><b>bug reported</b></td><td></td><td></td></tr>")
        out.append("</table>")
    else:
        out.append("<p>(no trace: the replay printed no steps)</p>")
    out.append("<h2>Inputs that mapped to this bug</h2><ul>")
    for c in d["crashes"]:
        out.append(f"<li><code>{e(c['path'])}</code> (target "
                   f"{e(str(c.get('target') or '-'))}, engine "
                   f"{e(str(c.get('engine') or '-'))})</li>")
    for s in d.get("slipped", []):
        out.append(f"<li>slipped while minimising: <code>"
                   f"{e(s['signature'])}</code> (<code>{e(s['path'])}</code>)"
                   "</li>")
    out.append("</ul></body></html>")
    return "\n".join(out) + "\n"


def write_pages(d, out_dir, stem):
    """bug.md / bug.html / bug.json as <stem>.md|.html|.json in out_dir;
    returns (markdown, html, json) paths."""
    paths = tuple(os.path.join(out_dir, f"{stem}.{ext}")
                  for ext in ("md", "html", "json"))
    write_atomically(paths[0], render_markdown(d))
    write_atomically(paths[1], render_html(d))
    write_atomically(paths[2], dump_json(d))
    return paths


def add_arguments(parser):
    parser.add_argument("crash", metavar="CRASH",
                        help="a crash file, usually a minimised program")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="fresh output directory for bug.md, bug.html, "
                             "bug.json")
    parser.add_argument("--runs", type=int, default=3, metavar="N",
                        help="replays for the reproduction rate")
    add_replay_arguments(parser)


def main(args):
    if not os.path.isfile(args.crash):
        fail(f"{args.crash}: no such file")
    if args.runs < 1:
        fail("--runs must be at least 1")
    replayer = make_replayer(args)
    rep = reproduce(replayer, args.crash, args.runs, args.target)
    if rep.outcome is None:
        fail(f"{args.crash}: does not crash on {replayer.build_dir}", 1)
    text, _ = replayer.print_program(args.crash, rep.target)
    steps, _ = trace_program(replayer, text)
    record = rep.outcome.record
    d = bug_data(rep.outcome.signature, record, text, steps,
                 [{"path": args.crash, "target": rep.target,
                   "engine": record.engine}], rep.rate)
    fresh_directory(args.out)
    paths = write_pages(d, args.out, "bug")
    for p in paths:
        print(p)
    print(f"reproduction: {rep.explain()}", file=sys.stderr)
    return 0
