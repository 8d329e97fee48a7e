#!/usr/bin/env bash
# The long randomized soak (tests/e2e/soak.rs, test soak::long) against the real control plane:
# RUNS runs of STEPS steps each, every run with its own seed (SEED, SEED+1, ... when SEED is
# given; otherwise one from the clock per run), checking every step (a violation does not stop
# the run). Prints each run's [soak] figures and a summary: steps, seeds, faults injected per
# kind, violations per invariant. The full output of each run stays in target/soak/.
#
#   scripts/soak.sh                      # 1 run of 2000 steps
#   STEPS=500 RUNS=4 SEED=7 scripts/soak.sh
#   SOAK_SEED=1234 STEPS=80 scripts/soak.sh   # replays one seed
set -euo pipefail
cd "$(dirname "$0")/.."

steps=${STEPS:-2000}
runs=${RUNS:-1}
seed=${SEED:-${SOAK_SEED:-}}
out=target/soak
mkdir -p "$out"

scripts/control-plane.sh
cargo test --locked --test e2e --no-run

failed=0
for ((run = 0; run < runs; run++)); do
  if [[ -n "$seed" ]]; then
    this_seed=$((seed + run))
  else
    this_seed=$(date +%s%N)
  fi
  log="$out/seed-$this_seed.log"
  echo "== soak run $((run + 1))/$runs: seed $this_seed, $steps steps (log: $log)"
  if ! SOAK_SEED=$this_seed SOAK_STEPS=$steps SOAK_KEEP_GOING=1 \
    cargo test --locked --test e2e soak::long -- --ignored --exact --nocapture >"$log" 2>&1; then
    failed=$((failed + 1))
  fi
  grep -E '^\[soak\] (seed [0-9]+:|actions|faults|SendGrid|violations|VIOLATION)' "$log" || true
done

echo "== summary of $runs run(s) of $steps steps"
python3 - "$out" "$runs" <<'PY'
import collections, pathlib, re, sys
out, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
logs = sorted(out.glob("seed-*.log"), key=lambda p: p.stat().st_mtime)[-runs:]
faults, violations, seeds, steps = collections.Counter(), collections.Counter(), [], 0
for log in logs:
    text = log.read_text(errors="replace")
    for seed, n in re.findall(r"^\[soak\] seed (\d+): (\d+) steps", text, re.M):
        seeds.append(seed)
        steps += int(n)
    for line in re.findall(r"^\[soak\] faults injected: (.*)$", text, re.M):
        for item in filter(None, (i.strip() for i in line.split(","))):
            name, _, count = item.rpartition(" ")
            faults[name] += int(count)
    for kind in re.findall(r"^\[soak\] VIOLATION at [^:]*: ([^:]+):", text, re.M):
        violations[kind] += 1
    if not re.search(r"^\[soak\] seed \d+: \d+ steps", text, re.M):
        print(f"[soak] {log.name}: the run ended before its summary (see the log)")
print(f"[soak] runs {len(logs)}, steps {steps}, seeds {' '.join(seeds) or '-'}")
print("[soak] faults injected: " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none"))
print(f"[soak] violations: {sum(violations.values())}" + "".join(f", {k} {v}" for k, v in sorted(violations.items())))
PY
exit $((failed > 0))
