/*
 * Internals of the Tango forwarder shared by its loop (tango_forward.c) and its setup
 * (tango_forward_setup.c: the TUN, the path sockets, the network namespace).
 */
#ifndef WF_TANGO_FORWARD_INTERNAL_H
#define WF_TANGO_FORWARD_INTERNAL_H

#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tango_forward.h"

#define INNER_MAX 65535
#define FRAME_MAX (WF_TANGO_OVERHEAD + INNER_MAX)
#define OUTER_EXTRA (WF_TANGO_IPV6_LEN + WF_TANGO_UDP_LEN + WF_TANGO_HEADER_LEN) /* 58 */
/* Queues deep enough for a burst while the thread is off the CPU (a frame dropped in our own
 * socket buffer would be counted as path loss), and no deeper: under overload a longer queue
 * only adds delay, up to the node's max_age, past which frames are refused as stale anyway. */
#define RCVBUF_BYTES (2 << 20)
#define TUN_QUEUE_LEN 1000
/* Packets drained per descriptor per poll wake, under one lock hold: read from the TUN and sent
 * per path with one sendmmsg, or received from a path with one recvmmsg. */
#define BATCH 64

struct wf_tango_forwarder {
  wf_tango_node *node;
  wf_tango_forwarder *next_running; /* the list of running forwarders (one node, one forwarder) */
  int owns_node;                    /* adopted (wf_tango_forwarder_adopt_node): destroyed on stop */
  pthread_mutex_t lock;
  pthread_t thread;
  int thread_started;
  volatile int stopping; /* written under the lock, read by the thread after a wake */
  int wake_fd;
  int tun_fd;
  int udp_sink_fd;
  size_t path_count;
  int path_fd[WF_TANGO_MAX_PATHS];
  int slot_of[WF_TANGO_MAX_PATHS]; /* path_id -> index into path_fd, -1 if not ours */
  wf_tango_classifier classes;
  uint8_t class_path[WF_TANGO_CLASSES];
  uint64_t last_update_ns[WF_TANGO_CLASSES]; /* issued_ns of the newest update applied per class */
  wf_tango_forward_stats stats;
  /* BATCH buffers of FRAME_MAX each way, so any packet fits whole as before batching. They are
   * one allocation each, mapped lazily: only the pages frames reach become resident (small
   * packets touch one page per buffer). */
  uint8_t *tx_slots;
  uint8_t *rx_slots;
  /* Frames encapsulated from the TUN and not yet sent, per path slot, in sequence order. */
  unsigned txq_len[WF_TANGO_MAX_PATHS];
  struct mmsghdr txq[WF_TANGO_MAX_PATHS][BATCH];
  struct iovec txq_iov[WF_TANGO_MAX_PATHS][BATCH];
  struct mmsghdr rxq[BATCH];
  struct iovec rxq_iov[BATCH];
};


/* -1, with "what: strerror(e)" (or just what, e == 0) in err. */
int tango_fwd_fail(char *err, size_t errlen, const char *what, int e);
/* Opens (or creates) the TUN, up, IPv4 only. 0 or -1 + err. */
int tango_fwd_open_tun(wf_tango_forwarder *f, const char *name, char *err, size_t errlen);
/* The AF_PACKET socket of path slot `slot`, filtered and bound; sets the slot's max_inner. */
int tango_fwd_open_path(wf_tango_forwarder *f, size_t slot, const wf_tango_forward_path *p, uint16_t port,
                        uint16_t node_mtu, char *err, size_t errlen);
/* Best effort: the UDP socket that keeps the kernel from answering Tango frames. */
void tango_fwd_open_udp_sink(wf_tango_forwarder *f, uint16_t port);
/* Calls start(config) inside config->netns (or here when it is ""), then returns home. */
wf_tango_forwarder *tango_fwd_start_in_netns(const wf_tango_forward_config *config,
                                             wf_tango_forwarder *(*start)(const wf_tango_forward_config *, char *, size_t),
                                             char *err, size_t errlen);

#endif
