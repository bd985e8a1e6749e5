/*
 * Flow exporter: NetFlow v5 or IPFIX over UDP to 1..8 collectors.
 *
 * - Targets are numeric only ("192.0.2.1:2055", "[2001:db8::1]:4739"); names
 *   are refused rather than resolved (no DNS in the capture path).
 * - Every datagram goes to every target (replication, like nfcapd -R).
 * - wf_exporter_send packs records into full datagrams; the tail that does not
 *   fill one waits (at most one datagram's worth) for the next call or
 *   wf_exporter_flush.
 * - Sequence numbers: v5 flow_sequence = v5 records sent before the datagram;
 *   IPFIX sequence = data records sent before the message, mod 2^32. A datagram
 *   dropped after a send error still advances them, so collectors see the gap.
 * - IPFIX templates go out in the first message, then again whenever
 *   template_refresh_s seconds or template_refresh_packets messages passed.
 * - Pacing: a token bucket of max_datagrams_per_s datagrams per second (burst of
 *   1 ms worth, at least 1) sleeps with clock_nanosleep, so a collector on the
 *   same host keeps up when a capture file is metered at full speed.
 * - Local collectors (loopback, or an address of this host, in this network
 *   namespace): every 8 datagrams (fewer if its receive buffer is small) the
 *   exporter asks the kernel (NETLINK_SOCK_DIAG) how full the collector socket's
 *   receive queue is, and waits (up to 1 s, then it counts as stalled) while it
 *   is more than half full. A collector that is descheduled for a few ms on
 *   a busy host then loses nothing: at 20 000 datagrams/s a default 208 KB
 *   receive buffer holds under 3 ms of datagrams. Remote collectors rely on the
 *   token bucket alone.
 * - sendto failures are retried once (after 1 ms for EAGAIN/ENOBUFS), then the
 *   datagram is dropped for that target and counted (send_errors,
 *   records_dropped).
 * - Stats are per target send: with two targets every record counts twice.
 *
 * NetFlow v5 time base: the header carries sysUptime (ms since boot_ns) and the
 * export time, records carry First/Last in sysUptime ms (32 bits, ~49.7 days).
 * While flows are recent (live capture) the export time is the wall clock and
 * boot is boot_ns. When a flow cannot be expressed that way (it ended before
 * boot_ns: a capture file from the past is being replayed; or boot_ns is more
 * than 49 days back) the exporter switches for good to the flows' own clock:
 * export time = latest flow end seen, boot = 2^31 ms before the first such flow
 * began, re-based if a flow falls outside. Collectors compute absolute times as
 * export time - sysUptime + First, so replayed flows keep their real times.
 */
#define _GNU_SOURCE /* SOCK_CLOEXEC, SO_SNDBUFFORCE, clock_nanosleep */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
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

#define MAX_TARGETS 8
#define PENDING_CAP 64 /* > records per datagram (30 for v5, 20 for IPFIX) */
#define BUF_CAP 1500
#define SNDBUF_BYTES (4 * 1024 * 1024)
#define DEFAULT_RATE 20000u
#define DEFAULT_TEMPLATE_S 60u
#define DEFAULT_TEMPLATE_PACKETS 20u
#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define V5_WINDOW_NS ((1ull << 32) * NS_PER_MS) /* 2^32 ms */
#define V5_HALF_WINDOW_NS ((1ull << 31) * NS_PER_MS)
#define PROBE_EVERY 8                /* datagrams between receive-queue checks, at most */
#define TRUESIZE_GUESS 4608u         /* kernel memory one full datagram may take in a queue */
#define PROBE_MAX_WAIT_NS NS_PER_S   /* then the collector counts as stalled */
#define PROBE_RETRY_NS NS_PER_S      /* re-look for a local collector not found */

/* What we know about a target's collector socket on this host. */
struct local_collector {
  int local;              /* the target address is on this host */
  int stalled;            /* waited PROBE_MAX_WAIT_NS in vain: do not wait until it drains */
  uint64_t next_search_ns;/* not found: search again after this (monotonic) */
};

struct wf_exporter {
  int version;
  size_t ntargets;
  int fd[MAX_TARGETS];
  struct sockaddr_storage addr[MAX_TARGETS];
  socklen_t addrlen[MAX_TARGETS];
  struct local_collector collector[MAX_TARGETS];
  int diag_fd;            /* NETLINK_SOCK_DIAG socket, -1 = none (yet) or unavailable */
  int diag_failed;
  uint32_t since_probe;
  uint32_t probe_every;   /* PROBE_EVERY, fewer for small receive buffers */
  uint32_t domain;

