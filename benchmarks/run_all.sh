#!/usr/bin/env bash
# Regenerate every figure of benchmarks/RESULTS.md, one command after another, on a quiet machine
# (about an hour on 2 CPU cores). Each command's output goes to benchmarks/results/logs/<name>.txt;
# RESULTS.md is then written from those logs by hand, with the machine line each one prints.
#
#   bash benchmarks/run_all.sh [NAME ...]     # NAME among: iteration flops profile pyspy variants widths
#                                             #   time_to_quality metrics bench; default: all of them
set -euo pipefail
cd "$(dirname "$0")/.."
logs=benchmarks/results/logs
mkdir -p "$logs"

run() {
    local name=$1
    shift
    echo "== $name: $*"
    { echo "\$ $*"; date -u +"%Y-%m-%d %H:%M UTC"; "$@"; } 2>&1 | tee "$logs/$name.txt"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(iteration flops profile pyspy variants widths time_to_quality metrics bench)
for step in "${steps[@]}"; do
    case $step in
        iteration) run iteration python -m pytest benchmarks/ --benchmark-only -q -p no:cacheprovider ;;
        flops) run flops python -m benchmarks.flops --rounds 10 ;;
        profile)
            run profile python -m benchmarks.profile_step --rounds 30
            run profile-by-shape-dcgan python -m benchmarks.profile_step --by-shape dcgan
            run profile-by-shape-dcgan-tiny python -m benchmarks.profile_step --by-shape dcgan --tiny
            ;;
        pyspy)
            for model in vanilla dcgan wgan-gp; do
                run "pyspy-$model" python -m benchmarks.profile_step --py-spy "$model"
            done
            ;;
        variants) run variants python -m benchmarks.variants --rounds 12 --loop-overhead ;;
        widths) run widths python -m benchmarks.widths --rounds 8 ;;
        time_to_quality) run time_to_quality python -m benchmarks.time_to_quality --limit 240 --eval-every 5 --overwrite ;;
        metrics)  # writes benchmarks/fid_references.md and benchmarks/floor_vs_n.md
            run fid_references python -m benchmarks.fid_references
            run floor_vs_n python -m benchmarks.floor_vs_n
            ;;
        bench)
            rm -rf /tmp/ganzoo-bench-all
            run bench ganzoo bench --all --out /tmp/ganzoo-bench-all
            rm -rf benchmarks/results/bench-all && mkdir benchmarks/results/bench-all
            cp /tmp/ganzoo-bench-all/*.{json,md,png} benchmarks/results/bench-all/  # not the runs' checkpoints
            ;;
        *) echo "unknown step: $step" >&2; exit 2 ;;
    esac
done
