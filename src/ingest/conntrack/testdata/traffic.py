#!/usr/bin/env python3
"""Traffic generator for capture.sh: runs inside the "ct-test" netns, loopback only.

Opens real TCP/UDP/UDP-Lite/ICMP-free connections between 10.244.x.x / fd00:10:: addresses on lo,
crafts raw GRE, SCTP and IP protocol 253 packets so conntrack tracks those too, holds the
long-lived connections for HOLD seconds (so `conntrack -L` can see them), then closes them.
"""
import socket, struct, sys, threading, time

SHORT = len(sys.argv) > 1 and sys.argv[1] == 'short'
HOLD = 0.0 if SHORT else float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
held = []

def tcp_server(family, addr, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16)
    def loop():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            held.append(c)
            threading.Thread(target=echo, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    held.append(s)

def echo(c):
    try:
        while True:
            d = c.recv(4096)
            if not d:
                c.close(); return
            c.sendall(d)
    except OSError:
        pass

def udp_server(family, addr, port):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    def loop():
        while True:
            try:
                d, peer = s.recvfrom(4096)
                s.sendto(d, peer)
            except OSError:
                return
    threading.Thread(target=loop, daemon=True).start()
    held.append(s)

def tcp_client(family, src, dst, dport, keep=True):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.bind((src, 0)); c.connect((dst, dport)); c.sendall(b'ping'); c.recv(16)
    if keep:
        held.append(c)
    else:
        c.close()

def udp_client(family, src, dst, dport, n=2, wait=True):
    c = socket.socket(family, socket.SOCK_DGRAM)
    c.bind((src, 0)); c.settimeout(0.5)
    for _ in range(n):
        c.sendto(b'query', (dst, dport))
        if wait:
            try: c.recvfrom(4096)
            except OSError: pass
    held.append(c)

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def sctp_packet(sport, dport, vtag, chunk):
    pkt = struct.pack('!HHII', sport, dport, vtag, 0) + chunk
    return pkt[:8] + struct.pack('<I', crc32c(pkt)) + pkt[12:]

def raw(proto, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    s.bind((src, 0)); held.append(s)
    return s

# servers
tcp_server(socket.AF_INET, '10.244.1.7', 8080)
tcp_server(socket.AF_INET, '10.244.2.9', 7000)
tcp_server(socket.AF_INET, '10.244.2.9', 9090)
tcp_server(socket.AF_INET, '10.244.3.3', 6379)
tcp_server(socket.AF_INET6, 'fd00:10:244:1::7', 8080)
udp_server(socket.AF_INET, '10.244.1.7', 5353)
udp_server(socket.AF_INET6, 'fd00:10:244:1::7', 5353)
time.sleep(0.2)

if SHORT:  # 'short': two connections that end quickly, for expiry (timeout) DESTROY events
    tcp_client(socket.AF_INET, '10.244.0.5', '10.96.0.10', 80, keep=False)
    udp_client(socket.AF_INET, '10.244.0.5', '10.96.0.20', 53, n=1)
    time.sleep(0.3)
    sys.exit(0)

tcp_client(socket.AF_INET, '10.244.0.5', '10.96.0.10', 80)            # Service DNAT, held open
tcp_client(socket.AF_INET, '10.244.0.5', '10.96.0.10', 80, keep=False) # closed -> TIME_WAIT
tcp_client(socket.AF_INET, '10.244.0.5', '10.244.2.9', 7000)          # SNAT to 10.244.0.99
tcp_client(socket.AF_INET, '10.244.1.7', '10.244.2.9', 9090)          # plain pod to pod
tcp_client(socket.AF_INET, '10.244.0.5', '10.244.3.3', 6379)          # zone 7, mark 42, label 1
tcp_client(socket.AF_INET6, 'fd00:10:244::5', 'fd00:10:96::10', 80)   # IPv6 Service DNAT
syn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)               # SYN dropped -> UNREPLIED
syn.bind(('10.244.0.5', 0)); syn.setblocking(False)
try: syn.connect(('10.244.2.9', 9999))
except BlockingIOError: pass
held.append(syn)
udp_client(socket.AF_INET, '10.244.0.5', '10.96.0.20', 53)            # DNS-like via Service DNAT
udp_client(socket.AF_INET, '10.244.0.5', '10.244.2.9', 5999, n=1, wait=False)  # no listener
udp_client(socket.AF_INET6, 'fd00:10:244::5', 'fd00:10:244:1::7', 5353)
lite = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136)          # UDP-Lite: unsupported
lite.bind(('10.244.0.5', 0)); lite.sendto(b'x', ('10.244.1.7', 7777)); held.append(lite)

# GRE (proto 47) both ways, version 0, no key
g1, g2 = raw(47, '10.244.0.5'), raw(47, '10.244.1.7')
g1.sendto(b'\x00\x00\x08\x00' + b'\x00' * 20, ('10.244.1.7', 0))
g2.sendto(b'\x00\x00\x08\x00' + b'\x00' * 20, ('10.244.0.5', 0))
# an unknown IP protocol (253, "use for experimentation")
raw(253, '10.244.0.5').sendto(b'hello', ('10.244.1.7', 0)); raw(253, '10.244.1.7')
# SCTP four-way handshake crafted by hand (no sctp module needed: conntrack parses it at OUTPUT)
c, s = raw(132, '10.244.0.5'), raw(132, '10.244.1.7')
t1, t2 = 0x11111111, 0x22222222
init = struct.pack('!BBHIIHHI', 1, 0, 20, t1, 65535, 1, 1, 1)
c.sendto(sctp_packet(5000, 6000, 0, init), ('10.244.1.7', 0))
cookie = struct.pack('!HH', 7, 8) + b'cook'
init_ack = struct.pack('!BBHIIHHI', 2, 0, 20 + len(cookie), t2, 65535, 1, 1, 1) + cookie
s.sendto(sctp_packet(6000, 5000, t1, init_ack), ('10.244.0.5', 0))
c.sendto(sctp_packet(5000, 6000, t2, struct.pack('!BBH', 10, 0, 8) + b'cook'), ('10.244.1.7', 0))
s.sendto(sctp_packet(6000, 5000, t1, struct.pack('!BBH', 11, 0, 4)), ('10.244.0.5', 0))

print('traffic ready', flush=True)
time.sleep(HOLD)
for h in reversed(held):
    try: h.close()
    except OSError: pass
time.sleep(0.5)
