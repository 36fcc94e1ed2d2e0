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
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axis = figure.add_subplot(1, 1, 1)
    axis.plot(seconds, [s["coverage"] for s in samples], color="tab:blue",
              label="coverage (sum over workers)")
    axis.set_xlabel("seconds")
    axis.set_ylabel("coverage", color="tab:blue")
    bugs_axis = axis.twinx()
    bugs_axis.step(seconds, [s["bugs"] for s in samples], where="post",
                   color="tab:red", label="bugs (distinct keys)")
    bugs_axis.step(seconds, [s["crash_files"] for s in samples], where="post",
                   color="tab:orange", linestyle=":", label="crash files")
    bugs_axis.set_ylabel("bugs / crash files", color="tab:red")
    bugs_axis.set_ylim(bottom=0)
    bugs_axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    lines = axis.get_lines() + bugs_axis.get_lines()
    axis.legend(lines, [line.get_label() for line in lines], loc="lower right",
                fontsize="small")
    axis.set_title(title)
    figure.tight_layout()
    temporary = f"{path}.tmp{os.getpid()}.png"
    figure.savefig(temporary, format="png")
    os.replace(temporary, path)


if __name__ == "__main__":
    series, out, title = sys.argv[1:4]
    render(json.loads(Path(series).read_text())["samples"], out, title)
