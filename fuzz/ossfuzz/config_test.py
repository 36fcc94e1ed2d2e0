#!/usr/bin/env python3
"""Checks the ClusterFuzzLite / OSS-Fuzz files that cannot run here
(docs/CONTINUOUS.md): the GitHub Actions workflows under .github/workflows/,
.clusterfuzzlite/{project.yaml,Dockerfile,build.sh} and the OSS-Fuzz
project directory .clusterfuzzlite/oss-fuzz/projects/reservoir/.

  config_test.py [--root DIR]         check the committed files (exit 1 on a problem)
  config_test.py --self-test          also prove each check can fail: every
                                      mutation of a valid file must be rejected
                                      with the reason the check names

What is checked is what OSSFUZZ.md's ClusterFuzzLite section names: the
build_fuzzers@v1 and run_fuzzers@v1 actions, language c++, the modes
(code-change on pull_request with fuzz-seconds 600 and output-sarif true and
the SARIF uploaded by github/codeql-action/upload-sarif; batch on a schedule
for 3600 s; prune and coverage (sanitizer coverage) on a cron), the storage
repository and branches on every run, and the project.yaml fields.
"""

import argparse
import copy
import re
import sys
from pathlib import Path

import yaml  # Debian's python3-yaml

BUILD = "google/clusterfuzzlite/actions/build_fuzzers@v1"
RUN = "google/clusterfuzzlite/actions/run_fuzzers@v1"
SARIF = re.compile(r"^github/codeql-action/upload-sarif@v\d+$")
CRON = re.compile(r"^(\S+\s+){4}\S+$")


class Problem(Exception):
    pass


def need(condition, message):
    if not condition:
        raise Problem(message)


def triggers(workflow):
    # YAML 1.1 reads a bare `on` key as the boolean true.
    on = workflow.get("on", workflow.get(True))
    need(on is not None, "no 'on:' triggers")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {name: None for name in on}
    return on


def steps_of(job):
    steps = job.get("steps") or []
    builds = [s for s in steps if s.get("uses") == BUILD]
    runs = [s for s in steps if s.get("uses") == RUN]
    return steps, builds, runs


def check_schedule(on, name):
    need("schedule" in on, f"{name}: not on a schedule")
    crons = [entry.get("cron", "") for entry in on["schedule"] or []]
    need(crons and all(CRON.match(c) for c in crons), f"{name}: schedule without a valid cron")


def check_job(job, job_name):
    """Every fuzzing job: one build and one run step, same sanitizer,
    language c++, a token, and the storage repository with its branches."""
    steps, builds, runs = steps_of(job)
    need(len(builds) == 1, f"{job_name}: expected one {BUILD} step")
    need(len(runs) == 1, f"{job_name}: expected one {RUN} step")
    build, run = builds[0]["with"] or {}, runs[0]["with"] or {}
    need(steps.index(builds[0]) < steps.index(runs[0]), f"{job_name}: run_fuzzers before build_fuzzers")
    need(build.get("language") == "c++", f"{job_name}: build_fuzzers language is not c++")
    for step, inputs in (("build_fuzzers", build), ("run_fuzzers", run)):
        need("github-token" in inputs, f"{job_name}: {step} has no github-token")
        need(str(inputs.get("storage-repo", "")).startswith("https://"),
             f"{job_name}: {step} has no storage-repo")
        need(inputs.get("storage-repo-branch"), f"{job_name}: {step} has no storage-repo-branch")
        need(inputs.get("storage-repo-branch-coverage"),
             f"{job_name}: {step} has no storage-repo-branch-coverage")
    need(build.get("sanitizer") == run.get("sanitizer"),
         f"{job_name}: build and run use different sanitizers")
    need(isinstance(run.get("fuzz-seconds"), int), f"{job_name}: fuzz-seconds is not a number")
    return steps, build, run


def sanitizers_of(job, build):
    value = build.get("sanitizer")
    if isinstance(value, str) and "matrix.sanitizer" in value:
        return set(job.get("strategy", {}).get("matrix", {}).get("sanitizer", []))
    return {value}


