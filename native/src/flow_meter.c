/*
 * Flow meter, apart from the per-packet path (flow_table.c): creating and
 * destroying a meter, expiry, flush, the emit queue and its drain,
 * snapshots and stats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow_table_internal.h"

int wf_meter_queue_grow(wf_meter *m) {
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

void wf_meter_expire(wf_meter *m, uint64_t now_ns) {
  /* LRU order is by lru_ns and a flow's last packet came less than 1 s after
   * it, so every idle flow is in the head run queued >= idle ago; the rest
   * of that run (one second's worth) stays. */
  int r;
  for (uint32_t i = m->head[LRU], next; i != NIL; i = next) {
    next = m->flows[i].link[LRU].next;
    if (wf_sat_add(m->flows[i].lru_ns, m->idle_ns) > now_ns) break;
    if ((r = wf_meter_timed_out(m, &m->flows[i], now_ns)) != 0) wf_meter_end_flow(m, i, r);
  }
  while (m->head[AGE] != NIL && (r = wf_meter_timed_out(m, &m->flows[m->head[AGE]], now_ns)) != 0)
    wf_meter_end_flow(m, m->head[AGE], r);
}

void wf_meter_flush(wf_meter *m) {
  while (m->head[AGE] != NIL) wf_meter_end_flow(m, m->head[AGE], WF_END_END_OF_CAPTURE);
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
      wf_meter_to_record(&m->flows[m->slots[pos] & IDX_MASK], WF_END_NONE, &out[n++]);
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
