"""The combined status line of every worker, and the time series behind
the plot (timeseries.csv and timeseries.json in the run directory)."""

import csv
import io
import json
from pathlib import Path

from .common import write_atomically

FIELDS = ["seconds", "executions", "exec_per_second", "coverage", "corpus",
          "crash_files", "bugs"]


def human(n):
    n = float(n)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def totals(runs):
    """What every started worker adds up to: executions (this run and
    earlier rounds), exec/s of the running ones, coverage and corpus
    (libFuzzer's cov and corp, AFL++'s edges_found and corpus_count: summed
    over workers, a measure of progress, not of distinct edges)."""
    started = [r for r in runs if r.started is not None]
    return {
        "executions": sum(r.total_execs for r in runs),
        "exec_per_second": sum(r.exec_per_sec for r in started if r.running()),
        "coverage": sum(r.cov for r in started),
        "corpus": sum(r.corpus_size for r in started),
        "running": sum(1 for r in started if r.running()),
        "workers": len(runs),
    }


def status_line(runs, elapsed, store, width=None):
    t = totals(runs)
    crashes = len(store.crashes)
    records = store.records()
    bugs = f"bugs {len(records)}"
    if records:
        bugs += ": " + ", ".join(
            f"{r['key'][:48]} x{r['crash_count']}" for r in records)
    line = (f"[{elapsed:6.0f}s] {t['running']}/{t['workers']} running | "
            f"{human(t['executions'])} execs {human(t['exec_per_second'])}/s | "
            f"cov {t['coverage']} | corp {t['corpus']} | crashes {crashes} | "
            f"{bugs}")
    if width and len(line) > width:
        line = line[:width - 1]
    return line


class TimeSeries:
    """One sample per second or so; a resumed run continues the series of
    the earlier rounds (seconds go on from where they stopped)."""

    def __init__(self, run_dir):
        self.csv_path = Path(run_dir) / "timeseries.csv"
        self.json_path = Path(run_dir) / "timeseries.json"
        self.samples = []
        if self.json_path.exists():
            self.samples = json.loads(self.json_path.read_text()).get("samples", [])
        self.offset = self.samples[-1]["seconds"] if self.samples else 0.0
        self.round_start_index = len(self.samples)

    def sample(self, runs, elapsed, store):
        t = totals(runs)
        self.samples.append({
            "seconds": round(self.offset + elapsed, 2),
            "executions": t["executions"],
            "exec_per_second": t["exec_per_second"],
            "coverage": t["coverage"],
            "corpus": t["corpus"],
            "crash_files": len(store.crashes),
            "bugs": len(store.records()),
        })

    def write(self):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for sample in self.samples:
            writer.writerow(sample)
        write_atomically(self.csv_path, out.getvalue())
        write_atomically(self.json_path, json.dumps(
            {"schema": "reservoir-campaign-timeseries/1", "fields": FIELDS,
             "samples": self.samples}, indent=1) + "\n")