  uint32_t sequence;
  /* IPFIX templates */
  uint64_t template_refresh_ns;
  uint32_t template_refresh_packets;
  int templates_sent_once;
  uint64_t last_template_ns; /* monotonic */
  uint32_t messages_since_template;
  /* pacing */
  double rate, burst, tokens;
  uint64_t last_refill_ns; /* monotonic */
  /* NetFlow v5 clock */
  uint64_t boot_ns;
  int flow_clock;           /* 1 = follow the flows' timestamps (replay) */
  uint64_t flow_clock_ns;   /* latest flow end seen */

  wf_flow_record pending[PENDING_CAP];
  size_t npending;
  uint8_t buf[BUF_CAP];
  wf_exporter_stats stats;
};

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t deadline_ns) {
  struct timespec ts = {(time_t)(deadline_ns / NS_PER_S), (long)(deadline_ns % NS_PER_S)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* ---- targets ---- */

static int parse_port(const char *s, uint16_t *port) {
  if (*s == '\0' || strlen(s) > 5) return -1;
  unsigned long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (unsigned long)(*p - '0');
  }
  if (v == 0 || v > 65535) return -1;
  *port = (uint16_t)v;
  return 0;
}

static int parse_target(const char *text, struct sockaddr_storage *ss, socklen_t *len, char *err,
                        size_t errlen) {
  char host[64];
  const char *port_text;
  int v6 = 0;
  if (text == NULL || *text == '\0') {
    snprintf(err, errlen, "empty export target (want HOST:PORT with a numeric address)");
    return -1;
  }
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host) {
      snprintf(err, errlen, "export target \"%s\": want [IPv6]:PORT", text);
      return -1;
    }
    memcpy(host, text + 1, (size_t)(close - text - 1));
    host[close - text - 1] = '\0';
    port_text = close + 2;
    v6 = 1;
  } else {
    const char *colon = strrchr(text, ':');
    if (colon == NULL) {
      snprintf(err, errlen, "export target \"%s\": missing :PORT (want HOST:PORT)", text);
      return -1;
    }
    if (strchr(text, ':') != colon) {
      snprintf(err, errlen, "export target \"%s\": write IPv6 addresses in brackets, [addr]:port",
               text);
      return -1;
    }
    if ((size_t)(colon - text) >= sizeof host || colon == text) {
      snprintf(err, errlen, "export target \"%s\": want HOST:PORT", text);
      return -1;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    port_text = colon + 1;
  }
  uint16_t port;
  if (parse_port(port_text, &port) != 0) {
    snprintf(err, errlen, "export target \"%s\": port must be 1-65535", text);
    return -1;
  }
  memset(ss, 0, sizeof *ss);
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
      snprintf(err, errlen, "export target \"%s\": \"%s\" is not a numeric IPv6 address", text,
               host);
      return -1;
    }
    *len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
      int name = 0;
      for (const char *p = host; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-') name = 1;
      }
      if (name) {
        snprintf(err, errlen,
                 "export target \"%s\": hostnames are not resolved, give a numeric IPv4 address "
                 "or [IPv6] address",
                 text);
      } else {
        snprintf(err, errlen, "export target \"%s\": \"%s\" is not a numeric IPv4 address", text,
                 host);
      }
      return -1;
    }
    *len = sizeof *a;
  }
  return 0;
}

/* ---- local collectors: receive-queue feedback ---- */

static int is_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  }
  const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
  if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
  return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

/* 1 if packets to the target stay on this host: loopback, or the kernel picks the
 * target address itself as the source to reach it. */
static int target_is_local(const struct sockaddr_storage *ss, socklen_t len) {
  if (is_loopback(ss)) return 1;
  int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_storage src;
  socklen_t slen = sizeof src;
  int local = 0;
  if (connect(fd, (const struct sockaddr *)ss, len) == 0 &&
      getsockname(fd, (struct sockaddr *)&src, &slen) == 0) {
    if (ss->ss_family == AF_INET) {
      local = ((struct sockaddr_in *)&src)->sin_addr.s_addr ==
              ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
    } else {
      local = memcmp(&((struct sockaddr_in6 *)&src)->sin6_addr,
                     &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) == 0;
    }
  }
  close(fd);
  return local;
}

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
static void wait_for_local_collectors(wf_exporter *e) {
  if (++e->since_probe < e->probe_every) return;
  e->since_probe = 0;
  uint32_t every = PROBE_EVERY;
  for (size_t t = 0; t < e->ntargets; t++) {
    struct local_collector *c = &e->collector[t];
    if (!c->local) continue;
    const uint64_t start = clock_ns(CLOCK_MONOTONIC);
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
      const uint64_t now = clock_ns(CLOCK_MONOTONIC);
      if (now - start >= PROBE_MAX_WAIT_NS) {
        c->stalled = 1; /* stopped or gone: send on, do not wait again until it drains */
        break;
      }
      sleep_until(now + 200000); /* 0.2 ms */
    }
  }
  e->probe_every = every;
}

