/*
 * The Tango forwarder's loop (tango_forward.h): one thread polls the TUN and every path's
 * AF_PACKET socket, and handles what is ready in batches while holding the forwarder's lock, the
 * one lock that guards the node, the class map and the counters. Calls from JavaScript (steering,
 * route updates, counters) take the same lock, so they wait at most one batch.
 *
 * Sockets: one AF_PACKET socket per path, bound to the path's interface, with a classic BPF filter
 * that passes only incoming IPv6/UDP frames to the Tango port. The kernel also sees those frames;
 * with the tunnel addresses on the interfaces it would answer each with an ICMPv6 port
 * unreachable, so a UDP socket bound to the port with a drop-everything filter quietly takes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "tango_forward.h"
#include "tango_internal.h"

#define BATCH 64               /* packets per descriptor per lock hold */
#define POLL_MS 200            /* stop() wakes the thread at once; this only bounds a lost wake */
#define INNER_MAX 65535
#define FRAME_MAX (WF_TANGO_OVERHEAD + INNER_MAX)
#define OUTER_EXTRA (WF_TANGO_IPV6_LEN + WF_TANGO_UDP_LEN + WF_TANGO_HEADER_LEN) /* 58 */
/* Queues deep enough for a burst while the thread is off the CPU (a frame dropped in our own
 * socket buffer would be counted as path loss), and no deeper: under overload a longer queue
 * only adds delay, up to the node's max_age, past which frames are refused as stale anyway. */
#define RCVBUF_BYTES (2 << 20)
#define TUN_QUEUE_LEN 1000

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct wf_tango_forwarder {
  wf_tango_node *node;
  wf_tango_forwarder *next_running; /* the list of running forwarders (one node, one forwarder) */
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
  uint8_t tx[FRAME_MAX];
  uint8_t rx[FRAME_MAX];
};

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

static void release_node(wf_tango_forwarder *f) {
  pthread_mutex_lock(&running_lock);
  for (wf_tango_forwarder **r = &running_list; *r; r = &(*r)->next_running) {
    if (*r == f) {
      *r = f->next_running;
      break;
    }
  }
  pthread_mutex_unlock(&running_lock);
}

static int fail(char *err, size_t errlen, const char *what, int e) {
  if (err && errlen) {
    if (e) snprintf(err, errlen, "%s: %s", what, strerror(e));
    else snprintf(err, errlen, "%s", what);
  }
  return -1;
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

static void release(wf_tango_forwarder *f) {
  release_node(f);
  close_fd(&f->tun_fd);
  close_fd(&f->udp_sink_fd);
  close_fd(&f->wake_fd);
  for (size_t i = 0; i < f->path_count; i++) close_fd(&f->path_fd[i]);
  pthread_mutex_destroy(&f->lock);
  free(f);
}

/* ---- setup ---- */

static int interface_mtu(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  const int rc = ioctl(s, SIOCGIFMTU, &ifr);
  close(s);
  return rc < 0 ? -1 : ifr.ifr_mtu;
}

static int set_up(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    rc = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  const int e = errno;
  close(s);
  errno = e;
  return rc;
}

static void set_queue_len(const char *name, int len) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  ifr.ifr_qlen = len;
  (void)ioctl(s, SIOCSIFTXQLEN, &ifr);
  close(s);
}

/* The tunnel carries IPv4 only: keep the host from sending its IPv6 chatter into the TUN. */
static void disable_ipv6(const char *name) {
  char path[96];
  snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, "1", 1) < 0) { /* best effort: the forwarder drops non-IPv4 packets anyway */ }
  close(fd);
}

static int open_tun(wf_tango_forwarder *f, const char *name, char *err, size_t errlen) {
  const int existed = if_nametoindex(name) != 0;
  f->tun_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (f->tun_fd < 0) return fail(err, errlen, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  if (ioctl(f->tun_fd, TUNSETIFF, &ifr) < 0) {
    char what[64];
    snprintf(what, sizeof what, "TUN %s", name);
    return fail(err, errlen, what, errno);
  }
  if (!existed) {
    disable_ipv6(name);
    set_queue_len(name, TUN_QUEUE_LEN); /* best effort: the TUN default of 500 overflows in bursts */
  }
  if (set_up(name) < 0) return fail(err, errlen, "bringing the TUN up", errno);
  return 0;
}

/*
 * Incoming IPv6/UDP to `port` with no extension header, nothing we sent ourselves:
 *   ldh [12]; jne 0x86dd; ldb [20]; jne 17; ldh [56]; jne port; ld pkttype; jeq outgoing; ret all
 */
static int attach_filter(int fd, uint16_t port) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, 7),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 6),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 5),
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 40 + 2),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, 0x40000),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

