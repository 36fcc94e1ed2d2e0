"""The survival plot of one configuration: for each plant, the fraction of
its trials in which it is still unfound after t seconds (a step that
drops at each trial's time to exposure, and stays at the fraction never
found up to the budget). Drawn by Debian's matplotlib (Agg backend) in a
process of its own, under the first interpreter that has it (the
campaign's plot module finds it).

  python3 survival.py DATA.json OUT.png"""

import json
import subprocess
import sys
from pathlib import Path


def draw(data, path):
    """Writes the plot of `data` ({"title", "budget", "plants": {id:
    {"times": [...], "trials": n}}}) to `path`; False without
    matplotlib or data."""
    from ..plot import interpreter
    python = interpreter()
    if python is None or not data["plants"]:
        return False
    data_path = Path(path).with_suffix(".json")
    data_path.write_text(json.dumps(data))
    for _ in range(2):   # once more if it failed (seen once, under load)
        result = subprocess.run([python, __file__, str(data_path), str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if result.returncode == 0 and Path(path).exists():
            return True
    from ..common import say
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    say(f"no {Path(path).name}: {lines[-1] if lines else 'the plot failed'}")
    return False


def _plot(data_path, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    data = json.loads(Path(data_path).read_text())
    budget = max(float(data["budget"]), 1e-3)
    figure, axes = plt.subplots(figsize=(8, 4.8), dpi=100)
    floor = 1e-2
    colours = plt.get_cmap("tab20").colors
    styles = ("-", "--", ":", "-.")
    for index, (plant, entry) in enumerate(sorted(data["plants"].items())):
        trials = entry["trials"]
        times = sorted(max(t, floor) for t in entry["times"])
        xs, ys = [floor], [1.0]
        alive = trials
        for t in times:
            xs.append(t)
            ys.append(alive / trials)
            alive -= 1
            xs.append(t)
            ys.append(alive / trials)
        xs.append(budget)
        ys.append(alive / trials)
        axes.plot(xs, ys, label=plant, linewidth=1.6,
                  color=colours[(2 * index) % 20 + (index // 10) % 2],
                  linestyle=styles[index % len(styles)])
    axes.set_xscale("log")
    axes.set_xlim(floor, budget)
    axes.set_ylim(-0.03, 1.03)
    axes.set_xlabel("seconds (wall time, log scale)")
    axes.set_ylabel("fraction of trials still unfound")
    axes.set_title(data["title"])
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    temporary = Path(out).with_name("." + Path(out).name + ".tmp.png")
    figure.savefig(temporary)
    temporary.replace(out)


if __name__ == "__main__":
    _plot(sys.argv[1], sys.argv[2])
