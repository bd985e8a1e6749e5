/*
 * Flow export tests: NetFlow v5 and IPFIX encoders checked by an independent
 * minimal decoder written here (templates are parsed, not assumed), plus the
 * UDP exporter against a local socket. Assert-based, no framework. From the
 * repo root:
 *
 * cc -std=c11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
 *   -Inative/src native/src/netflow5.c native/src/ipfix.c native/src/exporter.c \
 *   native/src/export_targets.c native/src/export_pacing.c native/test/export_test.c \
 *   -o /tmp/export_test && /tmp/export_test
 */
#define _GNU_SOURCE
#undef NDEBUG
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wirefleet.h"

#define MS 1000000ull
#define S 1000000000ull

/* ---- independent decoding helpers ---- */

static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t rd32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static uint64_t rdn(const uint8_t *b, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | b[i];
  return v;
}

typedef struct {
  int family;
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  uint8_t proto, flags, end_reason;
  uint16_t vlan;
  uint64_t pkts, octets, rpkts, roctets;
  uint64_t start_ms, end_ms;
} decoded;

/* NetFlow v5 */
typedef struct {
  uint16_t count;
  uint32_t uptime, secs, nsecs, sequence;
  uint8_t engine_type, engine_id;
  decoded rec[30];
  uint32_t first[30], last[30];
} nf5_msg;

static void nf5_decode(const uint8_t *b, size_t len, nf5_msg *m) {
  memset(m, 0, sizeof *m);
  assert(len >= 24);
  assert(rd16(b) == 5);
  m->count = rd16(b + 2);
  assert(m->count >= 1 && m->count <= 30);
  assert(len == 24 + (size_t)m->count * 48);
  m->uptime = rd32(b + 4);
  m->secs = rd32(b + 8);
  m->nsecs = rd32(b + 12);
  assert(m->nsecs < 1000000000u);
  m->sequence = rd32(b + 16);
  m->engine_type = b[20];
  m->engine_id = b[21];
  assert(rd16(b + 22) == 0);
  /* absolute boot time in ms, as nfdump computes it */
  uint64_t boot = (uint64_t)m->secs * 1000 + m->nsecs / 1000000 - m->uptime;
  for (unsigned i = 0; i < m->count; i++) {
    const uint8_t *p = b + 24 + 48 * i;
    decoded *d = &m->rec[i];
    d->family = 4;
    memcpy(d->src, p, 4);
    memcpy(d->dst, p + 4, 4);
    assert(rd32(p + 8) == 0 && rd16(p + 12) == 0 && rd16(p + 14) == 0);
    d->pkts = rd32(p + 16);
    d->octets = rd32(p + 20);
    m->first[i] = rd32(p + 24);
    m->last[i] = rd32(p + 28);
    d->start_ms = m->first[i] > m->last[i] ? boot - 0x100000000ull + m->first[i] : boot + m->first[i];
    d->end_ms = boot + m->last[i];
    d->sport = rd16(p + 32);
    d->dport = rd16(p + 34);
    assert(p[36] == 0);
    d->flags = p[37];
    d->proto = p[38];
  }
}

/* IPFIX: templates persist across messages like a collector's template cache. */
typedef struct {
  uint16_t id, len;
  uint32_t pen;
} field_spec;
typedef struct {
  uint16_t id, nfields;
  field_spec f[32];
} tmpl;
static tmpl templates[8];
static int ntemplates;

typedef struct {
  uint32_t export_time, sequence, domain;
  int template_sets, data_sets;
  int n;
  decoded rec[64];
} ipfix_msg;

static const tmpl *find_template(uint16_t id) {
  for (int i = 0; i < ntemplates; i++)
    if (templates[i].id == id) return &templates[i];
  return NULL;
}

