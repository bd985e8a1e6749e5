/*
 * The impairment relay's thread: two AF_PACKET sockets, two release queues, one ppoll loop.
 * See relay.h for what it does to frames; the decisions are in relay_sched.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define VNET_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
/* A whole GSO frame (64 KiB) plus its virtio header: frames are read whole or not at all. */
#define RX_BUFFER (65536u + 256u)
#define RX_BATCH 256          /* frames read per socket per wake-up before the queues are served */
#define IDLE_WAIT_NS 1000000000ull

struct wf_relay {
  wf_relay_config config;
  char netns[160];
  char ifname[WF_RELAY_DIRS][IF_NAMESIZE];
  int fd[WF_RELAY_DIRS];        /* fd[i] is interface a (0) or b (1); direction i reads fd[i] */
  int stop_fd;
  pthread_t thread;
  wf_relay_shaper shaper[WF_RELAY_DIRS];
  wf_relay_queue queue[WF_RELAY_DIRS];
  wf_relay_dir_stats stats[WF_RELAY_DIRS]; /* written by the thread only, read with atomics */
  uint8_t *rx;
  /* Start handshake: the thread reports once whether its sockets opened. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int started;                  /* 0 waiting, 1 running, -1 failed */
  char err[512];
};

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bump(uint64_t *counter, uint64_t by) {
  __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

static void set_counter(uint64_t *counter, uint64_t value) {
  __atomic_store_n(counter, value, __ATOMIC_RELAXED);
}

static int join_netns(const char *netns, char *err, size_t errlen) {
  char path[180];
  if (netns[0] == '/') snprintf(path, sizeof path, "%s", netns);
  else snprintf(path, sizeof path, "/run/netns/%s", netns);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "network namespace %s: %s", path, strerror(errno));
    return -1;
  }
  const int rc = setns(fd, CLONE_NEWNET);
  const int e = errno;
  close(fd);
  if (rc != 0) {
    snprintf(err, errlen, "joining network namespace %s: %s", path, strerror(e));
    return -1;
  }
  return 0;
}

