#!/usr/bin/env python3
"""Unit tests of the bug benchmark's pieces that need no build: the plant
list and triggers, the configurations, the sweep's program rewriting, the
aggregation and the Markdown table (ctest bugbench.unit; a second)."""

import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reservoir_campaign.bugbench import configs, plants, report, systematic  # noqa: E402
from reservoir_campaign.bugbench import cli  # noqa: E402
from reservoir_campaign.targets import TARGETS, known_plants  # noqa: E402

ROOT = HERE.parents[1]


class PlantTest(unittest.TestCase):
    def test_every_plant_has_a_trigger_with_target_and_class(self):
        ids = known_plants(ROOT)
        self.assertGreaterEqual(len(ids), 10)
        for plant in plants.all_plants(ROOT):
            self.assertIn(plant.target, TARGETS, plant.id)
            self.assertRegex(plant.expect_class, r"^[a-z]+(-[a-z]+)*$")

    def test_a_trigger_without_expect_line_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "corpus" / "plants"
            path.mkdir(parents=True)
            (path / "x.txt").write_text("# reservoir program v1\n# slab_fuzzer prologue\n")
            with self.assertRaises(ValueError):
                plants.load_plant(tmp, "x")


class ConfigTest(unittest.TestCase):
    def test_fault_configurations_skip_the_estimator_target(self):
        for config in configs.CONFIGS:
            applies = config.applies_to("estimator_fuzzer")
            self.assertEqual(applies, config.fault_mode in (None, "none")
                             and config.engine != "systematic", config.name)
            self.assertTrue(config.applies_to("slab_fuzzer"))

    def test_main_names_known_configurations(self):
        self.assertEqual(set(configs.MAIN) - set(configs.BY_NAME), set())


class SweepTest(unittest.TestCase):
    def test_faults_line_rewritten(self):
        text = ("# reservoir program v1\nconfig normal_pages=256\n"
                "faults mode=none seed=7 probability_ppm=0 fail_nth=1 sites=none\n"
                "kmalloc size=8 gfp=KERNEL cpu=0\n")
        out = systematic.with_fail_nth(text, 12)
        self.assertIn("faults mode=fail_nth seed=0 probability_ppm=0 "
                      "fail_nth=12 sites=all\n", out)
        self.assertEqual(out.count("faults "), 1)
        self.assertTrue(out.endswith("kmalloc size=8 gfp=KERNEL cpu=0\n"))


def cell(plant, config, trial, found, execs=None, seconds=None, klass=None,
         status=None):
    return {"plant": plant, "config": config, "trial": trial, "found": found,
            "status": status or ("found" if found else "not-found"),
            "executions": execs, "seconds": seconds, "class": klass,
            "class_matches": klass == "slab-mixing", "budget_seconds": 10}


class ReportTest(unittest.TestCase):
    def test_median_and_range_over_found_trials(self):
        records = [cell("p", "lf-seeds", 1, True, 100, 1.0, "slab-mixing"),
                   cell("p", "lf-seeds", 2, True, 300, 3.0, "slab-mixing"),
                   cell("p", "lf-seeds", 3, False, 5000, 10.0),
                   cell("p", "lf-seeds", 4, False, status="skipped")]
        agg = report.summarise(records)[("p", "lf-seeds")]
        self.assertEqual((agg["found"], agg["trials"], agg["skipped"]), (2, 3, 1))
        self.assertEqual(agg["executions"], {"median": 200, "min": 100, "max": 300})
        self.assertEqual(report.cell_text(agg, "executions"),
                         "2/3 (+1 skipped): 200 (100-300)")

    def test_wrong_class_is_flagged_and_clean_counted(self):
        records = [cell("p", "c", 1, True, 5, 0.1, "reserve-leak"),
                   cell("clean", "c", 1, False, 9000, 10.0)]
        aggs = report.summarise(records)
        self.assertIn("(class: reserve-leak)", report.cell_text(aggs[("p", "c")], "executions"))
        problems = cli.verdict(records)
        self.assertEqual(len(problems), 1)
        self.assertIn("expected", problems[0])
        records.append(cell("clean", "c", 2, True, 3, 0.1, "slab-mixing"))
        self.assertTrue(any("correct build" in p for p in cli.verdict(records)))

    def test_best_configuration_prefers_found_rate_then_executions(self):
        records = [cell("p", "a", 1, True, 50, 1, "slab-mixing"),
                   cell("p", "a", 2, False, 9, 9),
                   cell("p", "b", 1, True, 900, 1, "slab-mixing"),
                   cell("p", "b", 2, True, 1100, 1, "slab-mixing")]
        self.assertEqual(report.best_config(report.summarise(records), "p",
                                            ["a", "b"]), "b")


if __name__ == "__main__":
    unittest.main()
