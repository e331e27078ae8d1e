#!/bin/sh
# Installs what wanctl's demo and tests need on Debian 12 (run as root): the network lab's tools
# and the real servers the lab runs, then the npm packages, then the build.
set -eu
cd "$(dirname "$0")/.."

# iproute2/iptables/conntrack/ping: the lab and the Linux route backend.
# bind9 + dnsutils: the authoritative DNS server for RFC 2136 tests. kamailio: the ITSP's registrar,
# and the caller that finds the office by DNS SRV (SIPp resolves no SRV records).
# python3: the lab's echo responder that adds delay and jitter where the kernel has no netem, and
# the notify socket of the systemd tests. prometheus: promtool checks the alert rules, and a real
# Prometheus scrapes wanctl in the lab. chromium: the status page in a real browser. systemd:
# systemd-notify (how wanctl talks to systemd) and systemd-analyze (checks the unit).
packages="iproute2 iptables conntrack iputils-ping procps python3 bind9 bind9-dnsutils kamailio prometheus chromium systemd"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  # The lab starts its own named and kamailio inside network namespaces; keep the packages'
  # system services from starting on the host while they are installed.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
fi

# The lab's real Asterisk 20 (with chan_sip): built once per machine into a cached prefix (about
# 10 minutes on two cores the first time; then it only prints the prefix).
./scripts/asterisk.sh >/dev/null

npm ci --no-audit --no-fund
npm run build