static void ipfix_decode(const uint8_t *b, size_t len, ipfix_msg *m) {
  memset(m, 0, sizeof *m);
  assert(len >= 16 && len <= 1400);
  assert(rd16(b) == 10);
  assert(rd16(b + 2) == len);
  m->export_time = rd32(b + 4);
  m->sequence = rd32(b + 8);
  m->domain = rd32(b + 12);
  size_t off = 16;
  while (off < len) {
    assert(off + 4 <= len);
    uint16_t set_id = rd16(b + off), set_len = rd16(b + off + 2);
    assert(set_len >= 4 && off + set_len <= len);
    const uint8_t *p = b + off + 4, *end = b + off + set_len;
    if (set_id == 2) {
      m->template_sets++;
      while (p + 4 <= end) {
        tmpl t;
        memset(&t, 0, sizeof t);
        t.id = rd16(p);
        t.nfields = rd16(p + 2);
        assert(t.id >= 256 && t.nfields <= 32);
        p += 4;
        for (unsigned i = 0; i < t.nfields; i++) {
          assert(p + 4 <= end);
          uint16_t id = rd16(p);
          t.f[i].id = id & 0x7fff;
          t.f[i].len = rd16(p + 2);
          p += 4;
          if (id & 0x8000) {
            assert(p + 4 <= end);
            t.f[i].pen = rd32(p);
            p += 4;
          }
        }
        int slot = ntemplates;
        for (int i = 0; i < ntemplates; i++)
          if (templates[i].id == t.id) slot = i;
        assert(slot < 8);
        templates[slot] = t;
        if (slot == ntemplates) ntemplates++;
      }
      assert(p == end);
    } else {
      assert(set_id >= 256);
      m->data_sets++;
      const tmpl *t = find_template(set_id);
      assert(t != NULL); /* data before its template: a collector would drop it */
      size_t rlen = 0;
      for (unsigned i = 0; i < t->nfields; i++) rlen += t->f[i].len;
      assert(rlen > 0 && (size_t)(end - p) % rlen == 0); /* we never pad */
      while (p + rlen <= end) {
        assert(m->n < 64);
        decoded *d = &m->rec[m->n++];
        memset(d, 0, sizeof *d);
        for (unsigned i = 0; i < t->nfields; i++) {
          const field_spec *f = &t->f[i];
          uint64_t v = f->len <= 8 ? rdn(p, f->len) : 0;
          if (f->pen == 29305) {
            if (f->id == 2) d->rpkts = v;
            else if (f->id == 1) d->roctets = v;
            else assert(0);
          } else {
            assert(f->pen == 0);
            switch (f->id) {
              case 8: d->family = 4; memcpy(d->src, p, 4); break;
              case 12: memcpy(d->dst, p, 4); break;
              case 27: d->family = 6; memcpy(d->src, p, 16); break;
              case 28: memcpy(d->dst, p, 16); break;
              case 7: d->sport = (uint16_t)v; break;
              case 11: d->dport = (uint16_t)v; break;
              case 4: d->proto = (uint8_t)v; break;
              case 6: assert(v <= 0xff); d->flags = (uint8_t)v; break;
              case 58: d->vlan = (uint16_t)v; break;
              case 2: d->pkts = v; break;
              case 1: d->octets = v; break;
              case 152: d->start_ms = v; break;
              case 153: d->end_ms = v; break;
              case 136: d->end_reason = (uint8_t)v; break;
              default: assert(0);
            }
          }
          p += f->len;
        }
      }
      assert(p == end);
    }
    off += set_len;
  }
  assert(off == len);
}

/* ---- records ---- */

static wf_flow_record v4rec(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint8_t proto,
                            uint64_t pf, uint64_t pr, uint64_t bf, uint64_t br, uint64_t first,
                            uint64_t last) {
  wf_flow_record r;
  memset(&r, 0, sizeof r);
  r.family = 4;
  r.protocol = proto;
  for (int i = 0; i < 4; i++) {
    r.src[i] = (uint8_t)(src >> (24 - 8 * i));
    r.dst[i] = (uint8_t)(dst >> (24 - 8 * i));
  }
  r.src_port = sp;
  r.dst_port = dp;
  r.packets_fwd = pf;
  r.packets_rev = pr;
  r.bytes_fwd = bf;
  r.bytes_rev = br;
  r.first_ns = first;
  r.last_ns = last;
  r.tcp_flags = proto == 6 ? 0x1b : 0;
  r.state = WF_STATE_CLOSED;
  r.end_reason = WF_END_FIN_RST;
  return r;
}

static wf_flow_record v6rec(uint16_t n, uint64_t pf, uint64_t pr, uint64_t first) {
  wf_flow_record r;
  memset(&r, 0, sizeof r);
  r.family = 6;
  r.protocol = 17;
  inet_pton(AF_INET6, "2001:db8::1", r.src);
  inet_pton(AF_INET6, "2001:db8::2", r.dst);
  r.src[15] = (uint8_t)n;
  r.src[14] = (uint8_t)(n >> 8);
  r.src_port = 5353;
  r.dst_port = (uint16_t)(1000 + n);
  r.packets_fwd = pf;
  r.packets_rev = pr;
  r.bytes_fwd = pf * 100;
  r.bytes_rev = pr * 120;
  r.first_ns = first;
  r.last_ns = first + 250 * MS + 123456;
  r.vlan_id = 42;
  r.end_reason = WF_END_IDLE;
  return r;
}

static const uint64_t T0 = 1700000000ull * S + 123456789ull; /* 2023-11-14 */

/* ---- NetFlow v5 encoder ---- */