/* ---- life cycle ---- */

wf_exporter *wf_exporter_create(const wf_exporter_config *config, char *err, size_t errlen) {
  char scratch[8];
  if (err == NULL || errlen == 0) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  if (config == NULL) {
    snprintf(err, errlen, "no exporter configuration");
    return NULL;
  }
  if (config->version != WF_EXPORT_NETFLOW5 && config->version != WF_EXPORT_IPFIX) {
    snprintf(err, errlen, "export version must be 5 (NetFlow v5) or 10 (IPFIX), got %d",
             config->version);
    return NULL;
  }
  if (config->target_count < 1 || config->target_count > MAX_TARGETS || config->targets == NULL) {
    snprintf(err, errlen, "1 to %d export targets are needed, got %zu", MAX_TARGETS,
             config->target_count);
    return NULL;
  }
  wf_exporter *e = calloc(1, sizeof *e);
  if (e == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < MAX_TARGETS; i++) e->fd[i] = -1;
  e->diag_fd = -1;
  e->probe_every = PROBE_EVERY;
  e->since_probe = PROBE_EVERY - 1; /* look at local collectors before the first datagram */
  for (size_t i = 0; i < config->target_count; i++) {
    if (parse_target(config->targets[i], &e->addr[i], &e->addrlen[i], err, errlen) != 0) {
      wf_exporter_destroy(e);
      return NULL;
    }
    e->fd[i] = socket(e->addr[i].ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (e->fd[i] < 0) {
      snprintf(err, errlen, "export socket for %s: %s", config->targets[i], strerror(errno));
      wf_exporter_destroy(e);
      return NULL;
    }
    e->ntargets = i + 1;
    e->collector[i].local = target_is_local(&e->addr[i], e->addrlen[i]);
    /* Bursts of full datagrams: a bigger send buffer (the kernel caps it at wmem_max). */
    int size = SNDBUF_BYTES;
#ifdef SO_SNDBUFFORCE
    if (setsockopt(e->fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) == 0) continue;
#endif
    (void)setsockopt(e->fd[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  e->version = config->version;
  e->domain = config->observation_domain;
  e->template_refresh_ns =
      (uint64_t)(config->template_refresh_s ? config->template_refresh_s : DEFAULT_TEMPLATE_S) *
      NS_PER_S;
  e->template_refresh_packets =
      config->template_refresh_packets ? config->template_refresh_packets : DEFAULT_TEMPLATE_PACKETS;
  e->rate = config->max_datagrams_per_s ? config->max_datagrams_per_s : DEFAULT_RATE;
  e->burst = e->rate / 1000.0 < 1.0 ? 1.0 : e->rate / 1000.0;
  e->tokens = e->burst;
  e->last_refill_ns = clock_ns(CLOCK_MONOTONIC);
  e->boot_ns = config->boot_ns ? config->boot_ns : clock_ns(CLOCK_REALTIME);
  return e;
}

void wf_exporter_destroy(wf_exporter *e) {
  if (e == NULL) return;
  for (size_t i = 0; i < MAX_TARGETS; i++) {
    if (e->fd[i] >= 0) close(e->fd[i]);
  }
  if (e->diag_fd >= 0) close(e->diag_fd);
  free(e);
}

void wf_exporter_get_stats(const wf_exporter *e, wf_exporter_stats *out) {
  if (out == NULL) return;
  if (e == NULL) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = e->stats;
}

/* ---- sending ---- */

static void pace(wf_exporter *e) {
  uint64_t now = clock_ns(CLOCK_MONOTONIC);
  e->tokens += (double)(now - e->last_refill_ns) * e->rate / 1e9;
  if (e->tokens > e->burst) e->tokens = e->burst;
  e->last_refill_ns = now;
  if (e->tokens < 1.0) {
    uint64_t wait = (uint64_t)((1.0 - e->tokens) * 1e9 / e->rate) + 1;
    sleep_until(now + wait);
    now = clock_ns(CLOCK_MONOTONIC);
    e->tokens += (double)(now - e->last_refill_ns) * e->rate / 1e9;
    if (e->tokens > e->burst) e->tokens = e->burst;
    if (e->tokens < 1.0) e->tokens = 1.0;
    e->last_refill_ns = now;
  }
  e->tokens -= 1.0;
}

static int send_to(wf_exporter *e, size_t t, size_t len) {
  for (int attempt = 0; attempt < 2; attempt++) {
    ssize_t n;
    do {
      n = sendto(e->fd[t], e->buf, len, 0, (const struct sockaddr *)&e->addr[t], e->addrlen[t]);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) return 0;
    if (attempt == 0 && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      sleep_until(clock_ns(CLOCK_MONOTONIC) + NS_PER_MS);
    }
  }
  return -1;
}

/* Sends e->buf[0..len) holding `records` export records to every target. */
static int transmit(wf_exporter *e, size_t len, uint32_t records, int with_templates) {
  wait_for_local_collectors(e);
  pace(e);
  int status = 0;
  for (size_t t = 0; t < e->ntargets; t++) {
    if (send_to(e, t, len) == 0) {
      e->stats.datagrams_sent++;
      e->stats.bytes_sent += len;
      e->stats.records_sent += records;
      if (with_templates) e->stats.templates_sent++;
    } else {
      e->stats.send_errors++;
      e->stats.records_dropped += records;
      status = -1;
    }
  }
  e->sequence += records; /* mod 2^32; counts dropped datagrams too, so gaps show */
  if (e->version == WF_EXPORT_IPFIX) {
    if (with_templates) {
      e->templates_sent_once = 1;
      e->last_template_ns = clock_ns(CLOCK_MONOTONIC);
      e->messages_since_template = 0;
    } else {
      e->messages_since_template++;
    }
  }
  return status;
}

static int flow_fits_v5(const wf_flow_record *r, uint64_t boot, uint64_t now) {
  if (r->last_ns < boot || r->first_ns > r->last_ns) return 0;
  if (r->last_ns - boot >= V5_WINDOW_NS || now < boot || now - boot >= V5_WINDOW_NS) return 0;
  return r->last_ns - r->first_ns < V5_WINDOW_NS;
}

/* Picks the v5 export time and boot for the next datagram (see the top of the file). */
static void v5_times(wf_exporter *e, const wf_flow_record *r, size_t n, uint64_t *now,
                     uint64_t *boot) {
  uint64_t min_first = UINT64_MAX, max_last = 0;
  size_t slots = 0;
  int fits = 1;
  const uint64_t wall = clock_ns(CLOCK_REALTIME);
  for (size_t i = 0; i < n && slots < WF_NF5_MAX_RECORDS; i++) {
    unsigned k = wf_nf5_records_for(&r[i]);
    if (k == 0) continue;
    slots += k;
    if (r[i].first_ns < min_first) min_first = r[i].first_ns;
    if (r[i].last_ns > max_last) max_last = r[i].last_ns;
    if (!e->flow_clock && !flow_fits_v5(&r[i], e->boot_ns, wall)) fits = 0;
  }
  if (slots == 0) {
    *now = e->flow_clock ? e->flow_clock_ns : wall;
    *boot = e->boot_ns;
    return;
  }
  if (!e->flow_clock && fits) {
    *now = wall;
    *boot = e->boot_ns;
    return;
  }
  if (!e->flow_clock) {
    e->flow_clock = 1;
    e->flow_clock_ns = max_last;
    e->boot_ns = min_first > V5_HALF_WINDOW_NS ? min_first - V5_HALF_WINDOW_NS : 0;
  }
  if (max_last > e->flow_clock_ns) e->flow_clock_ns = max_last;
  /* Re-base when a flow in this datagram (or the clock itself) left the window. */
  int rebase = 0;
  for (size_t i = 0, s = 0; i < n && s < WF_NF5_MAX_RECORDS; i++) {
    unsigned k = wf_nf5_records_for(&r[i]);
    if (k == 0) continue;
    s += k;
    if (!flow_fits_v5(&r[i], e->boot_ns, e->flow_clock_ns)) rebase = 1;
  }
  if (rebase) e->boot_ns = min_first > V5_HALF_WINDOW_NS ? min_first - V5_HALF_WINDOW_NS : 0;
  *now = e->flow_clock_ns;
  *boot = e->boot_ns;
}

static int templates_due(const wf_exporter *e) {
  if (!e->templates_sent_once) return 1;
  if (e->messages_since_template + 1 >= e->template_refresh_packets) return 1;
  return clock_ns(CLOCK_MONOTONIC) - e->last_template_ns >= e->template_refresh_ns;
}

/*
 * Encodes one datagram from r[0..n) into e->buf. Returns its length (0 = nothing
 * to send); *consumed = input records used, *records = export records inside.
 */
static size_t encode(wf_exporter *e, const wf_flow_record *r, size_t n, size_t *consumed,
                     uint32_t *records, int *with_templates) {
  size_t c = n, len;
  uint32_t k = 0;
  *with_templates = 0;
  if (e->version == WF_EXPORT_NETFLOW5) {
    uint64_t now, boot;
    v5_times(e, r, n, &now, &boot);
    len = wf_netflow5_encode(e->buf, WF_NF5_MAX_LEN, r, &c, now, boot, e->sequence,
                             (uint8_t)e->domain);
    for (size_t i = 0; i < c; i++) k += wf_nf5_records_for(&r[i]);
  } else {
    *with_templates = templates_due(e);
    len = wf_ipfix_encode(e->buf, WF_IPFIX_MAX_MESSAGE, r, &c, clock_ns(CLOCK_REALTIME),
                          e->sequence, e->domain, *with_templates);
    for (size_t i = 0; i < c; i++) k += wf_ipfix_records_for(&r[i]);
  }
  *consumed = c;
  *records = k;
  return k > 0 ? len : 0;
}

static unsigned exportable(const wf_exporter *e, const wf_flow_record *r) {
  return e->version == WF_EXPORT_NETFLOW5 ? wf_nf5_records_for(r) : wf_ipfix_records_for(r);
}

/* Counts what a consumed range leaves out: IPv6 flows under NetFlow v5. */
static void count_skipped(wf_exporter *e, const wf_flow_record *r, size_t n) {
  if (e->version != WF_EXPORT_NETFLOW5) return;
  for (size_t i = 0; i < n; i++) {
    if (r[i].family == 6) e->stats.records_skipped++;
  }
}

/* Moves one record into the pending tail (or counts it as skipped). */
static void keep(wf_exporter *e, const wf_flow_record *r) {
  if (exportable(e, r) == 0) {
    count_skipped(e, r, 1);
    return;
  }
  e->pending[e->npending++] = *r;
}

int wf_exporter_send(wf_exporter *e, const wf_flow_record *records, size_t count) {
  if (e == NULL || (records == NULL && count > 0)) return -1;
  int status = 0;
  size_t i = 0;
  while (i < count) {
    if (e->npending > 0) {
      while (e->npending < PENDING_CAP && i < count) keep(e, &records[i++]);
      size_t c;
      uint32_t k;
      int tpl;
      size_t len = encode(e, e->pending, e->npending, &c, &k, &tpl);
      if (c == e->npending) break; /* everything fits one datagram with room to spare: wait */
      if (len > 0 && transmit(e, len, k, tpl) != 0) status = -1;
      memmove(e->pending, e->pending + c, (e->npending - c) * sizeof e->pending[0]);
      e->npending -= c;
      continue;
    }
    size_t c;
    uint32_t k;
    int tpl;
    size_t len = encode(e, records + i, count - i, &c, &k, &tpl);
    if (c == 0) { /* cannot happen with our buffer sizes; never loop forever */
      e->stats.records_dropped += count - i;
      return -1;
    }
    if (c == count - i) { /* the rest does not fill a datagram: keep it for later */
      while (i < count) keep(e, &records[i++]);
      break;
    }
    if (len > 0 && transmit(e, len, k, tpl) != 0) status = -1;
    count_skipped(e, records + i, c);
    i += c;
  }
  /* pending can still exceed one datagram if the loop above topped it up: drain full ones. */
  while (e->npending > 0) {
    size_t c;
    uint32_t k;
    int tpl;
    size_t len = encode(e, e->pending, e->npending, &c, &k, &tpl);
    if (c == e->npending) break;
    if (len > 0 && transmit(e, len, k, tpl) != 0) status = -1;
    memmove(e->pending, e->pending + c, (e->npending - c) * sizeof e->pending[0]);
    e->npending -= c;
  }
  return status;
}

int wf_exporter_flush(wf_exporter *e) {
  if (e == NULL) return -1;
  int status = 0;
  while (e->npending > 0) {
    size_t c;
    uint32_t k;
    int tpl;
    size_t len = encode(e, e->pending, e->npending, &c, &k, &tpl);
    if (c == 0) { /* cannot happen with our buffer sizes; never loop forever */
      e->stats.records_dropped += e->npending;
      e->npending = 0;
      return -1;
    }
    if (len > 0 && transmit(e, len, k, tpl) != 0) status = -1;
    memmove(e->pending, e->pending + c, (e->npending - c) * sizeof e->pending[0]);
    e->npending -= c;
  }
  return status;
}
