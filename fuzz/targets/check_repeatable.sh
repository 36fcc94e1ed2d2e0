#!/usr/bin/env bash
# Runs one libFuzzer target twice with the same -runs and -seed, each time
# into a fresh corpus directory, and requires the two runs to be the same:
# the same event lines (#N NEW / REDUCE / INITED / DONE ..., with the
# timing-dependent exec/s and rss fields and the timer-driven "pulse" lines
# left out) and the same corpus file names (libFuzzer names a file by the
# SHA-1 of its contents). See docs/ENGINES.md, "What repeats".
set -u

usage() {
  cat <<'EOF'
usage: check_repeatable.sh [--dict FILE] FUZZER WORKDIR RUNS SEED [SEED_DIR]

Runs FUZZER (a libFuzzer binary) twice, -runs=RUNS -seed=SEED -reload=0
-rss_limit_mb=0, from the seed inputs in SEED_DIR (read only; none if
omitted), each run into a
fresh corpus directory under WORKDIR (WORKDIR/run1, WORKDIR/run2; WORKDIR
must not exist yet, or be a directory this script made: it holds a
.check_repeatable marker), and compares them. Both runs go under
`setarch -R` (no address-space randomisation) where the machine allows it.

  --dict FILE   pass -dict=FILE to both runs
  --help        this text

Prints the first difference and exits 1 if the runs differ; exits 0 if
they are the same; 2 on bad arguments. The last line is a JSON summary.
EOF
}

dict=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --dict)
      [[ $# -ge 2 ]] || { echo "check_repeatable.sh: --dict needs a file" >&2; exit 2; }
      dict="$2"; shift 2 ;;
    --) shift; break ;;
    -*) echo "check_repeatable.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [[ $# -lt 4 || $# -gt 5 ]]; then
  echo "check_repeatable.sh: expected FUZZER WORKDIR RUNS SEED [SEED_DIR] (see --help)" >&2
  exit 2
fi
fuzzer="$1" work="$2" runs="$3" seed="$4" seeds="${5:-}"
[[ -x "$fuzzer" ]] || { echo "check_repeatable.sh: $fuzzer is not an executable" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "check_repeatable.sh: RUNS must be a positive integer, not '$runs'" >&2; exit 2; }
[[ "$seed" =~ ^[1-9][0-9]*$ ]] || { echo "check_repeatable.sh: SEED must be a positive integer (0 makes libFuzzer pick one), not '$seed'" >&2; exit 2; }
[[ -z "$seeds" || -d "$seeds" ]] || { echo "check_repeatable.sh: $seeds is not a directory" >&2; exit 2; }
[[ -z "$dict" || -f "$dict" ]] || { echo "check_repeatable.sh: $dict is not a file" >&2; exit 2; }
if [[ -e "$work" ]]; then
  # Only a directory of our own making is emptied; anything else is kept.
  [[ -f "$work/.check_repeatable" ]] || {
    echo "check_repeatable.sh: $work exists and is not a previous run's directory" >&2; exit 2; }
  rm -rf -- "$work"
fi
mkdir -p -- "$work" && touch -- "$work/.check_repeatable" || exit 2

# -reload=0: libFuzzer would otherwise read its corpus directory again every
# second and run what it finds there that it does not know, at times that
# depend on the machine. -rss_limit_mb=0: no RSS-watching thread, whose
# start-up allocates and frees while the first inputs run; libFuzzer's
# leak check counts those as the input's and runs the input once more, or
# not, depending on thread timing (docs/ENGINES.md, "What repeats").
args=(-runs="$runs" -seed="$seed" -reload=0 -rss_limit_mb=0 -print_final_stats=1)
[[ -n "$dict" ]] && args+=(-dict="$dict")

events() {
  grep -aE $'^#[0-9]+\t' "$1" | grep -avE $'^#[0-9]+\tpulse ' |
    sed -E 's/ exec\/s: [0-9]+//; s/ rss: [0-9]+Mb//'
}

# Address-space randomisation off where the machine allows it (setarch -R,
# util-linux): with it on, swap_over_net_fuzzer can still differ between two
# runs, from a cause not found yet (docs/ENGINES.md, "What repeats").
launch=()
aslr=on
if command -v setarch > /dev/null 2>&1 && setarch "$(uname -m)" -R true 2> /dev/null; then
  launch=(setarch "$(uname -m)" -R)
  aslr=off
fi

for run in 1 2; do
  mkdir -p -- "$work/run$run"
  inputs=("$work/run$run")
  [[ -n "$seeds" ]] && inputs+=("$seeds")
  "${launch[@]}" "$fuzzer" "${args[@]}" -artifact_prefix="$work/run$run-" "${inputs[@]}" \
    > "$work/run$run.log" 2>&1
  status=$?
  if [[ $status -ne 0 ]]; then
    echo "run $run: $fuzzer exited $status (log: $work/run$run.log):"
    grep -aE 'RESERVOIR BUG|ERROR: |runtime error|deadly signal' "$work/run$run.log" | head -3
    echo "{\"fuzzer\": \"$(basename "$fuzzer")\", \"runs\": $runs, \"seed\": $seed, \"same\": null, \"error\": \"run $run exited $status\"}"
    exit 1
  fi
  events "$work/run$run.log" > "$work/run$run.events"
  (cd "$work/run$run" && ls -1) > "$work/run$run.files"
done

n_events=$(wc -l < "$work/run1.events")
n_files=$(wc -l < "$work/run1.files")
new_events=$(grep -c $'\tNEW ' "$work/run1.events")
same=true
if ! cmp -s "$work/run1.events" "$work/run2.events"; then
  same=false
  echo "the event lines differ; first difference (run 1 / run 2):"
  diff "$work/run1.events" "$work/run2.events" | grep -E '^[<>]' | head -2
fi
if ! cmp -s "$work/run1.files" "$work/run2.files"; then
  same=false
  echo "the corpus files differ: $(comm -23 "$work/run1.files" "$work/run2.files" | wc -l) only in run 1, $(comm -13 "$work/run1.files" "$work/run2.files" | wc -l) only in run 2"
fi
if [[ $new_events -eq 0 ]]; then
  same=false
  echo "no NEW event in $runs runs: nothing was compared"
fi
if $same; then
  echo "$(basename "$fuzzer"): the two runs are the same: $n_events event lines ($new_events NEW), $n_files corpus files"
fi
echo "{\"fuzzer\": \"$(basename "$fuzzer")\", \"runs\": $runs, \"seed\": $seed, \"aslr\": \"$aslr\", \"events\": $n_events, \"new_events\": $new_events, \"corpus_files\": $n_files, \"same\": $same}"
$same
