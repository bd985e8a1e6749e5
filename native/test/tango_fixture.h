/*
 * Shared fixture of the Tango C tests: a pair of nodes (side 0 "a", side 1 "b") with two paths,
 * inner IPv4/UDP packets, and an independent UDP checksum (a plain 16-bit loop).
 */
#ifndef TANGO_FIXTURE_H
#define TANGO_FIXTURE_H

#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tango_internal.h"
#include "check.h"

#define MS 1000000ull
/* 2024-06-01T00:00:00Z in ns: a realistic epoch clock. */
#define T0 1717200000000000000ull


#define CHECK_RC(got, want)                                                           \
  do {                                                                                \
    int got_ = (got), want_ = (want);                                                 \
    if (got_ != want_) {                                                              \
      fprintf(stderr, "%s:%d: got %s (%d), want %s (%d)\n", __FILE__, __LINE__,       \
              wf_tango_result_name(got_), got_, wf_tango_result_name(want_), want_);  \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

static const uint8_t KEY1[16] = {0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t KEY2[16] = {0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t KEY3[16] = {0x33, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Path p: site A 2001:db8:a::p, site B 2001:db8:b<p>::1 (one destination per path). */
static inline wf_tango_path_config path_of(uint8_t id, int side) {
  wf_tango_path_config c;
  memset(&c, 0, sizeof c);
  c.path_id = id;
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a, [15] = (uint8_t)(id + 1)};
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0x0b, (uint8_t)id, [15] = 1};
  uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a}, mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};
  memcpy(c.local_addr, side == 0 ? a : b, 16);
  memcpy(c.peer_addr, side == 0 ? b : a, 16);
  memcpy(c.local_mac, side == 0 ? mac_a : mac_b, 6);
  memcpy(c.next_hop_mac, side == 0 ? mac_b : mac_a, 6);
  return c;
}

static inline wf_tango_node *make_node(int side, uint32_t max_age_ms, uint32_t grace_ms) {
  wf_tango_config c;
  memset(&c, 0, sizeof c);
  c.side = (uint8_t)side;
  c.max_age_ms = max_age_ms;
  c.grace_ms = grace_ms;
  char err[128] = "";
  wf_tango_node *n = wf_tango_create(&c, err, sizeof err);
  CHECK(n != NULL);
  for (uint8_t p = 0; p < 2; p++) {
    wf_tango_path_config pc = path_of(p, side);
    CHECK(wf_tango_set_path(n, &pc, err, sizeof err) == 0);
  }
  return n;
}

/* a signs with epoch 1; b receives epoch 1. */
static inline void make_pair(wf_tango_node **a, wf_tango_node **b) {
  *a = make_node(0, 0, 0);
  *b = make_node(1, 0, 0);
  wf_tango_set_send_key(*a, 1, KEY1);
  CHECK(wf_tango_rotate_receive_key(*b, 1, KEY1, T0 - 1000 * MS, NULL, 0) == 0);
}

/* IPv4/UDP 192.0.2.1:5000 -> 198.51.100.2:6000, `len` bytes in all, payload bytes from `fill`. */
static inline size_t make_inner(uint8_t *out, size_t len, uint8_t fill) {
  assert(len >= 28 && len <= 65535);
  memset(out, 0, len);
  out[0] = 0x45;
  out[1] = 0xb8; /* DSCP 46 (EF), ECN 0 */
  out[2] = (uint8_t)(len >> 8);
  out[3] = (uint8_t)len;
  out[8] = 64;
  out[9] = 17;
  const uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {198, 51, 100, 2};
  memcpy(out + 12, src, 4);
  memcpy(out + 16, dst, 4);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(out[i] << 8 | out[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  out[10] = (uint8_t)(~sum >> 8);
  out[11] = (uint8_t)~sum;
  out[20] = 5000 >> 8, out[21] = 5000 & 0xff, out[22] = 6000 >> 8, out[23] = 6000 & 0xff;
  out[24] = (uint8_t)((len - 20) >> 8), out[25] = (uint8_t)(len - 20);
  for (size_t i = 28; i < len; i++) out[i] = (uint8_t)(fill + i);
  return len;
}

/* Independent UDP-over-IPv6 checksum: 16-bit words, RFC 8200 §8.1 pseudo-header. */
static inline uint16_t udp6_checksum(const uint8_t *frame) {
  const uint8_t *ip6 = frame + 14, *udp = ip6 + 40;
  const size_t ulen = (size_t)(ip6[4] << 8 | ip6[5]);
  uint32_t sum = 0;
  for (int i = 8; i < 40; i += 2) sum += (uint32_t)(ip6[i] << 8 | ip6[i + 1]);
  sum += (uint32_t)ulen + 17;
  for (size_t i = 0; i < ulen; i += 2) {
    if (i == 6) continue; /* the checksum field itself */
    sum += (uint32_t)(udp[i] << 8 | (i + 1 < ulen ? udp[i + 1] : 0));
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t c = (uint16_t)~sum;
  return c == 0 ? 0xffff : c;
}

static inline void fix_checksum(uint8_t *frame) {
  uint8_t *udp = frame + 14 + 40;
  const uint16_t c = udp6_checksum(frame);
  udp[6] = (uint8_t)(c >> 8);
  udp[7] = (uint8_t)c;
}

static inline uint64_t reason_count(const wf_tango_node *n, int reason) {
  wf_tango_node_stats s;
  wf_tango_get_node_stats(n, &s);
  return s.rejects[-reason - 1];
}

static inline wf_tango_path_stats path_stats(const wf_tango_node *n, uint8_t p) {
  wf_tango_path_stats s;
  CHECK(wf_tango_get_path_stats(n, p, &s) == 0);
  return s;
}

#endif
