/*
 * IPFIX (RFC 7011) message encoder (one complete message per call, no sockets).
 *
 * Message: 16-byte header (version 10, length, export time s, sequence number,
 * observation domain), then optionally one Template Set (Set ID 2) with both
 * templates, then Data Sets (Set ID = template ID) in record order: a new set
 * starts whenever the address family changes. No padding.
 *
 * Templates (same elements for both, addresses differ):
 *   id 256 IPv4 / id 257 IPv6      element (IANA id)                 length
 *     sourceIPv4Address (8)          / sourceIPv6Address (27)         4 / 16
 *     destinationIPv4Address (12)    / destinationIPv6Address (28)    4 / 16
 *     sourceTransportPort (7)                                         2
 *     destinationTransportPort (11)  (ICMP: type << 8 | code)         2
 *     protocolIdentifier (4)                                          1
 *     tcpControlBits (6)             2 bytes as RFC 7125 defines it;  2
 *                                    the high byte is 0 (we keep 8 flag bits)
 *     vlanId (58)                                                     2
 *     packetDeltaCount (2)           forward: packets_fwd             8
 *     octetDeltaCount (1)            forward: bytes_fwd               8
 *     flowStartMilliseconds (152)    first_ns / 1e6 (truncated)       8
 *     flowEndMilliseconds (153)      last_ns / 1e6 (truncated)        8
 *     flowEndReason (136)            wf_end_reason == IANA value      1
 *     reverse packetDeltaCount (2, PEN 29305)  packets_rev            8
 *     reverse octetDeltaCount (1, PEN 29305)   bytes_rev              8
 *   IPv4 record 66 bytes, IPv6 record 90 bytes; template set 140 bytes.
 *
 * Bidirectional flows: one biflow record per wf_flow_record with the RFC 5103
 * reverse counters (enterprise bit set, PEN 29305), as softflowd -b does.
 * Checked against nfdump 1.7.1: nfcapd stores the reverse counters as
 * out_packets/out_bytes and its totals (nfdump summary, nfcapd's per-file stat
 * record) add them, so the totals equal ours and the collector's flow count
 * equals our flow count. A collector without RFC 5103 support ignores the two
 * enterprise elements and sees only the forward direction.
 *
 * Records of families other than 4/6 or without packets are consumed and skipped.
 */
#include <string.h>

#include "export_internal.h"

/* One field specifier: IANA id, length, and whether it is an RFC 5103 reverse element. */
struct field {
  uint16_t id;
  uint16_t len4, len6;
  int reverse;
};

static const struct field fields[WF_IPFIX_FIELDS] = {
    {0, 4, 16, 0}, /* source address: 8 or 27 (filled in below) */
    {0, 4, 16, 0}, /* destination address: 12 or 28 */
    {7, 2, 2, 0},   {11, 2, 2, 0},  {4, 1, 1, 0},   {6, 2, 2, 0},   {58, 2, 2, 0},
    {2, 8, 8, 0},   {1, 8, 8, 0},   {152, 8, 8, 0}, {153, 8, 8, 0}, {136, 1, 1, 0},
    {2, 8, 8, 1},   {1, 8, 8, 1},
};

static size_t put_template(uint8_t *b, size_t off, int v6) {
  wf_put16(b, off, v6 ? WF_IPFIX_TEMPLATE_V6 : WF_IPFIX_TEMPLATE_V4);
  wf_put16(b, off + 2, WF_IPFIX_FIELDS);
  off += 4;
  for (size_t i = 0; i < WF_IPFIX_FIELDS; i++) {
    uint16_t id = fields[i].id;
    if (i == 0) id = v6 ? 27 : 8;
    if (i == 1) id = v6 ? 28 : 12;
    wf_put16(b, off, (uint16_t)(fields[i].reverse ? (0x8000u | id) : id));
    wf_put16(b, off + 2, v6 ? fields[i].len6 : fields[i].len4);
    off += 4;
    if (fields[i].reverse) {
      wf_put32(b, off, WF_IPFIX_REVERSE_PEN);
      off += 4;
    }
  }
  return off;
}