def check_workflows(workflows):
    """workflows: {file name: parsed YAML}. Raises Problem."""
    modes = {}
    for name, workflow in sorted(workflows.items()):
        need(isinstance(workflow, dict) and workflow.get("jobs"), f"{name}: no jobs")
        on = triggers(workflow)
        for job_name, job in workflow["jobs"].items():
            steps, build, run = check_job(job, f"{name}:{job_name}")
            mode = run.get("mode")
            modes.setdefault(mode, []).append((name, on, job, steps, build, run))

    need("code-change" in modes, "no workflow runs mode code-change")
    for name, on, job, steps, build, run in modes["code-change"]:
        need("pull_request" in on, f"{name}: code-change is not on pull_request")
        need(run.get("fuzz-seconds") == 600, f"{name}: code-change fuzz-seconds is not 600")
        need(run.get("output-sarif") is True, f"{name}: code-change without output-sarif: true")
        uploads = [s for s in steps if SARIF.match(str(s.get("uses", "")))]
        need(uploads, f"{name}: the SARIF is not uploaded (github/codeql-action/upload-sarif)")
        upload = uploads[0]
        need(steps.index(upload) > steps.index(next(s for s in steps if s.get("uses") == RUN)),
             f"{name}: upload-sarif runs before run_fuzzers")
        need("always()" in str(upload.get("if", "")), f"{name}: upload-sarif not under if: always()")
        need(str((upload.get("with") or {}).get("sarif_file", "")).endswith(".sarif"),
             f"{name}: upload-sarif has no sarif_file")
        permissions = job.get("permissions") or workflow_permissions(workflows[name])
        need(isinstance(permissions, dict) and permissions.get("security-events") == "write",
             f"{name}: no security-events: write permission for the SARIF upload")
        need({"address", "undefined", "memory"} <= sanitizers_of(job, build),
             f"{name}: code-change does not cover address, undefined and memory")

    need("batch" in modes, "no workflow runs mode batch")
    for name, on, job, steps, build, run in modes["batch"]:
        check_schedule(on, name)
        need(run.get("fuzz-seconds") == 3600, f"{name}: batch fuzz-seconds is not 3600")
        need(build.get("upload-build") is True, f"{name}: batch does not upload its build")

    need("prune" in modes, "no workflow runs mode prune")
    for name, on, job, steps, build, run in modes["prune"]:
        check_schedule(on, name)

    need("coverage" in modes, "no workflow runs mode coverage")
    for name, on, job, steps, build, run in modes["coverage"]:
        check_schedule(on, name)
        need(build.get("sanitizer") == "coverage", f"{name}: coverage mode without sanitizer: coverage")

    unknown = set(modes) - {"code-change", "batch", "prune", "coverage"}
    need(not unknown, f"unknown run_fuzzers mode(s): {', '.join(map(str, unknown))}")


def workflow_permissions(workflow):
    return workflow.get("permissions")


def check_cflite_project(project):
    need(isinstance(project, dict) and project.get("language") == "c++",
         ".clusterfuzzlite/project.yaml: language is not c++")


def check_ossfuzz_project(project):
    where = "oss-fuzz project.yaml"
    need(isinstance(project, dict), f"{where}: not a mapping")
    need(project.get("language") == "c++", f"{where}: language is not c++")
    for field in ("homepage", "main_repo"):
        need(str(project.get(field, "")).startswith("https://"), f"{where}: no {field} URL")
    need(re.match(r"^[^@\s]+@[^@\s]+\.[a-z]+$", str(project.get("primary_contact", ""))),
         f"{where}: no primary_contact e-mail")
    need({"address", "undefined", "memory"} <= set(project.get("sanitizers") or []),
         f"{where}: sanitizers must list address, undefined and memory")
    need({"libfuzzer", "afl"} <= set(project.get("fuzzing_engines") or []),
         f"{where}: fuzzing_engines must list libfuzzer and afl")


def check_dockerfile(text, where, copies_checkout):
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    need(lines and lines[0] == "FROM gcr.io/oss-fuzz-base/base-builder:v1",
         f"{where}: does not start FROM gcr.io/oss-fuzz-base/base-builder:v1")
    need(any(re.match(r"^RUN git clone .*abseil-cpp.* \$SRC/abseil-cpp$", l) for l in lines),
         f"{where}: does not fetch Abseil into $SRC/abseil-cpp")
    if copies_checkout:
        need("COPY . $SRC/reservoir" in lines, f"{where}: does not COPY . $SRC/reservoir")
        need("COPY .clusterfuzzlite/build.sh $SRC/" in lines,
             f"{where}: does not COPY .clusterfuzzlite/build.sh $SRC/")
    else:
        need(any(re.match(r"^RUN git clone .* \$SRC/reservoir$", l) for l in lines),
             f"{where}: does not clone the project into $SRC/reservoir")
        need("COPY build.sh $SRC/" in lines, f"{where}: does not COPY build.sh $SRC/")
    need("WORKDIR $SRC/reservoir" in lines, f"{where}: WORKDIR is not $SRC/reservoir")


