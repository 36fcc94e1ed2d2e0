"""The benchmark's configurations. Each names an engine (libfuzzer, afl
or systematic), the starting corpus, AFL++'s CmpLog, and a forced fault
mode (the targets' RESERVOIR_FAULT_MODE; None: the mode each input's
header chooses, which the fuzzer mutates like any other field)."""

FAULT_MODES = ("none", "random", "fail_nth", "input")
# The target whose programs never inject faults (its profile forces mode
# none): forced fault modes and the fail_nth sweep do not apply to it.
NO_FAULT_TARGETS = ("estimator_fuzzer",)


class Config:
    def __init__(self, name, engine, seeds=True, cmplog=False,
                 fault_mode=None, doc=""):
        self.name = name
        self.engine = engine
        self.seeds = seeds
        self.cmplog = cmplog
        self.fault_mode = fault_mode
        self.doc = doc

    def applies_to(self, target):
        """False for a fault configuration on a target without faults."""
        if target in NO_FAULT_TARGETS:
            return self.fault_mode in (None, "none") and \
                self.engine != "systematic"
        return True

    def as_json(self):
        return {"name": self.name, "engine": self.engine, "seeds": self.seeds,
                "cmplog": self.cmplog, "fault_mode": self.fault_mode,
                "doc": self.doc}


CONFIGS = [
    Config("lf-seeds", "libfuzzer", doc="libFuzzer from the seed corpus"),
    Config("lf-empty", "libfuzzer", seeds=False,
           doc="libFuzzer from an empty corpus"),
    Config("afl-seeds", "afl", doc="AFL++ from the seed corpus"),
    Config("afl-cmplog", "afl", cmplog=True,
           doc="AFL++ from the seed corpus with a CmpLog binary (-c)"),
] + [
    Config(f"lf-faults-{mode}", "libfuzzer", fault_mode=mode,
           doc=f"libFuzzer from the seeds, every input run with fault mode {mode}")
    for mode in FAULT_MODES
] + [
    Config("systematic-fail-nth", "systematic",
           doc="no fuzzing: each seed replayed failing its 1st, 2nd, ... "
               "eligible call until a run injects nothing"),
]
BY_NAME = {c.name: c for c in CONFIGS}
# What `--configs main` means: the configurations of the real measurement.
MAIN = ["lf-seeds", "lf-empty", "afl-seeds", "afl-cmplog", "lf-faults-none",
        "lf-faults-random", "lf-faults-fail_nth", "lf-faults-input",
        "systematic-fail-nth"]
