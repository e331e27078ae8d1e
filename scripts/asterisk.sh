#!/bin/sh
# Builds the lab's real Asterisk 20 (with chan_sip) into a cached prefix, once per machine: the
# end-to-end lab tests, the demo and bench:e2e run against it. Nothing is downloaded: the source
# and the pjproject tarball it bundles come from the shared material beside the checkout
# (../shared/asterisk, or $WANCTL_SHARED_DIR/asterisk). Prints the prefix on its last line.
set -eu
cd "$(dirname "$0")/.."

version=20.20.1
prefix=${WANCTL_ASTERISK_PREFIX:-/var/cache/wanctl-lab/asterisk-$version}

# The recipe's own fingerprint: a change to this script rebuilds, anything else reuses the cache.
recipe=$(sha256sum "$0" | cut -c1-16)
if [ -x "$prefix/sbin/asterisk" ] && [ "$(cat "$prefix/.recipe" 2>/dev/null)" = "$recipe" ]; then
  echo "$prefix"
  exit 0
fi

src=""
for d in "${WANCTL_SHARED_DIR:-}" ../shared /work/shared; do
  if [ -n "$d" ] && [ -f "$d/asterisk/asterisk-$version.tar.gz" ]; then src=$(cd "$d/asterisk" && pwd); break; fi
done
if [ -z "$src" ]; then
  echo "asterisk: asterisk-$version.tar.gz not found in ../shared/asterisk (set WANCTL_SHARED_DIR)" >&2
  exit 1
fi

packages="build-essential pkg-config bzip2 patch file libedit-dev libjansson-dev libxml2-dev uuid-dev
libsqlite3-dev libssl-dev libsrtp2-dev libcurl4-openssl-dev libncurses-dev xmlstarlet util-linux"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "asterisk: installing build dependencies:$missing" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
fi

mkdir -p "$(dirname "$prefix")"
# One build at a time per machine (two test runs starting together wait for the first).
exec 9>"$prefix.lock"
flock 9
if [ -x "$prefix/sbin/asterisk" ] && [ "$(cat "$prefix/.recipe" 2>/dev/null)" = "$recipe" ]; then
  echo "$prefix"
  exit 0
fi

build=$(mktemp -d "$(dirname "$prefix")/build.XXXXXX")
trap 'rm -rf "$build"' EXIT
echo "asterisk: building Asterisk $version into $prefix (about 10 minutes on two cores, once per machine)" >&2
start=$(date +%s)
(
  cd "$build"
  tar -xzf "$src/asterisk-$version.tar.gz"
  cd "asterisk-$version"
  ./configure --prefix="$prefix" --libdir="$prefix/lib" --with-pjproject-bundled \
    --with-jansson-bundled=no --with-externals-cache="$src" >configure.log 2>&1 ||
    { tail -40 configure.log >&2; exit 1; }
  make menuselect.makeopts >/dev/null
  menuselect/menuselect --enable chan_sip --disable BUILD_NATIVE --disable CORE-SOUNDS-EN-GSM \
    --disable MOH-OPSOUND-WAV menuselect.makeopts >/dev/null
  make -j"$(nproc)" >make.log 2>&1 || { tail -60 make.log >&2; exit 1; }
  rm -rf "$prefix"
  make install >install.log 2>&1 || { tail -40 install.log >&2; exit 1; }
) >&2
echo "$recipe" >"$prefix/.recipe"
echo "asterisk: built in $(( $(date +%s) - start )) s" >&2
echo "$prefix"
