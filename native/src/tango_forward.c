/*
 * The Tango forwarder's loop (tango_forward.h): one thread polls the TUN and every path's
 * AF_PACKET socket, and handles what is ready in batches while holding the forwarder's lock, the
 * one lock that guards the node, the class map and the counters. Calls from JavaScript (steering,
 * route updates, counters) take the same lock, so they wait at most one batch.
 *
 * Per poll wake, up to BATCH packets are read from the TUN (non-blocking, until EAGAIN), each
 * checked, classified and encapsulated into its own buffer, then sent with one sendmmsg per path;
 * each path socket is drained with one recvmmsg of up to BATCH frames. Every packet still gets
 * every check, its own clock reading and its own counters; only the system calls are shared.
 * A frame waits for the rest of its batch before it is sent, at most BATCH TUN reads (well under
 * a millisecond), and only when the TUN had that many queued; that wait is in its measured delay.
 * Frames go through the interface's qdisc as before (no PACKET_QDISC_BYPASS: it would skip any
 * tc shaping or netem configured on a path).
 *
 * One AF_PACKET socket per path, bound to the path's interface, with a classic BPF filter that
 * passes only incoming IPv6/UDP frames to the Tango port (tango_forward_setup.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "tango_forward_internal.h"
#include "tango_internal.h"

#define POLL_MS 200            /* stop() wakes the thread at once; this only bounds a lost wake */


/* Forwarders that own a node now: a second forwarder on the same node would race the first. */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static wf_tango_forwarder *running_list;

/* Adds f unless its node is taken; 0 or -1. */
static int claim_node(wf_tango_forwarder *f) {
  pthread_mutex_lock(&running_lock);
  for (wf_tango_forwarder *r = running_list; r; r = r->next_running) {
    if (r->node == f->node) {
      pthread_mutex_unlock(&running_lock);
      return -1;
    }
  }
  f->next_running = running_list;
  running_list = f;
  pthread_mutex_unlock(&running_lock);
  return 0;
}

/* Takes f off the list; 1 if the node was adopted meanwhile (f destroys it), read under the lock. */
static int release_node(wf_tango_forwarder *f) {
  pthread_mutex_lock(&running_lock);
  for (wf_tango_forwarder **r = &running_list; *r; r = &(*r)->next_running) {
    if (*r == f) {
      *r = f->next_running;
      break;
    }
  }
  const int owns = f->owns_node;
  pthread_mutex_unlock(&running_lock);
  return owns;
}

int wf_tango_forwarder_holds(const wf_tango_node *node) {
  pthread_mutex_lock(&running_lock);
  int held = 0;
  for (const wf_tango_forwarder *r = running_list; r && !held; r = r->next_running) held = r->node == node;
  pthread_mutex_unlock(&running_lock);
  return held;
}

int wf_tango_forwarder_adopt_node(wf_tango_node *node) {
  pthread_mutex_lock(&running_lock);
  int adopted = 0;
  for (wf_tango_forwarder *r = running_list; r && !adopted; r = r->next_running) {
    if (r->node == node) r->owns_node = adopted = 1;
  }
  pthread_mutex_unlock(&running_lock);
  return adopted;
}


static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Called with the thread joined (or never started): nothing uses the node any more. */
static void release(wf_tango_forwarder *f) {
  if (release_node(f)) wf_tango_destroy(f->node);
  close_fd(&f->tun_fd);
  close_fd(&f->udp_sink_fd);
  close_fd(&f->wake_fd);
  for (size_t i = 0; i < f->path_count; i++) close_fd(&f->path_fd[i]);
  free(f->tx_slots);
  free(f->rx_slots);
  pthread_mutex_destroy(&f->lock);
  free(f);
}

/* ---- the loop ---- */

static int path_slot(const wf_tango_forwarder *f, uint8_t path_id) {
  return path_id < WF_TANGO_MAX_PATHS ? f->slot_of[path_id] : -1;
}

static void send_frame(wf_tango_forwarder *f, int slot, const uint8_t *frame, size_t len) {
  if (send(f->path_fd[slot], frame, len, MSG_DONTWAIT) == (ssize_t)len) {
    f->stats.paths[slot].tx_frames++;
  } else {
    f->stats.paths[slot].tx_errors++;
  }
}

