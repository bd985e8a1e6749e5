/*
 * Flow meter tests (assert-based, no framework). From the repo root:
 *
 * cc -std=c11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
 *   -Inative/src native/src/flow_table.c native/src/frag_cache.c native/src/parse.c \
 *   native/test/flow_table_test.c -o /tmp/flow_table_test && /tmp/flow_table_test
 *
 * Benchmark (printf only, no sanitizers):
 * cc -std=c11 -Wall -Wextra -Werror -O2 -Inative/src native/src/flow_table.c native/src/frag_cache.c \
 *   native/src/parse.c native/test/flow_table_test.c -o /tmp/flow_table_bench && /tmp/flow_table_bench bench
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow_table_internal.h"

#define S 1000000000ull /* one second in ns */
enum { UDP = 17, TCP = 6, FIN = 0x01, SYN = 0x02, RST = 0x04, ACK = 0x10 };

static wf_meter *mk(uint32_t max_flows, uint32_t idle, uint32_t active, uint64_t seed) {
  wf_meter_config c = {max_flows, idle, active, seed};
  char err[128] = "";
  wf_meter *m = wf_meter_create(&c, err, sizeof err);
  assert(m && err[0] == 0);
  return m;
}

static wf_parsed v4(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
                    uint8_t flags, uint32_t bytes) {
  wf_parsed p;
  memset(&p, 0, sizeof p);
  p.family = 4;
  p.protocol = proto;
  p.tcp_flags = flags;
  p.has_ports = 1;
  for (int i = 0; i < 4; i++) {
    p.src[i] = (uint8_t)(src >> (24 - 8 * i));
    p.dst[i] = (uint8_t)(dst >> (24 - 8 * i));
  }
  p.src_port = sp;
  p.dst_port = dp;
  p.ip_bytes = bytes;
  return p;
}

static wf_parsed rev(wf_parsed p, uint8_t flags, uint32_t bytes) {
  wf_parsed r = p;
  memcpy(r.src, p.dst, 16);
  memcpy(r.dst, p.src, 16);
  r.src_port = p.dst_port;
  r.dst_port = p.src_port;
  r.tcp_flags = flags;
  r.ip_bytes = bytes;
  return r;
}

static wf_meter_stats stats(const wf_meter *m) {
  wf_meter_stats s;
  wf_meter_get_stats(m, &s);
  return s;
}

/* Drains exactly one record (asserts that only one is pending). */
static wf_flow_record one(wf_meter *m) {
  wf_flow_record r;
  assert(wf_meter_pending(m) == 1);
  assert(wf_meter_drain(m, &r, 1) == 1 && wf_meter_pending(m) == 0);
  return r;
}

static void test_config(void) {
  char err[128] = "";
  wf_meter_config c = {100, 0, 0, 1};
  assert(wf_meter_create(&c, err, sizeof err) == NULL && strstr(err, "max_flows"));
  c.max_flows = 16777217;
  assert(wf_meter_create(&c, err, sizeof err) == NULL);
  /* 0 timeouts mean 300 s idle */
  wf_meter *m = mk(4096, 0, 0, 0);
  wf_parsed p = v4(UDP, 0x0a000001, 0x0a000002, 1, 2, 0, 50);
  wf_meter_parsed(m, &p, 1000 * S);
  wf_meter_expire(m, 1299 * S);
  assert(wf_meter_pending(m) == 0);
  wf_meter_expire(m, 1300 * S);
  assert(one(m).end_reason == WF_END_IDLE);
  wf_meter_stats s = stats(m);
  assert(s.capacity == 4096 && s.bytes_per_flow >= 100 && s.memory_bytes > 4096 * 100);
  wf_meter_destroy(m);
}

