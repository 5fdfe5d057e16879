#!/usr/bin/env bash
# Runs the quickstart with plain `cargo run`, as an unprivileged user, every sandboxed
# call through the launcher that `boxed setup` installs once per machine.
#
# As anyone but root: if the launcher does not serve you yet, `sudo` sets it up for you
# (once; if it already serves other users, it says what to run instead of replacing
# their list); then `cargo run` as you.
#
# As root: sets the launcher up for the user `boxed-demo` (created if missing); that
# user runs `cargo run` in a copy of this checkout it owns, with this toolchain linked
# in as tests/run.sh does it; the launcher setup the machine had is put back after.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=/usr/local/lib/boxed/launcher
run="cargo run --quiet -p boxed-examples --bin quickstart"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
# The `boxed` program as the README's setup line builds it: linked static.
build_static() {
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet -p boxed --bin boxed \
        --target x86_64-unknown-linux-gnu
}

if [ "$(id -u)" != 0 ]; then
    # `test -x` asks the kernel (access(2)), so it honours the launcher's ACL.
    if [ ! -x "$launcher" ]; then
        if [ -e "$launcher.json" ]; then
            # Set up for others: a setup naming only us would replace their list.
            echo "the launcher serves other users, not $(id -un); as root, run" >&2
            echo "  boxed setup --user $(id -un) --user OTHER...   (naming every user it should serve)" >&2
            exit 1
        fi
        build_static
        sudo "$target/x86_64-unknown-linux-gnu/debug/boxed" setup --user "$(id -un)"
    fi
    exec $run
fi

user=boxed-demo
id -u "$user" >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/sh "$user"
home=$(getent passwd "$user" | cut -d: -f6)
cargo fetch --quiet # every crate the user's offline build needs, into root's cache
build_static
stage=$(mktemp -d /tmp/boxed-demo.XXXXXX)
chmod 755 "$stage"
# One launcher per machine: keep the one installed before, and put it back after.
mkdir "$stage/saved"
[ ! -e "$launcher.json" ] || cp -a "$launcher" "$launcher.json" "$stage/saved/"
restore() {
    "$stage/boxed" setup --remove >/dev/null || true
    [ ! -e "$stage/saved/launcher.json" ] || cp -a "$stage/saved/launcher" "$stage/saved/launcher.json" "$(dirname "$launcher")/"
    rm -rf "$stage"
}
trap restore EXIT
install -m 755 "$target/x86_64-unknown-linux-gnu/debug/boxed" "$stage/boxed"
"$stage/boxed" setup --user "$user"

# The toolchain may live in root's 0700 home (rustup's default): its bin and lib are
# hard-linked into the stage (root's files, which the user can run but not change;
# copied across file systems), so nothing of root's home is opened. The registry cache
# is copied into the user's own cargo home, and cargo runs offline.
install -d -o "$user" -g "$user" -m 755 "$stage/src" "$stage/cargo"
sysroot=$(rustc --print sysroot)
mkdir -m 755 "$stage/toolchain"
cp -al "$sysroot/bin" "$sysroot/lib" "$stage/toolchain/" 2>/dev/null ||
    cp -a "$sysroot/bin" "$sysroot/lib" "$stage/toolchain/"
cp -a "${CARGO_HOME:-$HOME/.cargo}/registry" "$stage/cargo/"
tar --exclude=./target --exclude=./.git -cf - . | tar -C "$stage/src" -xf -
chown -R "$user:$user" "$stage/src" "$stage/cargo"
echo "running the quickstart as $user, with cargo run:"
runuser -u "$user" -- env -i PATH="$stage/toolchain/bin:/usr/bin:/bin" HOME="$home" \
    CARGO_HOME="$stage/cargo" CARGO_NET_OFFLINE=true sh -c "cd '$stage/src' && $run"
