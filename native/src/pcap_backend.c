/*
 * Live capture through libpcap loaded at run time (libpcap_loader.c): the
 * wf_capture_* operations for wf_capture_config.backend = 1.
 *
 * Setup: pcap_create, then snaplen, promiscuous mode, buffer size (buffer_size_mb), the
 * TPACKET_V3 block timeout (pcap_set_timeout = block_timeout_ms), nanosecond timestamps and,
 * for adapter timestamps, the time stamp type (refused with a clear error where the NIC
 * cannot), then pcap_activate (its PCAP_ERROR_* codes become the same messages as afpacket's)
 * and pcap_setfilter with the compiled expression. libpcap itself filters in user space the
 * packets that reached the ring before the kernel filter was in place, re-inserts stripped
 * VLAN tags and skips the outgoing copy on loopback, so packets come out as with afpacket.
 *
 * Poll: the handle is non-blocking; pcap_dispatch reads what is ready and, when nothing is,
 * poll() on pcap_get_selectable_fd waits up to timeout_ms before a second dispatch.
 *
 * Statistics: pcap_stats accumulates PACKET_STATISTICS itself (in 32-bit counters, widened
 * here by deltas). A baseline is taken once the filter is installed, so kernel_packets counts
 * what passed the filter. pcap_stats and pcap_dispatch are serialized by a mutex (dispatch is
 * non-blocking, so the mutex is never held while waiting). There is no ring of blocks we can
 * see: blocks_total and blocks_user are 0. Fanout is afpacket's alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_internal.h"
#include "libpcap_loader.h"

#define MAX_DISPATCH 65536 /* packets per pcap_dispatch, so a busy link still returns */

struct wf_pcap_capture {
  const struct wf_libpcap *lib;
  pcap_t *p;
  int fd;
  int linktype;
  uint32_t snaplen;
  char ifname[IF_NAMESIZE];
  /* Delivered counters: written by the polling thread, read by any (atomics). */
  uint64_t packets;
  uint64_t bytes;
  /* Guards the handle between pcap_dispatch and pcap_stats, and the widened totals. */
  pthread_mutex_t lock;
  unsigned int last_recv, last_drop;
  uint64_t kernel_packets, kernel_drops;
};

int wf_pcap_capture_available(char *detail, size_t len) {
  const char *why = "";
  const struct wf_libpcap *lib = wf_libpcap_load(&why);
  int ok = lib && lib->capture_ok;
  if (detail && len)
    snprintf(detail, len, "%s", ok ? lib->lib_version() : lib ? lib->capture_error : why);
  return ok;
}

/* Backend-specific checks; capture.c has already run wf_capture_validate(). */
static int validate(const wf_capture_config *cfg, char *err, size_t errlen) {
  if (cfg->fanout_group)
    return wf_capture_fail(err, errlen, EINVAL, "fanout groups need the afpacket backend");
  return 0;
}

/* LINKTYPE_* for the DLT_* libpcap reports, or -1. */
static int linktype_of(int dlt) {
  switch (dlt) {
    case 0: return WF_LINKTYPE_NULL;
    case 1: return WF_LINKTYPE_ETHERNET;
    case 12: /* DLT_RAW on Linux */
    case 101: return WF_LINKTYPE_RAW;
    case 113: return WF_LINKTYPE_LINUX_SLL;
    case 228: return WF_LINKTYPE_IPV4;
    case 229: return WF_LINKTYPE_IPV6;
    default: return -1;
  }
}

static int no_hw_timestamps(char *err, size_t errlen, const char *name) {
  return wf_capture_fail(err, errlen, EOPNOTSUPP,
              "interface %s cannot timestamp received packets in hardware; use kernel timestamps",
              name);
}

/* pcap_activate's result as one line (negative: error, positive: warning). */
static int activate_failed(wf_pcap_capture *c, int rc, int promiscuous, char *err, size_t errlen) {
  const char *name = c->ifname;
  const char *why = c->lib->geterr(c->p);
  switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return wf_capture_fail(err, errlen, ENODEV, "no such interface \"%s\"", name);
    case PCAP_ERROR_PERM_DENIED:
      return wf_capture_fail(err, errlen, EPERM,
                  "capture on %s needs CAP_NET_RAW (run as root, or setcap"
                  " cap_net_raw,cap_net_admin+ep on node)",
                  name);
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return wf_capture_fail(err, errlen, EPERM, "promiscuous mode on %s needs CAP_NET_ADMIN", name);
    case PCAP_ERROR_IFACE_NOT_UP:
      return wf_capture_fail(err, errlen, ENETDOWN, "interface %s is down", name);
    case PCAP_ERROR_CANTSET_TSTAMP_TYPE:
    case PCAP_WARNING_TSTAMP_TYPE_NOTSUP:
      return no_hw_timestamps(err, errlen, name);
    case PCAP_ERROR_TSTAMP_PRECISION_NOTSUP:
      return wf_capture_fail(err, errlen, EOPNOTSUPP, "libpcap cannot give nanosecond timestamps on %s", name);
    case 2: /* PCAP_WARNING_PROMISC_NOTSUP */
      if (promiscuous)
        return wf_capture_fail(err, errlen, EOPNOTSUPP, "interface %s does not support promiscuous mode", name);
      return 0;
    default:
      if (rc > 0) return 0; /* other warnings */
      return wf_capture_fail(err, errlen, EIO, "libpcap on %s: %s", name,
                  why && *why ? why : c->lib->statustostr(rc));
  }
}

