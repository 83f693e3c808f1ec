#!/usr/bin/env bash
# A newcomer's first run, measured: a fresh clone of this repository's HEAD
# in a temporary directory, a fresh target directory (crates already
# downloaded: `cargo fetch` runs first, untimed), then `make run` timed to
# its closing line (`N passed, M failed`), split into the release build and
# the run itself; then the size of the agent image the run used.
#
#   bench/first-run.sh                      # the profile in Cargo.toml
#   CARGO_PROFILE_RELEASE_LTO=thin bench/first-run.sh   # try another
#
# Goals (issue 21): first run <= 180 s on 2 cores, agent image < 15 MB.
# The build dominates and uses every core: measure on a quiet machine (the
# load average before and after is printed to show how quiet it was).
# KEEP=1 keeps the clone. The lab is torn down by `netlab run` itself.
set -euo pipefail

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse HEAD)
work=$(mktemp -d "${TMPDIR:-/tmp}/netlab-first-run.XXXXXX")
cleanup() { [ "${KEEP:-}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

git clone --quiet --no-checkout "$repo" "$work/netlab"
git -C "$work/netlab" checkout --quiet --detach "$commit"
cd "$work/netlab"
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
cargo fetch --locked --quiet

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log="$work/make-run.log"
# Each line of `make run` with the seconds since the start, so the end of
# the build and the closing line can be found afterwards.
start=${EPOCHREALTIME/./}
set +e
make run 2>&1 | while IFS= read -r line; do
  now=${EPOCHREALTIME/./}
  printf '%d.%06d %s\n' $(((now - start) / 1000000)) $(((now - start) % 1000000)) "$line"
done >"$log"
status=${PIPESTATUS[0]}
set -e
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

at() { awk -v pat="$1" '$0 ~ pat { print $1; exit }' "$log"; }
built=$(at 'Finished `release` profile')
closing=$(at '^[0-9.]+ [0-9]+ passed, [0-9]+ failed')
if [ "$status" -ne 0 ] || [ -z "$closing" ]; then
  tail -n 30 "$log" | cut -d' ' -f2- >&2
  echo "first-run: make run failed (exit $status); the log is above" >&2
  KEEP=1
  exit 1
fi

binary=target/x86_64-unknown-linux-gnu/release/netlab
# netlab tags the agent image with its version and its executable's digest.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
tag=netlab/agent:$version-$(sha256sum "$binary" | cut -c1-12)
if grep -q "built agent image $tag" "$log"; then
  image_note="built by this run"
else
  image_note="already present (an identical binary built it before)"
fi
image_bytes=$(docker image inspect --format '{{.Size}}' "$tag")

printf 'commit             %s\n' "$commit"
printf 'release profile    %s\n' "$(sed -n '/^\[profile.release\]/,/^$/p' Cargo.toml | tail -n +2 | grep -v '^#' | paste -sd' ')"
printf 'netlab crate       %s\n' "$(sed -n '/^\[profile.release.package.netlab\]/,/^$/p' Cargo.toml | tail -n +2 | grep -v '^#' | paste -sd' ')"
env | grep '^CARGO_PROFILE_' | sed 's/^/override           /' || true
printf 'cores              %s\n' "$(nproc)"
printf 'load before/after  %s / %s\n' "$load_before" "$load_after"
printf 'release build      %7.1f s\n' "$built"
printf 'lab run            %7.1f s\n' "$(echo "$closing - $built" | bc)"
printf 'make run, total    %7.1f s   (goal <= 180 s)\n' "$closing"
printf 'netlab binary      %7.1f MB\n' "$(echo "$(stat -c %s "$binary") / 1000000" | bc -l)"
printf 'agent image        %7.1f MB   (goal < 15 MB) %s, %s\n' "$(echo "$image_bytes / 1000000" | bc -l)" "$tag" "$image_note"
