"""Configure and build what a campaign needs: the libfuzzer-asan preset
and/or the AFL++ presets, or their runtime-plant variants
(build/<preset>-plant-runtime: every plant compiled in, the environment
variable RESERVOIR_PLANT=<id> turns one on; allocator/include/reservoir/
plant.h), or their adapter variants, built against a user's reserve
implementation (build/<preset>-adapter-<slug>, docs/ADAPTER.md). One
runtime-plant build serves every plant: the campaign, the bug benchmark
and the plant tests share it."""

import os
import subprocess
import sys

from .common import fail, say


# The build mode every planted run uses (CMake's -DRESERVOIR_PLANT=runtime).
RUNTIME = "runtime"


def plant_env(env, plant):
    """`env` with RESERVOIR_PLANT set to `plant` (None: the correct model,
    the variable removed)."""
    env = dict(env)
    env.pop("RESERVOIR_PLANT", None)
    if plant:
        env["RESERVOIR_PLANT"] = plant
    return env


def build_dir_of(root, preset, plant=None, adapter=None):
    name = f"{preset}-plant-{plant}" if plant else preset
    if adapter:
        name += f"-adapter-{adapter['slug']}"
    return root / "build" / name


def adapter_of(args):
    """The adapter build settings of a campaign, or None."""
    if not getattr(args, "adapter", None):
        return None
    return {"slug": args.adapter_slug, "path": args.adapter,
            "defines": args.adapter_define or [],
            "lockstep": bool(args.lockstep),
            "allow": args.lockstep_allow or ""}


def build_preset(root, preset, targets, plant=None, adapter=None):
    """Configures and builds `targets` of a preset; returns the build dir."""
    build_dir = build_dir_of(root, preset, plant, adapter)
    configure = ["cmake", "--preset", preset]
    if plant or adapter:
        configure += ["-B", str(build_dir)]
    if plant:
        configure += [f"-DRESERVOIR_PLANT={plant}"]
    if adapter:
        configure += [f"-DRESERVOIR_ADAPTER={adapter['path']}",
                      "-DRESERVOIR_ADAPTER_DEFINES=" + ";".join(adapter["defines"]),
                      "-DRESERVOIR_ADAPTER_LOCKSTEP="
                      + ("ON" if adapter["lockstep"] else "OFF"),
                      f"-DRESERVOIR_ADAPTER_LOCKSTEP_ALLOW={adapter['allow']}"]
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "campaign-build.log"
    say(f"building {build_dir.relative_to(root)}"
        + (" with every plant (RESERVOIR_PLANT selects)" if plant == RUNTIME
           else f" with plant '{plant}'" if plant else "")
        + (f" against adapter {adapter['path']}" if adapter else ""))
    jobs = str(os.cpu_count() or 2)
    with open(log, "w") as out:
        for command in (configure,
                        ["cmake", "--build", str(build_dir), "-j", jobs,
                         "--target", *targets]):
            if subprocess.call(command, cwd=root, stdout=out,
                               stderr=subprocess.STDOUT) != 0:
                sys.stderr.write(log.read_text()[-4000:])
                fail(f"build failed (log: {log})")
    return build_dir


def build(args):
    """Builds what the campaign needs; returns {name: build dir} for the
    engines' builds: libfuzzer, afl and afl-cmplog. With --plant, the
    runtime-plant builds (the caller sets RESERVOIR_PLANT)."""
    builds = {}
    adapter = adapter_of(args)
    mode = RUNTIME if args.plant else None
    common = ["seed_corpora", "reservoir-replay", *args.targets]
    if "libfuzzer" in args.engines:
        builds["libfuzzer"] = build_preset(args.root, "libfuzzer-asan",
                                           common, mode, adapter)
    if "afl" in args.engines:
        builds["afl"] = build_preset(
            args.root, "afl-asan" if args.afl_asan else "afl", common,
            mode, adapter)
        if args.afl_cmplog:
            builds["afl-cmplog"] = build_preset(args.root, "afl-cmplog",
                                                args.targets, mode,
                                                adapter)
    return builds