wf_pcap_capture *wf_pcap_capture_open(const wf_capture_config *cfg, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (validate(cfg, err, errlen) < 0) return NULL;
  const char *name = cfg->interface;
  if (if_nametoindex(name) == 0) {
    wf_capture_fail(err, errlen, ENODEV, "no such interface \"%s\"", name);
    return NULL;
  }
  const char *why = "";
  const struct wf_libpcap *lib = wf_libpcap_load(&why);
  if (!lib || !lib->capture_ok) {
    wf_capture_fail(err, errlen, ENOSYS, "the libpcap backend is unavailable: %s",
         lib ? lib->capture_error : why);
    return NULL;
  }
  wf_pcap_capture *c = calloc(1, sizeof *c);
  if (!c) {
    wf_capture_fail(err, errlen, ENOMEM, "out of memory");
    return NULL;
  }
  c->lib = lib;
  c->fd = -1;
  c->snaplen = cfg->snaplen ? cfg->snaplen : WF_CAPTURE_MAX_SNAPLEN;
  memcpy(c->ifname, name, strlen(name) + 1);
  pthread_mutex_init(&c->lock, NULL);

  char errbuf[PCAP_ERRBUF_SIZE] = "";
  c->p = lib->create(name, errbuf);
  if (!c->p) {
    wf_capture_fail(err, errlen, EIO, "libpcap on %s: %s", name, errbuf);
    goto error;
  }
  const uint32_t mb = cfg->buffer_size_mb ? cfg->buffer_size_mb : 64;
  if (lib->set_snaplen(c->p, (int)c->snaplen) != 0 ||
      lib->set_promisc(c->p, cfg->promiscuous ? 1 : 0) != 0 ||
      lib->set_buffer_size(c->p, (int)(mb < 2048 ? mb << 20 : 2047u << 20)) != 0 ||
      lib->set_timeout(c->p, (int)(cfg->block_timeout_ms ? cfg->block_timeout_ms : 50)) != 0) {
    wf_capture_fail(err, errlen, EINVAL, "libpcap on %s refused the settings: %s", name, lib->geterr(c->p));
    goto error;
  }
  if (lib->set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO) != 0) {
    wf_capture_fail(err, errlen, EOPNOTSUPP, "libpcap cannot give nanosecond timestamps on %s", name);
    goto error;
  }
  if (cfg->timestamp_source != WF_TS_KERNEL) {
    int type = cfg->timestamp_source == WF_TS_ADAPTER ? PCAP_TSTAMP_ADAPTER
                                                      : PCAP_TSTAMP_ADAPTER_UNSYNCED;
    if (lib->set_tstamp_type(c->p, type) != 0) { /* PCAP_WARNING_TSTAMP_TYPE_NOTSUP, or an error */
      no_hw_timestamps(err, errlen, name);
      goto error;
    }
  }
  int rc = lib->activate(c->p);
  if (rc != 0 && activate_failed(c, rc, cfg->promiscuous, err, errlen) < 0) goto error;

  c->linktype = linktype_of(lib->datalink(c->p));
  if (c->linktype < 0) {
    wf_capture_fail(err, errlen, EOPNOTSUPP, "interface %s has link type %d in libpcap: not supported", name,
         lib->datalink(c->p));
    goto error;
  }
  if (cfg->filter && *cfg->filter) {
    struct pcap_bpf_program prog = {0, NULL};
    wf_libpcap_lock();
    rc = lib->compile(c->p, &prog, cfg->filter, 1, PCAP_NETMASK_UNKNOWN);
    wf_libpcap_unlock();
    if (rc != 0) {
      const char *msg = lib->geterr(c->p);
      wf_capture_fail(err, errlen, EINVAL, "filter \"%s\": %s", cfg->filter,
           msg && *msg ? msg : "does not compile");
      goto error;
    }
    rc = lib->setfilter(c->p, &prog);
    lib->freecode(&prog);
    if (rc != 0) {
      wf_capture_fail(err, errlen, EINVAL, "filter \"%s\": libpcap could not install it: %s", cfg->filter,
           lib->geterr(c->p));
      goto error;
    }
  }
  if (lib->setnonblock(c->p, 1, errbuf) != 0) {
    wf_capture_fail(err, errlen, EIO, "libpcap on %s: non-blocking mode: %s", name, errbuf);
    goto error;
  }
  c->fd = lib->get_selectable_fd(c->p);
  if (c->fd < 0) {
    wf_capture_fail(err, errlen, EOPNOTSUPP, "libpcap on %s has no selectable descriptor", name);
    goto error;
  }
  /* Baseline: what the kernel counted before the filter was in place is not ours. */
  struct pcap_stat st;
  memset(&st, 0, sizeof st);
  if (lib->stats(c->p, &st) == 0) {
    c->last_recv = st.ps_recv;
    c->last_drop = st.ps_drop;
  }
  return c;

