#!/bin/sh
# SPDX-License-Identifier: ISC
#
# make-deb.sh DIR: builds eca's Debian packages (debian/) from a copy of
# this tree in DIR/eca-VERSION, so that dpkg-buildpackage writes nothing
# outside DIR, then runs lintian on the result.  The .debs, .buildinfo and
# .changes land in DIR.  Exit 1 if the build fails, the versions of
# meson.build and debian/changelog disagree, or lintian reports an error
# or a warning.
set -eu

out=${1:?usage: make-deb.sh DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

version=$(sed -n "s/^ *version : '\([^']*\)'.*/\1/p" meson.build | head -1)
debver=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$debver" ]; then
	echo "make-deb: meson.build says $version, debian/changelog $debver:" \
	    "add a changelog entry (dch -v $version)" >&2
	exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$out/eca-$version
rm -rf "$src"
mkdir -p "$src"
# The tracked and the new (not ignored) files: what a commit would hold.
git ls-files -z --cached --others --exclude-standard |
    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf - | tar -C "$src" -xf -
rm -f "$out"/eca_"$version"_*.changes "$out"/*.deb "$out"/*.buildinfo

echo "make-deb: building eca $version in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	echo "make-deb: dpkg-buildpackage failed; the log is $out/build.log" >&2
	exit 1
}
ls "$out"/*.deb

changes=$(ls "$out"/eca_"$version"_*.changes)
if command -v lintian >/dev/null 2>&1; then
	echo "make-deb: lintian $changes"
	lintian --fail-on error,warning "$changes"
	echo "make-deb: lintian: no errors, no warnings"
else
	echo "make-deb: lintian is not installed (scripts/install-deps.sh package)" >&2
	exit 1
fi
