/*
 * Internals shared by the flow exporters (netflow5.c, ipfix.c, exporter.c):
 * wire sizes, big-endian writers and how many export records one
 * wf_flow_record turns into for each format.
 */
#ifndef WF_EXPORT_INTERNAL_H
#define WF_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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

#endif
