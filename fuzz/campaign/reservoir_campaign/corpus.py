"""--update-corpus: give what a run found back to the repository's corpus
with the engines' own merge, minimised, never deleting or rewriting a seed.

For each target the existing corpus (the build's compiled seeds and
corpus/<target>/grown/) is copied into a fresh directory; libFuzzer's
-merge=1 adds to it the run's entries that bring new features (AFL++:
afl-cmin over the existing entries and the run's queue keeps a minimal
set); the entries that are new are written into corpus/<target>/grown/,
named by the SHA-1 of their content, as binary inputs of that target.
Existing files are never touched."""

import hashlib
import shutil
import subprocess
from pathlib import Path

from .common import write_new_file

GROWN = "grown"


def _files(directory):
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith("."))


def _existing_entries(seeds, grown):
    return _files(seeds) + _files(grown)


def _store_new(paths, grown):
    grown.mkdir(parents=True, exist_ok=True)
    added = []
    for path in paths:
        data = path.read_bytes()
        name = hashlib.sha1(data).hexdigest()
        if write_new_file(grown / name, data):
            added.append(name)
    return added


def merge_libfuzzer(binary, seeds, run_corpora, grown, work, log):
    """libFuzzer -merge=1 into a fresh directory that starts with the
    existing entries; returns the names added to `grown`."""
    merged = work / "merged"
    merged.mkdir(parents=True)
    before = set()
    for index, path in enumerate(_existing_entries(seeds, grown)):
        name = f"existing-{index:06d}-{path.name}"
        shutil.copyfile(path, merged / name)
        before.add(name)
    inputs = [str(d) for d in run_corpora if Path(d).is_dir()]
    if not inputs:
        return []
    command = [str(binary), "-merge=1", f"-merge_control_file={work / 'merge.control'}",
               str(merged), *inputs]
    with open(log, "w") as out:
        out.write("# " + " ".join(command) + "\n")
        out.flush()
        status = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
    if status != 0:
        raise RuntimeError(f"libFuzzer merge exited with status {status} (log: {log})")
    new = [p for p in _files(merged) if p.name not in before]
    return _store_new(new, grown)


def merge_afl(binary, seeds, queues, grown, work, log, env):
    """afl-cmin over the existing entries and the run's queues; the kept
    entries that came from the run are added to `grown`."""
    inputs = work / "inputs"
    inputs.mkdir(parents=True)
    for index, path in enumerate(_existing_entries(seeds, grown)):
        shutil.copyfile(path, inputs / f"existing-{index:06d}")
    count = 0
    for queue in queues:
        for path in _files(queue):
            shutil.copyfile(path, inputs / f"new-{count:06d}")
            count += 1
    if not count:
        return []
    output = work / "minimised"
    command = ["afl-cmin", "-i", str(inputs), "-o", str(output), "--", str(binary)]
    run_env = dict(env)
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        run_env.pop(name, None)
    # afl-cmin refuses to work under /tmp (shared, world-writable) unless
    # told; the work directory is the run's own.
    run_env.setdefault("AFL_ALLOW_TMP", "1")
    with open(log, "w") as out:
        out.write("# " + " ".join(command) + "\n")
        out.flush()
        status = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT,
                                 env=run_env)
    if status != 0:
        raise RuntimeError(f"afl-cmin exited with status {status} (log: {log})")
    new = [p for p in _files(output) if p.name.startswith("new-")]
    return _store_new(new, grown)


def update_corpus(runs, corpus_root, run_dir, env):
    """Merges every target's run corpus back; returns a list of
    {target, engine, added, grown, error} records."""
    results = []
    work_root = Path(run_dir) / "corpus-update"
    n = 1
    while work_root.exists():
        n += 1
        work_root = Path(run_dir) / f"corpus-update.{n}"
    done = set()
    for run in runs:
        key = (run.target, run.engine)
        if key in done or run.started is None:
            continue
        done.add(key)
        grown = Path(corpus_root) / run.target / GROWN
        work = work_root / f"{run.target}-{run.engine}"
        work.mkdir(parents=True)
        log = work / "merge.log"
        try:
            if run.engine == "libfuzzer":
                added = merge_libfuzzer(run.binary, run.seeds, run.corpus_dirs(),
                                        grown, work, log)
            else:
                queues = [r.dir / "queue" for r in runs
                          if r.target == run.target and r.engine == "afl"]
                added = merge_afl(run.binary, run.seeds, queues, grown, work,
                                  log, env)
            results.append({"target": run.target, "engine": run.engine,
                            "added": len(added), "grown": str(grown),
                            "error": None})
        except (RuntimeError, OSError) as error:
            results.append({"target": run.target, "engine": run.engine,
                            "added": 0, "grown": str(grown), "error": str(error)})
    return results
