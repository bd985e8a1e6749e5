/*
 * The impairment relay's decisions: seeded PRNG, loss / delay / jitter / reorder per frame, and
 * the bounded release queue. No sockets here (relay.c), so the unit test drives it with its own
 * clock.
 */
#include <stdio.h>
#include <stdlib.h>

#include "relay.h"

#define NS_PER_MS 1000000ull

int wf_relay_impairment_check(const wf_relay_impairment *imp, char *err, size_t errlen) {
  if (imp->delay_ms > WF_RELAY_MAX_MS || imp->jitter_ms > WF_RELAY_MAX_MS ||
      imp->reorder_delay_ms > WF_RELAY_MAX_MS) {
    snprintf(err, errlen, "delay, jitter and reorder delay must be 0..%u ms", WF_RELAY_MAX_MS);
    return -1;
  }
  /* Written so that NaN fails too. */
  if (!(imp->loss >= 0.0 && imp->loss < 1.0)) {
    snprintf(err, errlen, "loss must be a fraction in [0, 1)");
    return -1;
  }
  if (!(imp->reorder >= 0.0 && imp->reorder <= 1.0)) {
    snprintf(err, errlen, "reorder must be a fraction in [0, 1]");
    return -1;
  }
  return 0;
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void wf_relay_prng_seed(wf_relay_prng *p, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) p->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t wf_relay_prng_next(wf_relay_prng *p) {
  uint64_t *s = p->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double wf_relay_prng_unit(wf_relay_prng *p) {
  return (double)(wf_relay_prng_next(p) >> 11) * 0x1.0p-53;
}

void wf_relay_shaper_init(wf_relay_shaper *s, const wf_relay_impairment *imp, uint64_t seed) {
  s->imp = *imp;
  if (s->imp.reorder_delay_ms == 0) s->imp.reorder_delay_ms = WF_RELAY_DEFAULT_REORDER_MS;
  wf_relay_prng_seed(&s->prng, seed);
  s->last_release_ns = 0;
}

int wf_relay_decide(wf_relay_shaper *s, uint64_t now_ns, uint64_t *release_ns) {
  /* Three draws per frame whatever the outcome, so one frame's fate does not shift the
   * random numbers of the frames after it (a seed replays the same decisions per frame). */
  const double loss_draw = wf_relay_prng_unit(&s->prng);
  const double reorder_draw = wf_relay_prng_unit(&s->prng);
  const uint64_t jitter_draw = wf_relay_prng_next(&s->prng);
  if (loss_draw < s->imp.loss) return WF_RELAY_DROP_LOSS;
  uint64_t release = now_ns + (uint64_t)s->imp.delay_ms * NS_PER_MS;
  if (s->imp.jitter_ms > 0) release += jitter_draw % ((uint64_t)s->imp.jitter_ms * NS_PER_MS + 1);
  if (release < s->last_release_ns) release = s->last_release_ns;
  if (reorder_draw < s->imp.reorder) {
    /* Held back: later frames do not wait for it, so it does not move last_release_ns. */
    *release_ns = release + (uint64_t)s->imp.reorder_delay_ms * NS_PER_MS;
    return WF_RELAY_REORDER;
  }
  s->last_release_ns = release;
  *release_ns = release;
  return WF_RELAY_FORWARD;
}

int wf_relay_queue_init(wf_relay_queue *q, size_t cap) {
  q->heap = calloc(cap ? cap : 1, sizeof *q->heap);
  q->count = 0;
  q->cap = cap;
  q->next_order = 0;
  return q->heap ? 0 : -1;
}

void wf_relay_queue_free(wf_relay_queue *q) {
  if (!q->heap) return;
  for (size_t i = 0; i < q->count; i++) free(q->heap[i].frame);
  free(q->heap);
  q->heap = NULL;
  q->count = 0;
}

static int before(const wf_relay_item *a, const wf_relay_item *b) {
  return a->release_ns < b->release_ns || (a->release_ns == b->release_ns && a->order < b->order);
}

int wf_relay_queue_push(wf_relay_queue *q, uint64_t release_ns, uint8_t *frame, uint32_t len) {
  if (q->count >= q->cap) return -1;
  wf_relay_item item = {release_ns, q->next_order++, frame, len};
  size_t i = q->count++;
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!before(&item, &q->heap[parent])) break;
    q->heap[i] = q->heap[parent];
    i = parent;
  }
  q->heap[i] = item;
  return 0;
}

const wf_relay_item *wf_relay_queue_peek(const wf_relay_queue *q) {
  return q->count ? &q->heap[0] : NULL;
}

int wf_relay_queue_pop(wf_relay_queue *q, wf_relay_item *out) {
  if (q->count == 0) return -1;
  *out = q->heap[0];
  const wf_relay_item last = q->heap[--q->count];
  size_t i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= q->count) break;
    if (child + 1 < q->count && before(&q->heap[child + 1], &q->heap[child])) child++;
    if (!before(&q->heap[child], &last)) break;
    q->heap[i] = q->heap[child];
    i = child;
  }
  if (q->count) q->heap[i] = last;
  return 0;
}
