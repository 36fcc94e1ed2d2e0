"""bench-bugs.json and bench-bugs.md from the cell records: per plant and
configuration, found/trials, the median and the range (min-max) of the
executions and seconds to exposure over the trials that found it, and the
class check (every finding of a plant's cells has its expected class)."""

import statistics

from ..targets import short_name
from .plants import CLEAN

SCHEMA = "reservoir-bench-bugs/1"


def summarise(records):
    """{(plant, config): aggregate} over the cell records."""
    groups = {}
    for r in records:
        groups.setdefault((r["plant"], r["config"]), []).append(r)
    out = {}
    for key, cells in groups.items():
        ran = [c for c in cells if c["status"] not in ("n/a", "skipped")]
        skipped = sum(1 for c in cells if c["status"] == "skipped")
        found = [c for c in ran if c.get("found")]
        agg = {"plant": key[0], "config": key[1], "trials": len(ran),
               "found": len(found),
               "applies": bool(ran),
               "skipped": skipped,
               "errors": sum(1 for c in ran if c["status"] == "error"),
               "class_matches": sum(1 for c in found if c.get("class_matches")),
               "classes": sorted({c.get("class") or "?" for c in found}),
               "signatures": sorted({c.get("signature") or "?" for c in found})}
        for field in ("executions", "seconds"):
            values = sorted(c[field] for c in found if c.get(field) is not None)
            agg[field] = ({"median": statistics.median(values),
                           "min": values[0], "max": values[-1]}
                          if values else None)
        budgets = {c.get("budget_seconds") for c in ran}
        agg["budget_seconds"] = max(b for b in budgets if b is not None) \
            if any(b is not None for b in budgets) else None
        out[key] = agg
    return out


def compact(n):
    if n is None:
        return "-"
    if isinstance(n, float) and n < 100:
        return f"{n:.2g}" if n < 10 else f"{n:.0f}"
    n = float(n)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def cell_text(agg, field):
    if agg is None or not agg["applies"]:
        return "n/a"
    head = f"{agg['found']}/{agg['trials']}"
    if agg.get("skipped"):
        head += f" (+{agg['skipped']} skipped)"
    if agg["plant"] != CLEAN and agg["found"] and \
            agg["class_matches"] != agg["found"]:
        head += " (class: " + ",".join(agg["classes"]) + ")"
    values = agg[field]
    if not values:
        return head
    unit = " s" if field == "seconds" else ""
    spread = "" if values["min"] == values["max"] else \
        f" ({compact(values['min'])}-{compact(values['max'])})"
    return f"{head}: {compact(values['median'])}{unit}{spread}"


def best_config(aggs, plant, configs):
    """The configuration that found the plant in the most trials, then
    with the fewest median executions."""
    best = None
    for config in configs:
        agg = aggs.get((plant, config))
        if not agg or not agg["found"]:
            continue
        rank = (-agg["found"] / agg["trials"],
                agg["executions"]["median"] if agg["executions"] else 0)
        if best is None or rank < best[0]:
            best = (rank, config)
    return best[1] if best else None


def render_markdown(meta, plants, configs, aggs):
    lines = [f"# Bug benchmark: {meta['run_dir_name']}", ""]
    lines.append(f"Budget {meta['budget']} s per cell"
                 + (f", at most {meta['max_execs']} executions" if meta["max_execs"] else "")
                 + f", {meta['trials']} trial(s) (trial = engine seed), "
                 f"jobs {meta['jobs']}. Each cell: found/trials, then the "
                 "median (min-max) over the trials that found the plant; "
                 "`+k skipped`: trials not run because the first ones all ran "
                 "out of budget (--give-up-after); "
                 "`n/a`: the configuration does not apply to the plant's "
                 "target; `(class: ...)` flags findings of another class "
                 "than the trigger's `# expect:` line.")
    lines.append("")
    header = "| plant (target, expected class) | " + " | ".join(configs) + " |"
    rule = "|---|" + "---|" * len(configs)
    for field, title in (("executions", "Executions to exposure"),
                         ("seconds", "Seconds to exposure (wall time, noisy)")):
        lines += [f"## {title}", "", header, rule]
        shown = set()
        for plant in plants:
            if plant.id in shown:
                continue   # the clean pseudo-plant: one row, every target
            shown.add(plant.id)
            if plant.id == CLEAN:
                targets = ", ".join(short_name(p.target) for p in plants
                                    if p.id == CLEAN)
                label = f"`clean` (the correct build on {targets}; must find nothing)"
            else:
                label = f"`{plant.id}` ({short_name(plant.target)}, " \
                        f"{plant.expect_class})"
            cells = [cell_text(aggs.get((plant.id, c)), field) for c in configs]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Best configuration per plant", "",
              "| plant | best configuration | found/trials | median executions | median seconds |",
              "|---|---|---|---|---|"]
    for plant in plants:
        if plant.id == CLEAN:
            continue
        best = best_config(aggs, plant.id, configs)
        if best is None:
            lines.append(f"| `{plant.id}` | not found within budget | | | |")
            continue
        agg = aggs[(plant.id, best)]
        lines.append(f"| `{plant.id}` | {best} | {agg['found']}/{agg['trials']} | "
                     f"{compact(agg['executions']['median'])} | "
                     f"{compact(agg['seconds']['median'])} |")
    lines.append("")
    clean = [a for (p, _), a in aggs.items() if p == CLEAN]
    if clean:
        findings = sum(a["found"] for a in clean)
        lines.append(f"False positives (the `clean` rows, the correct build): "
                     f"{findings} finding(s) in {sum(a['trials'] for a in clean)} cells"
                     + ("." if not findings else
                        ": each one is a bug of the model or the oracle (see bench-bugs.json)."))
        lines.append("")
    if meta.get("plots"):
        lines.append("Survival plots: " + ", ".join(
            f"[{name}]({name})" for name in meta["plots"]))
        lines.append("")
    return "\n".join(lines)


def document(meta, plants, configs, records, aggs):
    return {"schema": SCHEMA, **meta,
            "plants": [p.as_json() for p in plants],
            "configs": configs,
            "summary": [aggs[k] for k in sorted(aggs)],
            "cells": records}