static void test_bidirectional(void) {
  wf_meter *m = mk(4096, 60, 600, 7);
  wf_parsed a = v4(UDP, 0xc0a80001, 0x08080808, 5353, 53, 0, 100);
  wf_parsed b = rev(a, 0, 200);
  wf_meter_parsed(m, &b, 5 * S); /* the responder-looking side speaks first: it is the initiator */
  wf_meter_parsed(m, &a, 6 * S);
  wf_meter_parsed(m, &a, 7 * S);
  wf_meter_parsed(m, &b, 8 * S);
  wf_meter_parsed(m, &a, 9 * S);
  wf_flow_record snap[4];
  assert(wf_meter_snapshot(m, snap, 4) == 1 && snap[0].end_reason == WF_END_NONE);
  wf_meter_flush(m);
  wf_flow_record r = one(m);
  assert(memcmp(r.src, b.src, 16) == 0 && r.src_port == 53 && r.dst_port == 5353);
  assert(r.packets_fwd == 2 && r.bytes_fwd == 400 && r.packets_rev == 3 && r.bytes_rev == 300);
  assert(r.first_ns == 5 * S && r.last_ns == 9 * S && r.flow_id == snap[0].flow_id);
  assert(r.end_reason == WF_END_END_OF_CAPTURE && r.state == WF_STATE_ACTIVE && r.family == 4);
  wf_meter_stats s = stats(m);
  assert(s.packets == 5 && s.ip_packets == 5 && s.bytes == 700 && s.flows_created == 1 &&
         s.flows_emitted == 1 && s.flows_active == 0);
  /* same address both ends (loopback): the ports order the key */
  wf_parsed l = v4(UDP, 0x7f000001, 0x7f000001, 2000, 1000, 0, 10), lr = rev(l, 0, 10);
  wf_meter_parsed(m, &l, 10 * S);
  wf_meter_parsed(m, &lr, 10 * S);
  wf_meter_flush(m);
  r = one(m);
  assert(r.src_port == 2000 && r.packets_fwd == 1 && r.packets_rev == 1);
  wf_meter_destroy(m);
}

static void test_tcp(void) {
  wf_meter *m = mk(4096, 60, 600, 7);
  wf_parsed c = v4(TCP, 0x0a000001, 0x0a000002, 40000, 443, SYN, 60);
  wf_meter_parsed(m, &c, 1 * S);
  wf_parsed s = rev(c, SYN | ACK, 60);
  wf_meter_parsed(m, &s, 1 * S + 1000);
  c.tcp_flags = ACK;
  wf_meter_parsed(m, &c, 1 * S + 2000);
  c.tcp_flags = FIN | ACK;
  wf_meter_parsed(m, &c, 2 * S);
  wf_flow_record snap;
  assert(wf_meter_snapshot(m, &snap, 1) == 1 && snap.state == WF_STATE_CLOSING);
  assert(wf_meter_pending(m) == 0);
  s.tcp_flags = FIN | ACK;
  wf_meter_parsed(m, &s, 3 * S);
  wf_flow_record r = one(m);
  assert(r.state == WF_STATE_CLOSED && r.end_reason == WF_END_FIN_RST);
  assert(r.tcp_flags == (SYN | ACK | FIN) && r.packets_fwd == 3 && r.packets_rev == 2);
  assert(r.src_port == 40000 && r.bytes_fwd == 180 && r.last_ns == 3 * S);
  char buf[40];
  wf_tcp_flags_string(r.tcp_flags, buf, sizeof buf);
  assert(strcmp(buf, "SYN|ACK|FIN") == 0);
  /* the last ACK after close is a new flow */
  c.tcp_flags = ACK;
  wf_meter_parsed(m, &c, 3 * S + 10);
  assert(stats(m).flows_created == 2 && stats(m).flows_active == 1);

  /* RST from the responder ends the flow at once */
  wf_parsed x = v4(TCP, 0x0a000003, 0x0a000004, 1234, 80, SYN, 60);
  wf_meter_parsed(m, &x, 4 * S);
  wf_parsed y = rev(x, RST | ACK, 40);
  wf_meter_parsed(m, &y, 4 * S + 5);
  r = one(m);
  assert(r.end_reason == WF_END_FIN_RST && r.state == WF_STATE_CLOSED && r.packets_rev == 1 &&
         r.tcp_flags == (SYN | RST | ACK));
  wf_meter_destroy(m);
}