/* Queues the frame in buf (which stays untouched until the flush) for path slot `slot`. */
static void queue_frame(wf_tango_forwarder *f, int slot, uint8_t *buf, size_t len) {
  const unsigned i = f->txq_len[slot]++;
  f->txq_iov[slot][i] = (struct iovec){.iov_base = buf, .iov_len = len};
  f->txq[slot][i].msg_hdr.msg_iov = &f->txq_iov[slot][i];
  f->txq[slot][i].msg_hdr.msg_iovlen = 1;
}

/* Sends a path's queued frames, in order, with as few sendmmsg calls as the socket allows. A
 * frame the socket refuses is counted as a tx error and skipped, as one send() per frame did. */
static void flush_path(wf_tango_forwarder *f, int slot) {
  const unsigned count = f->txq_len[slot];
  struct mmsghdr *q = f->txq[slot];
  wf_tango_forward_path_stats *ps = &f->stats.paths[slot];
  unsigned off = 0;
  while (off < count) {
    const int r = sendmmsg(f->path_fd[slot], q + off, count - off, MSG_DONTWAIT);
    if (r > 0) {
      for (unsigned k = off; k < off + (unsigned)r; k++) {
        if (q[k].msg_len == f->txq_iov[slot][k].iov_len) ps->tx_frames++;
        else ps->tx_errors++;
      }
      off += (unsigned)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      ps->tx_errors++; /* the frame at off */
      off++;
    }
  }
  f->txq_len[slot] = 0;
}

static void flush_all(wf_tango_forwarder *f) {
  for (size_t s = 0; s < f->path_count; s++) {
    if (f->txq_len[s]) flush_path(f, (int)s);
  }
}

/* One inner packet read from the TUN into buf + WF_TANGO_OVERHEAD; buf holds FRAME_MAX bytes. */
static void from_tun(wf_tango_forwarder *f, uint8_t *buf, size_t len) {
  uint8_t *inner = buf + WF_TANGO_OVERHEAD;
  f->stats.tun_rx++;
  if (wf_tango_inner_check(inner, len) != WF_TANGO_OK) {
    f->stats.encap_errors++;
    return;
  }
  const uint8_t path_id = f->class_path[wf_tango_classify(&f->classes, inner, len) & (WF_TANGO_CLASSES - 1)];
  const int slot = path_slot(f, path_id);
  if (slot < 0) {
    f->stats.encap_errors++;
    return;
  }
  const uint16_t max_inner = f->stats.paths[slot].max_inner;
  if (len > max_inner) {
    f->stats.encap_errors++;
    f->stats.too_big++;
    uint8_t icmp[WF_TANGO_ICMP_MAX];
    const size_t n = wf_tango_icmp_frag_needed(inner, len, max_inner, icmp, sizeof icmp);
    if (n && write(f->tun_fd, icmp, n) == (ssize_t)n) f->stats.icmp_frag_needed++;
    return;
  }
  const int n = wf_tango_encapsulate(f->node, path_id, inner, len, realtime_ns(), buf, FRAME_MAX);
  if (n < 0) {
    f->stats.encap_errors++;
    return;
  }
  queue_frame(f, slot, buf, (size_t)n);
}

/* A refused frame whose inner packet carries the route-update encoding: counted as a refused
 * update (a forgery or replay of one, or of a host's packet that looks like one). */
static int looks_like_update(const uint8_t *frame, size_t len, uint16_t port) {
  wf_tango_frame fr;
  if (wf_tango_frame_parse(frame, len, port, &fr) != WF_TANGO_OK) return 0;
  if (fr.payload_len < WF_TANGO_HEADER_LEN) return 0;
  wf_tango_route_update u;
  return wf_tango_route_update_read(frame + fr.payload_offset + WF_TANGO_HEADER_LEN,
                                    fr.payload_len - WF_TANGO_HEADER_LEN, &u);
}

static void apply_update(wf_tango_forwarder *f, const uint8_t *inner, size_t len) {
  wf_tango_route_update u;
  if (!wf_tango_route_update_read(inner, len, &u) || path_slot(f, u.path_id) < 0) {
    f->stats.route_updates_refused++;
    return;
  }
  /* Copies travel on every path and may cross: the newest issued per class wins. */
  if (!wf_tango_route_update_newer(f->last_update_ns[u.class_id], u.issued_ns)) {
    f->stats.route_updates_ignored++;
    return;
  }
  f->last_update_ns[u.class_id] = u.issued_ns;
  f->class_path[u.class_id] = u.path_id;
  f->stats.route_updates_applied++;
}

