#!/usr/bin/env bash
# Builds the quickstart (release) and runs it as an unprivileged user, through the
# launcher that `boxed setup` installs once per machine.
#
# As root: sets the launcher up for the user `boxed-demo` (created if missing), runs the
# quickstart as that user from a directory it can reach, and puts back the launcher
# setup the machine had before. As anyone else: if no launcher is installed, `sudo` sets
# it up for you (once); if one serves other users only, it says what to run as root
# rather than replace their list; then the program runs as you.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p boxed -p boxed-examples
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
boxed="$target/release/boxed"
program="$target/release/quickstart"
launcher=/usr/local/lib/boxed/launcher

if [ "$(id -u)" != 0 ]; then
    if [ ! -x "$launcher" ]; then
        if [ -e "$launcher.json" ]; then
            # Set up for others: a setup naming only us would replace their list.
            echo "the launcher serves other users, not $(id -un); as root, run" >&2
            echo "  boxed setup --user $(id -un) --user OTHER...   (naming every user it should serve)" >&2
            exit 1
        fi
        sudo "$boxed" setup --user "$(id -un)"
    fi
    exec "$program"
fi

user=boxed-demo
id -u "$user" >/dev/null 2>&1 || useradd --user-group --shell /bin/sh "$user"
stage=$(mktemp -d /tmp/boxed-demo.XXXXXX)
chmod 755 "$stage"
# One launcher per machine: keep the one installed before, and put it back after.
mkdir "$stage/saved"
[ ! -e "$launcher.json" ] || cp -a "$launcher" "$launcher.json" "$stage/saved/"
restore() {
    "$boxed" setup --remove >/dev/null
    [ ! -e "$stage/saved/launcher.json" ] || cp -a "$stage/saved/launcher" "$stage/saved/launcher.json" "$(dirname "$launcher")/"
    rm -rf "$stage"
}
trap restore EXIT
cp "$program" "$stage/quickstart"
"$boxed" setup --user "$user"
echo "running the quickstart as $user:"
runuser -u "$user" -- "$stage/quickstart"
