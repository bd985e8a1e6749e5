/*
 * Export pacing: how fast datagrams leave. A token bucket caps the rate for
 * every collector; for collectors on this host the exporter also watches the
 * collector socket's receive queue (NETLINK_SOCK_DIAG) and waits while it is
 * more than half full, because at full speed a default receive buffer holds
 * only a few ms of datagrams. See exporter.c for the whole picture.
 */
#define _GNU_SOURCE /* SOCK_CLOEXEC, clock_nanosleep */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#endif

#include "export_internal.h"

#define NS_PER_S 1000000000ull
#define TRUESIZE_GUESS 4608u         /* kernel memory one full datagram may take in a queue */
#define PROBE_MAX_WAIT_NS NS_PER_S   /* then the collector counts as stalled */
#define PROBE_RETRY_NS NS_PER_S      /* re-look for a local collector not found */

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t wf_export_monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

uint64_t wf_export_wall_ns(void) { return clock_ns(CLOCK_REALTIME); }

void wf_export_sleep_until(uint64_t monotonic_deadline_ns) {
  struct timespec ts = {(time_t)(monotonic_deadline_ns / NS_PER_S),
                        (long)(monotonic_deadline_ns % NS_PER_S)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* ---- token bucket ---- */

void wf_export_pace(wf_exporter *e) {
  uint64_t now = wf_export_monotonic_ns();
  e->tokens += (double)(now - e->last_refill_ns) * e->rate / 1e9;
  if (e->tokens > e->burst) e->tokens = e->burst;
  e->last_refill_ns = now;
  if (e->tokens < 1.0) {
    uint64_t wait = (uint64_t)((1.0 - e->tokens) * 1e9 / e->rate) + 1;
    wf_export_sleep_until(now + wait);
    now = wf_export_monotonic_ns();
    e->tokens += (double)(now - e->last_refill_ns) * e->rate / 1e9;
    if (e->tokens > e->burst) e->tokens = e->burst;
    if (e->tokens < 1.0) e->tokens = 1.0;
    e->last_refill_ns = now;
  }
  e->tokens -= 1.0;
}

/* ---- local collectors: receive-queue feedback ---- */

#ifdef __linux__
/* Whether a socket bound to `local` (family fam) receives datagrams sent to the target. */
static int binds_target(int fam, const uint32_t local[4], const struct sockaddr_storage *t) {
  static const uint32_t zero[4];
  if (t->ss_family == AF_INET) {
    const uint32_t a = ((const struct sockaddr_in *)t)->sin_addr.s_addr;
    if (fam == AF_INET) return local[0] == a || local[0] == 0;
    /* dual-stack [::] or [::ffff:a] */
    return memcmp(local, zero, 16) == 0 ||
           (local[0] == 0 && local[1] == 0 && local[2] == htonl(0xffff) && local[3] == a);
  }
  return memcmp(local, zero, 16) == 0 ||
         memcmp(local, &((const struct sockaddr_in6 *)t)->sin6_addr, 16) == 0;
}

/*
 * Fill of the fullest UDP socket of family `fam` that receives the target's
 * datagrams, as rmem / rcvbuf. Returns 1 if found, 0 if none, -1 on error.
 */
static int diag_query(int nl, int fam, const struct sockaddr_storage *t, uint16_t port,
                      uint32_t *rmem, uint32_t *rcvbuf) {
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = (uint8_t)fam;
  msg.req.sdiag_protocol = IPPROTO_UDP;
  msg.req.idiag_states = ~0u;
  msg.req.idiag_ext = 1u << (INET_DIAG_SKMEMINFO - 1);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(nl, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -1;
  long buf[8192 / sizeof(long)]; /* aligned for nlmsghdr */
  int found = 0;
  for (;;) {
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    unsigned int len = (unsigned int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return found;
      if (h->nlmsg_type == NLMSG_ERROR) return -1;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
      const struct inet_diag_msg *d = NLMSG_DATA(h);
      if (ntohs(d->id.idiag_sport) != port || !binds_target(fam, d->id.idiag_src, t)) continue;
      int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *d));
      for (struct rtattr *a = (struct rtattr *)(d + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type != INET_DIAG_SKMEMINFO ||
            RTA_PAYLOAD(a) < (SK_MEMINFO_RCVBUF + 1) * sizeof(uint32_t)) {
          continue;
        }
        const uint32_t *m = RTA_DATA(a);
        /* several sockets (SO_REUSEPORT): keep the fullest */
        if (!found || (uint64_t)m[SK_MEMINFO_RMEM_ALLOC] * *rcvbuf >
                          (uint64_t)*rmem * m[SK_MEMINFO_RCVBUF]) {
          *rmem = m[SK_MEMINFO_RMEM_ALLOC];
          *rcvbuf = m[SK_MEMINFO_RCVBUF];
        }
        found = 1;
      }
    }
  }
}
#endif

/* Receive-queue fill of target t's local collector: 1 found, 0 none, -1 cannot tell. */
static int collector_fill(wf_exporter *e, size_t t, uint32_t *rmem, uint32_t *rcvbuf) {
#ifdef __linux__
  if (e->diag_failed) return -1;
  if (e->diag_fd < 0) {
    e->diag_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (e->diag_fd < 0) {
      e->diag_failed = 1;
      return -1;
    }
  }
  const struct sockaddr_storage *ss = &e->addr[t];
  const uint16_t port = ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                                       : ((const struct sockaddr_in6 *)ss)->sin6_port);
  int r = diag_query(e->diag_fd, ss->ss_family, ss, port, rmem, rcvbuf);
  if (r == 0 && ss->ss_family == AF_INET) r = diag_query(e->diag_fd, AF_INET6, ss, port, rmem, rcvbuf);
  if (r < 0) {
    close(e->diag_fd);
    e->diag_fd = -1;
    e->diag_failed = 1;
  }
  return r;
#else
  (void)e;
  (void)t;
  (void)rmem;
  (void)rcvbuf;
  return -1;
#endif
}

/*
 * Every probe_every datagrams: wait while a local collector's queue is over half
 * full. probe_every shrinks for small receive buffers, so the datagrams sent
 * between two looks always fit in the free half.
 */
void wf_export_wait_for_local_collectors(wf_exporter *e) {
  if (++e->since_probe < e->probe_every) return;
  e->since_probe = 0;
  uint32_t every = WF_EXPORT_PROBE_EVERY;
  for (size_t t = 0; t < e->ntargets; t++) {
    struct wf_local_collector *c = &e->collector[t];
    if (!c->local) continue;
    const uint64_t start = wf_export_monotonic_ns();
    if (c->next_search_ns > start) continue;
    for (;;) {
      uint32_t rmem = 0, rcvbuf = 0;
      int r = collector_fill(e, t, &rmem, &rcvbuf);
      if (r < 0) return; /* no sock_diag here: the token bucket alone */
      if (r == 0) {      /* nobody listens (yet): look again in a second */
        c->next_search_ns = start + PROBE_RETRY_NS;
        break;
      }
      const uint32_t fit = rcvbuf / (2 * TRUESIZE_GUESS);
      if (fit < every) every = fit > 0 ? fit : 1;
      if ((uint64_t)rmem * 2 <= rcvbuf) {
        c->stalled = 0;
        break;
      }
      if (c->stalled) break;
      const uint64_t now = wf_export_monotonic_ns();
      if (now - start >= PROBE_MAX_WAIT_NS) {
        c->stalled = 1; /* stopped or gone: send on, do not wait again until it drains */
        break;
      }
      wf_export_sleep_until(now + 200000); /* 0.2 ms */
    }
  }
  e->probe_every = every;
}
