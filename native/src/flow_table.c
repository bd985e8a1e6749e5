/*
 * Flow meter: bidirectional flow records in a seeded open-addressing table.
 *
 * - slots[]: power-of-two array of uint32 (8-bit hash tag << 24 | record
 *   index), load <= 0.75, linear probing bounded by PROBE_MAX, deletion by
 *   backward shift (no tombstones). Slot 0 = empty, so calloc'd pages stay
 *   untouched until used.
 * - flows[]: slab of max_flows 128-byte records, handed out by a bump index
 *   then a free list. Each record sits on two intrusive lists: LRU (by last
 *   activity, requeued at most once per capture second) and AGE (by
 *   creation), so expiry and eviction work from the list heads.
 * - ended records go to a bounded FIFO emit queue that the caller drains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow_table_internal.h"

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
typedef struct flow {
  _Alignas(64) uint64_t id;  /* seeded hash of the canonical key = flow_id */
  uint8_t src[16], dst[16];  /* initiator first */
  uint16_t src_port, dst_port, vlan_id;
  uint8_t family, protocol;
  uint64_t first_ns, last_ns;
  uint64_t packets[2], bytes[2]; /* [0] initiator -> responder, [1] reverse */
  wf_link link[2];               /* LRU and AGE; link[LRU].next is also the free-list link */
  uint64_t lru_ns;               /* when last queued at the LRU tail */
  uint8_t tcp_flags, state, fin_dirs;
} flow;
_Static_assert(sizeof(flow) == 128, "flow record should be two cache lines");

struct wf_meter {
  uint32_t *slots;
  uint32_t mask;      /* slot count - 1 */
  flow *flows;
  uint32_t cap, bump; /* records [bump, cap) were never used */
  uint32_t free_head;
  uint32_t head[2], tail[2];
  uint64_t seed, idle_ns, active_ns, next_expire_ns;
  wf_flow_record *q; /* emit queue: ring of q_cap, q_len entries from q_head */
  size_t q_cap, q_head, q_len, q_max;
  wf_meter_stats st;
  wf_frag_cache frags;
};

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* ---- key and hash ---- */

/* Hash of the canonical key: the lower (address, port) end first, so both
 * directions of a conversation hash alike. Any total order will do, so the
 * addresses compare as native words. */
static uint64_t key_hash(const wf_meter *m, const wf_parsed *p, uint16_t sp, uint16_t dp) {
  uint64_t a0 = wf_load64(p->src), a1 = wf_load64(p->src + 8);
  uint64_t b0 = wf_load64(p->dst), b1 = wf_load64(p->dst + 8);
  if (a0 > b0 || (a0 == b0 && (a1 > b1 || (a1 == b1 && sp > dp)))) {
    uint64_t t0 = a0, t1 = a1;
    uint16_t tp = sp;
    a0 = b0, a1 = b1, b0 = t0, b1 = t1, sp = dp, dp = tp;
  }
  uint64_t w[5] = {(uint64_t)p->family | (uint64_t)p->protocol << 8 |
                       (uint64_t)p->vlan_id << 16 | (uint64_t)sp << 32 | (uint64_t)dp << 48,
                   a0, a1, b0, b1};
  return wf_hash40(w, m->seed);
}

/* 0 = packet goes initiator -> responder, 1 = reverse, -1 = another flow.
 * No early exits: the direction is a coin flip the branch predictor loses. */
static int flow_dir(const flow *f, const wf_parsed *p, uint16_t sp, uint16_t dp) {
  uint64_t s0 = wf_load64(p->src), s1 = wf_load64(p->src + 8);
  uint64_t d0 = wf_load64(p->dst), d1 = wf_load64(p->dst + 8);
  uint64_t f0 = wf_load64(f->src), f1 = wf_load64(f->src + 8);
  uint64_t g0 = wf_load64(f->dst), g1 = wf_load64(f->dst + 8);
  int same = (f->family == p->family) & (f->protocol == p->protocol) & (f->vlan_id == p->vlan_id);
  int fwd = (f0 == s0) & (f1 == s1) & (g0 == d0) & (g1 == d1) & (f->src_port == sp) &
            (f->dst_port == dp);
  int rev = (f0 == d0) & (f1 == d1) & (g0 == s0) & (g1 == s1) & (f->src_port == dp) &
            (f->dst_port == sp);
  return same & (fwd | rev) ? !fwd : -1;
}

/* ---- hash table ---- */

/* Nonzero tag keeps occupied slots distinct from SLOT_EMPTY. */
static uint32_t tag_of(uint64_t h) {
  uint32_t t = (uint32_t)(h >> 56);
  return t ? t : 1;
}

