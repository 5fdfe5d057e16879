#!/usr/bin/env bash
# Builds the quickstart (release) and runs it as an unprivileged user, through the
# launcher that `boxed setup` installs once per machine.
#
# As root: sets the launcher up for the user `boxed-demo` (created if missing), runs the
# quickstart as that user from a directory it can reach, and puts back the launcher
# setup the machine had before. As anyone else: if the launcher does not serve you yet,
# `sudo` sets it up for you (once), and the program runs as you.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p boxed -p boxed-examples
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
boxed="$target/release/boxed"
program="$target/release/quickstart"
launcher=/usr/local/lib/boxed/launcher

if [ "$(id -u)" != 0 ]; then
    [ -x "$launcher" ] || sudo "$boxed" setup --user "$(id -un)"
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
