/*
 * Internals shared by the flow exporters (netflow5.c, ipfix.c, exporter.c,
 * export_targets.c, export_pacing.c): wire sizes, big-endian writers, how many
 * export records one wf_flow_record turns into for each format, and the UDP
 * exporter's state, which its three files share.
 */
#ifndef WF_EXPORT_INTERNAL_H
#define WF_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wirefleet.h"

/* NetFlow v5: 24-byte header, 48-byte records, at most 30 per datagram (1464 B). */
#define WF_NF5_HEADER_LEN 24u
#define WF_NF5_RECORD_LEN 48u
#define WF_NF5_MAX_RECORDS 30u
#define WF_NF5_MAX_LEN (WF_NF5_HEADER_LEN + WF_NF5_MAX_RECORDS * WF_NF5_RECORD_LEN)

/* IPFIX (RFC 7011): message header, set header, our two templates and records. */
#define WF_IPFIX_HEADER_LEN 16u
#define WF_IPFIX_SET_HEADER_LEN 4u
#define WF_IPFIX_TEMPLATE_V4 256u
#define WF_IPFIX_TEMPLATE_V6 257u
#define WF_IPFIX_FIELDS 14u              /* 12 IANA elements + 2 RFC 5103 reverse elements */
#define WF_IPFIX_ENTERPRISE_FIELDS 2u
#define WF_IPFIX_TEMPLATE_RECORD_LEN (4u + WF_IPFIX_FIELDS * 4u + WF_IPFIX_ENTERPRISE_FIELDS * 4u)
#define WF_IPFIX_TEMPLATE_SET_LEN (WF_IPFIX_SET_HEADER_LEN + 2u * WF_IPFIX_TEMPLATE_RECORD_LEN)
#define WF_IPFIX_RECORD_V4_LEN 66u
#define WF_IPFIX_RECORD_V6_LEN 90u
#define WF_IPFIX_REVERSE_PEN 29305u      /* RFC 5103 reverse information elements */
#define WF_IPFIX_MAX_MESSAGE 1400u       /* stays below a 1500-byte MTU with IPv6 + UDP headers */

static inline void wf_put8(uint8_t *b, size_t off, uint8_t v) { b[off] = v; }

static inline void wf_put16(uint8_t *b, size_t off, uint16_t v) {
  b[off] = (uint8_t)(v >> 8);
  b[off + 1] = (uint8_t)v;
}

static inline void wf_put32(uint8_t *b, size_t off, uint32_t v) {
  b[off] = (uint8_t)(v >> 24);
  b[off + 1] = (uint8_t)(v >> 16);
  b[off + 2] = (uint8_t)(v >> 8);
  b[off + 3] = (uint8_t)v;
}

static inline void wf_put64(uint8_t *b, size_t off, uint64_t v) {
  wf_put32(b, off, (uint32_t)(v >> 32));
  wf_put32(b, off + 4, (uint32_t)v);
}

/* NetFlow v5 records a flow record becomes: one per direction that has packets; IPv4 only. */
static inline unsigned wf_nf5_records_for(const wf_flow_record *r) {
  if (r->family != 4) return 0;
  return (r->packets_fwd > 0 ? 1u : 0u) + (r->packets_rev > 0 ? 1u : 0u);
}

/* IPFIX data records a flow record becomes: one biflow record (RFC 5103), IPv4 or IPv6. */
static inline unsigned wf_ipfix_records_for(const wf_flow_record *r) {
  if (r->family != 4 && r->family != 6) return 0;
  return r->packets_fwd > 0 || r->packets_rev > 0 ? 1u : 0u;
}

/* ---- the UDP exporter: exporter.c, export_targets.c, export_pacing.c ---- */

#define WF_EXPORT_MAX_TARGETS 8
#define WF_EXPORT_PENDING_CAP 64 /* > records per datagram (30 for v5, 20 for IPFIX) */
#define WF_EXPORT_BUF_CAP 1500
#define WF_EXPORT_PROBE_EVERY 8  /* datagrams between receive-queue checks, at most */

/* What we know about a target's collector socket on this host. */
struct wf_local_collector {
  int local;              /* the target address is on this host */
  int stalled;            /* waited the probe limit in vain: do not wait until it drains */
  uint64_t next_search_ns;/* not found: search again after this (monotonic) */
};

struct wf_exporter {
  int version;
  size_t ntargets;
  int fd[WF_EXPORT_MAX_TARGETS];
  struct sockaddr_storage addr[WF_EXPORT_MAX_TARGETS];
  socklen_t addrlen[WF_EXPORT_MAX_TARGETS];
  struct wf_local_collector collector[WF_EXPORT_MAX_TARGETS];
  int diag_fd;            /* NETLINK_SOCK_DIAG socket, -1 = none (yet) or unavailable */
  int diag_failed;
  uint32_t since_probe;
  uint32_t probe_every;   /* WF_EXPORT_PROBE_EVERY, fewer for small receive buffers */
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

  wf_flow_record pending[WF_EXPORT_PENDING_CAP];
  size_t npending;
  uint8_t buf[WF_EXPORT_BUF_CAP];
  wf_exporter_stats stats;
};

/* export_targets.c: where datagrams go. */

/* Parses target text into slot i (address, socket, locality). 0, or -1 with err set. */
int wf_export_open_target(wf_exporter *e, size_t i, const char *text, char *err, size_t errlen);
/* Sends e->buf[0..len) to target t, retrying once. 0 sent, -1 dropped. */
int wf_export_send_to(wf_exporter *e, size_t t, size_t len);

/* export_pacing.c: clocks, the token bucket and the local-collector queue watch. */

uint64_t wf_export_monotonic_ns(void);
uint64_t wf_export_wall_ns(void);
void wf_export_sleep_until(uint64_t monotonic_deadline_ns);
/* Takes one token for the next datagram, sleeping until there is one. */
void wf_export_pace(wf_exporter *e);
/* Every probe_every datagrams: waits while a local collector's queue is over half full. */
void wf_export_wait_for_local_collectors(wf_exporter *e);

#endif
