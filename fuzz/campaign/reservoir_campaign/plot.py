"""The plot of coverage and bugs over time (progress.png in the run
directory), drawn headless with matplotlib's Agg backend from the time
series. It runs as its own process, under the first interpreter that has
matplotlib: this one, or Debian's /usr/bin/python3 (python3-matplotlib
installs there; a python3 earlier on PATH may not see it). Without
python3-matplotlib there is no plot, only the series.

  python3 plot.py TIMESERIES.json OUT.png TITLE
"""

import json
import os
import subprocess
import sys
from pathlib import Path

DEBIAN_PYTHON = "/usr/bin/python3"


def _has_matplotlib(python):
    try:
        return subprocess.run([python, "-c", "import matplotlib"],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


def interpreter():
    """An interpreter that can import matplotlib, or None."""
    for python in (sys.executable, DEBIAN_PYTHON):
        if python and os.path.exists(python) and _has_matplotlib(python):
            return python
    return None


def draw(series_json, path, title):
    """Draws `path` from the time series file; False when matplotlib is
    missing, there is nothing to draw or the drawing failed."""
    python = interpreter()
    if python is None:
        return False
    samples = json.loads(Path(series_json).read_text()).get("samples", [])
    if not samples:
        return False
    result = subprocess.run([python, __file__, str(series_json), str(path), title],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode != 0:
        sys.stderr.write(result.stderr.decode(errors="replace")[-2000:])
    return result.returncode == 0 and Path(path).exists()


def render(samples, path, title):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    seconds = [s["seconds"] for s in samples]
    figure = Figure(figsize=(8, 6), dpi=100)
    top, bottom = figure.subplots(2, 1, sharex=True,
                                  gridspec_kw={"height_ratios": [3, 2]})
    top.plot(seconds, [s["coverage"] for s in samples], color="tab:blue")
    top.set_ylabel("coverage (sum over workers)")
    top.set_title(title)
    bottom.step(seconds, [s["bugs"] for s in samples], where="post",
                color="tab:red", label="bugs (distinct keys)")
    bottom.set_ylabel("bugs", color="tab:red")
    bottom.set_ylim(bottom=0, top=max(1, max(s["bugs"] for s in samples)) + 0.5)
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    crashes = bottom.twinx()
    crashes.step(seconds, [s["crash_files"] for s in samples], where="post",
                 color="tab:orange", linestyle=":", label="crash files")
    crashes.set_ylabel("crash files", color="tab:orange")
    crashes.set_ylim(bottom=0)
    crashes.yaxis.set_major_locator(MaxNLocator(integer=True))
    lines = bottom.get_lines() + crashes.get_lines()
    bottom.legend(lines, [line.get_label() for line in lines], loc="upper left",
                  fontsize="small")
    bottom.set_xlabel("seconds")
    figure.tight_layout()
    temporary = f"{path}.tmp{os.getpid()}.png"
    figure.savefig(temporary, format="png")
    os.replace(temporary, path)


if __name__ == "__main__":
    series, out, title = sys.argv[1:4]
    render(json.loads(Path(series).read_text())["samples"], out, title)