def check_wrapper(text):
    """The OSS-Fuzz build.sh runs the repository's: one file, no drift."""
    body = [l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")]
    need(body == ['exec bash -eux "$SRC/reservoir/.clusterfuzzlite/build.sh"'],
         "oss-fuzz build.sh does not just run $SRC/reservoir/.clusterfuzzlite/build.sh")


def load(root):
    workflows = {p.name: yaml.safe_load(p.read_text())
                 for p in sorted((root / ".github" / "workflows").glob("*.yml"))}
    cfl = root / ".clusterfuzzlite"
    oss = cfl / "oss-fuzz" / "projects" / "reservoir"
    return {
        "workflows": workflows,
        "cflite_project": yaml.safe_load((cfl / "project.yaml").read_text()),
        "ossfuzz_project": yaml.safe_load((oss / "project.yaml").read_text()),
        "cflite_dockerfile": (cfl / "Dockerfile").read_text(),
        "ossfuzz_dockerfile": (oss / "Dockerfile").read_text(),
        "wrapper": (oss / "build.sh").read_text(),
        "build_sh": (cfl / "build.sh").read_text(),
    }


def check_all(files):
    check_workflows(files["workflows"])
    check_cflite_project(files["cflite_project"])
    check_ossfuzz_project(files["ossfuzz_project"])
    check_dockerfile(files["cflite_dockerfile"], ".clusterfuzzlite/Dockerfile", True)
    check_dockerfile(files["ossfuzz_dockerfile"], "oss-fuzz Dockerfile", False)
    check_wrapper(files["wrapper"])
    need(files["build_sh"].startswith("#!/bin/bash -eu\n"), "build.sh does not start #!/bin/bash -eu")


def job_with_mode(files, mode):
    for name, workflow in files["workflows"].items():
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if step.get("uses") == RUN and step["with"].get("mode") == mode:
                    return name, workflow, job, step
    raise KeyError(mode)


def mutations():
    """(description, function that breaks a copy, expected words of the reason)."""
    def pr(files):
        return job_with_mode(files, "code-change")

    def m_sarif_off(f):
        pr(f)[3]["with"]["output-sarif"] = False

    def m_seconds(f):
        pr(f)[3]["with"]["fuzz-seconds"] = 300

    def m_no_upload(f):
        job = pr(f)[2]
        job["steps"] = [s for s in job["steps"] if not SARIF.match(str(s.get("uses", "")))]

    def m_push(f):
        workflow = pr(f)[1]
        workflow.pop(True, None)
        workflow["on"] = {"push": None}

    def m_batch_seconds(f):
        job_with_mode(f, "batch")[3]["with"]["fuzz-seconds"] = 60

    def m_no_prune(f):
        _, workflow, job, _ = job_with_mode(f, "prune")
        workflow["jobs"] = {k: v for k, v in workflow["jobs"].items() if v is not job}

    def m_coverage_sanitizer(f):
        _, _, job, _ = job_with_mode(f, "coverage")
        next(s for s in job["steps"] if s.get("uses") == BUILD)["with"]["sanitizer"] = "address"

    def m_storage(f):
        job_with_mode(f, "batch")[3]["with"].pop("storage-repo")

    def m_action_version(f):
        step = job_with_mode(f, "prune")[3]
        step["uses"] = "google/clusterfuzzlite/actions/run_fuzzers@main"

    def m_engines(f):
        f["ossfuzz_project"]["fuzzing_engines"] = ["libfuzzer"]

    def m_sanitizers(f):
        f["ossfuzz_project"]["sanitizers"] = ["address", "undefined"]

    def m_language(f):
        f["cflite_project"]["language"] = "c"

    def m_wrapper(f):
        f["wrapper"] = "#!/bin/bash -eu\ncmake -S . -B $WORK/b\n"

    def m_dockerfile(f):
        f["cflite_dockerfile"] = f["cflite_dockerfile"].replace("COPY .clusterfuzzlite/build.sh $SRC/", "")

    return [
        ("output-sarif off", m_sarif_off, "output-sarif"),
        ("PR fuzzing for 300 s", m_seconds, "fuzz-seconds is not 600"),
        ("no SARIF upload", m_no_upload, "SARIF is not uploaded"),
        ("code-change on push", m_push, "not on pull_request"),
        ("batch for 60 s", m_batch_seconds, "batch fuzz-seconds"),
        ("no prune job", m_no_prune, "mode prune"),
        ("coverage built with address", m_coverage_sanitizer, "different sanitizers"),
        ("batch without storage-repo", m_storage, "storage-repo"),
        ("run_fuzzers@main", m_action_version, "expected one"),
        ("OSS-Fuzz without afl", m_engines, "fuzzing_engines"),
        ("OSS-Fuzz without memory", m_sanitizers, "sanitizers"),
        ("ClusterFuzzLite language c", m_language, "language is not c++"),
        ("a second build.sh", m_wrapper, "does not just run"),
        ("Dockerfile without build.sh", m_dockerfile, "COPY .clusterfuzzlite/build.sh"),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    files = load(Path(args.root))
    failed = 0
    try:
        check_all(files)
        print(f"PASS config {len(files['workflows'])} workflows, project.yaml x2, "
              "Dockerfile x2, build.sh wrapper")
    except Problem as problem:
        print(f"FAIL config {problem}")
        failed += 1
    if args.self_test:
        for description, mutate, expected in mutations():
            broken = copy.deepcopy(files)
            mutate(broken)
            try:
                check_all(broken)
                print(f"FAIL mutation '{description}' was accepted")
                failed += 1
            except Problem as problem:
                ok = expected in str(problem)
                print(f"{'PASS' if ok else 'FAIL'} mutation '{description}' rejected: {problem}")
                failed += 0 if ok else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
