/*
 * Fragment cache: (family, vlan, src, dst, protocol, IP ID) -> ports of the
 * first fragment, so later fragments (no transport header) join their flow.
 * Fixed 4096 entries in 4-way buckets: bounded memory and probing; a full
 * bucket overwrites its oldest entry. Entries live 30 s of capture time.
 */
#include "flow_table_internal.h"

static uint64_t frag_hash(const wf_frag_cache *c, const wf_parsed *p) {
  uint64_t w[5] = {
      (uint64_t)p->family | (uint64_t)p->protocol << 8 | (uint64_t)p->vlan_id << 16 |
          (uint64_t)p->ip_id << 32,
      wf_load64(p->src), wf_load64(p->src + 8), wf_load64(p->dst), wf_load64(p->dst + 8)};
  return wf_hash40(w, c->seed);
}

static int frag_match(const wf_frag_entry *e, const wf_parsed *p) {
  return e->family == p->family && e->protocol == p->protocol && e->vlan_id == p->vlan_id &&
         e->ip_id == p->ip_id && memcmp(e->src, p->src, 16) == 0 &&
         memcmp(e->dst, p->dst, 16) == 0;
}

/* Timestamps may step back a little; an entry "from the future" is fresh. */
static int frag_fresh(const wf_frag_entry *e, uint64_t ts_ns) {
  return ts_ns <= e->ts_ns || ts_ns - e->ts_ns <= WF_FRAG_TTL_NS;
}

void wf_frag_init(wf_frag_cache *c, uint64_t seed) {
  memset(c->e, 0, sizeof c->e);
  c->seed = seed ^ 0x9e3779b97f4a7c15ull; /* independent of the flow hash */
}

void wf_frag_put(wf_frag_cache *c, const wf_parsed *p, uint64_t ts_ns) {
  wf_frag_entry *b = &c->e[(frag_hash(c, p) & (WF_FRAG_BUCKETS - 1)) * WF_FRAG_WAYS];
  wf_frag_entry *victim = &b[0];
  for (int i = 0; i < WF_FRAG_WAYS; i++) {
    /* Ways fill in order and are never cleared, so an empty way ends the search. */
    if (b[i].family == 0 || frag_match(&b[i], p)) {
      victim = &b[i];
      break;
    }
    if (b[i].ts_ns < victim->ts_ns) victim = &b[i]; /* oldest; stale ones are oldest */
  }
  victim->ts_ns = ts_ns;
  victim->ip_id = p->ip_id;
  victim->vlan_id = p->vlan_id;
  victim->src_port = p->src_port;
  victim->dst_port = p->dst_port;
  victim->family = p->family;
  victim->protocol = p->protocol;
  memcpy(victim->src, p->src, 16);
  memcpy(victim->dst, p->dst, 16);
}

int wf_frag_get(const wf_frag_cache *c, const wf_parsed *p, uint64_t ts_ns, uint16_t *src_port,
                uint16_t *dst_port) {
  const wf_frag_entry *b = &c->e[(frag_hash(c, p) & (WF_FRAG_BUCKETS - 1)) * WF_FRAG_WAYS];
  for (int i = 0; i < WF_FRAG_WAYS; i++) {
    if (b[i].family != 0 && frag_match(&b[i], p) && frag_fresh(&b[i], ts_ns)) {
      *src_port = b[i].src_port;
      *dst_port = b[i].dst_port;
      return 1;
    }
  }
  return 0;
}
