/*
 * Tango node internals shared by tango_node.c and tango_window.c (and the C unit tests).
 */
#ifndef WF_TANGO_INTERNAL_H
#define WF_TANGO_INTERNAL_H

#include "tango.h"

/* Receive state of one path: the replay window and the measurements. Sequence numbers are
 * 16-bit on the wire; `ext_*` extend them locally (wrap-safe) to count what was expected. */
typedef struct tango_rx {
  uint8_t active;            /* a packet was accepted: the fields below mean something */
  uint16_t top_seq;          /* newest sequence number accepted (RFC 1982 order) */
  uint64_t top_tick;         /* the highest sender tick accepted (see tango_window.c) */
  int64_t ext_top;           /* top_seq extended: + d on every advance */
  int64_t ext_base;          /* lowest extended sequence number of this window run */
  uint64_t expected_before;  /* sequence numbers spanned by earlier runs (before resyncs) */
  uint64_t seen[WF_TANGO_WINDOW / 64]; /* bit per slot (seq % WINDOW): accepted in this cycle */
  uint32_t open_tick[WF_TANGO_WINDOW]; /* lowest sender tick a packet of the slot may carry */
  int64_t last_transit_ns;   /* previous delay sample, for the jitter estimate */
  int64_t jitter16_ns;       /* 16 x the RFC 3550 jitter, kept scaled to stay in integers */
} tango_rx;

typedef struct tango_path {
  uint8_t configured;
  wf_tango_path_config config;
  uint16_t tx_seq;           /* next sequence number to send */
  uint64_t tx_last_ns;       /* the sender clock never steps back on a path */
  tango_rx rx;
  wf_tango_path_stats stats;
} tango_path;

/* Receive keys: [0] current, [1] previous (accepted until its deadline), [2] retired. */
typedef struct tango_key {
  uint8_t present;
  uint64_t accept_until_ns;  /* UINT64_MAX for the current key; 0 for a retired one */
  wf_tango_keys keys;
} tango_key;

struct wf_tango_node {
  wf_tango_config config;
  wf_tango_wire wire;
  uint64_t max_age_ns;
  uint64_t max_ahead_ns;
  int64_t clock_offset_ns;   /* peer minus local */
  tango_key send;
  tango_key recv[3];
  tango_path paths[WF_TANGO_MAX_PATHS];
  wf_tango_node_stats stats;
};

/* What the window makes of a packet that verified; negative values are reject reasons. */
enum tango_window_verdict {
  TANGO_W_ADVANCE = 1,  /* newer than the top: slide */
  TANGO_W_LATE = 2,     /* inside the window, not seen: reordered */
  TANGO_W_START = 3,    /* first packet of the path */
  TANGO_W_RESYNC = 4,   /* sent after the top but numbered at or below it: the sender restarted */
};

/* Classifies (seq, tick) against the window without changing it (so that nothing unverified
 * moves it): a tango_window_verdict, WF_TANGO_R_REPLAY or WF_TANGO_R_OUTSIDE_WINDOW. */
int tango_window_check(const tango_rx *w, uint16_t seq, uint64_t tick);

/* Applies a verdict of tango_window_check for a packet that verified, and updates the path's
 * measurements. `fresh_floor_tick`: the oldest tick a fresh packet can carry now (slots of a
 * new window accept any packet that is fresh). */
void tango_window_accept(tango_path *path, int verdict, uint16_t seq, uint64_t tick,
                         uint64_t fresh_floor_tick, int64_t delay_ns, uint64_t now_ns,
                         size_t inner_len);

#endif