static int open_socket(const char *ifname, char *err, size_t errlen) {
  const unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
    return -1;
  }
  /* Protocol 0: nothing is queued to the socket before it is bound to its interface. */
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    snprintf(err, errlen, "AF_PACKET socket for %s: %s (needs CAP_NET_RAW)", ifname, strerror(errno));
    return -1;
  }
  const int one = 1;
  const int bufsize = 8 << 20;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
    snprintf(err, errlen, "PACKET_VNET_HDR on %s: %s", ifname, strerror(errno));
    close(fd);
    return -1;
  }
  /* Our own transmissions on this interface are not frames to relay (the loop also checks
   * sll_pkttype, for kernels before 4.20 that lack the option). */
  (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  /* Room for bursts both ways: a frame the kernel cannot take is lost (counted as a send error),
   * and a receive queue that overflows loses frames before the relay counts them. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof bufsize) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  }
  struct sockaddr_ll sll = {0};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
    snprintf(err, errlen, "binding to %s: %s", ifname, strerror(errno));
    close(fd);
    return -1;
  }
  /* Transparent: the frames are addressed to the hosts beyond, not to this interface. */
  struct packet_mreq mreq = {0};
  mreq.mr_ifindex = (int)ifindex;
  mreq.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
    snprintf(err, errlen, "promiscuous mode on %s: %s", ifname, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends every frame of direction d whose time has come. */
static void release_due(wf_relay *r, int d, uint64_t now) {
  wf_relay_queue *q = &r->queue[d];
  wf_relay_dir_stats *st = &r->stats[d];
  const int out_fd = r->fd[1 - d];
  const wf_relay_item *head;
  while ((head = wf_relay_queue_peek(q)) && head->release_ns <= now) {
    wf_relay_item item;
    wf_relay_queue_pop(q, &item);
    /* The virtio header travels with the frame, so the kernel finishes checksums and
     * segments GSO frames on the way out exactly as it would have on the way in. */
    const ssize_t n = send(out_fd, item.frame, item.len, 0);
    if (n == (ssize_t)item.len) {
      bump(&st->forwarded, 1);
      bump(&st->forwarded_bytes, item.len - VNET_LEN);
    } else {
      bump(&st->send_errors, 1);
    }
    free(item.frame);
  }
  set_counter(&st->queued, q->count);
}

/* Reads up to RX_BATCH frames of direction d and queues (or drops) each. */
static void receive(wf_relay *r, int d) {
  wf_relay_dir_stats *st = &r->stats[d];
  for (int i = 0; i < RX_BATCH; i++) {
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof from;
    const ssize_t n = recvfrom(r->fd[d], r->rx, RX_BUFFER, MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
    if (n < 0) return; /* EAGAIN: drained (anything else: the next poll says) */
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    if ((size_t)n > RX_BUFFER || (size_t)n <= VNET_LEN) continue; /* cannot happen below 64 KiB */
    bump(&st->received, 1);
    uint64_t release;
    const int verdict = wf_relay_decide(&r->shaper[d], monotonic_ns(), &release);
    if (verdict == WF_RELAY_DROP_LOSS) {
      bump(&st->dropped_loss, 1);
      continue;
    }
    uint8_t *copy = r->queue[d].count < r->queue[d].cap ? malloc((size_t)n) : NULL;
    if (copy) memcpy(copy, r->rx, (size_t)n);
    if (!copy || wf_relay_queue_push(&r->queue[d], release, copy, (uint32_t)n) != 0) {
      free(copy);
      bump(&st->dropped_queue_full, 1);
      continue;
    }
    if (verdict == WF_RELAY_REORDER) bump(&st->reordered, 1);
  }
}

static void report_start(wf_relay *r, int status) {
  pthread_mutex_lock(&r->lock);
  r->started = status;
  pthread_cond_signal(&r->cond);
  pthread_mutex_unlock(&r->lock);
}

static void *relay_main(void *arg) {
  wf_relay *r = arg;
  /* Release times are kept to the microsecond rather than the default 50 µs timer slack. */
  (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  if (r->netns[0] && join_netns(r->netns, r->err, sizeof r->err) != 0) {
    report_start(r, -1);
    return NULL;
  }
  for (int i = 0; i < WF_RELAY_DIRS; i++) {
    r->fd[i] = open_socket(r->ifname[i], r->err, sizeof r->err);
    if (r->fd[i] < 0) {
      report_start(r, -1);
      return NULL;
    }
  }
  report_start(r, 1);

  struct pollfd pfd[3] = {
      {.fd = r->fd[0], .events = POLLIN},
      {.fd = r->fd[1], .events = POLLIN},
      {.fd = r->stop_fd, .events = POLLIN},
  };
  for (;;) {
    uint64_t now = monotonic_ns();
    uint64_t wait = IDLE_WAIT_NS;
    for (int d = 0; d < WF_RELAY_DIRS; d++) {
      release_due(r, d, now);
      const wf_relay_item *head = wf_relay_queue_peek(&r->queue[d]);
      if (head) {
        now = monotonic_ns();
        const uint64_t until = head->release_ns > now ? head->release_ns - now : 0;
        if (until < wait) wait = until;
      }
    }
    const struct timespec timeout = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
    const int ready = ppoll(pfd, 3, &timeout, NULL);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (pfd[2].revents) break;
    for (int d = 0; d < WF_RELAY_DIRS; d++) {
      if (pfd[d].revents & POLLIN) receive(r, d);
      /* An interface that goes down or away leaves an error on its socket (ENETDOWN), and
       * poll reports it until it is read: read it, or the loop would spin. */
      if (pfd[d].revents & POLLERR) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        (void)getsockopt(r->fd[d], SOL_SOCKET, SO_ERROR, &soerr, &len);
        bump(&r->stats[d].interface_errors, 1);
      }
    }
  }
  return NULL;
}

static void free_relay(wf_relay *r) {
  for (int i = 0; i < WF_RELAY_DIRS; i++) {
    if (r->fd[i] >= 0) close(r->fd[i]);
    wf_relay_queue_free(&r->queue[i]);
  }
  if (r->stop_fd >= 0) close(r->stop_fd);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->cond);
  free(r->rx);
  free(r);
}

static int copy_name(char *out, size_t cap, const char *name, const char *what, char *err, size_t errlen) {
  if (!name || !name[0] || strlen(name) >= cap) {
    snprintf(err, errlen, "%s must be 1..%zu characters", what, cap - 1);
    return -1;
  }
  memcpy(out, name, strlen(name) + 1);
  return 0;
}

wf_relay *wf_relay_start(const wf_relay_config *config, char *err, size_t errlen) {
  for (int d = 0; d < WF_RELAY_DIRS; d++) {
    if (wf_relay_impairment_check(&config->dir[d], err, errlen) != 0) return NULL;
  }
  const uint32_t limit = config->queue_limit ? config->queue_limit : WF_RELAY_DEFAULT_QUEUE;
  if (limit > WF_RELAY_MAX_QUEUE) {
    snprintf(err, errlen, "queue limit must be 1..%u frames", WF_RELAY_MAX_QUEUE);
    return NULL;
  }
  wf_relay *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->config = *config;
  r->fd[0] = r->fd[1] = -1;
  r->stop_fd = -1;
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->cond, NULL);
  if (copy_name(r->ifname[0], IF_NAMESIZE, config->interface_a, "interface a", err, errlen) != 0 ||
      copy_name(r->ifname[1], IF_NAMESIZE, config->interface_b, "interface b", err, errlen) != 0) {
    free_relay(r);
    return NULL;
  }
  if (strcmp(r->ifname[0], r->ifname[1]) == 0) {
    snprintf(err, errlen, "the two interfaces must differ");
    free_relay(r);
    return NULL;
  }
  if (config->netns && config->netns[0]) {
    /* A name must stay under /run/netns; anything else is given as an absolute path. */
    if (copy_name(r->netns, sizeof r->netns, config->netns, "netns", err, errlen) != 0) {
      free_relay(r);
      return NULL;
    }
    if (r->netns[0] != '/' &&
        (strchr(r->netns, '/') || strcmp(r->netns, ".") == 0 || strcmp(r->netns, "..") == 0)) {
      snprintf(err, errlen, "netns must be a name under /run/netns or an absolute path");
      free_relay(r);
      return NULL;
    }
  }
  r->config.netns = NULL;
  r->config.interface_a = r->config.interface_b = NULL;
  r->rx = malloc(RX_BUFFER);
  r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int ok = r->rx && r->stop_fd >= 0;
  for (int d = 0; ok && d < WF_RELAY_DIRS; d++) {
    /* Independent streams per direction from one seed. */
    wf_relay_shaper_init(&r->shaper[d], &config->dir[d], config->seed ^ (0xa5a5a5a5a5a5a5a5ull * (uint64_t)(d + 1)));
    ok = wf_relay_queue_init(&r->queue[d], limit) == 0;
  }
  if (!ok) {
    snprintf(err, errlen, "out of memory or file descriptors: %s", strerror(errno));
    free_relay(r);
    return NULL;
  }
  const int rc = pthread_create(&r->thread, NULL, relay_main, r);
  if (rc != 0) {
    snprintf(err, errlen, "starting the relay thread: %s", strerror(rc));
    free_relay(r);
    return NULL;
  }
  pthread_mutex_lock(&r->lock);
  while (r->started == 0) pthread_cond_wait(&r->cond, &r->lock);
  pthread_mutex_unlock(&r->lock);
  if (r->started < 0) {
    pthread_join(r->thread, NULL);
    snprintf(err, errlen, "%s", r->err);
    free_relay(r);
    return NULL;
  }
  return r;
}

void wf_relay_get_stats(const wf_relay *r, wf_relay_stats *out) {
  memset(out, 0, sizeof *out);
  for (int d = 0; d < WF_RELAY_DIRS; d++) {
    const wf_relay_dir_stats *s = &r->stats[d];
    wf_relay_dir_stats *o = &out->dir[d];
    o->received = __atomic_load_n(&s->received, __ATOMIC_RELAXED);
    o->forwarded = __atomic_load_n(&s->forwarded, __ATOMIC_RELAXED);
    o->forwarded_bytes = __atomic_load_n(&s->forwarded_bytes, __ATOMIC_RELAXED);
    o->dropped_loss = __atomic_load_n(&s->dropped_loss, __ATOMIC_RELAXED);
    o->dropped_queue_full = __atomic_load_n(&s->dropped_queue_full, __ATOMIC_RELAXED);
    o->reordered = __atomic_load_n(&s->reordered, __ATOMIC_RELAXED);
    o->send_errors = __atomic_load_n(&s->send_errors, __ATOMIC_RELAXED);
    o->queued = __atomic_load_n(&s->queued, __ATOMIC_RELAXED);
    o->interface_errors = __atomic_load_n(&s->interface_errors, __ATOMIC_RELAXED);
    out->forwarded += o->forwarded;
    out->dropped_loss += o->dropped_loss;
    out->dropped_queue_full += o->dropped_queue_full;
    out->reordered += o->reordered;
  }
}

void wf_relay_stop(wf_relay *r, wf_relay_stats *final) {
  if (!r) return;
  const uint64_t one = 1;
  ssize_t written;
  do {
    written = write(r->stop_fd, &one, sizeof one);
  } while (written < 0 && errno == EINTR);
  pthread_join(r->thread, NULL);
  if (final) wf_relay_get_stats(r, final);
  free_relay(r);
}