static void test_nf5_mapping(void) {
  uint8_t buf[1464];
  wf_flow_record r[4];
  r[0] = v4rec(0x0a000001, 0x0a000002, 40000, 443, 6, 10, 8, 1500, 9000, T0 + 5 * MS + 700,
               T0 + 900 * MS + 999999);
  r[1] = v6rec(1, 3, 3, T0);
  r[2] = v4rec(0x0a000003, 0x08080808, 0, 0x0800, 1, 4, 4, 336, 336, T0, T0 + 3 * S); /* ICMP */
  r[3] = v4rec(0x0a000004, 0x0a000005, 53000, 53, 17, 1, 0, 60, 0, T0, T0);        /* one way */
  size_t count = 4;
  size_t len = wf_netflow5_encode(buf, sizeof buf, r, &count, T0 + 10 * S, T0, 77, 0x1ff & 0xff);
  assert(count == 4);
  assert(len == 24 + 5 * 48);
  nf5_msg m;
  nf5_decode(buf, len, &m);
  assert(m.count == 5 && m.sequence == 77 && m.engine_id == 0xff && m.engine_type == 0);
  assert(m.uptime == 10000 && m.secs == T0 / S + 10 && m.nsecs == T0 % S);
  /* forward */
  assert(memcmp(m.rec[0].src, r[0].src, 4) == 0 && memcmp(m.rec[0].dst, r[0].dst, 4) == 0);
  assert(m.rec[0].sport == 40000 && m.rec[0].dport == 443 && m.rec[0].proto == 6);
  assert(m.rec[0].pkts == 10 && m.rec[0].octets == 1500 && m.rec[0].flags == 0x1b);
  assert(m.first[0] == 5 && m.last[0] == 901); /* whole ms of each time, subtracted */
  /* reverse: addresses and ports swapped, reverse counters, same flags and times */
  assert(memcmp(m.rec[1].src, r[0].dst, 4) == 0 && memcmp(m.rec[1].dst, r[0].src, 4) == 0);
  assert(m.rec[1].sport == 443 && m.rec[1].dport == 40000);
  assert(m.rec[1].pkts == 8 && m.rec[1].octets == 9000 && m.rec[1].flags == 0x1b);
  assert(m.first[1] == 5 && m.last[1] == 901);
  /* absolute times as a collector computes them: within 1 ms of ours */
  assert(m.rec[0].start_ms == (T0 + 5 * MS + 700) / MS);
  assert(m.rec[0].end_ms == (T0 + 900 * MS + 999999) / MS);
  /* ICMP keeps type/code in dstport both ways */
  assert(m.rec[2].proto == 1 && m.rec[2].sport == 0 && m.rec[2].dport == 0x0800);
  assert(m.rec[3].proto == 1 && m.rec[3].sport == 0 && m.rec[3].dport == 0x0800);
  assert(memcmp(m.rec[3].src, r[2].dst, 4) == 0);
  /* one-way flow: one record */
  assert(m.rec[4].proto == 17 && m.rec[4].pkts == 1 && m.rec[4].octets == 60);
  printf("nf5 mapping ok\n");
}

static void test_nf5_limits(void) {
  uint8_t buf[2048];
  wf_flow_record r[40];
  for (int i = 0; i < 40; i++)
    r[i] = v4rec(0x0a000000u + (uint32_t)i, 0x0a100000, (uint16_t)(1000 + i), 80, 6, 2, 2, 100,
                 100, T0, T0 + S);
  /* 30 records = 15 bidirectional flows */
  size_t count = 40;
  size_t len = wf_netflow5_encode(buf, sizeof buf, r, &count, T0 + S, T0, 0, 0);
  assert(count == 15 && len == 24 + 30 * 48 && len == 1464);
  /* a one-way flow first: 1 + 14 * 2 = 29, the next flow's two records never split */
  r[0].packets_rev = 0;
  count = 40;
  len = wf_netflow5_encode(buf, sizeof buf, r, &count, T0 + S, T0, 0, 0);
  assert(count == 15 && len == 24 + 29 * 48);
  /* a smaller buffer limits the datagram */
  count = 40;
  len = wf_netflow5_encode(buf, 24 + 5 * 48 + 47, r, &count, T0 + S, T0, 0, 0);
  assert(len == 24 + 5 * 48 && count == 3);
  /* too small for one two-way flow: nothing, nothing consumed */
  count = 40;
  assert(wf_netflow5_encode(buf, 24 + 2 * 48 - 1, r, &count, T0, T0, 0, 0) == 0 && count == 0);
  /* IPv6 only: consumed, nothing written */
  wf_flow_record v6[3] = {v6rec(1, 1, 1, T0), v6rec(2, 1, 1, T0), v6rec(3, 1, 1, T0)};
  count = 3;
  assert(wf_netflow5_encode(buf, sizeof buf, v6, &count, T0, T0, 0, 0) == 0 && count == 3);
  /* empty input, NULL arguments */
  count = 0;
  assert(wf_netflow5_encode(buf, sizeof buf, r, &count, T0, T0, 0, 0) == 0 && count == 0);
  assert(wf_netflow5_encode(buf, sizeof buf, r, NULL, T0, T0, 0, 0) == 0);
  count = 5;
  assert(wf_netflow5_encode(NULL, sizeof buf, r, &count, T0, T0, 0, 0) == 0 && count == 0);
  printf("nf5 limits ok\n");
}

