/*
 * Internals of the flow meter: the seeded key hash (flow_table.c,
 * frag_cache.c), the batched metering entry point, and the fragment cache
 * that lets later IP fragments find their flow's ports.
 */
#ifndef WF_FLOW_TABLE_INTERNAL_H
#define WF_FLOW_TABLE_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "wirefleet.h"

/* 64x64 -> 128 multiply folded to 64 bits (wyhash's "mum"): fast and mixes well. */
static inline uint64_t wf_mum(uint64_t a, uint64_t b) {
#ifdef __SIZEOF_INT128__
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
  uint64_t ha = a >> 32, la = (uint32_t)a, hb = b >> 32, lb = (uint32_t)b;
  uint64_t hi = ha * hb, lo = la * lb, m1 = ha * lb, m2 = la * hb;
  uint64_t t = lo + (m1 << 32), c = t < lo;
  lo = t + (m2 << 32);
  c += lo < t;
  return lo ^ (hi + (m1 >> 32) + (m2 >> 32) + c);
#endif
}

/* Seeded hash of a 40-byte key (five words), wyhash-style. The secret seed
 * enters every multiply so attackers cannot aim 5-tuples at one probe run. */
static inline uint64_t wf_hash40(const uint64_t w[5], uint64_t seed) {
  const uint64_t s1 = 0xa0761d6478bd642full, s2 = 0xe7037ed1a0b428dbull;
  const uint64_t s3 = 0x8ebc6af09c88c6e3ull, s4 = 0x589965cc75374cc3ull;
  uint64_t h = wf_mum(w[0] ^ seed ^ s1, w[1] ^ seed ^ s2);
  h = wf_mum(w[2] ^ h ^ s3, w[3] ^ seed ^ s4);
  h = wf_mum(w[4] ^ h ^ s1, seed ^ s3);
  return wf_mum(h ^ s2, h ^ s4 ^ 40);
}

static inline uint64_t wf_load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* ---- fragment cache (frag_cache.c) ---- */

#define WF_FRAG_WAYS 4
#define WF_FRAG_BUCKETS 1024 /* 4096 entries */
#define WF_FRAG_TTL_NS (30ull * 1000000000ull)

typedef struct wf_frag_entry {
  uint64_t ts_ns;    /* capture time of the first fragment */
  uint32_t ip_id;
  uint16_t vlan_id;
  uint16_t src_port, dst_port;
  uint8_t family;    /* 0 = empty */
  uint8_t protocol;
  uint8_t src[16], dst[16];
} wf_frag_entry;

typedef struct wf_frag_cache {
  uint64_t seed;
  wf_frag_entry e[WF_FRAG_BUCKETS * WF_FRAG_WAYS];
} wf_frag_cache;

void wf_frag_init(wf_frag_cache *c, uint64_t seed);
/* Remembers a FIRST fragment's ports (overwrites the oldest entry of its bucket). */
void wf_frag_put(wf_frag_cache *c, const wf_parsed *p, uint64_t ts_ns);
/* 1 and the ports if a LATER fragment's first fragment is cached and fresh. */
int wf_frag_get(const wf_frag_cache *c, const wf_parsed *p, uint64_t ts_ns, uint16_t *src_port,
                uint16_t *dst_port);

#endif
