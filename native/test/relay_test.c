/*
 * Impairment relay decisions (relay_sched.c) driven by the test's own clock: loss and reorder
 * fractions against binomial bounds, exact delays, jitter that keeps order, held frames that are
 * overtaken, the release heap's order and bound, seeds that replay; and the checks wf_relay_start
 * makes before it opens anything. From the native directory: make unit.
 */
#undef NDEBUG
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "check.h"

#define MS 1000000ull
#define T0 5000000000ull


static wf_relay_impairment imp(uint32_t delay, uint32_t jitter, double loss, double reorder, uint32_t rdelay) {
  wf_relay_impairment i = {delay, jitter, loss, reorder, rdelay};
  return i;
}

/* |count - n p| within 5 standard deviations of a binomial(n, p): fails by chance ~1 in 1.7e6. */
static int binomial_ok(uint64_t count, uint64_t n, double p) {
  const double sd = sqrt((double)n * p * (1 - p));
  return fabs((double)count - (double)n * p) <= 5 * sd + 1;
}

static void prng(void) {
  wf_relay_prng a, b, c;
  wf_relay_prng_seed(&a, 42);
  wf_relay_prng_seed(&b, 42);
  wf_relay_prng_seed(&c, 43);
  int differ = 0;
  double sum = 0;
  for (int i = 0; i < 100000; i++) {
    const uint64_t x = wf_relay_prng_next(&a);
    CHECK(x == wf_relay_prng_next(&b));
    differ |= x != wf_relay_prng_next(&c);
    const double u = wf_relay_prng_unit(&a);
    wf_relay_prng_unit(&b);
    CHECK(u >= 0.0 && u < 1.0);
    sum += u;
  }
  CHECK(differ);
  /* The mean of 1e5 uniforms: sd 0.00091, so 0.005 is > 5 sd. */
  CHECK(fabs(sum / 100000 - 0.5) < 0.005);
}

static void impairment_checks(void) {
  char err[128];
  wf_relay_impairment ok = imp(40, 5, 0.1, 0.2, 15);
  CHECK(wf_relay_impairment_check(&ok, err, sizeof err) == 0);
  const wf_relay_impairment bad[] = {
      imp(0, 0, 1.0, 0, 0),   imp(0, 0, -0.01, 0, 0), imp(0, 0, NAN, 0, 0),
      imp(0, 0, 0, 1.01, 0),  imp(0, 0, 0, NAN, 0),   imp(WF_RELAY_MAX_MS + 1, 0, 0, 0, 0),
      imp(0, WF_RELAY_MAX_MS + 1, 0, 0, 0), imp(0, 0, 0, 0.5, WF_RELAY_MAX_MS + 1),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    CHECK(wf_relay_impairment_check(&bad[i], err, sizeof err) == -1);
    CHECK(err[0] != 0);
  }
}

static void fixed_delay_no_loss(void) {
  wf_relay_shaper s;
  wf_relay_impairment i = imp(25, 0, 0, 0, 0);
  wf_relay_shaper_init(&s, &i, 1);
  for (uint64_t k = 0; k < 10000; k++) {
    uint64_t release = 0;
    const uint64_t now = T0 + k * 137000;
    CHECK(wf_relay_decide(&s, now, &release) == WF_RELAY_FORWARD);
    CHECK(release == now + 25 * MS);
  }
}

static void loss_fraction(void) {
  const double fractions[] = {0.01, 0.05, 0.1, 0.5};
  for (size_t f = 0; f < sizeof fractions / sizeof fractions[0]; f++) {
    wf_relay_shaper s;
    wf_relay_impairment i = imp(10, 0, fractions[f], 0, 0);
    wf_relay_shaper_init(&s, &i, 7 + f);
    const uint64_t n = 200000;
    uint64_t dropped = 0;
    for (uint64_t k = 0; k < n; k++) {
      uint64_t release;
      dropped += wf_relay_decide(&s, T0 + k * MS, &release) == WF_RELAY_DROP_LOSS;
    }
    CHECK(binomial_ok(dropped, n, fractions[f]));
  }
}

