#!/usr/bin/env bash
# The benchmark, run the way boxed is used: built in release mode, staged where the
# unprivileged user boxed-test (created if missing) can run it, with the launcher set up
# for that user by `boxed setup`, then run as that user. The stage is removed on exit,
# and the machine's launcher setup put back.
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
# The launcher as the README's setup line builds it: the `boxed` program linked static.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p boxed --bin boxed \
    --target x86_64-unknown-linux-gnu
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

stage=$(mktemp -d /tmp/boxed-bench.XXXXXX)
chmod 755 "$stage"
launcher=/usr/local/lib/boxed/launcher
mkdir "$stage/saved"
[ ! -e "$launcher.json" ] || cp -a "$launcher" "$launcher.json" "$stage/saved/"
cleanup() {
    "$stage/boxed" setup --remove >/dev/null || true
    [ ! -e "$stage/saved/launcher.json" ] || cp -a "$stage/saved/launcher" "$stage/saved/launcher.json" "$(dirname "$launcher")/"
    rm -rf "$stage"
}
trap cleanup EXIT
install -m 755 "$target/x86_64-unknown-linux-gnu/release/boxed" "$stage/boxed"
install -m 755 "$target/release/boxed-bench" "$stage/"
"$stage/boxed" setup --user "$caller"

cd "$stage"
runuser -u "$caller" -- env -i PATH=/usr/local/bin:/usr/bin:/bin "$stage/boxed-bench" "$@"