static void test_timeouts(void) {
  wf_meter *m = mk(4096, 10, 30, 7);
  wf_parsed a = v4(UDP, 1, 2, 10, 20, 0, 100), b = v4(UDP, 3, 4, 10, 20, 0, 100);
  wf_meter_parsed(m, &a, 100 * S);
  wf_meter_parsed(m, &a, 105 * S);
  wf_meter_expire(m, 114 * S);
  assert(wf_meter_pending(m) == 0);
  wf_meter_parsed(m, &b, 115 * S); /* capture time advancing expires a */
  wf_flow_record r = one(m);
  assert(r.end_reason == WF_END_IDLE && r.packets_fwd == 2 && r.src[3] == 1);
  /* a packet of an idle flow arriving before the periodic expiry starts a new record */
  wf_meter_parsed(m, &a, 124 * S + S / 2); /* expiry runs here, b still has 0.5 s */
  wf_meter_parsed(m, &b, 125 * S + 500);    /* no expiry run yet: b is checked on arrival */
  r = one(m);
  assert(r.end_reason == WF_END_IDLE && r.src[3] == 3 && r.packets_fwd == 1);
  assert(stats(m).flows_active == 2);
  wf_meter_flush(m);
  wf_flow_record two[2];
  assert(wf_meter_drain(m, two, 2) == 2 && wf_meter_pending(m) == 0);

  /* a flow touched again within the same second keeps its LRU place (it is
   * requeued at most once a second), yet expiry must still be exact */
  wf_parsed c = v4(UDP, 5, 6, 10, 20, 0, 100);
  wf_meter_parsed(m, &a, 500 * S);
  wf_meter_parsed(m, &c, 500 * S + S / 10);
  wf_meter_parsed(m, &a, 500 * S + S * 9 / 10);
  wf_meter_expire(m, 510 * S + S / 2);
  r = one(m);
  assert(r.src[3] == 5 && r.end_reason == WF_END_IDLE && stats(m).flows_active == 1);
  wf_meter_flush(m);
  one(m);

  /* active timeout: a packet every 5 s cuts the flow at 30 s of age */
  for (uint64_t t = 0; t <= 60; t += 5) wf_meter_parsed(m, &a, 1000 * S + t * S);
  wf_flow_record rs[4];
  assert(wf_meter_drain(m, rs, 4) == 2);
  assert(rs[0].end_reason == WF_END_ACTIVE && rs[0].packets_fwd == 6 && rs[0].first_ns == 1000 * S);
  assert(rs[1].end_reason == WF_END_ACTIVE && rs[1].first_ns == 1030 * S);
  /* time going backwards: no underflow, no expiry */
  wf_meter_parsed(m, &a, 1059 * S);
  wf_meter_expire(m, 5 * S);
  assert(wf_meter_pending(m) == 0);
  wf_meter_flush(m);
  r = one(m);
  assert(r.packets_fwd == 2 && r.first_ns == 1059 * S && r.last_ns == 1060 * S);
  wf_meter_destroy(m);
}

static void test_vlan_ipv6(void) {
  wf_meter *m = mk(4096, 60, 600, 7);
  wf_parsed a = v4(UDP, 1, 2, 10, 20, 0, 100), b = a;
  a.vlan_id = 10;
  b.vlan_id = 20;
  wf_meter_parsed(m, &a, S);
  wf_meter_parsed(m, &b, S);
  wf_parsed c = rev(a, 0, 10);
  wf_meter_parsed(m, &c, S);
  assert(stats(m).flows_active == 2);

  wf_parsed x;
  memset(&x, 0, sizeof x);
  x.family = 6;
  x.protocol = UDP;
  x.src[0] = 0x20, x.src[1] = 0x01, x.src[15] = 1;
  x.dst[0] = 0x20, x.dst[1] = 0x01, x.dst[15] = 2;
  x.src_port = 5000, x.dst_port = 6000, x.ip_bytes = 1280;
  wf_parsed y = rev(x, 0, 80);
  wf_meter_parsed(m, &x, S);
  wf_meter_parsed(m, &y, S);
  wf_meter_parsed(m, &x, S);
  assert(stats(m).flows_active == 3);
  wf_meter_flush(m);
  wf_flow_record rs[8];
  assert(wf_meter_drain(m, rs, 8) == 3);
  assert(rs[0].vlan_id == 10 && rs[0].packets_fwd == 1 && rs[0].packets_rev == 1);
  assert(rs[1].vlan_id == 20 && rs[1].packets_fwd == 1 && rs[1].packets_rev == 0);
  assert(rs[2].family == 6 && rs[2].src[15] == 1 && rs[2].packets_fwd == 2 &&
         rs[2].bytes_fwd == 2560 && rs[2].bytes_rev == 80);
  wf_meter_destroy(m);
}