static int open_path(wf_tango_forwarder *f, size_t slot, const wf_tango_forward_path *p, uint16_t port,
                     uint16_t node_mtu, char *err, size_t errlen) {
  char what[64];
  snprintf(what, sizeof what, "path %u interface %s", p->path_id, p->ifname);
  const unsigned ifindex = if_nametoindex(p->ifname);
  if (!ifindex) return fail(err, errlen, what, errno ? errno : ENODEV);
  const int if_mtu = interface_mtu(p->ifname);
  if (if_mtu < 0) return fail(err, errlen, what, errno);
  /* Protocol 0 until bound: the socket sees nothing before its filter is in place. */
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(err, errlen, "AF_PACKET socket (needs CAP_NET_RAW)", errno);
  f->path_fd[slot] = fd;
  if (attach_filter(fd, port) < 0) return fail(err, errlen, "attaching the BPF filter", errno);
  const int one = 1;
  (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one); /* the filter does it too */
  const int rcvbuf = RCVBUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* capped by rmem_max */
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IPV6);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) return fail(err, errlen, what, errno);
  const int mtu = if_mtu < node_mtu ? if_mtu : node_mtu;
  wf_tango_forward_path_stats *ps = &f->stats.paths[slot];
  ps->path_id = p->path_id;
  ps->max_inner = mtu > OUTER_EXTRA ? (uint16_t)(mtu - OUTER_EXTRA) : 0;
  return 0;
}

static void open_udp_sink(wf_tango_forwarder *f, uint16_t port) {
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  struct sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_fprog prog = {.len = 1, .filter = drop};
  const int one = 1;
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd); /* port taken (another forwarder here): the kernel's replies are only noise */
    return;
  }
  f->udp_sink_fd = fd;
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

static void from_tun(wf_tango_forwarder *f, size_t len) {
  uint8_t *inner = f->tx + WF_TANGO_OVERHEAD;
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
  const int n = wf_tango_encapsulate(f->node, path_id, inner, len, realtime_ns(), f->tx, sizeof f->tx);
  if (n < 0) {
    f->stats.encap_errors++;
    return;
  }
  send_frame(f, slot, f->tx, (size_t)n);
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
  if (u.issued_ns <= f->last_update_ns[u.class_id]) {
    f->stats.route_updates_ignored++;
    return;
  }
  f->last_update_ns[u.class_id] = u.issued_ns;
  f->class_path[u.class_id] = u.path_id;
  f->stats.route_updates_applied++;
}

static void from_path(wf_tango_forwarder *f, int slot, size_t len) {
  wf_tango_forward_path_stats *ps = &f->stats.paths[slot];
  /* A frame numbered for another path (miswired, or reflected) would spoil that path's window
   * and measurements: refuse it before the node sees it. */
  const size_t path_byte = WF_TANGO_ETH_LEN + WF_TANGO_IPV6_LEN + WF_TANGO_UDP_LEN;
  if (len > path_byte && (f->rx[path_byte] & 0x07) != ps->path_id) {
    ps->rx_errors++;
    return;
  }
  wf_tango_delivery d;
  const int rc = wf_tango_decapsulate(f->node, f->rx, len, realtime_ns(), &d);
  if (rc != WF_TANGO_OK) {
    f->stats.rx_rejected++;
    if (looks_like_update(f->rx, len, f->node->wire.udp_port)) f->stats.route_updates_refused++;
    return;
  }
  ps->rx_frames++;
  uint8_t *inner = f->rx + d.inner_offset;
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

/* Drains up to BATCH packets from each ready descriptor. 0, or -1 on a fatal TUN error. */
static int handle_ready(wf_tango_forwarder *f, const struct pollfd *fds) {
  if (fds[1].revents) {
    for (int i = 0; i < BATCH; i++) {
      const ssize_t n = read(f->tun_fd, f->tx + WF_TANGO_OVERHEAD, INNER_MAX);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        stop_on_error(f, "reading the TUN", errno);
        return -1;
      }
      if (n == 0) break;
      from_tun(f, (size_t)n);
    }
  }
  for (size_t s = 0; s < f->path_count; s++) {
    if (!fds[2 + s].revents) continue;
    if (fds[2 + s].revents & POLLERR) {
      int e = 0;
      socklen_t l = sizeof e;
      getsockopt(f->path_fd[s], SOL_SOCKET, SO_ERROR, &e, &l); /* clears it */
      f->stats.paths[s].rx_errors++;
    }
    for (int i = 0; i < BATCH; i++) {
      const ssize_t n = recv(f->path_fd[s], f->rx, sizeof f->rx, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) f->stats.paths[s].rx_errors++;
        break;
      }
      if ((size_t)n > sizeof f->rx) {
        f->stats.paths[s].rx_errors++; /* cannot be one of ours: bigger than any path MTU */
        continue;
      }
      from_path(f, (int)s, (size_t)n);
    }
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

static wf_tango_forwarder *start_here(const wf_tango_forward_config *config, char *err, size_t errlen);

/* Runs start_here inside config->netns: sockets and the TUN belong to the namespace they are
 * made in, and the thread, created there, inherits it; the calling thread then returns home. */
wf_tango_forwarder *wf_tango_forwarder_start(const wf_tango_forward_config *config, char *err,
                                             size_t errlen) {
  if (!config->netns[0]) return start_here(config, err, errlen);
  if (memchr(config->netns, 0, sizeof config->netns) == NULL) return fail(err, errlen, "netns too long", 0), NULL;
  char path[300];
  if (config->netns[0] == '/') snprintf(path, sizeof path, "%s", config->netns);
  else if (strchr(config->netns, '/') || !strcmp(config->netns, ".") || !strcmp(config->netns, "..")) {
    return fail(err, errlen, "netns must be a name under /run/netns or an absolute path", 0), NULL;
  } else snprintf(path, sizeof path, "/run/netns/%s", config->netns);
  const int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return fail(err, errlen, "opening this thread's network namespace", errno), NULL;
  const int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    close(home);
    return fail(err, errlen, path, errno), NULL;
  }
  wf_tango_forwarder *f = NULL;
  if (setns(target, CLONE_NEWNET) < 0) {
    fail(err, errlen, "joining the network namespace (needs CAP_SYS_ADMIN)", errno);
  } else {
    f = start_here(config, err, errlen);
    if (setns(home, CLONE_NEWNET) < 0) abort(); /* never leave the caller in another namespace */
  }
  close(target);
  close(home);
  return f;
}

