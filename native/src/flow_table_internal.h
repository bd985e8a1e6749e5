/*
 * Internals of the flow meter: the seeded key hash (flow_table.c,
 * frag_cache.c), the fragment cache that lets later IP fragments find their
 * flow's ports, and the table's structures shared by flow_table.c and
 * flow_meter.c.
 */
#ifndef WF_FLOW_TABLE_INTERNAL_H
#define WF_FLOW_TABLE_INTERNAL_H

#include <stddef.h>
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

/* ---- the flow table, shared by flow_table.c (per packet) and flow_meter.c (the rest) ---- */

#define NIL UINT32_MAX
#define SLOT_EMPTY 0u
#define IDX_MASK 0x00FFFFFFu /* max_flows <= 2^24 */
#define PROBE_MAX 512        /* worst-case probe run; longer runs force an eviction */
#define NS_PER_S 1000000000ull
#define QUEUE_SLACK 65536
#define QUEUE_MIN 1024
#define TCP_FIN 0x01
#define TCP_RST 0x04
#define BATCH 64         /* wf_meter_packets: frames parsed and hashed ahead */
#define PREFETCH_AHEAD 8 /* records fetched this many packets ahead */

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 1)
#else
#define PREFETCH(p) ((void)(p))
#endif

enum { LRU = 0, AGE = 1 };

typedef struct wf_link {
  uint32_t prev, next;
} wf_link;

/* Two cache lines: the first holds what a lookup and timeout check read,
 * the second the counters and list links. */
typedef struct wf_flow {
  _Alignas(64) uint64_t id;  /* seeded hash of the canonical key = flow_id */
  uint8_t src[16], dst[16];  /* initiator first */
  uint16_t src_port, dst_port, vlan_id;
  uint8_t family, protocol;
  uint64_t first_ns, last_ns;
  uint64_t packets[2], bytes[2]; /* [0] initiator -> responder, [1] reverse */
  wf_link link[2];               /* LRU and AGE; link[LRU].next is also the free-list link */
  uint64_t lru_ns;               /* when last queued at the LRU tail */
  uint8_t tcp_flags, state, fin_dirs;
} wf_flow;
_Static_assert(sizeof(wf_flow) == 128, "flow record should be two cache lines");

struct wf_meter {
  uint32_t *slots;
  uint32_t mask;      /* slot count - 1 */
  wf_flow *flows;
  uint32_t cap, bump; /* records [bump, cap) were never used */
  uint32_t free_head;
  uint32_t head[2], tail[2];
  uint64_t seed, idle_ns, active_ns, next_expire_ns;
  wf_flow_record *q; /* emit queue: ring of q_cap, q_len entries from q_head */
  size_t q_cap, q_head, q_len, q_max;
  wf_meter_stats st;
  wf_frag_cache frags;
};

static inline uint64_t wf_sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* flow_table.c */
void wf_meter_to_record(const wf_flow *f, int reason, wf_flow_record *r);
/* Emits the flow's record with `reason`, and frees its slot and record. */
void wf_meter_end_flow(wf_meter *m, uint32_t idx, int reason);
/* WF_END_IDLE / WF_END_ACTIVE if a timeout passed by now, else WF_END_NONE. */
int wf_meter_timed_out(const wf_meter *m, const wf_flow *f, uint64_t now);
/* flow_meter.c: doubles the emit queue up to q_max; 0 when it cannot. */
int wf_meter_queue_grow(wf_meter *m);

#endif