static void test_nf5_clamp_and_wrap(void) {
  uint8_t buf[1464];
  wf_flow_record r = v4rec(1, 2, 3, 4, 17, 1ull << 40, UINT32_MAX, (1ull << 32), UINT32_MAX - 1,
                           T0 - 1500 * MS, T0 + 2 * S);
  size_t count = 1;
  size_t len = wf_netflow5_encode(buf, sizeof buf, &r, &count, T0 + 3 * S, T0, 0, 0);
  nf5_msg m;
  nf5_decode(buf, len, &m);
  assert(m.rec[0].pkts == UINT32_MAX && m.rec[0].octets == UINT32_MAX);
  assert(m.rec[1].pkts == UINT32_MAX && m.rec[1].octets == UINT32_MAX - 1);
  /* started 1.5 s before boot: First wraps, collectors still get the right time */
  assert(m.first[0] == (uint32_t)-1500 && m.last[0] == 2000);
  assert(m.rec[0].start_ms == (T0 - 1500 * MS) / MS && m.rec[0].end_ms == (T0 + 2 * S) / MS);
  /* a partial millisecond before a boot on a whole ms belongs to the ms before */
  const uint64_t boot = T0 - T0 % MS;
  r.first_ns = boot - 1;
  count = 1;
  len = wf_netflow5_encode(buf, sizeof buf, &r, &count, T0 + 3 * S, boot, 0, 0);
  nf5_decode(buf, len, &m);
  assert(m.first[0] == UINT32_MAX);
  printf("nf5 clamp/wrap ok\n");
}

/* ---- IPFIX encoder ---- */

static void check_same(const decoded *d, const wf_flow_record *r) {
  size_t alen = r->family == 6 ? 16 : 4;
  assert(d->family == r->family);
  assert(memcmp(d->src, r->src, alen) == 0 && memcmp(d->dst, r->dst, alen) == 0);
  assert(d->sport == r->src_port && d->dport == r->dst_port && d->proto == r->protocol);
  assert(d->flags == r->tcp_flags && d->vlan == r->vlan_id && d->end_reason == r->end_reason);
  assert(d->pkts == r->packets_fwd && d->octets == r->bytes_fwd);
  assert(d->rpkts == r->packets_rev && d->roctets == r->bytes_rev);
  assert(d->start_ms == r->first_ns / MS && d->end_ms == r->last_ns / MS);
}

static void test_ipfix_roundtrip(void) {
  uint8_t buf[1400];
  wf_flow_record r[5];
  r[0] = v4rec(0xc0a80001, 0xc0a80002, 1234, 80, 6, 12, 10, 1200, 15000, T0, T0 + 2 * S + 999999);
  r[1] = v6rec(7, 5, 4, T0 + 3 * S);
  r[2] = v6rec(8, 1, 0, T0 + 4 * S);
  r[3] = v4rec(0xc0a80003, 0xc0a80004, 0, 0x0303, 1, 1, 0, 56, 0, T0, T0);
  r[4] = v4rec(0xc0a80005, 0xc0a80006, 5, 6, 17, 1ull << 40, 0, 1ull << 50, 0, T0, T0);
  r[1].tcp_flags = 0xff;
  size_t count = 5;
  ntemplates = 0;
  size_t len = wf_ipfix_encode(buf, sizeof buf, r, &count, T0, 4242, 9, 1);
  assert(count == 5);
  assert(len == 16 + 140 + (4 + 66) + (4 + 2 * 90) + (4 + 2 * 66));
  ipfix_msg m;
  ipfix_decode(buf, len, &m);
  assert(m.export_time == T0 / S && m.sequence == 4242 && m.domain == 9);
  assert(m.template_sets == 1 && m.data_sets == 3 && m.n == 5 && ntemplates == 2);
  for (int i = 0; i < 5; i++) check_same(&m.rec[i], &r[i]); /* 64-bit counters: no clamping */
  /* the templates say what we documented */
  const tmpl *t4 = find_template(256), *t6 = find_template(257);
  assert(t4 && t6 && t4->nfields == 14 && t6->nfields == 14);
  assert(t4->f[0].id == 8 && t4->f[1].id == 12 && t6->f[0].id == 27 && t6->f[1].id == 28);
  assert(t4->f[5].id == 6 && t4->f[5].len == 2);
  assert(t4->f[12].pen == 29305 && t4->f[13].pen == 29305);
  /* a later message without templates decodes with the cached ones */
  count = 2;
  len = wf_ipfix_encode(buf, sizeof buf, r, &count, T0, 4247, 9, 0);
  ipfix_decode(buf, len, &m);
  assert(m.template_sets == 0 && m.n == 2 && m.sequence == 4247);
  check_same(&m.rec[1], &r[1]);
  /* records of another family or without packets are consumed silently */
  wf_flow_record odd[2] = {r[0], r[0]};
  odd[0].family = 5;
  odd[1].packets_fwd = odd[1].packets_rev = 0;
  count = 2;
  assert(wf_ipfix_encode(buf, sizeof buf, odd, &count, T0, 0, 0, 0) == 0 && count == 2);
  /* templates alone are a valid message */
  count = 2;
  len = wf_ipfix_encode(buf, sizeof buf, odd, &count, T0, 0, 0, 1);
  assert(len == 16 + 140 && count == 2);
  ipfix_decode(buf, len, &m);
  assert(m.n == 0 && m.template_sets == 1);
  printf("ipfix roundtrip ok\n");
}