static void jitter_keeps_order(void) {
  wf_relay_shaper s;
  wf_relay_impairment i = imp(20, 10, 0, 0, 0);
  wf_relay_shaper_init(&s, &i, 3);
  uint64_t last = 0, sum_extra = 0;
  const uint64_t n = 50000;
  int clamped = 0;
  for (uint64_t k = 0; k < n; k++) {
    uint64_t release;
    const uint64_t now = T0 + k * MS; /* 1 ms apart: 10 ms of jitter would reorder without the clamp */
    CHECK(wf_relay_decide(&s, now, &release) == WF_RELAY_FORWARD);
    CHECK(release >= now + 20 * MS && release <= now + 30 * MS + 10 * MS);
    CHECK(release >= last);
    clamped |= release == last;
    sum_extra += release - (now + 20 * MS);
    last = release;
  }
  CHECK(clamped);
  /* Uniform 0..10 ms, raised by the clamp: the mean extra lies between 5 and 10 ms. */
  const double mean_extra_ms = (double)sum_extra / (double)n / MS;
  CHECK(mean_extra_ms > 5.0 && mean_extra_ms < 10.0);
}

static void seeds_replay(void) {
  wf_relay_shaper a, b;
  wf_relay_impairment i = imp(5, 3, 0.2, 0.2, 7);
  wf_relay_shaper_init(&a, &i, 99);
  wf_relay_shaper_init(&b, &i, 99);
  for (uint64_t k = 0; k < 10000; k++) {
    uint64_t ra = 0, rb = 0;
    CHECK(wf_relay_decide(&a, T0 + k * MS, &ra) == wf_relay_decide(&b, T0 + k * MS, &rb));
    CHECK(ra == rb);
  }
}

/* Frames 1 ms apart through a queue with reordering: the held fraction is binomial, held frames
 * are released reorder_delay later, and they come out after frames that arrived after them. */
static void reorder_overtakes(void) {
  wf_relay_shaper s;
  wf_relay_impairment i = imp(10, 0, 0, 0.1, 5);
  wf_relay_shaper_init(&s, &i, 11);
  wf_relay_queue q;
  CHECK(wf_relay_queue_init(&q, 64) == 0);
  const uint64_t n = 20000;
  uint64_t held = 0, late = 0, released = 0, highest = 0;
  for (uint64_t k = 0; k < n; k++) {
    const uint64_t now = T0 + k * MS;
    const wf_relay_item *head;
    while ((head = wf_relay_queue_peek(&q)) && head->release_ns <= now) {
      wf_relay_item out;
      CHECK(wf_relay_queue_pop(&q, &out) == 0);
      uint64_t arrival;
      memcpy(&arrival, out.frame, sizeof arrival);
      if (released && arrival < highest) late++;
      if (!released || arrival > highest) highest = arrival;
      released++;
      free(out.frame);
    }
    uint64_t release;
    const int v = wf_relay_decide(&s, now, &release);
    CHECK(v == WF_RELAY_FORWARD || v == WF_RELAY_REORDER);
    CHECK(release == now + (v == WF_RELAY_REORDER ? 15 : 10) * MS);
    held += v == WF_RELAY_REORDER;
    uint8_t *frame = malloc(sizeof k);
    CHECK(frame);
    memcpy(frame, &k, sizeof k);
    CHECK(wf_relay_queue_push(&q, release, frame, sizeof k) == 0);
  }
  CHECK(binomial_ok(held, n, 0.1));
  /* Every held frame is overtaken by the next frame unless it too is held (then by a later one);
   * only the last few frames, still queued, are not counted. */
  CHECK(late <= held && late + 20 >= held);
  wf_relay_queue_free(&q);
}

static void no_reorder_keeps_order(void) {
  wf_relay_shaper s;
  wf_relay_impairment i = imp(3, 2, 0.05, 0, 0);
  wf_relay_shaper_init(&s, &i, 5);
  wf_relay_queue q;
  CHECK(wf_relay_queue_init(&q, 16) == 0);
  uint64_t expect_next = 0, popped = 0;
  for (uint64_t k = 0; k < 5000; k++) {
    uint64_t release;
    if (wf_relay_decide(&s, T0 + k * 100000, &release) == WF_RELAY_DROP_LOSS) continue;
    if (q.count == q.cap) {
      wf_relay_item out;
      CHECK(wf_relay_queue_pop(&q, &out) == 0);
      uint64_t arrival;
      memcpy(&arrival, out.frame, sizeof arrival);
      CHECK(arrival >= expect_next);
      expect_next = arrival + 1;
      popped++;
      free(out.frame);
    }
    uint8_t *frame = malloc(sizeof k);
    CHECK(frame);
    memcpy(frame, &k, sizeof k);
    CHECK(wf_relay_queue_push(&q, release, frame, sizeof k) == 0);
  }
  CHECK(popped > 4000);
  wf_relay_queue_free(&q);
}

