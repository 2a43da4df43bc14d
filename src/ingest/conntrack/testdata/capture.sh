#!/usr/bin/env bash
# Regenerates the REAL conntrack fixtures in this directory from the running kernel.
#
# Needs root, conntrack-tools, nftables, iputils-ping and python3. Everything happens in a
# throwaway network namespace "ct-test" on its loopback device (10.x / fd00:10:: addresses);
# no packet leaves the machine. The namespace (and /etc/xtables/connlabel.conf, if this script
# created it) is removed on exit.
#
# Three rounds:
#   basic  — default sysctls: no counters, no timestamps, no label map
#   acct   — net.netfilter.nf_conntrack_acct=1 and nf_conntrack_timestamp=1 (packets=/bytes=,
#            delta-time=, [start=…] [stop=…] with -o ktimestamp) and a connlabel map (labels=)
#   expiry — 1 s timeouts, so the kernel itself destroys entries ([DESTROY] without a timeout)
#
# Re-capturing changes ports, ids and timestamps: the named cases in ../*.test.ts quote lines from
# these files verbatim (and check they are still here), so update them afterwards.
set -euo pipefail
cd "$(dirname "$0")"
NS=ct-test
X=(ip netns exec "$NS")
LABELMAP=/etc/xtables/connlabel.conf
CREATED_LABELMAP=0
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  if [ "$CREATED_LABELMAP" = 1 ]; then rm -f "$LABELMAP"; rmdir /etc/xtables 2>/dev/null || true; fi
}
trap cleanup EXIT

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
"${X[@]}" ip link set lo up
for a in 10.244.0.5 10.244.0.99 10.244.1.7 10.244.2.9 10.244.3.3; do "${X[@]}" ip addr add "$a/32" dev lo; done
for a in fd00:10:244::5 fd00:10:244:1::7; do "${X[@]}" ip -6 addr add "$a/128" dev lo nodad; done
# Service ClusterIPs are not local addresses: route them to lo so OUTPUT DNAT can rewrite them.
"${X[@]}" ip route add 10.96.0.0/16 dev lo
"${X[@]}" ip -6 route add fd00:10:96::/64 dev lo
"${X[@]}" nft -f ruleset.nft

round() {
  local r=$1
  "${X[@]}" conntrack -F 2>/dev/null || true
  PIDS=()
  "${X[@]}" conntrack -E > "events.$r.plain.txt" 2>/dev/null & PIDS+=($!)
  "${X[@]}" conntrack -E -o timestamp > "events.$r.timestamp.txt" 2>/dev/null & PIDS+=($!)
  "${X[@]}" conntrack -E -o extended > "events.$r.extended.txt" 2>/dev/null & PIDS+=($!)
  "${X[@]}" conntrack -E -o timestamp,extended > "events.$r.timestamp-extended.txt" 2>/dev/null & PIDS+=($!)
  if [ "$r" = acct ]; then
    "${X[@]}" conntrack -E -o extended,ktimestamp,id,labels > "events.$r.ktimestamp-id-labels.txt" 2>/dev/null & PIDS+=($!)
  fi
  sleep 0.5
  "${X[@]}" python3 traffic.py 4 > /dev/null & local tp=$!
  sleep 0.5
  "${X[@]}" ping -c 1 -I 10.244.0.5 10.244.1.7 > /dev/null
  "${X[@]}" ping -6 -c 1 -I fd00:10:244::5 fd00:10:244:1::7 > /dev/null
  sleep 1.5
  "${X[@]}" conntrack -L -o extended > "list.$r.extended.txt" 2>/dev/null
  "${X[@]}" conntrack -L > "list.$r.plain.txt" 2> "list.$r.plain.stderr.txt"
  "${X[@]}" conntrack -L -f ipv6 -o extended > "list.$r.ipv6-extended.txt" 2>/dev/null
  "${X[@]}" cat /proc/net/nf_conntrack > "proc.$r.txt"
  if [ "$r" = acct ]; then
    "${X[@]}" conntrack -L -o extended,ktimestamp,id,labels > "list.$r.ktimestamp-id-labels.txt" 2>/dev/null
  fi
  wait "$tp"
  sleep 0.5
  "${X[@]}" conntrack -F 2>/dev/null   # DESTROY events for everything still tracked
  sleep 0.5
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
}

round basic

"${X[@]}" sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1
if [ ! -e "$LABELMAP" ]; then
  mkdir -p /etc/xtables
  printf '0 hivewall-seen\n1 hivewall-learned\n' > "$LABELMAP"
  CREATED_LABELMAP=1
fi
round acct

# expiry: tiny timeouts, then a dump (which reaps expired entries) -> kernel-initiated DESTROY
# events (no [USERSPACE], and no timeout field). stderr is kept: conntrack prints its summary there.
"${X[@]}" sysctl -qw net.netfilter.nf_conntrack_acct=0 net.netfilter.nf_conntrack_timestamp=0 \
  net.netfilter.nf_conntrack_udp_timeout=1 net.netfilter.nf_conntrack_udp_timeout_stream=1 \
  net.netfilter.nf_conntrack_icmp_timeout=1 net.netfilter.nf_conntrack_tcp_timeout_time_wait=1
"${X[@]}" conntrack -F 2>/dev/null || true
"${X[@]}" conntrack -E -o timestamp,extended > events.expiry.timestamp-extended.txt 2>&1 & EP=$!
PIDS=("$EP")
sleep 0.5
"${X[@]}" python3 traffic.py short > /dev/null
"${X[@]}" ping -c 1 -I 10.244.0.5 10.244.1.7 > /dev/null
sleep 3
"${X[@]}" conntrack -L > /dev/null 2>&1
sleep 0.5
kill -INT "$EP"; wait "$EP" 2>/dev/null || true
PIDS=()

uname -r > kernel.txt
conntrack --version >> kernel.txt 2>&1
echo "captured: $(ls -1 ./*.txt | wc -l) files"