static void test_fragments(void) {
  wf_meter *m = mk(4096, 60, 600, 7);
  wf_parsed f1 = v4(UDP, 0x0a000001, 0x0a000002, 1111, 53, 0, 1500);
  f1.fragment = WF_FRAG_FIRST;
  f1.ip_id = 77;
  wf_parsed f2 = v4(UDP, 0x0a000001, 0x0a000002, 0, 0, 0, 600);
  f2.fragment = WF_FRAG_LATER;
  f2.has_ports = 0;
  f2.ip_id = 77;
  wf_meter_parsed(m, &f1, S);
  wf_meter_parsed(m, &f2, S + 10);
  assert(stats(m).flows_active == 1 && stats(m).fragments_unmatched == 0);
  wf_parsed t = f1; /* a TCP later fragment's payload bytes are not flags */
  t.protocol = TCP, t.src_port = 80, t.dst_port = 81, t.fragment = WF_FRAG_FIRST, t.ip_id = 5;
  wf_meter_parsed(m, &t, S);
  t.fragment = WF_FRAG_LATER, t.src_port = t.dst_port = 0, t.tcp_flags = RST;
  wf_meter_parsed(m, &t, S);
  assert(wf_meter_pending(m) == 0 && stats(m).flows_active == 2);
  f2.ip_id = 99; /* its first fragment never came */
  wf_meter_parsed(m, &f2, S + 20);
  wf_parsed f3 = f1; /* IP ID reused by a new datagram: the newer first fragment wins */
  f3.ip_id = 78, f3.src_port = 2222;
  wf_meter_parsed(m, &f3, S + 30);
  f3.src_port = 3333;
  wf_meter_parsed(m, &f3, S + 40);
  f2.ip_id = 78;
  wf_meter_parsed(m, &f2, S + 50);
  assert(stats(m).flows_active == 5 && stats(m).fragments_unmatched == 1);
  f2.ip_id = 77; /* the cache entry is too old after 30 s */
  wf_meter_parsed(m, &f2, 32 * S);
  assert(stats(m).flows_active == 5 && stats(m).fragments_unmatched == 2);
  wf_meter_flush(m);
  wf_flow_record rs[8];
  assert(wf_meter_drain(m, rs, 8) == 5);
  assert(rs[0].src_port == 1111 && rs[0].packets_fwd == 2 && rs[0].bytes_fwd == 2100);
  assert(rs[1].src_port == 80 && rs[1].packets_fwd == 2 && rs[1].tcp_flags == 0);
  assert(rs[2].src_port == 0 && rs[2].dst_port == 0 && rs[2].packets_fwd == 2);
  assert(rs[3].src_port == 2222 && rs[3].packets_fwd == 1);
  assert(rs[4].src_port == 3333 && rs[4].packets_fwd == 2 && rs[4].bytes_fwd == 2100);
  wf_meter_destroy(m);
}

static void test_eviction(void) {
  wf_meter *m = mk(4096, 600, 6000, 7);
  for (uint32_t i = 0; i < 4096; i++) {
    wf_parsed p = v4(UDP, 0x0a000000 + i, 0x0b000001, 1000, 53, 0, 100);
    wf_meter_parsed(m, &p, S + i * 1000);
  }
  wf_parsed p0 = v4(UDP, 0x0a000000, 0x0b000001, 1000, 53, 0, 100);
  wf_meter_parsed(m, &p0, 2 * S); /* flow 0 is now the most recent; flow 1 the least */
  assert(stats(m).evictions == 0 && wf_meter_pending(m) == 0);
  wf_parsed n = v4(UDP, 0x0c000000, 0x0b000001, 1000, 53, 0, 100);
  wf_meter_parsed(m, &n, 3 * S);
  wf_flow_record r = one(m);
  assert(r.end_reason == WF_END_EVICTED && r.src[3] == 1 && stats(m).evictions == 1);
  assert(stats(m).flows_active == 4096);
  wf_meter_destroy(m);

  /* full table whose LRU flow is already idle (expiry not run yet): it ends
   * as IDLE, which is no eviction */
  m = mk(4096, 10, 600, 7);
  for (uint32_t i = 0; i < 4096; i++) {
    wf_parsed p = v4(UDP, 0x0a000000 + i, 0x0b000001, 1000, 53, 0, 100);
    wf_meter_parsed(m, &p, 100 * S + (i ? 5 * S : 0));
  }
  wf_parsed last = v4(UDP, 0x0a000fff, 0x0b000001, 1000, 53, 0, 100);
  wf_meter_parsed(m, &last, 109 * S + S * 9 / 10); /* expiry runs: nothing idle yet */
  assert(wf_meter_pending(m) == 0);
  wf_meter_parsed(m, &n, 110 * S + S / 2); /* flow 0 idle since 110 s */
  r = one(m);
  assert(r.end_reason == WF_END_IDLE && r.src[3] == 0 && stats(m).evictions == 0);
  wf_meter_destroy(m);
}