static void from_path(wf_tango_forwarder *f, int slot, uint8_t *frame, size_t len) {
  wf_tango_forward_path_stats *ps = &f->stats.paths[slot];
  /* A frame numbered for another path (miswired, or reflected) would spoil that path's window
   * and measurements: refuse it before the node sees it. */
  const size_t path_byte = WF_TANGO_ETH_LEN + WF_TANGO_IPV6_LEN + WF_TANGO_UDP_LEN;
  if (len > path_byte && (frame[path_byte] & 0x07) != ps->path_id) {
    ps->rx_errors++;
    return;
  }
  wf_tango_delivery d;
  const int rc = wf_tango_decapsulate(f->node, frame, len, realtime_ns(), &d);
  if (rc != WF_TANGO_OK) {
    f->stats.rx_rejected++;
    if (looks_like_update(frame, len, f->node->wire.udp_port)) f->stats.route_updates_refused++;
    return;
  }
  ps->rx_frames++;
  uint8_t *inner = frame + d.inner_offset;
  if (d.control) {
    apply_update(f, inner, d.inner_len);
    return;
  }
  if (wf_tango_ecn_decapsulate(inner, d.inner_len, d.traffic_class) != 0) {
    f->stats.ecn_drops++;
    return;
  }
  if (write(f->tun_fd, inner, d.inner_len) == (ssize_t)d.inner_len) f->stats.tun_tx++;
  else f->stats.tun_write_errors++;
}

static void stop_on_error(wf_tango_forwarder *f, const char *what, int e) {
  snprintf(f->stats.error, sizeof f->stats.error, "%s: %s", what, strerror(e));
  f->stats.running = 0;
}

/* Reads up to BATCH packets from the TUN, each into its own buffer, then sends what they became
 * per path. 0, or -1 on a fatal TUN error (what was read is sent first). */
static int drain_tun(wf_tango_forwarder *f) {
  int rc = 0;
  for (int i = 0; i < BATCH; i++) {
    uint8_t *buf = f->tx_slots + (size_t)i * FRAME_MAX;
    const ssize_t n = read(f->tun_fd, buf + WF_TANGO_OVERHEAD, INNER_MAX);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      stop_on_error(f, "reading the TUN", errno);
      rc = -1;
      break;
    }
    if (n == 0) break;
    from_tun(f, buf, (size_t)n);
  }
  flush_all(f);
  return rc;
}