static void test_ipfix_limits(void) {
  uint8_t buf[1400];
  static wf_flow_record r[64];
  for (int i = 0; i < 64; i++)
    r[i] = v4rec(0x0a000000u + (uint32_t)i, 0x0a100000, 1, 2, 17, 1, 1, 1, 1, T0, T0);
  ipfix_msg m;
  size_t count = 64;
  size_t len = wf_ipfix_encode(buf, 1400, r, &count, T0, 0, 0, 1);
  assert(count == 18 && len == 16 + 140 + 4 + 18 * 66 && len <= 1400);
  ipfix_decode(buf, len, &m);
  count = 64;
  len = wf_ipfix_encode(buf, 1400, r, &count, T0, 0, 0, 0);
  assert(count == 20 && len == 16 + 4 + 20 * 66);
  for (int i = 0; i < 64; i++) r[i] = v6rec((uint16_t)i, 1, 1, T0);
  count = 64;
  len = wf_ipfix_encode(buf, 1400, r, &count, T0, 0, 0, 0);
  assert(count == 15 && len == 16 + 4 + 15 * 90);
  ipfix_decode(buf, len, &m);
  /* alternating families: a set header per record */
  for (int i = 0; i < 64; i += 2) r[i] = v4rec(1, 2, 3, 4, 17, 1, 1, 1, 1, T0, T0);
  count = 64;
  len = wf_ipfix_encode(buf, 1400, r, &count, T0, 0, 0, 0);
  assert(len <= 1400);
  ipfix_decode(buf, len, &m);
  assert((size_t)m.n == count && m.data_sets == m.n);
  /* too small for header + templates + one IPv6 record */
  count = 64;
  assert(wf_ipfix_encode(buf, 16 + 140 + 4 + 89, r, &count, T0, 0, 0, 1) == 0 && count == 0);
  count = 64;
  assert(wf_ipfix_encode(buf, 16 + 4 + 90, r, &count, T0, 0, 0, 0) > 0 && count == 1);
  printf("ipfix limits ok\n");
}

/* ---- exporter over UDP ---- */