static wf_tango_forwarder *start_here(const wf_tango_forward_config *config, char *err, size_t errlen) {
  if (!config->node) return fail(err, errlen, "no node", 0), NULL;
  if (config->path_count < 1 || config->path_count > WF_TANGO_MAX_PATHS) {
    return fail(err, errlen, "1 to 8 paths", 0), NULL;
  }
  if (!config->tun_name[0] || memchr(config->tun_name, 0, IF_NAMESIZE) == NULL) {
    return fail(err, errlen, "tun name must be 1..15 characters", 0), NULL;
  }
  wf_tango_forwarder *f = calloc(1, sizeof *f);
  if (!f) return fail(err, errlen, "out of memory", 0), NULL;
  pthread_mutex_init(&f->lock, NULL);
  f->node = config->node;
  if (claim_node(f) < 0) {
    pthread_mutex_destroy(&f->lock);
    free(f);
    return fail(err, errlen, "this node already has a running forwarder", 0), NULL;
  }
  f->tun_fd = f->udp_sink_fd = f->wake_fd = -1;
  for (int i = 0; i < WF_TANGO_MAX_PATHS; i++) f->path_fd[i] = -1, f->slot_of[i] = -1;
  f->classes = config->classes;
  if (f->classes.count > WF_TANGO_MAX_RULES) f->classes.count = WF_TANGO_MAX_RULES;
  f->path_count = config->path_count;
  f->stats.path_count = config->path_count;
  for (size_t s = 0; s < config->path_count; s++) {
    const wf_tango_forward_path *p = &config->paths[s];
    if (p->path_id >= WF_TANGO_MAX_PATHS || f->slot_of[p->path_id] >= 0) {
      fail(err, errlen, "path ids must be distinct, 0..7", 0);
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
    if (open_path(f, s, &config->paths[s], port, f->node->config.mtu, err, errlen) < 0) goto out;
  }
  if (open_tun(f, config->tun_name, err, errlen) < 0) goto out;
  open_udp_sink(f, port);
  f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (f->wake_fd < 0) {
    fail(err, errlen, "eventfd", errno);
    goto out;
  }
  f->stats.running = 1;
  const int e = pthread_create(&f->thread, NULL, run, f);
  if (e) {
    fail(err, errlen, "starting the forwarding thread", e);
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
  if (class_id >= WF_TANGO_CLASSES) return fail(err, errlen, "classId must be 0..15", 0);
  if (path_slot(f, path_id) < 0) return fail(err, errlen, "pathId is not one of this forwarder's paths", 0);
  pthread_mutex_lock(&f->lock);
  f->class_path[class_id] = path_id;
  pthread_mutex_unlock(&f->lock);
  return 0;
}

int wf_tango_forwarder_send_route_update(wf_tango_forwarder *f, uint8_t class_id, uint8_t path_id,
                                         char *err, size_t errlen) {
  if (class_id >= WF_TANGO_CLASSES) return fail(err, errlen, "classId must be 0..15", 0);
  if (path_slot(f, path_id) < 0) return fail(err, errlen, "pathId is not one of this forwarder's paths", 0);
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
    return fail(err, errlen, last_error ? wf_tango_result_name(last_error) : "send failed on every path", 0);
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