error:;
  const int saved = errno;
  wf_pcap_capture_close(c);
  errno = saved;
  return NULL;
}

struct dispatch_ctx {
  wf_pcap_capture *c;
  wf_packet_cb cb;
  void *ctx;
  int delivered;
  uint64_t bytes;
};

static void on_pcap_packet(unsigned char *user, const struct pcap_pkthdr *h,
                           const unsigned char *bytes) {
  struct dispatch_ctx *d = (struct dispatch_ctx *)(void *)user;
  wf_packet p;
  p.data = bytes;
  p.caplen = h->caplen > d->c->snaplen ? d->c->snaplen : h->caplen;
  p.wirelen = h->len < p.caplen ? p.caplen : h->len;
  p.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
  p.linktype = d->c->linktype;
  d->cb(d->ctx, &p);
  d->delivered++;
  d->bytes += p.wirelen;
}

static int dispatch(wf_pcap_capture *c, struct dispatch_ctx *d, char *err, size_t errlen) {
  pthread_mutex_lock(&c->lock);
  int n = c->lib->dispatch(c->p, MAX_DISPATCH, on_pcap_packet, (unsigned char *)d);
  if (n < 0) wf_capture_fail(err, errlen, EIO, "capture on %s: %s", c->ifname, c->lib->geterr(c->p));
  pthread_mutex_unlock(&c->lock);
  return n < 0 ? -1 : 0;
}

int wf_pcap_capture_poll(wf_pcap_capture *c, int timeout_ms, wf_packet_cb cb, void *ctx, char *err,
                         size_t errlen) {
  struct dispatch_ctx d = {c, cb, ctx, 0, 0};
  int rc = dispatch(c, &d, err, errlen);
  if (rc == 0 && d.delivered == 0 && timeout_ms != 0) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN, .revents = 0};
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0 && errno != EINTR)
      rc = wf_capture_fail(err, errlen, errno, "poll on %s: %s", c->ifname, strerror(errno));
    else if (r > 0)
      rc = dispatch(c, &d, err, errlen); /* also reports POLLERR (interface down or gone) */
  }
  __atomic_fetch_add(&c->packets, (uint64_t)d.delivered, __ATOMIC_RELAXED);
  __atomic_fetch_add(&c->bytes, d.bytes, __ATOMIC_RELAXED);
  return rc < 0 ? -1 : d.delivered;
}

void wf_pcap_capture_get_stats(wf_pcap_capture *c, wf_capture_stats *out) {
  memset(out, 0, sizeof *out);
  if (!c) return;
  struct pcap_stat st;
  memset(&st, 0, sizeof st);
  pthread_mutex_lock(&c->lock);
  if (c->lib->stats(c->p, &st) == 0) {
    /* libpcap's counters are unsigned int and wrap: widen by deltas. */
    c->kernel_packets += (unsigned int)(st.ps_recv - c->last_recv);
    c->kernel_drops += (unsigned int)(st.ps_drop - c->last_drop);
    c->last_recv = st.ps_recv;
    c->last_drop = st.ps_drop;
  }
  out->kernel_packets = c->kernel_packets;
  out->kernel_drops = c->kernel_drops;
  pthread_mutex_unlock(&c->lock);
  out->packets = __atomic_load_n(&c->packets, __ATOMIC_RELAXED);
  out->bytes = __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
}

int wf_pcap_capture_linktype(const wf_pcap_capture *c) { return c->linktype; }

void wf_pcap_capture_close(wf_pcap_capture *c) {
  if (!c) return;
  if (c->p) c->lib->close(c->p); /* also leaves promiscuous mode */
  pthread_mutex_destroy(&c->lock);
  free(c);
}