/* White box: PROBE_MAX + 1 keys sharing one home slot force an in-run
 * eviction, then backward-shift deletes must keep every other key findable. */
static void test_probe_bound(void) {
  enum { N = 513 };
  const uint64_t seed = 99;
  wf_meter *m = mk(4096, 600, 6000, seed); /* 8192 slots */
  static wf_parsed keys[N];
  int n = 0;
  for (uint32_t k = 0; n < N; k++) { /* about 8192 tries per hit */
    uint16_t sp = (uint16_t)(1 + k % 65535), dp = (uint16_t)(1 + k / 65535);
    wf_parsed p = v4(TCP, 0x0a000001, 0x0b000001, sp, dp, ACK, 100);
    uint64_t w[5] = {4 | (uint64_t)TCP << 8 | (uint64_t)sp << 32 | (uint64_t)dp << 48,
                     wf_load64(p.src), wf_load64(p.src + 8), wf_load64(p.dst), wf_load64(p.dst + 8)};
    if ((wf_hash40(w, seed) & 8191) == 8190) keys[n++] = p; /* the run wraps around the end */
  }
  for (int i = 0; i < N; i++) wf_meter_parsed(m, &keys[i], S + (uint64_t)i);
  wf_flow_record r = one(m);
  assert(r.end_reason == WF_END_EVICTED && r.src_port == keys[0].src_port);
  assert(stats(m).evictions == 1 && stats(m).flows_active == N - 1);
  /* RST every third flow and the last one, which took keys[0]'s home slot:
   * backward-shift deletes, including one whose successor moves home. */
  for (int i = 1; i < N; i++) {
    if ((i - 1) % 3 != 0 && i != N - 1) continue;
    wf_parsed x = keys[i];
    x.tcp_flags = RST;
    wf_meter_parsed(m, &x, 2 * S);
  }
  wf_flow_record rs[N];
  size_t closed = wf_meter_drain(m, rs, N);
  assert(closed == (N - 1 + 2) / 3 + 1 && stats(m).flows_active == N - 1 - closed);
  uint64_t created = stats(m).flows_created;
  for (int i = 2; i < N - 1; i++)
    if ((i - 1) % 3 != 0) wf_meter_parsed(m, &keys[i], 3 * S);
  assert(stats(m).flows_created == created); /* all survivors still found */
  wf_meter_destroy(m);
}

static void test_emit_queue_bound(void) {
  wf_meter *m = mk(4096, 60, 600, 7);
  for (uint32_t i = 0; i < 70000; i++) {
    wf_parsed p = v4(TCP, 0x0a000000 + i, 0x0b000001, 1000, 80, RST, 40);
    wf_meter_parsed(m, &p, S);
  }
  wf_meter_stats s = stats(m);
  assert(wf_meter_pending(m) == 4096 + 65536 && s.emit_queue_drops == 70000 - 4096 - 65536);
  assert(s.flows_emitted == 4096 + 65536 && s.flows_active == 0);
  wf_flow_record r;
  assert(wf_meter_drain(m, &r, 1) == 1 && r.src[3] == 0); /* FIFO */
  wf_meter_destroy(m);
}

static void test_seed(void) {
  wf_flow_record r[3];
  wf_parsed p = v4(TCP, 0x0a000001, 0x0a000002, 1000, 80, SYN, 60);
  wf_parsed q = rev(p, SYN | ACK, 60);
  uint64_t seeds[3] = {42, 42, 43};
  for (int i = 0; i < 3; i++) {
    wf_meter *m = mk(4096, 60, 600, seeds[i]);
    wf_meter_parsed(m, i == 1 ? &q : &p, S); /* the other direction hashes alike */
    wf_meter_flush(m);
    r[i] = one(m);
    wf_meter_destroy(m);
  }
  assert(r[0].flow_id == r[1].flow_id && r[0].flow_id != r[2].flow_id);
}

