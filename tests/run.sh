#!/usr/bin/env bash
# The whole test suite, run the way boxed is used.
#
# - As root: unit and doc tests, the compile-fail tests, and the tests that act as
#   several users (tests/tests/*.rs whose name does not start with e2e_).
# - As the unprivileged user boxed-test: the end-to-end tests (tests/tests/e2e_*.rs),
#   every call through the launcher that `boxed setup` installs once, as a machine's
#   setup would; no binary gets a copy. Their binaries are staged in a directory that
#   user can reach (this checkout may live in root's home).
#
# Needs root (it creates users and installs copies); re-runs itself with sudo otherwise.
# Exits non-zero if any suite fails; no suite is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,CARGO_TARGET_DIR bash "$0" "$@"
fi

caller=boxed-test      # runs the end-to-end tests
extra=boxed-test-extra # a supplementary group of $caller
other=boxed-other      # another local user, for attacks on the installed copy
getent group "$extra" >/dev/null || groupadd "$extra"
id -u "$caller" >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/sh "$caller"
usermod --append --groups "$extra" "$caller"
id -u "$other" >/dev/null 2>&1 || useradd --user-group --shell /bin/sh "$other"
caller_home=$(getent passwd "$caller" | cut -d: -f6)

echo "== build"
cargo build --workspace --all-targets
mapfile -t e2e < <(cargo test -p boxed-tests --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"kind":\["test"\].*"name":"\(e2e_[^"]*\)".*"executable":"\([^"]*\)".*/\1 \2/p')
[ "${#e2e[@]}" -gt 0 ] || { echo "no end-to-end test binaries were found" >&2; exit 1; }
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

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
mkdir -m 755 "$stage/bin"
install -d -o "$caller" -g "$caller" -m 755 "$stage/work"
install -o root -g root -m 4755 "$(command -v id)" "$stage/suid-id"
cp "$target/debug/boxed" "$target/debug/boxed-test-caller" "$target/debug/quickstart" "$stage/bin/"
for entry in "${e2e[@]}"; do
    cp "${entry#* }" "$stage/bin/${entry%% *}"
done

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

suite "unit and doc tests (root)" cargo test --no-fail-fast --workspace --exclude boxed-tests
root_tests=()
for file in tests/tests/*.rs; do
    name=$(basename "$file" .rs)
    case "$name" in e2e_*) ;; *) root_tests+=(--test "$name") ;; esac
done
suite "compile and multi-user tests (root)" cargo test --no-fail-fast -p boxed-tests "${root_tests[@]}"

# The launcher, once, as a machine's setup would: every call of the end-to-end tests
# starts through it. e2e_identity runs sandboxes as $other and under unique uids, which
# root allows here.
"$stage/bin/boxed" setup --user "$caller" --sandbox-user "$other" --unique-uids
"$stage/bin/boxed" status

secret="boxed-e2e-secret-$RANDOM$RANDOM"
for exe in "$stage"/bin/e2e_*; do
    suite "$(basename "$exe") (as $caller, through the launcher)" \
        runuser -u "$caller" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$caller_home" \
        BOXED_E2E_STAGE="$stage" BOXED_E2E_WORK="$stage/work" BOXED_E2E_SECRET="$secret" \
        BOXED_E2E_OTHER="$other" \
        sh -c 'cd "$BOXED_E2E_WORK" && exec "$0" "$@"' "$exe"
done

# The developer's loop: as $caller, in a copy of this checkout that user owns, plain
# cargo with nothing installed for any binary: the doctests (whose binaries live in a
# fresh temporary directory), `cargo run` of the quickstart, and the same after an edit.
# The toolchain is root's (rustup keeps it in root's 0700 home), so its bin and lib are
# linked (hard links: root's files, which the user can read and not change) or copied
# into the stage; the registry cache is copied, and cargo runs offline.
dev="$stage/dev"
install -d -o "$caller" -g "$caller" -m 755 "$dev" "$dev/src" "$dev/cargo"
sysroot=$(rustc --print sysroot)
mkdir -m 755 "$stage/toolchain"
cp -al "$sysroot/bin" "$sysroot/lib" "$stage/toolchain/" 2>/dev/null ||
    cp -a "$sysroot/bin" "$sysroot/lib" "$stage/toolchain/"
cp -a "${CARGO_HOME:-$HOME/.cargo}/registry" "$dev/cargo/"
tar --exclude=./target --exclude=./.git -cf - . | tar -C "$dev/src" -xf -
chown -R "$caller:$caller" "$dev"
suite "the developer's loop (as $caller: cargo test --doc, cargo run, an edit, cargo run)" \
    runuser -u "$caller" -- env -i PATH="$stage/toolchain/bin:/usr/bin:/bin" \
    HOME="$caller_home" CARGO_HOME="$dev/cargo" sh -c '
        set -e
        cd "$0"
        cargo test --offline --quiet -p boxed --doc
        cargo run --offline --quiet -p boxed-examples --bin quickstart | grep -x "add(2, 3) = 5"
        printf "\n// an edit after the first run\n" >> examples/quickstart.rs
        cargo run --offline --quiet -p boxed-examples --bin quickstart | grep -x "add(2, 3) = 5"
    ' "$dev/src"

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all suites passed"
