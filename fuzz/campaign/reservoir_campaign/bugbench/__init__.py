"""The bug benchmark (./reservoir bench bugs): every plant x configuration
x trial, run until the first finding or the budget; time and executions to
exposure, the triage signature and class of the finding, and whether it is
the plant's expected class. docs/BUGBENCH.md describes it.

  plants    the plant list (plant.h), each plant's trigger: target, class
  configs   the configurations (engine, corpus, fault mode)
  cells     one cell: run it, classify its finding, its result record
  systematic  the deterministic fail_nth sweep over a target's seeds
  report    bench-bugs.json and bench-bugs.md from the cell records
  survival  the survival plot of one configuration (matplotlib)
  cli       ./reservoir bench bugs: options, builds, the run, resume
"""