/* An Ethernet/IPv4 TCP (ACK) or UDP frame for client i <-> 192.168.0.1:443;
 * 54 bytes at most. Returns its length. */
static uint32_t frame(uint8_t *b, uint32_t i, int reverse, int tcp, uint8_t flags) {
  uint32_t len = tcp ? 40 : 28, c = 0x0a000000 + i, sv = 0xc0a80001;
  uint16_t cp = (uint16_t)(1024 + i % 60000), sp = 443;
  memset(b, 0, 14 + len);
  b[12] = 0x08;
  uint8_t *ip = b + 14, *l4 = ip + 20;
  ip[0] = 0x45, ip[3] = (uint8_t)len, ip[8] = 64, ip[9] = tcp ? TCP : UDP;
  uint32_t src = reverse ? sv : c, dst = reverse ? c : sv;
  uint16_t sport = reverse ? sp : cp, dport = reverse ? cp : sp;
  for (int k = 0; k < 4; k++) ip[12 + k] = (uint8_t)(src >> (24 - 8 * k)), ip[16 + k] = (uint8_t)(dst >> (24 - 8 * k));
  l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport, l4[2] = (uint8_t)(dport >> 8), l4[3] = (uint8_t)dport;
  if (tcp) l4[12] = 0x50, l4[13] = flags;
  else l4[5] = 8;
  return 14 + len;
}

/* Real frames through wf_parse: IPv4/UDP, ARP, a truncated frame. */
static void test_packet(void) {
  uint8_t udp[64], arp[60] = {0};
  uint32_t len = frame(udp, 1, 0, 0, 0);
  arp[12] = 0x08, arp[13] = 0x06;
  wf_meter *m = mk(4096, 60, 600, 7);
  wf_meter_packet(m, WF_LINKTYPE_ETHERNET, udp, len, len, S);
  wf_meter_packet(m, WF_LINKTYPE_ETHERNET, arp, sizeof arp, sizeof arp, S);
  wf_meter_packet(m, WF_LINKTYPE_ETHERNET, udp, 20, len, S);
  wf_meter_stats s = stats(m);
  assert(s.packets == 3 && s.ip_packets == 1 && s.non_ip == 1 && s.parse_errors == 1 && s.bytes == 28);
  wf_meter_flush(m);
  wf_flow_record r = one(m);
  assert(r.src_port == 1025 && r.dst_port == 443 && r.bytes_fwd == 28 && r.src[3] == 1);
  wf_meter_destroy(m);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return rng_state;
}

static int cmp_rec(const void *a, const void *b) {
  const wf_flow_record *x = a, *y = b;
  if (x->flow_id != y->flow_id) return (x->flow_id > y->flow_id) - (x->flow_id < y->flow_id);
  return (x->first_ns > y->first_ns) - (x->first_ns < y->first_ns);
}

/* wf_meter_packets must give the same records and counters as one
 * wf_meter_packet call per frame (expiry may emit in another order). */
static void test_batch(void) {
  enum { N = 200000, FLOWS = 20000 };
  static uint8_t data[N][64];
  static wf_packet pk[N];
  static wf_flow_record ra[N], rb[N];
  uint64_t ts = 5000 * S;
  for (int k = 0; k < N; k++) {
    uint64_t r = rnd();
    uint32_t len = frame(data[k], (uint32_t)(r % FLOWS), (int)(r >> 20 & 1), (int)(r >> 21 & 1),
                         r % 211 == 0 ? FIN | ACK : r % 503 == 0 ? RST : ACK);
    if (r % 101 == 0) data[k][13] = 0x06; /* ARP */
    if (r % 103 == 0) len = 20;           /* truncated */
    ts += r % 997 == 0 ? 3 * S : rnd() % 20000;
    pk[k] = (wf_packet){data[k], len, len, ts, WF_LINKTYPE_ETHERNET};
  }
  wf_meter *a = mk(4096, 10, 60, 5), *b = mk(4096, 10, 60, 5);
  size_t na = 0, nb = 0;
  for (int k = 0; k < N; k++) {
    wf_meter_packet(a, pk[k].linktype, pk[k].data, pk[k].caplen, pk[k].wirelen, pk[k].ts_ns);
    na += wf_meter_drain(a, ra + na, N - na);
  }
  for (size_t k = 0, c; k < N; k += c) {
    c = 1 + rnd() % 100;
    if (c > N - k) c = N - k;
    wf_meter_packets(b, pk + k, c);
    nb += wf_meter_drain(b, rb + nb, N - nb);
  }
  wf_meter_flush(a);
  wf_meter_flush(b);
  na += wf_meter_drain(a, ra + na, N - na);
  nb += wf_meter_drain(b, rb + nb, N - nb);
  wf_meter_stats sa = stats(a), sb = stats(b);
  assert(sa.packets == N && sa.non_ip > 0 && sa.parse_errors > 0 && sa.evictions > 0);
  assert(memcmp(&sa, &sb, offsetof(wf_meter_stats, capacity)) == 0);
  assert(na == nb && na == sa.flows_created && sa.emit_queue_drops == 0);
  qsort(ra, na, sizeof *ra, cmp_rec);
  qsort(rb, nb, sizeof *rb, cmp_rec);
  assert(memcmp(ra, rb, na * sizeof *ra) == 0);
  wf_meter_destroy(a);
  wf_meter_destroy(b);
}

