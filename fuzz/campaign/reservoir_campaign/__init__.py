"""The local fuzzing campaign (./reservoir fuzz), one concern per module.

  targets    the fuzz target list (fuzz/targets/targets.txt), plants
  common     fail/say, atomic writes, the repository root
  builds     configure and build the presets a campaign needs
  process    one fuzzer process: its log, start and end, earlier rounds
  libfuzzer  a libFuzzer job (fork mode with crashes ignored, or stop at
             the first crash)
  afl        an afl-fuzz instance
  findings   report lines, the deduplication key, the run's findings store
  status     the combined status line and the time series
  plot       the coverage and bugs plot (matplotlib, Agg)
  corpus     --update-corpus: the engines' merge back into corpus/
  triage     the hand-off to triage/reservoir-triage and its bugs.json
  summary    summary.md and summary.json
  scheduler  runs the jobs: start, poll, stop conditions, Ctrl-C
  cli        the command line and main()
"""
