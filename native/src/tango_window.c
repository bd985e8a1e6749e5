/*
 * Per-path replay window and measurements of a Tango receiver.
 *
 * Sequence numbers are 16 bits and compared in RFC 1982 serial order (a difference of exactly
 * 32768 counts as behind). The window remembers WF_TANGO_WINDOW sequence numbers below the top.
 * 16 bits alone cannot tell a replay from a packet one wrap later, so the window also uses the
 * sender tick, which the tag covers in full (tango_sig.c) and which never decreases on a path
 * (tango_node.c holds the sender clock): a packet numbered after the top must not be older
 * than it, and a packet of slot s must not be older than the top at the moment the window slid
 * over s. A replayed packet fails one of these unless 64 512 packets were sent on the path within
 * one 1.05 ms tick. A packet sent after the top (newer tick) but numbered at or below it means
 * the sender restarted its counter: the window starts again from it (a resync).
 */
#include <string.h>

#include "tango_internal.h"

#define WINDOW_MASK (WF_TANGO_WINDOW - 1)
#define EXT_START ((int64_t)1 << 40) /* extended sequence numbers stay positive */

static int seen(const tango_rx *w, uint16_t seq) {
  const unsigned slot = seq & WINDOW_MASK;
  return (int)(w->seen[slot / 64] >> (slot % 64) & 1);
}

static void set_seen(tango_rx *w, uint16_t seq) {
  const unsigned slot = seq & WINDOW_MASK;
  w->seen[slot / 64] |= (uint64_t)1 << (slot % 64);
}

/* Opens a slot for a new cycle: not seen, and no packet older than `tick` may fill it. */
static void open_slot(tango_rx *w, uint16_t seq, uint64_t tick) {
  const unsigned slot = seq & WINDOW_MASK;
  w->seen[slot / 64] &= ~((uint64_t)1 << (slot % 64));
  w->open_tick[slot] = (uint32_t)tick;
}

static void open_all(tango_rx *w, uint64_t tick) {
  memset(w->seen, 0, sizeof w->seen);
  for (unsigned i = 0; i < WF_TANGO_WINDOW; i++) w->open_tick[i] = (uint32_t)tick;
}

/* Ticks compare as signed differences so that no clock value is special. */
static int64_t tick_diff(uint64_t a, uint64_t b) { return (int64_t)(a - b); }

int tango_window_check(const tango_rx *w, uint16_t seq, uint64_t tick) {
  if (!w->active) return TANGO_W_START;
  const int d = (int16_t)(uint16_t)(seq - w->top_seq);
  if (d > 0) return tick_diff(tick, w->top_tick) >= 0 ? TANGO_W_ADVANCE : WF_TANGO_R_REPLAY;
  if (tick_diff(tick, w->top_tick) > 0) return TANGO_W_RESYNC;
  if (d == 0) return WF_TANGO_R_REPLAY;
  if (-d >= WF_TANGO_WINDOW) return WF_TANGO_R_OUTSIDE_WINDOW;
  if (seen(w, seq)) return WF_TANGO_R_REPLAY;
  const uint32_t open = w->open_tick[seq & WINDOW_MASK];
  if ((int32_t)((uint32_t)tick - open) < 0) return WF_TANGO_R_REPLAY;
  return TANGO_W_LATE;
}

static void start(tango_rx *w, wf_tango_path_stats *s, uint16_t seq, uint64_t tick, uint64_t floor) {
  if (w->active) w->expected_before += (uint64_t)(w->ext_top - w->ext_base + 1);
  open_all(w, floor);
  w->active = 1;
  w->top_seq = seq;
  w->top_tick = tick;
  w->ext_top = w->ext_base = EXT_START;
  s->rx_resyncs++;
}

static void advance(tango_rx *w, uint16_t seq, uint64_t tick) {
  const int d = (uint16_t)(seq - w->top_seq);
  if (d >= WF_TANGO_WINDOW) {
    open_all(w, w->top_tick);
  } else {
    for (int i = 1; i <= d; i++) open_slot(w, (uint16_t)(w->top_seq + i), w->top_tick);
  }
  w->ext_top += d;
  w->top_seq = seq;
  w->top_tick = tick;
}

static void measure_delay(tango_rx *w, wf_tango_path_stats *s, int64_t delay_ns) {
  if (s->delay_samples == 0) {
    s->delay_min_ns = s->delay_max_ns = delay_ns;
  } else {
    /* RFC 3550 §6.4.1: J += (|D| - J) / 16, D the change in transit time between arrivals. */
    int64_t change = delay_ns - w->last_transit_ns;
    if (change < 0) change = -change;
    w->jitter16_ns += change - (w->jitter16_ns + 8) / 16;
    if (delay_ns < s->delay_min_ns) s->delay_min_ns = delay_ns;
    if (delay_ns > s->delay_max_ns) s->delay_max_ns = delay_ns;
  }
  w->last_transit_ns = delay_ns;
  s->delay_samples++;
  s->delay_last_ns = delay_ns;
  s->delay_sum_ns += delay_ns;
  s->jitter_ns = w->jitter16_ns / 16;
}

void tango_window_accept(tango_path *path, int verdict, uint16_t seq, uint64_t tick,
                         uint64_t fresh_floor_tick, int64_t delay_ns, uint64_t now_ns,
                         size_t inner_len) {
  tango_rx *w = &path->rx;
  wf_tango_path_stats *s = &path->stats;
  switch (verdict) {
  case TANGO_W_START:
    /* Nothing older than a fresh packet can pass the freshness check, so any fresh one may fill
     * the slots below the first packet (late packets sent just before it). */
    start(w, s, seq, tick, fresh_floor_tick);
    break;
  case TANGO_W_RESYNC:
    /* Only packets sent after the old top belong to the sender's new numbering. */
    start(w, s, seq, tick, w->top_tick + 1);
    break;
  case TANGO_W_ADVANCE:
    advance(w, seq, tick);
    break;
  default: { /* TANGO_W_LATE */
    const int64_t ext = w->ext_top + (int16_t)(uint16_t)(seq - w->top_seq);
    if (ext < w->ext_base) w->ext_base = ext;
    s->rx_reordered++;
    break;
  }
  }
  set_seen(w, seq);
  s->rx_packets++;
  s->rx_bytes += inner_len;
  s->rx_expected = w->expected_before + (uint64_t)(w->ext_top - w->ext_base + 1);
  s->rx_lost = s->rx_expected > s->rx_packets ? s->rx_expected - s->rx_packets : 0;
  s->rx_top_seq = w->top_seq;
  s->rx_last_ns = now_ns;
  measure_delay(w, s, delay_ns);
}