static int cmp_id(const void *a, const void *b) {
  uint64_t x = ((const wf_flow_record *)a)->flow_id, y = ((const wf_flow_record *)b)->flow_id;
  return (x > y) - (x < y);
}

/* 100k flows, random directions, closes, time jumps and drains: every packet
 * must come out in exactly one record of its own flow, once. */
static void test_random(uint32_t max_flows) {
  enum { FLOWS = 100000, PACKETS = 1000000 };
  static uint64_t sent[FLOWS], got[FLOWS];
  static wf_flow_record buf[4096];
  memset(sent, 0, sizeof sent);
  memset(got, 0, sizeof got);
  wf_meter *m = mk(max_flows, 20, 120, max_flows); /* fixed seed: reproducible */
  uint64_t ts = 1000 * S, total = 0;
  for (int k = 0; k < PACKETS; k++) {
    uint32_t r = (uint32_t)rnd(), i = (uint32_t)(rnd() % (r & 1 << 21 ? 2000 : FLOWS)); /* half hot */
    wf_parsed p = v4(i % 3 ? TCP : UDP, 0x0a000000 + i, 0xc0a80001, (uint16_t)(1024 + i % 60000),
                     443, r % 97 == 0 ? FIN : r % 251 == 0 ? RST : ACK, 40 + r % 1400);
    if (r & 1 << 20) p = rev(p, p.tcp_flags, p.ip_bytes);
    ts += r % 65536 == 0 ? 30 * S : rnd() % 100000; /* sometimes jump past the idle timeout */
    if (r % 8192 == 0) ts -= S / 2;                  /* and sometimes step back */
    wf_meter_parsed(m, &p, ts);
    sent[i]++;
    total++;
    if (r % 50000 == 0) wf_meter_expire(m, ts + 20 * S);
    if (wf_meter_pending(m) > 2048 || k == PACKETS - 1) {
      if (k == PACKETS - 1) wf_meter_flush(m);
      size_t n;
      while ((n = wf_meter_drain(m, buf, 4096)) > 0)
        for (size_t j = 0; j < n; j++) {
          const uint8_t *c = buf[j].src[0] == 10 ? buf[j].src : buf[j].dst;
          got[(uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3]] += buf[j].packets_fwd + buf[j].packets_rev;
        }
    }
    if (k % 100000 == 0) { /* after expiry: one snapshot entry per active flow, none overdue */
      static wf_flow_record snap[131072];
      wf_meter_expire(m, ts);
      size_t n = wf_meter_snapshot(m, snap, 131072);
      assert(n == stats(m).flows_active);
      for (size_t j = 0; j < n; j++)
        assert(snap[j].end_reason == WF_END_NONE && ts < snap[j].last_ns + 20 * S &&
               ts < snap[j].first_ns + 120 * S);
      qsort(snap, n, sizeof *snap, cmp_id); /* a lost lookup would show as a duplicate */
      for (size_t j = 1; j < n; j++) assert(snap[j].flow_id != snap[j - 1].flow_id);
    }
  }
  wf_meter_stats s = stats(m);
  assert(s.flows_active == 0 && wf_meter_pending(m) == 0 && s.emit_queue_drops == 0);
  assert(s.flows_created == s.flows_emitted && s.packets == total);
  for (int i = 0; i < FLOWS; i++) assert(sent[i] == got[i]);
  printf("random(max_flows=%u): %llu flows created, %llu evictions\n", max_flows,
         (unsigned long long)s.flows_created, (unsigned long long)s.evictions);
  wf_meter_destroy(m);
}

