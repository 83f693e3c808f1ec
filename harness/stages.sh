#!/usr/bin/env bash
# stages.sh NAME=COMMAND ...: runs each stage in order, stops at the first
# that fails, and prints at the end how long each one took (also when one
# failed or the run was interrupted), so the next person sees where CI's
# time goes. Exits with the failing stage's status.
#
#   harness/stages.sh "lint=make lint" "unit=cargo test --bin netlab"
set -uo pipefail

names=() seconds=() results=()
now() { echo "${EPOCHREALTIME/./}"; }   # microseconds
started=$(now)

summary() {
  local i total=$(($(now) - started))
  echo
  echo "== time per stage"
  for i in "${!names[@]}"; do
    printf '  %-16s %6s  %s\n' "${names[$i]}" "${seconds[$i]}" "${results[$i]}"
  done
  printf '  %-16s %6s\n' "total" "$(minutes "$total")"
}

# 1m05s from microseconds
minutes() { local s=$(($1 / 1000000)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

for stage in "$@"; do
  names+=("${stage%%=*}") seconds+=("-") results+=("not run")
done

interrupted() {
  results[$current]="interrupted"
  seconds[$current]=$(minutes $(($(now) - stage_started)))
  summary
  exit 130
}
trap interrupted INT TERM

status=0
for current in "${!names[@]}"; do
  command=${*:$((current + 1)):1}
  command=${command#*=}
  echo "== ${names[$current]}: $command"
  stage_started=$(now)
  bash -c "$command"
  status=$?
  seconds[$current]=$(minutes $(($(now) - stage_started)))
  if [ "$status" -ne 0 ]; then
    results[$current]="FAILED (exit $status)"
    break
  fi
  results[$current]="ok"
done
summary
exit "$status"