/* Receives up to BATCH frames from path slot s with one recvmmsg and handles each. */
static void drain_path(wf_tango_forwarder *f, size_t s) {
  for (int i = 0; i < BATCH; i++) {
    f->rxq_iov[i] = (struct iovec){.iov_base = f->rx_slots + (size_t)i * FRAME_MAX, .iov_len = FRAME_MAX};
    f->rxq[i].msg_hdr = (struct msghdr){.msg_iov = &f->rxq_iov[i], .msg_iovlen = 1};
  }
  /* MSG_TRUNC: a packet socket then reports a frame's whole length, even past the buffer. */
  const int r = recvmmsg(f->path_fd[s], f->rxq, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
  if (r < 0) {
    if (errno != EAGAIN && errno != EINTR) f->stats.paths[s].rx_errors++;
    return;
  }
  for (int i = 0; i < r; i++) {
    const size_t n = f->rxq[i].msg_len;
    if (n > FRAME_MAX) {
      f->stats.paths[s].rx_errors++; /* cannot be one of ours: bigger than any path MTU */
      continue;
    }
    from_path(f, (int)s, f->rx_slots + (size_t)i * FRAME_MAX, n);
  }
}

/* Drains up to BATCH packets from each ready descriptor. 0, or -1 on a fatal TUN error. */
static int handle_ready(wf_tango_forwarder *f, const struct pollfd *fds) {
  if (fds[1].revents && drain_tun(f) < 0) return -1;
  for (size_t s = 0; s < f->path_count; s++) {
    if (!fds[2 + s].revents) continue;
    if (fds[2 + s].revents & POLLERR) {
      int e = 0;
      socklen_t l = sizeof e;
      getsockopt(f->path_fd[s], SOL_SOCKET, SO_ERROR, &e, &l); /* clears it */
      f->stats.paths[s].rx_errors++;
    }
    drain_path(f, s);
  }
  return 0;
}

static void *run(void *arg) {
  wf_tango_forwarder *f = arg;
  struct pollfd fds[2 + WF_TANGO_MAX_PATHS];
  const nfds_t nfds = 2 + f->path_count;
  fds[0] = (struct pollfd){.fd = f->wake_fd, .events = POLLIN};
  fds[1] = (struct pollfd){.fd = f->tun_fd, .events = POLLIN};
  for (size_t s = 0; s < f->path_count; s++) fds[2 + s] = (struct pollfd){.fd = f->path_fd[s], .events = POLLIN};
  for (;;) {
    const int ready = poll(fds, nfds, POLL_MS);
    pthread_mutex_lock(&f->lock);
    if (f->stopping) {
      pthread_mutex_unlock(&f->lock);
      break;
    }
    if (ready < 0 && errno != EINTR) {
      stop_on_error(f, "poll", errno);
      pthread_mutex_unlock(&f->lock);
      break;
    }
    const int rc = ready > 0 ? handle_ready(f, fds) : 0;
    pthread_mutex_unlock(&f->lock);
    if (rc < 0) break;
  }
  return NULL;
}

/* ---- the public surface ---- */

static wf_tango_forwarder *start_here(const wf_tango_forward_config *config, char *err, size_t errlen) {
  if (!config->node) return tango_fwd_fail(err, errlen, "no node", 0), NULL;
  if (config->path_count < 1 || config->path_count > WF_TANGO_MAX_PATHS) {
    return tango_fwd_fail(err, errlen, "1 to 8 paths", 0), NULL;
  }
  if (!config->tun_name[0] || memchr(config->tun_name, 0, IF_NAMESIZE) == NULL) {
    return tango_fwd_fail(err, errlen, "tun name must be 1..15 characters", 0), NULL;
  }
  wf_tango_forwarder *f = calloc(1, sizeof *f);
  if (!f) return tango_fwd_fail(err, errlen, "out of memory", 0), NULL;
  pthread_mutex_init(&f->lock, NULL);
  f->node = config->node;
  if (claim_node(f) < 0) {
    pthread_mutex_destroy(&f->lock);
    free(f);
    return tango_fwd_fail(err, errlen, "this node already has a running forwarder", 0), NULL;
  }
  f->tun_fd = f->udp_sink_fd = f->wake_fd = -1;
  for (int i = 0; i < WF_TANGO_MAX_PATHS; i++) f->path_fd[i] = -1, f->slot_of[i] = -1;
  f->tx_slots = malloc((size_t)BATCH * FRAME_MAX);
  f->rx_slots = malloc((size_t)BATCH * FRAME_MAX);
  if (!f->tx_slots || !f->rx_slots) {
    tango_fwd_fail(err, errlen, "out of memory", 0);
    goto out;
  }
  f->classes = config->classes;
  if (f->classes.count > WF_TANGO_MAX_RULES) f->classes.count = WF_TANGO_MAX_RULES;
  f->path_count = config->path_count;
  f->stats.path_count = config->path_count;
  for (size_t s = 0; s < config->path_count; s++) {
    const wf_tango_forward_path *p = &config->paths[s];
    if (p->path_id >= WF_TANGO_MAX_PATHS || f->slot_of[p->path_id] >= 0) {
      tango_fwd_fail(err, errlen, "path ids must be distinct, 0..7", 0);
      goto out;
    }
    if (!f->node->paths[p->path_id].configured) {
      if (err) snprintf(err, errlen, "path %u is not configured on the node (setPath first)", p->path_id);
      goto out;
    }
    f->slot_of[p->path_id] = (int)s;
  }
  for (int c = 0; c < WF_TANGO_CLASSES; c++) {
    if (path_slot(f, config->class_path[c]) < 0) {
      if (err) {
        snprintf(err, errlen, "class %d maps to path %u, which this forwarder has no interface for", c,
                 config->class_path[c]);
      }
      goto out;
    }
    f->class_path[c] = config->class_path[c];
  }
  const uint16_t port = f->node->wire.udp_port;
  for (size_t s = 0; s < config->path_count; s++) {
    if (tango_fwd_open_path(f, s, &config->paths[s], port, f->node->config.mtu, err, errlen) < 0) goto out;
  }
  if (tango_fwd_open_tun(f, config->tun_name, err, errlen) < 0) goto out;
  tango_fwd_open_udp_sink(f, port);
  f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (f->wake_fd < 0) {
    tango_fwd_fail(err, errlen, "eventfd", errno);
    goto out;
  }
  f->stats.running = 1;
  const int e = pthread_create(&f->thread, NULL, run, f);
  if (e) {
    tango_fwd_fail(err, errlen, "starting the forwarding thread", e);
    goto out;
  }
  f->thread_started = 1;
  return f;
out:
  release(f);
  return NULL;
}

void wf_tango_forwarder_stop(wf_tango_forwarder *f) {
  if (!f) return;
  if (f->thread_started) {
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_mutex_unlock(&f->lock);
    const uint64_t one = 1;
    if (write(f->wake_fd, &one, sizeof one) < 0) { /* the poll timeout wakes it anyway */ }
    pthread_join(f->thread, NULL);
  }
  release(f);
}

int wf_tango_forwarder_set_class_path(wf_tango_forwarder *f, uint8_t class_id, uint8_t path_id,
                                      char *err, size_t errlen) {
  if (class_id >= WF_TANGO_CLASSES) return tango_fwd_fail(err, errlen, "classId must be 0..15", 0);
  if (path_slot(f, path_id) < 0) return tango_fwd_fail(err, errlen, "pathId is not one of this forwarder's paths", 0);
  pthread_mutex_lock(&f->lock);
  f->class_path[class_id] = path_id;
  pthread_mutex_unlock(&f->lock);
  return 0;
}

int wf_tango_forwarder_send_route_update(wf_tango_forwarder *f, uint8_t class_id, uint8_t path_id,
                                         char *err, size_t errlen) {
  if (class_id >= WF_TANGO_CLASSES) return tango_fwd_fail(err, errlen, "classId must be 0..15", 0);
  if (path_slot(f, path_id) < 0) return tango_fwd_fail(err, errlen, "pathId is not one of this forwarder's paths", 0);
  uint8_t frame[WF_TANGO_OVERHEAD + WF_TANGO_ROUTE_UPDATE_LEN];
  int sent = 0, last_error = 0;
  pthread_mutex_lock(&f->lock);
  const wf_tango_route_update u = {.class_id = class_id, .path_id = path_id, .issued_ns = realtime_ns()};
  for (size_t s = 0; s < f->path_count; s++) {
    const uint8_t pid = f->stats.paths[s].path_id;
    const int n = wf_tango_encapsulate_control(f->node, pid, &u, realtime_ns(), frame, sizeof frame);
    if (n < 0) {
      last_error = n;
      continue;
    }
    const uint64_t before = f->stats.paths[s].tx_frames;
    send_frame(f, (int)s, frame, (size_t)n);
    if (f->stats.paths[s].tx_frames != before) {
      f->stats.route_updates_sent++;
      sent++;
    }
  }
  pthread_mutex_unlock(&f->lock);
  if (sent == 0) {
    return tango_fwd_fail(err, errlen, last_error ? wf_tango_result_name(last_error) : "send failed on every path", 0);
  }
  return sent;
}

void wf_tango_forwarder_class_paths(wf_tango_forwarder *f, uint8_t out[WF_TANGO_CLASSES]) {
  pthread_mutex_lock(&f->lock);
  memcpy(out, f->class_path, WF_TANGO_CLASSES);
  pthread_mutex_unlock(&f->lock);
}

void wf_tango_forwarder_stats(wf_tango_forwarder *f, wf_tango_forward_stats *out) {
  pthread_mutex_lock(&f->lock);
  *out = f->stats;
  pthread_mutex_unlock(&f->lock);
}

void wf_tango_forwarder_lock(wf_tango_forwarder *f) { pthread_mutex_lock(&f->lock); }

void wf_tango_forwarder_unlock(wf_tango_forwarder *f) { pthread_mutex_unlock(&f->lock); }

/* Sockets and the TUN belong to the namespace they are made in: see tango_forward_setup.c. */
wf_tango_forwarder *wf_tango_forwarder_start(const wf_tango_forward_config *config, char *err,
                                             size_t errlen) {
  return tango_fwd_start_in_netns(config, start_here, err, errlen);
}
