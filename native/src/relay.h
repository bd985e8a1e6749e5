/*
 * Impairment relay (issue 12, `wirefleet tango simulate`): a transparent L2 relay between two
 * interfaces that delays, drops and reorders frames, because this kernel has no `tc netem`.
 *
 * Frames pass both ways with their MAC addresses unchanged, on one C thread with an AF_PACKET
 * socket per interface (PACKET_VNET_HDR, so checksum-offloaded and GSO frames from the kernel
 * keep their offload state across the relay instead of arriving with half-done checksums).
 * Each direction has its own impairment, seeded PRNG, bounded release queue (a binary heap
 * ordered by release time on CLOCK_MONOTONIC, first in first out among equal times) and counters.
 *
 * Per frame and direction, in this order:
 *   loss     a fraction of frames is dropped (counted dropped_loss);
 *   delay    the rest is released delay_ms after it arrived, plus a uniform 0..jitter_ms. Jitter
 *            never reorders: a frame is never released before the frame queued ahead of it;
 *   reorder  a fraction of frames is held back reorder_delay_ms more, so frames that arrive in
 *            that time overtake it (counted reordered: the frames held back);
 *   queue    a frame that finds its queue full is dropped (counted dropped_queue_full).
 *
 * The decisions (relay_sched.c) are separate from the sockets (relay.c) so they can be tested.
 */
#ifndef WF_RELAY_H
#define WF_RELAY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WF_RELAY_MAX_MS 60000u            /* bound of every delay setting */
#define WF_RELAY_DEFAULT_QUEUE 4096u      /* frames per direction */
#define WF_RELAY_MAX_QUEUE 1048576u
#define WF_RELAY_DEFAULT_REORDER_MS 10u   /* reorder_delay_ms when 0 is given */

/* The impairment of one direction. */
typedef struct wf_relay_impairment {
  uint32_t delay_ms;          /* fixed one-way delay, 0..WF_RELAY_MAX_MS */
  uint32_t jitter_ms;         /* plus uniform 0..jitter_ms (order kept) */
  double loss;                /* fraction dropped, [0, 1) */
  double reorder;             /* fraction held back, [0, 1] */
  uint32_t reorder_delay_ms;  /* how much longer they are held; 0: WF_RELAY_DEFAULT_REORDER_MS */
} wf_relay_impairment;

/* 0, or -1 with a reason in err. */
int wf_relay_impairment_check(const wf_relay_impairment *imp, char *err, size_t errlen);

/* ---- decisions (relay_sched.c) ---- */

/* xoshiro256** seeded through splitmix64: a fast, reproducible stream per direction. */
typedef struct wf_relay_prng {
  uint64_t s[4];
} wf_relay_prng;

void wf_relay_prng_seed(wf_relay_prng *p, uint64_t seed);
uint64_t wf_relay_prng_next(wf_relay_prng *p);
/* Uniform in [0, 1), 53 bits. */
double wf_relay_prng_unit(wf_relay_prng *p);

/* One direction's decision state. */
typedef struct wf_relay_shaper {
  wf_relay_impairment imp;
  wf_relay_prng prng;
  uint64_t last_release_ns;   /* release time of the last frame not held back (order for jitter) */
} wf_relay_shaper;

enum wf_relay_verdict {
  WF_RELAY_FORWARD = 0,      /* queue it until *release_ns */
  WF_RELAY_REORDER = 1,      /* queue it until *release_ns, which is reorder_delay_ms later */
  WF_RELAY_DROP_LOSS = 2,    /* drop it */
};

/* imp must have passed wf_relay_impairment_check. */
void wf_relay_shaper_init(wf_relay_shaper *s, const wf_relay_impairment *imp, uint64_t seed);
/* The verdict for a frame arriving at now_ns (CLOCK_MONOTONIC); sets *release_ns unless dropped. */
int wf_relay_decide(wf_relay_shaper *s, uint64_t now_ns, uint64_t *release_ns);

/* A frame waiting for its release time; `frame` is malloc'd and owned by the queue. */
typedef struct wf_relay_item {
  uint64_t release_ns;
  uint64_t order;             /* arrival number: FIFO among equal release times */
  uint8_t *frame;
  uint32_t len;
} wf_relay_item;

/* A bounded min-heap of frames by (release_ns, order). */
typedef struct wf_relay_queue {
  wf_relay_item *heap;
  size_t count;
  size_t cap;
  uint64_t next_order;
} wf_relay_queue;

/* 0, or -1 when out of memory. */
int wf_relay_queue_init(wf_relay_queue *q, size_t cap);
/* Frees the heap and every frame still queued. */
void wf_relay_queue_free(wf_relay_queue *q);
/* 0: the queue owns `frame` now; -1: full (the caller keeps it). */
int wf_relay_queue_push(wf_relay_queue *q, uint64_t release_ns, uint8_t *frame, uint32_t len);
/* The next frame to release, or NULL when empty. */
const wf_relay_item *wf_relay_queue_peek(const wf_relay_queue *q);
/* Removes the head into *out (the caller owns out->frame); -1 when empty. */
int wf_relay_queue_pop(wf_relay_queue *q, wf_relay_item *out);

/* ---- the relay (relay.c) ---- */

/* Directions: frames received on interface a go out of b (WF_RELAY_A_TO_B) and back. */
enum { WF_RELAY_A_TO_B = 0, WF_RELAY_B_TO_A = 1, WF_RELAY_DIRS = 2 };

typedef struct wf_relay_config {
  /* NULL or "": the caller's network namespace. Otherwise a name under /run/netns (as `ip netns`
   * makes them) or an absolute path to a namespace file: the relay thread joins it with setns()
   * before opening its sockets (only that thread moves; the caller stays where it is). */
  const char *netns;
  const char *interface_a;
  const char *interface_b;
  wf_relay_impairment dir[WF_RELAY_DIRS];
  uint64_t seed;              /* each direction's PRNG derives from it */
  uint32_t queue_limit;       /* frames per direction; 0: WF_RELAY_DEFAULT_QUEUE */
} wf_relay_config;

typedef struct wf_relay_dir_stats {
  uint64_t received;            /* frames read from the source interface */
  uint64_t forwarded;           /* frames written to the other interface */
  uint64_t forwarded_bytes;
  uint64_t dropped_loss;
  uint64_t dropped_queue_full;
  uint64_t reordered;           /* frames held back (they are forwarded later, or dropped at stop) */
  uint64_t send_errors;         /* writes the kernel refused (the frame is lost) */
  uint64_t queued;              /* frames waiting now */
  uint64_t interface_errors;    /* errors the source interface reported (down, gone) */
} wf_relay_dir_stats;

typedef struct wf_relay_stats {
  wf_relay_dir_stats dir[WF_RELAY_DIRS];
  uint64_t forwarded;           /* sums of both directions */
  uint64_t dropped_loss;
  uint64_t dropped_queue_full;
  uint64_t reordered;
} wf_relay_stats;

typedef struct wf_relay wf_relay;

/* Validates, starts the thread, and returns once its sockets are open (or NULL with the reason:
 * bad config, no such namespace or interface, no CAP_NET_RAW / CAP_SYS_ADMIN...). */
wf_relay *wf_relay_start(const wf_relay_config *config, char *err, size_t errlen);
/* Counters so far; safe while the thread runs. */
void wf_relay_get_stats(const wf_relay *relay, wf_relay_stats *out);
/* Stops and joins the thread, closes the sockets, drops what is still queued, frees. The last
 * counters go to *final unless it is NULL. */
void wf_relay_stop(wf_relay *relay, wf_relay_stats *final);

#ifdef __cplusplus
}
#endif

#endif
