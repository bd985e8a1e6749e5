/*
 * Flow meter, per packet: bidirectional flow records in a seeded
 * open-addressing table. Creation, expiry, flush, the emit queue and stats
 * are in flow_meter.c; the structures in flow_table_internal.h.
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
#include <stdlib.h>
#include <string.h>

#include "flow_table_internal.h"

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
static int flow_dir(const wf_flow *f, const wf_parsed *p, uint16_t sp, uint16_t dp) {
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
    const wf_flow *f = &m->flows[s & IDX_MASK];
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

void wf_meter_to_record(const wf_flow *f, int reason, wf_flow_record *r) {
  *r = (wf_flow_record){.flow_id = f->id, .family = f->family, .protocol = f->protocol,
                        .vlan_id = f->vlan_id, .src_port = f->src_port, .dst_port = f->dst_port,
                        .packets_fwd = f->packets[0], .packets_rev = f->packets[1],
                        .bytes_fwd = f->bytes[0], .bytes_rev = f->bytes[1],
                        .first_ns = f->first_ns, .last_ns = f->last_ns, .tcp_flags = f->tcp_flags,
                        .state = f->state, .end_reason = (uint8_t)reason};
  memcpy(r->src, f->src, 16);
  memcpy(r->dst, f->dst, 16);
}

static void emit(wf_meter *m, const wf_flow *f, int reason) {
  if (m->q_len == m->q_cap && !wf_meter_queue_grow(m)) {
    m->st.emit_queue_drops++;
    return;
  }
  wf_meter_to_record(f, reason, &m->q[(m->q_head + m->q_len) % m->q_cap]);
  m->q_len++;
  m->st.flows_emitted++;
}

/* ---- flow lifecycle ---- */

void wf_meter_end_flow(wf_meter *m, uint32_t idx, int reason) {
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
int wf_meter_timed_out(const wf_meter *m, const wf_flow *f, uint64_t now) {
  uint64_t idle_at = wf_sat_add(f->last_ns, m->idle_ns);
  uint64_t active_at = wf_sat_add(f->first_ns, m->active_ns);
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
  wf_meter_end_flow(m, best, WF_END_EVICTED);
  m->st.evictions++;
}

static uint32_t flow_new(wf_meter *m, uint64_t h, const wf_parsed *p, uint16_t sp, uint16_t dp,
                         uint64_t ts) {
  if (m->free_head == NIL && m->bump == m->cap) {
    /* Table full: end the least recently active flow (it may just be idle
     * and not yet expired, expiry running once a second). */
    int reason = wf_meter_timed_out(m, &m->flows[m->head[LRU]], ts);
    wf_meter_end_flow(m, m->head[LRU], reason != WF_END_NONE ? reason : WF_END_EVICTED);
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
  wf_flow *f = &m->flows[idx];
  *f = (wf_flow){.id = h, .src_port = sp, .dst_port = dp, .vlan_id = p->vlan_id,
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
  wf_flow *f = &m->flows[idx];
  f->tcp_flags |= flags;
  if (flags & TCP_RST) {
    f->state = WF_STATE_CLOSED;
  } else if (flags & TCP_FIN) {
    f->fin_dirs |= (uint8_t)(1u << dir);
    f->state = f->fin_dirs == 3 ? WF_STATE_CLOSED : WF_STATE_CLOSING;
  }
  if (f->state == WF_STATE_CLOSED) wf_meter_end_flow(m, idx, WF_END_FIN_RST);
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
    int reason = wf_meter_timed_out(m, &m->flows[idx], ts);
    if (reason != WF_END_NONE) {
      wf_meter_end_flow(m, idx, reason); /* expiry runs once a second; be exact per flow */
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
  wf_flow *f = &m->flows[idx];
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
  m->next_expire_ns = wf_sat_add(ts, NS_PER_S);
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

