#!/usr/bin/env bash
# Runs the quickstart end to end, as boxed is meant to be used: built, given its
# setcap'd copy by `boxed install` (root), then run by an unprivileged user.
#
# As root, the program is staged where the user `boxed-demo` (created if missing) can run
# it and is run as that user. As anyone else, `sudo` installs the copy for you and the
# program runs as you.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p boxed -p boxed-examples
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
boxed="$target/release/boxed"
program="$target/release/quickstart"

if [ "$(id -u)" != 0 ]; then
    sudo "$boxed" install "$program"
    exec "$program"
fi

user=boxed-demo
id -u "$user" >/dev/null 2>&1 || useradd --user-group --shell /bin/sh "$user"
stage=$(mktemp -d /tmp/boxed-demo.XXXXXX)
chmod 755 "$stage"
trap '"$boxed" uninstall --user "$user" "$stage/quickstart" >/dev/null; rm -rf "$stage"' EXIT
cp "$program" "$stage/quickstart"
"$boxed" install --user "$user" "$stage/quickstart"
echo "running the quickstart as $user:"
runuser -u "$user" -- "$stage/quickstart"