/* Times only wf_meter_parsed: packets are generated in chunks (as a parser
 * would fill a batch) outside the timed loop. */
static void bench_run(int hot_pct, uint32_t flows) {
  enum { PKTS = 10000000, CHUNK = 2048 };
  static wf_parsed chunk[CHUNK];
  static uint64_t tss[CHUNK];
  wf_meter *m = mk(262144, 300, 1800, 1);
  uint64_t ts = 1700000000ull * S;
  double ns = 0;
  for (int k = 0; k < PKTS; k += CHUNK) {
    for (int j = 0; j < CHUNK; j++) {
      uint64_t r = rnd();
      uint32_t i = (uint32_t)((r >> 8) % ((r & 127) < (uint64_t)hot_pct ? flows / 100 : flows));
      chunk[j] = v4(i & 1 ? TCP : UDP, 0x0a000000 + i * 7919, 0xc0a80001, (uint16_t)(1024 + i), 443,
                    ACK, 200);
      if (r & 128) chunk[j] = rev(chunk[j], ACK, 1400);
      tss[j] = ts += 100; /* 10 Mpps */
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (int j = 0; j < CHUNK; j++) wf_meter_parsed(m, &chunk[j], tss[j]);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    ns += (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  }
  wf_meter_stats s = stats(m);
  printf("bench: %.1f ns/packet wf_meter_parsed (%llu packets, %llu flows, %d%% of packets on 1%% "
         "of flows, max_flows 262144, %u bytes/flow, %.1f MiB)\n",
         ns / (double)s.packets, (unsigned long long)s.packets, (unsigned long long)s.flows_active,
         hot_pct * 100 / 128, s.bytes_per_flow, (double)s.memory_bytes / (1 << 20));
  wf_meter_destroy(m);
}

/* Parse + meter of real frames: one wf_meter_packet per frame, or batches. */
static void bench_frames(int batched) {
  enum { FLOWS = 100000, PKTS = 10000000, CHUNK = 2048 };
  static uint8_t data[CHUNK][64];
  static wf_packet pk[CHUNK];
  wf_meter *m = mk(262144, 300, 1800, 1);
  uint64_t ts = 1700000000ull * S;
  double ns = 0;
  for (int k = 0; k < PKTS; k += CHUNK) {
    for (int j = 0; j < CHUNK; j++) {
      uint64_t r = rnd();
      uint32_t len = frame(data[j], (uint32_t)((r >> 8) % FLOWS), (int)(r & 1), (int)(r >> 1 & 1), ACK);
      pk[j] = (wf_packet){data[j], len, len, ts += 100, WF_LINKTYPE_ETHERNET};
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    if (batched) wf_meter_packets(m, pk, CHUNK);
    else
      for (int j = 0; j < CHUNK; j++)
        wf_meter_packet(m, pk[j].linktype, pk[j].data, pk[j].caplen, pk[j].wirelen, pk[j].ts_ns);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    ns += (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  }
  printf("bench: %.1f ns/packet parse+meter, %s, 100000 flows uniform\n",
         ns / stats(m).packets, batched ? "wf_meter_packets (batches of 2048)" : "wf_meter_packet");
  wf_meter_destroy(m);
}

static void bench(void) {
  bench_run(0, 100000);   /* uniform: every packet a random flow (worst case) */
  bench_run(102, 100000); /* ~80 % of packets on the 1000 busiest flows */
  bench_run(0, 10000);    /* 10k flows: the table fits in cache */
  bench_frames(0);
  bench_frames(1);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bench") == 0) {
    bench();
    return 0;
  }
  test_config();
  test_bidirectional();
  test_tcp();
  test_timeouts();
  test_vlan_ipv6();
  test_fragments();
  test_eviction();
  test_probe_bound();
  test_emit_queue_bound();
  test_seed();
  test_packet();
  test_batch();
  test_random(4096);
  test_random(16384);
  test_random(131072);
  printf("flow_table_test: all passed\n");
  return 0;
}
