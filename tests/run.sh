#!/usr/bin/env bash
# The whole test suite, run the way boxed is used.
#
# - As root, only what needs root: creating the test users, `boxed setup` of the
#   launcher, and the tests that act as several users or as a root caller
#   (tests/tests/launcher.rs, root_caller.rs).
# - Everything else as the unprivileged user boxed-test, with plain `cargo test` in a
#   copy of this checkout that user owns, after the one `boxed setup`: the unit tests,
#   the doctests, the compile-fail tests and the end-to-end tests (tests/tests/e2e_*.rs),
#   every sandboxed call through the launcher, nothing installed for any binary; then
#   the developer's loop (`cargo run` of the quickstart, an edit, `cargo run`).
#
# Needs root (it creates users and installs the launcher); re-runs itself with sudo
# otherwise. Exits non-zero if any suite fails; no suite is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,CARGO_TARGET_DIR bash "$0" "$@"
fi

caller=boxed-test      # runs the end-to-end tests
extra=boxed-test-extra # a supplementary group of $caller
other=boxed-other      # another local user, for attacks on the launcher
getent group "$extra" >/dev/null || groupadd "$extra"
id -u "$caller" >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/sh "$caller"
usermod --append --groups "$extra" "$caller"
id -u "$other" >/dev/null 2>&1 || useradd --user-group --shell /bin/sh "$other"
caller_home=$(getent passwd "$caller" | cut -d: -f6)

# Root builds only the programs its own tests start (the launcher's `boxed setup`, the
# caller program); the test user builds and tests the rest in its own checkout.
echo "== build (root: the programs the root-run tests start)"
cargo fetch # every crate of the lock file, for the test user's offline builds below
cargo build -p boxed -p boxed-tests -p boxed-examples --bins
target="${CARGO_TARGET_DIR:-target}"
# The launcher, as the README's setup line builds it: the `boxed` program linked static
# (no loader at the exec every one-shot call pays).
RUSTFLAGS="-C target-feature=+crt-static" cargo build -p boxed --bin boxed \
    --target x86_64-unknown-linux-gnu

stage=$(mktemp -d /tmp/boxed-e2e.XXXXXX)
chmod 755 "$stage"
# One launcher per machine: the one installed before the tests is put back after them.
launcher=/usr/local/lib/boxed/launcher
mkdir "$stage/saved"
[ ! -e "$launcher.json" ] || cp -a "$launcher" "$launcher.json" "$stage/saved/"
cleanup() {
    "$stage/bin/boxed" setup --remove >/dev/null || true
    [ ! -e "$stage/saved/launcher.json" ] || cp -a "$stage/saved/launcher" "$stage/saved/launcher.json" "$(dirname "$launcher")/"
    rm -rf "$stage"
}
trap cleanup EXIT
# The root-run tests start with none installed (a root caller needs nothing).
rm -f "$launcher" "$launcher.json"
mkdir -m 755 "$stage/bin"
install -d -o "$caller" -g "$caller" -m 755 "$stage/work"
install -o root -g root -m 4755 "$(command -v id)" "$stage/suid-id"
# Root's builds of the programs the root-run tests start.
cp "$target/x86_64-unknown-linux-gnu/debug/boxed" "$target/debug/boxed-test-caller" \
    "$target/debug/quickstart" "$stage/bin/"

echo "== what this kernel enforces (boxed doctor)"
"$stage/bin/boxed" doctor || { echo "this kernel lacks a confinement layer the tests need" >&2; exit 1; }

export BOXED_E2E_STAGE="$stage" BOXED_E2E_CALLER="$caller" BOXED_E2E_OTHER="$other"
failed=()
suite() {
    local name=$1
    shift
    echo "== $name"
    if ! "$@"; then failed+=("$name"); fi
}

root_tests=()
for file in tests/tests/*.rs; do
    name=$(basename "$file" .rs)
    case "$name" in e2e_* | compiletest) ;; *) root_tests+=(--test "$name") ;; esac
done
suite "multi-user and root-caller tests (root)" \
    cargo test --no-fail-fast -p boxed-tests "${root_tests[@]}"

# The launcher, once, as a machine's setup would: every call of the end-to-end tests
# starts through it. e2e_identity runs sandboxes as $other and under unique uids, which
# root allows here.
"$stage/bin/boxed" setup --user "$caller" --sandbox-user "$other" --unique-uids
"$stage/bin/boxed" status

# The rest runs as $caller with plain cargo, in a copy of this checkout that user owns,
# with nothing installed for any binary: the launcher serves every test binary, doctest
# and program cargo builds.
#
# The toolchain: rustup keeps it under root's home, which is 0700. Rather than open that
# home (or the toolchain) to the user, its bin and lib directories are hard-linked into
# the stage: the same files, owned by root, which the user can run and read but not
# change; nothing of root's home becomes reachable. Across file systems they are copied
# instead. The registry cache is copied into the user's own cargo home, so cargo runs
# offline and never writes to root's.
dev="$stage/dev"
install -d -o "$caller" -g "$caller" -m 755 "$dev" "$dev/src" "$dev/cargo"
sysroot=$(rustc --print sysroot)
mkdir -m 755 "$stage/toolchain"
cp -al "$sysroot/bin" "$sysroot/lib" "$stage/toolchain/" 2>/dev/null ||
    cp -a "$sysroot/bin" "$sysroot/lib" "$stage/toolchain/"
cp -a "${CARGO_HOME:-$HOME/.cargo}/registry" "$dev/cargo/"
tar --exclude=./target --exclude=./.git -cf - . | tar -C "$dev/src" -xf -
chown -R "$caller:$caller" "$dev"
secret="boxed-e2e-secret-$RANDOM$RANDOM"
as_developer() {
    runuser -u "$caller" -- env -i PATH="$stage/toolchain/bin:/usr/bin:/bin" \
        HOME="$caller_home" CARGO_HOME="$dev/cargo" CARGO_NET_OFFLINE=true \
        BOXED_E2E_STAGE="$stage" BOXED_E2E_WORK="$stage/work" BOXED_E2E_SECRET="$secret" \
        BOXED_E2E_OTHER="$other" sh -c "cd '$dev/src' && $1"
}
suite "unit, doc and compile tests (as $caller: cargo test)" \
    as_developer "cargo test --offline --no-fail-fast --workspace --exclude boxed-tests &&
        cargo test --offline --no-fail-fast -p boxed-tests --lib --bins --test compiletest"
suite "end-to-end tests (as $caller: cargo test, through the launcher)" \
    as_developer "cargo test --offline --no-fail-fast -p boxed-tests --test 'e2e_*'"

# The developer's loop: `cargo run` of the quickstart, an edit, and the same again; the
# doctests that call a sandboxed function ran above, each from a fresh temporary
# directory.
suite "the developer's loop (as $caller: cargo run, an edit, cargo run)" \
    as_developer 'set -e
        cargo run --offline --quiet -p boxed-examples --bin quickstart | grep -x "add(2, 3) = 5"
        printf "\n// an edit after the first run\n" >> examples/quickstart.rs
        cargo run --offline --quiet -p boxed-examples --bin quickstart | grep -x "add(2, 3) = 5"'

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all suites passed"