static size_t put_record(uint8_t *b, size_t off, const wf_flow_record *r) {
  const size_t alen = r->family == 6 ? 16 : 4;
  memcpy(b + off, r->src, alen);
  memcpy(b + off + alen, r->dst, alen);
  off += 2 * alen;
  wf_put16(b, off, r->src_port);
  wf_put16(b, off + 2, r->dst_port);
  wf_put8(b, off + 4, r->protocol);
  wf_put16(b, off + 5, r->tcp_flags);
  wf_put16(b, off + 7, r->vlan_id);
  wf_put64(b, off + 9, r->packets_fwd);
  wf_put64(b, off + 17, r->bytes_fwd);
  wf_put64(b, off + 25, r->first_ns / 1000000u);
  wf_put64(b, off + 33, r->last_ns / 1000000u);
  wf_put8(b, off + 41, r->end_reason);
  wf_put64(b, off + 42, r->packets_rev);
  wf_put64(b, off + 50, r->bytes_rev);
  return off + 58;
}

size_t wf_ipfix_encode(uint8_t *buf, size_t cap, const wf_flow_record *records, size_t *count,
                       uint64_t now_ns, uint32_t sequence, uint32_t domain, int with_templates) {
  if (count == NULL) return 0;
  const size_t available = *count;
  *count = 0;
  if (cap > 65535) cap = 65535; /* the message length field is 16 bits */
  const size_t fixed = WF_IPFIX_HEADER_LEN + (with_templates ? WF_IPFIX_TEMPLATE_SET_LEN : 0);
  /* Room for the header, templates and one record of either family, else no progress. */
  if (buf == NULL || cap < fixed + WF_IPFIX_SET_HEADER_LEN + WF_IPFIX_RECORD_V6_LEN) return 0;
  if (records == NULL && available > 0) return 0;

  size_t off = WF_IPFIX_HEADER_LEN;
  if (with_templates) {
    wf_put16(buf, off, 2);
    wf_put16(buf, off + 2, WF_IPFIX_TEMPLATE_SET_LEN);
    off = put_template(buf, off + WF_IPFIX_SET_HEADER_LEN, 0);
    off = put_template(buf, off, 1);
  }

  size_t set_start = 0; /* offset of the open data set's header, 0 = none */
  uint8_t set_family = 0;
  size_t data_records = 0, i = 0;
  for (; i < available; i++) {
    const wf_flow_record *r = &records[i];
    if (wf_ipfix_records_for(r) == 0) continue;
    const size_t rlen = r->family == 6 ? WF_IPFIX_RECORD_V6_LEN : WF_IPFIX_RECORD_V4_LEN;
    const int new_set = set_start == 0 || set_family != r->family;
    if (off + (new_set ? WF_IPFIX_SET_HEADER_LEN : 0) + rlen > cap) break;
    if (new_set) {
      if (set_start) wf_put16(buf, set_start + 2, (uint16_t)(off - set_start));
      set_start = off;
      set_family = r->family;
      wf_put16(buf, off, r->family == 6 ? WF_IPFIX_TEMPLATE_V6 : WF_IPFIX_TEMPLATE_V4);
      off += WF_IPFIX_SET_HEADER_LEN;
    }
    off = put_record(buf, off, r);
    data_records++;
  }
  *count = i;
  if (set_start) wf_put16(buf, set_start + 2, (uint16_t)(off - set_start));
  if (data_records == 0 && !with_templates) return 0;

  wf_put16(buf, 0, 10);
  wf_put16(buf, 2, (uint16_t)off);
  wf_put32(buf, 4, (uint32_t)(now_ns / 1000000000u));
  wf_put32(buf, 8, sequence);
  wf_put32(buf, 12, domain);
  return off;
}