static void heap_order_and_bound(void) {
  wf_relay_queue q;
  CHECK(wf_relay_queue_init(&q, 1000) == 0);
  wf_relay_prng p;
  wf_relay_prng_seed(&p, 8);
  for (uint32_t k = 0; k < 1000; k++) {
    uint8_t *frame = malloc(4);
    CHECK(frame);
    memcpy(frame, &k, 4);
    /* Few distinct times, so equal release times must come out in arrival order. */
    CHECK(wf_relay_queue_push(&q, wf_relay_prng_next(&p) % 50, frame, 4) == 0);
  }
  uint8_t extra = 0;
  CHECK(wf_relay_queue_push(&q, 0, &extra, 1) == -1); /* full: the caller keeps the frame */
  CHECK(q.count == 1000);
  uint64_t last_time = 0;
  uint32_t last_arrival = 0;
  for (int k = 0; k < 600; k++) {
    wf_relay_item out;
    CHECK(wf_relay_queue_pop(&q, &out) == 0);
    uint32_t arrival;
    memcpy(&arrival, out.frame, 4);
    CHECK(out.release_ns >= last_time);
    if (k > 0 && out.release_ns == last_time) CHECK(arrival > last_arrival);
    last_time = out.release_ns;
    last_arrival = arrival;
    free(out.frame);
  }
  /* The 400 left are freed by the queue (ASan reports a leak otherwise). */
  wf_relay_queue_free(&q);
  wf_relay_queue empty;
  CHECK(wf_relay_queue_init(&empty, 4) == 0);
  wf_relay_item out;
  CHECK(wf_relay_queue_peek(&empty) == NULL && wf_relay_queue_pop(&empty, &out) == -1);
  wf_relay_queue_free(&empty);
}

static void start_refusals(void) {
  char err[256];
  wf_relay_config c;
  memset(&c, 0, sizeof c);
  c.interface_a = "wfrelay-none0";
  c.interface_b = "wfrelay-none1";
  c.dir[0] = imp(0, 0, 1.0, 0, 0);
  CHECK(wf_relay_start(&c, err, sizeof err) == NULL && strstr(err, "loss"));
  c.dir[0] = imp(0, 0, 0, 0, 0);
  c.queue_limit = WF_RELAY_MAX_QUEUE + 1;
  CHECK(wf_relay_start(&c, err, sizeof err) == NULL && strstr(err, "queue"));
  c.queue_limit = 0;
  c.interface_b = "wfrelay-none0";
  CHECK(wf_relay_start(&c, err, sizeof err) == NULL && strstr(err, "differ"));
  c.interface_b = "";
  CHECK(wf_relay_start(&c, err, sizeof err) == NULL && strstr(err, "interface b"));
  c.interface_b = "wfrelay-none1";
  c.netns = "../etc";
  CHECK(wf_relay_start(&c, err, sizeof err) == NULL && strstr(err, "netns"));
  c.netns = "/nonexistent/wf-relay-test-ns";
  CHECK(wf_relay_start(&c, err, sizeof err) == NULL && strstr(err, "/nonexistent/wf-relay-test-ns"));
  /* The thread starts and reports the missing interface (no privilege needed to find out). */
  c.netns = NULL;
  CHECK(wf_relay_start(&c, err, sizeof err) == NULL && strstr(err, "wfrelay-none0"));
}

int main(void) {
  prng();
  impairment_checks();
  fixed_delay_no_loss();
  loss_fraction();
  jitter_keeps_order();
  seeds_replay();
  reorder_overtakes();
  no_reorder_keeps_order();
  heap_order_and_bound();
  start_refusals();
  printf("relay_test: all passed\n");
  return 0;
}
