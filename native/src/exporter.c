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
 * Files: exporter.c (life cycle, batching, encoding, sequence numbers, the v5
 * clock), export_targets.c (target parsing, sockets, sending), export_pacing.c
 * (token bucket, local-collector receive-queue watch).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_internal.h"

#define DEFAULT_RATE 20000u
#define DEFAULT_TEMPLATE_S 60u
#define DEFAULT_TEMPLATE_PACKETS 20u
#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define V5_WINDOW_NS ((1ull << 32) * NS_PER_MS) /* 2^32 ms */
#define V5_HALF_WINDOW_NS ((1ull << 31) * NS_PER_MS)

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
  if (config->target_count < 1 || config->target_count > WF_EXPORT_MAX_TARGETS ||
      config->targets == NULL) {
    snprintf(err, errlen, "1 to %d export targets are needed, got %zu", WF_EXPORT_MAX_TARGETS,
             config->target_count);
    return NULL;
  }
  wf_exporter *e = calloc(1, sizeof *e);
  if (e == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < WF_EXPORT_MAX_TARGETS; i++) e->fd[i] = -1;
  e->diag_fd = -1;
  e->probe_every = WF_EXPORT_PROBE_EVERY;
  /* look at local collectors before the first datagram */
  e->since_probe = WF_EXPORT_PROBE_EVERY - 1;
  for (size_t i = 0; i < config->target_count; i++) {
    if (wf_export_open_target(e, i, config->targets[i], err, errlen) != 0) {
      wf_exporter_destroy(e);
      return NULL;
    }
    e->ntargets = i + 1;
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
  e->last_refill_ns = wf_export_monotonic_ns();
  e->boot_ns = config->boot_ns ? config->boot_ns : wf_export_wall_ns();
  return e;
}

void wf_exporter_destroy(wf_exporter *e) {
  if (e == NULL) return;
  for (size_t i = 0; i < WF_EXPORT_MAX_TARGETS; i++) {
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


/* Sends e->buf[0..len) holding `records` export records to every target. */
static int transmit(wf_exporter *e, size_t len, uint32_t records, int with_templates) {
  wf_export_wait_for_local_collectors(e);
  wf_export_pace(e);
  int status = 0;
  for (size_t t = 0; t < e->ntargets; t++) {
    if (wf_export_send_to(e, t, len) == 0) {
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
      e->last_template_ns = wf_export_monotonic_ns();
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
  const uint64_t wall = wf_export_wall_ns();
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
  return wf_export_monotonic_ns() - e->last_template_ns >= e->template_refresh_ns;
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
    len = wf_ipfix_encode(e->buf, WF_IPFIX_MAX_MESSAGE, r, &c, wf_export_wall_ns(),
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
      while (e->npending < WF_EXPORT_PENDING_CAP && i < count) keep(e, &records[i++]);
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
