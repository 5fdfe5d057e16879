#!/usr/bin/env bash
# The benchmark, run the way boxed is used: built in release mode, staged where the
# unprivileged user boxed-test (created if missing) can run it, given its setcap'd copy
# by `boxed install`, then run as that user. The copy and the stage are removed on exit.
#
# Extra arguments go to the benchmark: --iterations N (default 300), --large-iterations N
# (the 64 MiB rows, default 10). Needs root; re-runs itself with sudo otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,CARGO_TARGET_DIR bash "$0" "$@"
fi

caller=boxed-test
id -u "$caller" >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/sh "$caller"

cargo build --release -p boxed -p boxed-bench
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

stage=$(mktemp -d /tmp/boxed-bench.XXXXXX)
chmod 755 "$stage"
cleanup() {
    "$stage/boxed" uninstall --user "$caller" "$stage/boxed-bench" >/dev/null || true
    rm -rf "$stage"
}
trap cleanup EXIT
install -m 755 "$target/release/boxed" "$target/release/boxed-bench" "$stage/"
"$stage/boxed" install --user "$caller" "$stage/boxed-bench"

cd "$stage"
runuser -u "$caller" -- env -i PATH=/usr/local/bin:/usr/bin:/bin "$stage/boxed-bench" "$@"