static int udp_listener(int family, char *target, size_t len) {
  int fd = socket(family, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  int size = 8 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sl = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    sl = sizeof *a;
  }
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
    close(fd);
    return -1;
  }
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  if (family == AF_INET)
    snprintf(target, len, "127.0.0.1:%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
  else
    snprintf(target, len, "[::1]:%u", ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
  return fd;
}

/* Reads every datagram waiting (the exporter is done sending). */
static size_t drain(int fd, uint8_t (*out)[1500], size_t *lens, size_t max) {
  size_t n = 0;
  struct pollfd p = {fd, POLLIN, 0};
  while (n < max && poll(&p, 1, 200) > 0) {
    ssize_t r = recv(fd, out[n], 1500, 0);
    assert(r > 0);
    lens[n++] = (size_t)r;
  }
  return n;
}

static uint8_t dgrams[2000][1500];
static size_t dlens[2000];

static void test_exporter_ipfix(void) {
  char target[64];
  int fd = udp_listener(AF_INET, target, sizeof target);
  assert(fd >= 0);
  const char *targets[] = {target};
  wf_exporter_config c = {WF_EXPORT_IPFIX, targets, 1, 7, 60, 5, 0, 0};
  char err[256];
  wf_exporter *e = wf_exporter_create(&c, err, sizeof err);
  assert(e != NULL);
  enum { N = 1000 };
  static wf_flow_record r[N];
  uint64_t pk = 0, by = 0;
  for (int i = 0; i < N; i++) {
    r[i] = i % 10 == 3 ? v6rec((uint16_t)i, 2, 1, T0 + (uint64_t)i * MS)
                       : v4rec(0x0a000000u + (uint32_t)i, 0x0a100001, (uint16_t)(1024 + i), 443, 6,
                               (uint64_t)(i % 7 + 1), (uint64_t)(i % 5), 100u * (uint64_t)i + 40,
                               1000, T0 + (uint64_t)i * MS, T0 + (uint64_t)i * MS + S);
    if (r[i].packets_rev == 0) r[i].bytes_rev = 0;
    pk += r[i].packets_fwd + r[i].packets_rev;
    by += r[i].bytes_fwd + r[i].bytes_rev;
  }
  /* uneven batches: the tail of each waits for the next call */
  size_t sent = 0, step = 1;
  while (sent < N) {
    size_t n = N - sent < step ? N - sent : step;
    assert(wf_exporter_send(e, r + sent, n) == 0);
    sent += n;
    step = step * 3 % 97 + 1;
  }
  wf_exporter_stats st;
  wf_exporter_get_stats(e, &st);
  assert(st.records_sent < N); /* some wait in a partly filled message */
  assert(wf_exporter_flush(e) == 0);
  assert(wf_exporter_flush(e) == 0); /* nothing left: no empty message */
  wf_exporter_get_stats(e, &st);
  assert(st.records_sent == N && st.send_errors == 0 && st.records_dropped == 0);
  assert(st.records_skipped == 0);
  size_t n = drain(fd, dgrams, dlens, 2000);
  assert(n == st.datagrams_sent);
  ntemplates = 0;
  uint64_t dpk = 0, dby = 0, bytes = 0;
  uint32_t expect_seq = 0;
  int total = 0, with_templates = 0, full = 0;
  for (size_t i = 0; i < n; i++) {
    ipfix_msg m;
    ipfix_decode(dgrams[i], dlens[i], &m);
    assert(m.sequence == expect_seq && m.domain == 7);
    if (i == 0) assert(m.template_sets == 1);
    if (m.template_sets) {
      with_templates++;
      assert(i % 5 == 0); /* template_refresh_packets = 5 */
    }
    for (int k = 0; k < m.n; k++) {
      const wf_flow_record *o = &r[total + k];
      check_same(&m.rec[k], o);
      dpk += m.rec[k].pkts + m.rec[k].rpkts;
      dby += m.rec[k].octets + m.rec[k].roctets;
    }
    if (dlens[i] > 1400 - 90) full++;
    total += m.n;
    expect_seq += (uint32_t)m.n;
    bytes += dlens[i];
  }
  assert(total == N && dpk == pk && dby == by && bytes == st.bytes_sent);
  assert((uint64_t)with_templates == st.templates_sent);
  assert(full >= (int)n - 1); /* batching fills every message but the last */
  wf_exporter_destroy(e);
  close(fd);
  printf("exporter ipfix ok (%zu messages, %d with templates)\n", n, with_templates);
}

static void test_exporter_v5(void) {
  char target[64];
  int fd = udp_listener(AF_INET, target, sizeof target);
  assert(fd >= 0);
  const char *targets[] = {target};
  /* boot 10 s before the flows, which are "recent": live clock */
  uint64_t wall = (uint64_t)time(NULL) * S;
  wf_exporter_config c = {WF_EXPORT_NETFLOW5, targets, 1, 0x1234, 0, 0, 0, wall - 10 * S};
  char err[256];
  wf_exporter *e = wf_exporter_create(&c, err, sizeof err);
  assert(e != NULL);
  enum { N = 500 };
  static wf_flow_record r[N];
  uint64_t v5records = 0, v6 = 0, pk = 0;
  for (int i = 0; i < N; i++) {
    if (i % 9 == 0) {
      r[i] = v6rec((uint16_t)i, 1, 1, wall);
      v6++;
      continue;
    }
    r[i] = v4rec(0x0a000000u + (uint32_t)i, 0x0a100001, (uint16_t)(1024 + i), 53, 17, 3,
                 i % 4 ? 2 : 0, 300, i % 4 ? 200 : 0, wall - 5 * S + (uint64_t)i * MS,
                 wall - 4 * S + (uint64_t)i * MS);
    v5records += i % 4 ? 2 : 1;
    pk += r[i].packets_fwd + r[i].packets_rev;
  }
  assert(wf_exporter_send(e, r, N) == 0);
  assert(wf_exporter_flush(e) == 0);
  wf_exporter_stats st;
  wf_exporter_get_stats(e, &st);
  assert(st.records_sent == v5records && st.records_skipped == v6 && st.templates_sent == 0);
  size_t n = drain(fd, dgrams, dlens, 2000);
  assert(n == st.datagrams_sent);
  uint32_t seq = 0;
  uint64_t got = 0, dpk = 0;
  for (size_t i = 0; i < n; i++) {
    nf5_msg m;
    nf5_decode(dgrams[i], dlens[i], &m);
    assert(m.sequence == seq && m.engine_id == 0x34);
    assert(m.uptime >= 10000 && m.uptime < 100000); /* live clock relative to boot_ns */
    for (unsigned k = 0; k < m.count; k++) {
      dpk += m.rec[k].pkts;
      const uint32_t idx = rd32(m.rec[k].src) == 0x0a100001 ? rd32(m.rec[k].dst) - 0x0a000000u
                                                            : rd32(m.rec[k].src) - 0x0a000000u;
      assert(idx < N && r[idx].family == 4);
      assert(m.rec[k].start_ms == r[idx].first_ns / MS && m.rec[k].end_ms == r[idx].last_ns / MS);
    }
    seq += m.count;
    got += m.count;
    if (i + 1 < n) assert(m.count >= 29);
  }
  assert(got == v5records && dpk == pk);
  wf_exporter_destroy(e);
  close(fd);
  printf("exporter v5 ok (%zu datagrams)\n", n);
}

/* A capture from 2020 replayed now: v5 follows the flows' clock and times survive. */
static void test_exporter_v5_replay(void) {
  char target[64];
  int fd = udp_listener(AF_INET, target, sizeof target);
  assert(fd >= 0);
  const char *targets[] = {target};
  wf_exporter_config c = {WF_EXPORT_NETFLOW5, targets, 1, 0, 0, 0, 0, 0};
  wf_exporter *e = wf_exporter_create(&c, NULL, 0);
  assert(e != NULL);
  const uint64_t old = 1580000000ull * S + 777 * MS; /* 2020-01-26 */
  enum { N = 100 };
  wf_flow_record r[N];
  for (int i = 0; i < N; i++)
    r[i] = v4rec(0x0b000000u + (uint32_t)i, 0x0c000000, 1, 2, 17, 1, 1, 1, 1,
                 old + (uint64_t)(N - i) * 3600 * S, old + (uint64_t)(N - i) * 3600 * S + 2 * S);
  r[N - 1].first_ns = old - 86400 * S; /* a day-long flow ends last */
  assert(wf_exporter_send(e, r, N) == 0 && wf_exporter_flush(e) == 0);
  size_t n = drain(fd, dgrams, dlens, 2000);
  int seen = 0;
  for (size_t i = 0; i < n; i++) {
    nf5_msg m;
    nf5_decode(dgrams[i], dlens[i], &m);
    for (unsigned k = 0; k < m.count; k++) {
      uint32_t idx = rd32(m.rec[k].src) == 0x0c000000 ? rd32(m.rec[k].dst) - 0x0b000000u
                                                      : rd32(m.rec[k].src) - 0x0b000000u;
      assert(idx < N);
      assert(m.rec[k].start_ms == r[idx].first_ns / MS && m.rec[k].end_ms == r[idx].last_ns / MS);
      seen++;
    }
  }
  assert(seen == 2 * N);
  wf_exporter_destroy(e);
  close(fd);
  printf("exporter v5 replay ok\n");
}

static void test_exporter_targets(void) {
  char err[256];
  const char *bad[][2] = {
      {"collector.example:2055", "hostnames are not resolved"},
      {"127.0.0.1", "missing :PORT"},
      {"127.0.0.1:0", "port must be 1-65535"},
      {"127.0.0.1:65536", "port must be 1-65535"},
      {"127.0.0.1:20x", "port must be 1-65535"},
      {"::1:2055", "brackets"},
      {"[::1]2055", "want [IPv6]:PORT"},
      {"[fe80::zz]:2055", "not a numeric IPv6 address"},
      {"300.1.1.1:2055", "not a numeric IPv4 address"},
      {"", "empty export target"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *t[] = {bad[i][0]};
    wf_exporter_config c = {WF_EXPORT_IPFIX, t, 1, 0, 0, 0, 0, 0};
    err[0] = 0;
    assert(wf_exporter_create(&c, err, sizeof err) == NULL);
    if (strstr(err, bad[i][1]) == NULL) {
      fprintf(stderr, "%s -> %s\n", bad[i][0], err);
      assert(0);
    }
  }
  const char *many[9] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5",
                         "127.0.0.1:6", "127.0.0.1:7", "127.0.0.1:8", "127.0.0.1:9"};
  wf_exporter_config c = {WF_EXPORT_IPFIX, many, 9, 0, 0, 0, 0, 0};
  assert(wf_exporter_create(&c, err, sizeof err) == NULL && strstr(err, "1 to 8"));
  c.target_count = 0;
  assert(wf_exporter_create(&c, err, sizeof err) == NULL);
  c.target_count = 8;
  c.version = 9;
  assert(wf_exporter_create(&c, err, sizeof err) == NULL && strstr(err, "5 (NetFlow v5) or 10"));
  c.version = 5;
  wf_exporter *e = wf_exporter_create(&c, err, sizeof err);
  assert(e != NULL);
  wf_exporter_destroy(e);

  /* two targets, one of them IPv6 loopback: both get every datagram */
  char t4[64], t6[64];
  int fd4 = udp_listener(AF_INET, t4, sizeof t4), fd6 = udp_listener(AF_INET6, t6, sizeof t6);
  assert(fd4 >= 0);
  if (fd6 >= 0) {
    const char *two[] = {t4, t6};
    wf_exporter_config c2 = {WF_EXPORT_IPFIX, two, 2, 0, 0, 0, 0, 0};
    e = wf_exporter_create(&c2, err, sizeof err);
    assert(e != NULL);
    wf_flow_record r[50];
    for (int i = 0; i < 50; i++) r[i] = v6rec((uint16_t)i, 1, 1, T0);
    assert(wf_exporter_send(e, r, 50) == 0 && wf_exporter_flush(e) == 0);
    wf_exporter_stats st;
    wf_exporter_get_stats(e, &st);
    assert(st.records_sent == 100 && st.datagrams_sent % 2 == 0);
    assert(drain(fd4, dgrams, dlens, 2000) == st.datagrams_sent / 2);
    assert(drain(fd6, dgrams, dlens, 2000) == st.datagrams_sent / 2);
    wf_exporter_destroy(e);
    close(fd6);
  } else {
    printf("(no IPv6 loopback: dual-target test over IPv4 only)\n");
  }
  close(fd4);
  printf("exporter targets ok\n");
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_exporter_pacing(void) {
  char target[64];
  int fd = udp_listener(AF_INET, target, sizeof target);
  assert(fd >= 0);
  const char *targets[] = {target};
  wf_exporter_config c = {WF_EXPORT_NETFLOW5, targets, 1, 0, 0, 0, 1000, 0};
  wf_exporter *e = wf_exporter_create(&c, NULL, 0);
  static wf_flow_record r[15 * 201];
  for (int i = 0; i < 15 * 201; i++) r[i] = v4rec(1, 2, 3, 4, 17, 1, 1, 1, 1, T0, T0);
  double t0 = now_s();
  assert(wf_exporter_send(e, r, 15 * 201) == 0);
  assert(wf_exporter_flush(e) == 0);
  double dt = now_s() - t0;
  wf_exporter_stats st;
  wf_exporter_get_stats(e, &st);
  assert(st.datagrams_sent == 201);
  /* 201 datagrams at 1000/s with a burst of 1: at least 0.2 s */
  assert(dt >= 0.195 && dt < 1.0);
  assert(drain(fd, dgrams, dlens, 2000) == 201);
  wf_exporter_destroy(e);
  close(fd);
  printf("exporter pacing ok (%.3f s for 201 datagrams at 1000/s)\n", dt);
}

/* Sending to a port nobody listens on is not an error for UDP; a bad destination is. */
static void test_exporter_errors(void) {
  const char *targets[] = {"0.0.0.0:9"};
  wf_exporter_config c = {WF_EXPORT_NETFLOW5, targets, 1, 0, 0, 0, 0, 0};
  wf_exporter *e = wf_exporter_create(&c, NULL, 0);
  assert(e != NULL);
  const char *bcast[] = {"255.255.255.255:9"};
  wf_exporter_config cb = {WF_EXPORT_NETFLOW5, bcast, 1, 0, 0, 0, 0, 0};
  wf_exporter *b = wf_exporter_create(&cb, NULL, 0);
  assert(b != NULL);
  wf_flow_record r[40];
  for (int i = 0; i < 40; i++) r[i] = v4rec(1, 2, 3, 4, 17, 1, 1, 1, 1, T0, T0);
  /* broadcast without SO_BROADCAST: EACCES, retried once, then counted */
  assert(wf_exporter_send(b, r, 40) == -1);
  assert(wf_exporter_flush(b) == -1);
  wf_exporter_stats st;
  wf_exporter_get_stats(b, &st);
  assert(st.send_errors == 3 && st.records_dropped == 80 && st.records_sent == 0);
  wf_exporter_destroy(b);
  wf_exporter_destroy(e);
  assert(wf_exporter_send(NULL, r, 1) == -1 && wf_exporter_flush(NULL) == -1);
  wf_exporter_get_stats(NULL, &st);
  assert(st.records_sent == 0);
  printf("exporter errors ok\n");
}

/* A local collector that stalls and then reads slowly, with a small receive buffer: the
 * exporter watches its queue (sock_diag) and waits, so every datagram arrives. */
static void test_exporter_backpressure(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert(fd >= 0);
  int size = 64 * 1024; /* the kernel doubles it: 128 KB, about 30-55 datagrams */
  assert(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof a;
  assert(bind(fd, (struct sockaddr *)&a, sl) == 0);
  getsockname(fd, (struct sockaddr *)&a, &sl);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%u", ntohs(a.sin_port));
  enum { DATAGRAMS = 400 };
  fflush(stdout);
  pid_t child = fork();
  assert(child >= 0);
  if (child == 0) { /* the exporter, at the default 20 000 datagrams/s */
    const char *targets[] = {target};
    wf_exporter_config c = {WF_EXPORT_NETFLOW5, targets, 1, 0, 0, 0, 0, 0};
    wf_exporter *e = wf_exporter_create(&c, NULL, 0);
    static wf_flow_record r[15 * DATAGRAMS];
    for (int i = 0; i < 15 * DATAGRAMS; i++) r[i] = v4rec(1, 2, 3, 4, 17, 1, 1, 1, 1, T0, T0);
    int ok = e && wf_exporter_send(e, r, 15 * DATAGRAMS) == 0 && wf_exporter_flush(e) == 0;
    wf_exporter_destroy(e);
    _exit(ok ? 0 : 1);
  }
  /* the collector: away for 100 ms, then 0.1 ms per datagram (10 000/s, half the rate) */
  struct timespec away = {0, 100 * 1000 * 1000}, slow = {0, 100 * 1000};
  nanosleep(&away, NULL);
  size_t got = 0;
  uint8_t buf[1500];
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, 500) > 0) {
    if (recv(fd, buf, sizeof buf, 0) > 0) got++;
    nanosleep(&slow, NULL);
  }
  int status = 0;
  assert(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("exporter backpressure: %zu of %d datagrams through a stalled 128 KB queue\n", got,
         DATAGRAMS);
  assert(got == DATAGRAMS);
  close(fd);
}

int main(void) {
  test_nf5_mapping();
  test_nf5_limits();
  test_nf5_clamp_and_wrap();
  test_ipfix_roundtrip();
  test_ipfix_limits();
  test_exporter_ipfix();
  test_exporter_v5();
  test_exporter_v5_replay();
  test_exporter_targets();
  test_exporter_pacing();
  test_exporter_errors();
  test_exporter_backpressure();
  printf("export_test: all passed\n");
  return 0;
}