static uint32_t table_find(const wf_meter *m, uint64_t h, const wf_parsed *p, uint16_t sp,
                           uint16_t dp, int *dir) {
  uint32_t tag = tag_of(h), pos = (uint32_t)h & m->mask;
  for (int d = 0; d < PROBE_MAX; d++, pos = (pos + 1) & m->mask) {
    uint32_t s = m->slots[pos];
    if (s == SLOT_EMPTY) break;
    if (s >> 24 != tag) continue;
    const flow *f = &m->flows[s & IDX_MASK];
    if (f->id == h && (*dir = flow_dir(f, p, sp, dp)) >= 0) return s & IDX_MASK;
  }
  return NIL;
}

/* First empty slot within the probe bound, or NIL. */
static uint32_t table_free_pos(const wf_meter *m, uint64_t h) {
  uint32_t pos = (uint32_t)h & m->mask;
  for (int d = 0; d < PROBE_MAX; d++, pos = (pos + 1) & m->mask)
    if (m->slots[pos] == SLOT_EMPTY) return pos;
  return NIL;
}

static void table_remove(wf_meter *m, uint32_t idx) {
  uint64_t h = m->flows[idx].id;
  uint32_t want = tag_of(h) << 24 | idx, hole = (uint32_t)h & m->mask;
  while (m->slots[hole] != want) hole = (hole + 1) & m->mask;
  /* Backward shift: pull later run members into the hole unless that would
   * put them before their home slot. Displacements only shrink, so the
   * probe bound keeps holding. */
  for (uint32_t j = (hole + 1) & m->mask; m->slots[j] != SLOT_EMPTY; j = (j + 1) & m->mask) {
    uint32_t home = (uint32_t)m->flows[m->slots[j] & IDX_MASK].id & m->mask;
    if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  m->slots[hole] = SLOT_EMPTY;
}

/* ---- intrusive lists ---- */

static void list_unlink(wf_meter *m, int l, uint32_t i) {
  wf_link *k = &m->flows[i].link[l];
  if (k->prev != NIL) m->flows[k->prev].link[l].next = k->next;
  else m->head[l] = k->next;
  if (k->next != NIL) m->flows[k->next].link[l].prev = k->prev;
  else m->tail[l] = k->prev;
}

static void list_append(wf_meter *m, int l, uint32_t i) {
  wf_link *k = &m->flows[i].link[l];
  k->prev = m->tail[l];
  k->next = NIL;
  if (k->prev != NIL) m->flows[k->prev].link[l].next = i;
  else m->head[l] = i;
  m->tail[l] = i;
}

/* ---- emit queue ---- */

static void to_record(const flow *f, int reason, wf_flow_record *r) {
  *r = (wf_flow_record){.flow_id = f->id, .family = f->family, .protocol = f->protocol,
                        .vlan_id = f->vlan_id, .src_port = f->src_port, .dst_port = f->dst_port,
                        .packets_fwd = f->packets[0], .packets_rev = f->packets[1],
                        .bytes_fwd = f->bytes[0], .bytes_rev = f->bytes[1],
                        .first_ns = f->first_ns, .last_ns = f->last_ns, .tcp_flags = f->tcp_flags,
                        .state = f->state, .end_reason = (uint8_t)reason};
  memcpy(r->src, f->src, 16);
  memcpy(r->dst, f->dst, 16);
}

static int queue_grow(wf_meter *m) {
  if (m->q_cap >= m->q_max) return 0;
  size_t n = m->q_cap ? m->q_cap * 2 : QUEUE_MIN;
  if (n > m->q_max) n = m->q_max;
  wf_flow_record *q = malloc(n * sizeof *q);
  if (!q) return 0;
  for (size_t i = 0; i < m->q_len; i++) q[i] = m->q[(m->q_head + i) % m->q_cap];
  free(m->q);
  m->q = q;
  m->q_cap = n;
  m->q_head = 0;
  return 1;
}

static void emit(wf_meter *m, const flow *f, int reason) {
  if (m->q_len == m->q_cap && !queue_grow(m)) {
    m->st.emit_queue_drops++;
    return;
  }
  to_record(f, reason, &m->q[(m->q_head + m->q_len) % m->q_cap]);
  m->q_len++;
  m->st.flows_emitted++;
}

/* ---- flow lifecycle ---- */

static void end_flow(wf_meter *m, uint32_t idx, int reason) {
  emit(m, &m->flows[idx], reason);
  table_remove(m, idx);
  list_unlink(m, LRU, idx);
  list_unlink(m, AGE, idx);
  m->flows[idx].link[LRU].next = m->free_head;
  m->free_head = idx;
  m->st.flows_active--;
}

/* WF_END_IDLE / WF_END_ACTIVE if a timeout passed by now (the earlier
 * deadline names the reason), else WF_END_NONE. Never underflows. */
static int timed_out(const wf_meter *m, const flow *f, uint64_t now) {
  uint64_t idle_at = sat_add(f->last_ns, m->idle_ns);
  uint64_t active_at = sat_add(f->first_ns, m->active_ns);
  if (now < idle_at && now < active_at) return WF_END_NONE;
  return active_at <= idle_at ? WF_END_ACTIVE : WF_END_IDLE;
}

/* Evicts the least recently active flow of a probe run that hit PROBE_MAX. */
static void evict_in_run(wf_meter *m, uint64_t h) {
  uint32_t pos = (uint32_t)h & m->mask, best = NIL;
  for (int d = 0; d < PROBE_MAX; d++, pos = (pos + 1) & m->mask) {
    uint32_t idx = m->slots[pos] & IDX_MASK;
    if (best == NIL || m->flows[idx].last_ns < m->flows[best].last_ns) best = idx;
  }
  end_flow(m, best, WF_END_EVICTED);
  m->st.evictions++;
}

static uint32_t flow_new(wf_meter *m, uint64_t h, const wf_parsed *p, uint16_t sp, uint16_t dp,
                         uint64_t ts) {
  if (m->free_head == NIL && m->bump == m->cap) {
    /* Table full: end the least recently active flow (it may just be idle
     * and not yet expired, expiry running once a second). */
    int reason = timed_out(m, &m->flows[m->head[LRU]], ts);
    end_flow(m, m->head[LRU], reason != WF_END_NONE ? reason : WF_END_EVICTED);
    m->st.evictions += reason == WF_END_NONE;
  }
  uint32_t pos;
  while ((pos = table_free_pos(m, h)) == NIL) evict_in_run(m, h);
  uint32_t idx;
  if (m->free_head != NIL) {
    idx = m->free_head;
    m->free_head = m->flows[idx].link[LRU].next;
  } else {
    idx = m->bump++;
  }
  flow *f = &m->flows[idx];
  *f = (flow){.id = h, .src_port = sp, .dst_port = dp, .vlan_id = p->vlan_id,
              .family = p->family, .protocol = p->protocol, .first_ns = ts, .last_ns = ts,
              .lru_ns = ts, .state = WF_STATE_ACTIVE};
  memcpy(f->src, p->src, 16);
  memcpy(f->dst, p->dst, 16);
  m->slots[pos] = tag_of(h) << 24 | idx;
  list_append(m, LRU, idx);
  list_append(m, AGE, idx);
  m->st.flows_active++;
  m->st.flows_created++;
  return idx;
}

/* Flags of both directions OR together; FIN both ways or RST closes, and a
 * closed flow is emitted at once so a reused 5-tuple starts a new record. */
static void tcp_update(wf_meter *m, uint32_t idx, uint8_t flags, int dir) {
  flow *f = &m->flows[idx];
  f->tcp_flags |= flags;
  if (flags & TCP_RST) {
    f->state = WF_STATE_CLOSED;
  } else if (flags & TCP_FIN) {
    f->fin_dirs |= (uint8_t)(1u << dir);
    f->state = f->fin_dirs == 3 ? WF_STATE_CLOSED : WF_STATE_CLOSING;
  }
  if (f->state == WF_STATE_CLOSED) end_flow(m, idx, WF_END_FIN_RST);
}

/* Key hash of a packet, or 0 for a later fragment, whose ports come from
 * the fragment cache when it is metered. */
static uint64_t pre_hash(const wf_meter *m, const wf_parsed *p) {
  return p->fragment == WF_FRAG_LATER ? 0 : key_hash(m, p, p->src_port, p->dst_port);
}

/* Prefetches the records whose slot tag matches, up to the run's end. */
static void prefetch_flow(const wf_meter *m, uint64_t h) {
  uint32_t tag = tag_of(h), pos = (uint32_t)h & m->mask, s;
  for (int d = 0; d < 8 && (s = m->slots[pos]) != SLOT_EMPTY; d++, pos = (pos + 1) & m->mask) {
    if (s >> 24 != tag) continue;
    PREFETCH(&m->flows[s & IDX_MASK]);
    PREFETCH((const char *)&m->flows[s & IDX_MASK] + 64);
  }
}

static void meter(wf_meter *m, const wf_parsed *p, uint64_t ts, uint64_t h) {
  uint16_t sp = p->src_port, dp = p->dst_port;
  int later = p->fragment == WF_FRAG_LATER;
  if (later) {
    if (!wf_frag_get(&m->frags, p, ts, &sp, &dp)) {
      sp = dp = 0; /* first fragment unseen: a portless flow */
      m->st.fragments_unmatched++;
    }
  } else if (p->fragment == WF_FRAG_FIRST) {
    wf_frag_put(&m->frags, p, ts);
  }
  m->st.ip_packets++;
  m->st.bytes += p->ip_bytes;

  if (later) h = key_hash(m, p, sp, dp);
  int dir = 0;
  uint32_t idx = table_find(m, h, p, sp, dp, &dir);
  if (idx != NIL) {
    int reason = timed_out(m, &m->flows[idx], ts);
    if (reason != WF_END_NONE) {
      end_flow(m, idx, reason); /* expiry runs once a second; be exact per flow */
      idx = NIL;
    }
  }
  if (idx == NIL) {
    idx = flow_new(m, h, p, sp, dp, ts);
    dir = 0;
  } else if (ts - m->flows[idx].lru_ns >= NS_PER_S) { /* also when time stepped back */
    /* Requeue at most once a second: the list neighbours are cold cache
     * lines. wf_meter_expire allows for the up to 1 s of slack. */
    m->flows[idx].lru_ns = ts;
    list_unlink(m, LRU, idx);
    list_append(m, LRU, idx);
  }
  flow *f = &m->flows[idx];
  f->packets[dir]++;
  f->bytes[dir] += p->ip_bytes;
  if (ts > f->last_ns) f->last_ns = ts;
  if (ts < f->first_ns) f->first_ns = ts;
  if (p->protocol == 6 && !later) tcp_update(m, idx, p->tcp_flags, dir);
}

/* Expiry at most once per second of capture time; a clock that steps back
 * just waits. */
static void tick(wf_meter *m, uint64_t ts) {
  if (ts < m->next_expire_ns) return;
  wf_meter_expire(m, ts);
  m->next_expire_ns = sat_add(ts, NS_PER_S);
}

/* ---- public API ---- */

static uint64_t random_seed(void) {
  uint64_t s = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (f) {
    if (fread(&s, sizeof s, 1, f) != 1) s = 0;
    fclose(f);
  }
  if (s == 0) /* no urandom: weak but never constant */
    s = wf_mum((uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull,
               (uint64_t)(uintptr_t)&s ^ (uint64_t)clock() ^ 0xbf58476d1ce4e5b9ull);
  return s;
}

wf_meter *wf_meter_create(const wf_meter_config *config, char *err, size_t errlen) {
  if (!config || config->max_flows < 4096 || config->max_flows > 16777216) {
    if (err && errlen) snprintf(err, errlen, "max_flows must be 4096..16777216 (got %u)",
                                config ? config->max_flows : 0u);
    return NULL;
  }
  uint32_t cap = config->max_flows;
  uint64_t need = (uint64_t)cap + cap / 3, nslots = 1; /* load factor <= 0.75 */
  while (nslots < need) nslots <<= 1;

  wf_meter *m = calloc(1, sizeof *m);
  if (m) {
    m->slots = calloc(nslots, sizeof *m->slots);
    /* never read before flow_new writes it: untouched pages cost no RSS */
    m->flows = aligned_alloc(64, (size_t)cap * sizeof *m->flows);
  }
  if (!m || !m->slots || !m->flows) {
    if (err && errlen) snprintf(err, errlen, "out of memory for %u flows", cap);
    wf_meter_destroy(m);
    return NULL;
  }
  m->mask = (uint32_t)(nslots - 1);
  m->cap = cap;
  m->free_head = NIL;
  m->head[LRU] = m->head[AGE] = m->tail[LRU] = m->tail[AGE] = NIL;
  m->seed = config->seed ? config->seed : random_seed();
  m->idle_ns = (uint64_t)(config->idle_timeout_s ? config->idle_timeout_s : 300) * NS_PER_S;
  m->active_ns = (uint64_t)(config->active_timeout_s ? config->active_timeout_s : 1800) * NS_PER_S;
  m->q_max = (size_t)cap + QUEUE_SLACK;
  wf_frag_init(&m->frags, m->seed);
  return m;
}

void wf_meter_destroy(wf_meter *m) {
  if (!m) return;
  free(m->slots);
  free(m->flows);
  free(m->q);
  free(m);
}

void wf_meter_packet(wf_meter *m, int linktype, const uint8_t *data, uint32_t caplen,
                     uint32_t wirelen, uint64_t ts_ns) {
  wf_parsed p;
  m->st.packets++;
  tick(m, ts_ns);
  int r = wf_parse(linktype, data, caplen, wirelen, &p);
  if (r == WF_PARSE_OK) meter(m, &p, ts_ns, pre_hash(m, &p));
  else if (r == WF_PARSE_NOT_IP) m->st.non_ip++;
  else m->st.parse_errors++;
}

void wf_meter_parsed(wf_meter *m, const wf_parsed *p, uint64_t ts_ns) {
  m->st.packets++;
  tick(m, ts_ns);
  meter(m, p, ts_ns, pre_hash(m, p));
}

/* Same as wf_meter_packet on each packet, but parses and hashes BATCH
 * packets first and prefetches their slots and records, so the cache misses
 * of a large table overlap instead of queueing one after another. */
void wf_meter_packets(wf_meter *m, const wf_packet *pk, size_t n) {
  wf_parsed p[BATCH];
  uint64_t h[BATCH];
  int ok[BATCH];
  while (n > 0) {
    size_t c = n < BATCH ? n : BATCH;
    for (size_t i = 0; i < c; i++) {
      int r = wf_parse(pk[i].linktype, pk[i].data, pk[i].caplen, pk[i].wirelen, &p[i]);
      m->st.packets++;
      m->st.non_ip += r == WF_PARSE_NOT_IP;
      m->st.parse_errors += r < 0;
      if ((ok[i] = r == WF_PARSE_OK) != 0) {
        h[i] = pre_hash(m, &p[i]);
        PREFETCH(&m->slots[(uint32_t)h[i] & m->mask]);
      }
    }
    for (size_t i = 0; i < c; i++) { /* in order, ticking on every frame as wf_meter_packet does */
      if (i + PREFETCH_AHEAD < c && ok[i + PREFETCH_AHEAD]) prefetch_flow(m, h[i + PREFETCH_AHEAD]);
      tick(m, pk[i].ts_ns);
      if (ok[i]) meter(m, &p[i], pk[i].ts_ns, h[i]);
    }
    pk += c;
    n -= c;
  }
}

void wf_meter_expire(wf_meter *m, uint64_t now_ns) {
  /* LRU order is by lru_ns and a flow's last packet came less than 1 s after
   * it, so every idle flow is in the head run queued >= idle ago; the rest
   * of that run (one second's worth) stays. */
  int r;
  for (uint32_t i = m->head[LRU], next; i != NIL; i = next) {
    next = m->flows[i].link[LRU].next;
    if (sat_add(m->flows[i].lru_ns, m->idle_ns) > now_ns) break;
    if ((r = timed_out(m, &m->flows[i], now_ns)) != 0) end_flow(m, i, r);
  }
  while (m->head[AGE] != NIL && (r = timed_out(m, &m->flows[m->head[AGE]], now_ns)) != 0)
    end_flow(m, m->head[AGE], r);
}

void wf_meter_flush(wf_meter *m) {
  while (m->head[AGE] != NIL) end_flow(m, m->head[AGE], WF_END_END_OF_CAPTURE);
}

size_t wf_meter_pending(const wf_meter *m) { return m->q_len; }

size_t wf_meter_drain(wf_meter *m, wf_flow_record *out, size_t max) {
  size_t n = max < m->q_len ? max : m->q_len;
  for (size_t i = 0; i < n; i++) out[i] = m->q[(m->q_head + i) % m->q_cap];
  if (n) m->q_head = (m->q_head + n) % m->q_cap;
  m->q_len -= n;
  return n;
}

size_t wf_meter_snapshot(const wf_meter *m, wf_flow_record *out, size_t max) {
  size_t n = 0;
  for (uint64_t pos = 0; pos <= m->mask && n < max; pos++)
    if (m->slots[pos] != SLOT_EMPTY)
      to_record(&m->flows[m->slots[pos] & IDX_MASK], WF_END_NONE, &out[n++]);
  return n;
}

void wf_meter_get_stats(const wf_meter *m, wf_meter_stats *out) {
  uint64_t slot_bytes = ((uint64_t)m->mask + 1) * sizeof *m->slots;
  uint64_t flow_bytes = (uint64_t)m->cap * sizeof *m->flows;
  *out = m->st;
  out->capacity = m->cap;
  out->bytes_per_flow = (uint32_t)((slot_bytes + flow_bytes + m->cap - 1) / m->cap);
  out->memory_bytes = sizeof *m + slot_bytes + flow_bytes + m->q_cap * sizeof *m->q;
}
