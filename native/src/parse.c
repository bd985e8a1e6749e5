/*
 * Frame parser: link layer -> IPv4/IPv6 (+ IPv6 extension headers) -> ports.
 *
 * Every read is preceded by a wf_have() check against caplen, so no pointer is
 * formed past the captured bytes. Decisions worth knowing:
 *  - Truncated link/IP headers (incl. IPv4 options, IPv6 extension headers)
 *    -> WF_PARSE_TRUNCATED: without them the flow key is unknown.
 *  - A transport header is TRUNCATED only when a field the meter uses was cut:
 *    ports (4 bytes), TCP flags (14 bytes), ICMP type/code (2 bytes). A FIN
 *    whose flags were never captured must not be metered as a plain packet,
 *    yet snaplen-68 IPv6 captures (14 + 40 + 14) still meter in full.
 *  - An IP length that claims more bytes than the frame had on the wire is
 *    MALFORMED (inconsistent lengths); snaplen cuts are fine (caplen < wire).
 *  - ip_bytes comes from the IP header (snaplen-cut packets count their
 *    original size). A length field of 0 (TSO/GSO captures, IPv6 jumbograms
 *    and BIG TCP) falls back to the frame's wire length minus the L2 header.
 *  - Fragments need MF or a non-zero offset; an "atomic" fragment (offset 0,
 *    no MF, RFC 6946) is a whole packet and parses as WF_FRAG_NONE.
 *  - Unless WF_PARSE_OK (or NOT_IP: VLAN fields), *out is partial: ignore it.
 */
#include <string.h>

#include "bytes.h"
#include "wirefleet.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define MAX_IPV6_EXT_HEADERS 16

/* Trailing '_': no clash with <netinet/in.h> macros in a unity build. */
enum { IPPROTO_HOPOPTS_ = 0, IPPROTO_ICMP_ = 1, IPPROTO_TCP_ = 6, IPPROTO_DCCP_ = 33,
       IPPROTO_UDP_ = 17, IPPROTO_ROUTING_ = 43, IPPROTO_FRAGMENT_ = 44, IPPROTO_AH_ = 51,
       IPPROTO_ICMPV6_ = 58, IPPROTO_NONE_ = 59, IPPROTO_DSTOPTS_ = 60, IPPROTO_SCTP_ = 132,
       IPPROTO_MOBILITY_ = 135, IPPROTO_UDPLITE_ = 136 };

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Maps an ethertype to an IP version (0 = not IP). */
static int ethertype_version(uint16_t type) {
  if (type == ETHERTYPE_IPV4) return 4;
  if (type == ETHERTYPE_IPV6) return 6;
  return 0;
}

/* Follows stacked VLAN tags from the ethertype at `off`; sets *l3 and *ver. */
static int ethertype_chain(const uint8_t *d, size_t len, size_t off, wf_parsed *out, size_t *l3,
                           int *ver) {
  uint16_t type = wf_be16(d, off); /* caller checked off + 2 */
  off += 2;
  while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
    if (!wf_have(len, off, 4)) return WF_PARSE_TRUNCATED;
    out->vlan_id = wf_be16(d, off) & 0x0fff; /* the last tag read is the innermost */
    if (out->vlan_depth < UINT8_MAX) out->vlan_depth++;
    type = wf_be16(d, off + 2);
    off += 4;
  }
  *ver = ethertype_version(type);
  if (*ver == 0) return WF_PARSE_NOT_IP;
  *l3 = off;
  return WF_PARSE_OK;
}

/* BSD loopback: AF_ value in the capturing host's byte order, which we don't know. */
static int null_family(const uint8_t *d, size_t len, size_t *l3, int *ver) {
  if (!wf_have(len, 0, 4)) return WF_PARSE_TRUNCATED;
  uint32_t af = wf_le32(d, 0);
  if (af & 0xffff0000u) af = wf_be32(d, 0); /* AF values are small: a high half means swapped */
  *l3 = 4;
  if (af == 2) *ver = 4;
  else if (af == 10 || af == 24 || af == 28 || af == 30) *ver = 6; /* Linux, Net/OpenBSD, FreeBSD, Darwin */
  else return WF_PARSE_NOT_IP;
  return WF_PARSE_OK;
}

static int link_layer(int linktype, const uint8_t *d, size_t len, wf_parsed *out, size_t *l3,
                      int *ver) {
  switch (linktype) {
  case WF_LINKTYPE_ETHERNET:
    if (!wf_have(len, 0, 14)) return WF_PARSE_TRUNCATED;
    return ethertype_chain(d, len, 12, out, l3, ver);
  case WF_LINKTYPE_LINUX_SLL:
    if (!wf_have(len, 0, 16)) return WF_PARSE_TRUNCATED;
    return ethertype_chain(d, len, 14, out, l3, ver);
  case WF_LINKTYPE_NULL:
    return null_family(d, len, l3, ver);
  case WF_LINKTYPE_RAW:
    if (!wf_have(len, 0, 1)) return WF_PARSE_TRUNCATED;
    *ver = d[0] >> 4;
    if (*ver != 4 && *ver != 6) return WF_PARSE_MALFORMED;
    *l3 = 0;
    return WF_PARSE_OK;
  case WF_LINKTYPE_IPV4:
    *ver = 4;
    *l3 = 0;
    return WF_PARSE_OK;
  case WF_LINKTYPE_IPV6:
    *ver = 6;
    *l3 = 0;
    return WF_PARSE_OK;
  default:
    return WF_PARSE_UNSUPPORTED_LINKTYPE;
  }
}

static int ports(const uint8_t *d, size_t off, size_t cap_end, wf_parsed *out) {
  if (!wf_have(cap_end, off, 4)) return WF_PARSE_TRUNCATED;
  out->src_port = wf_be16(d, off);
  out->dst_port = wf_be16(d, off + 2);
  out->has_ports = 1;
  return WF_PARSE_OK;
}

/*
 * Transport ports at `off`. cap_end bounds what was captured; decl_end is the
 * end the IP header declares (used for the TCP header length check, skipped
 * for first fragments which legitimately carry only part of the payload).
 */
static int transport(const uint8_t *d, size_t off, size_t cap_end, size_t decl_end, wf_parsed *out) {
  switch (out->protocol) {
  case IPPROTO_TCP_:
    if (wf_have(cap_end, off, 13)) {
      size_t doff = (size_t)(d[off + 12] >> 4) * 4;
      if (doff < 20) return WF_PARSE_MALFORMED;
      if (out->fragment == WF_FRAG_NONE && !wf_have(decl_end, off, doff)) return WF_PARSE_MALFORMED;
    }
    if (!wf_have(cap_end, off, 14)) return WF_PARSE_TRUNCATED;
    out->tcp_flags = d[off + 13];
    return ports(d, off, cap_end, out);
  case IPPROTO_UDP_:
  case IPPROTO_UDPLITE_:
  case IPPROTO_SCTP_:
  case IPPROTO_DCCP_:
    return ports(d, off, cap_end, out); /* all start with source and destination port */
  case IPPROTO_ICMP_:
  case IPPROTO_ICMPV6_:
    if (!wf_have(cap_end, off, 2)) return WF_PARSE_TRUNCATED;
    out->src_port = 0;
    out->dst_port = (uint16_t)(d[off] << 8 | d[off + 1]); /* NetFlow: type << 8 | code */
    out->has_ports = 1;
    return WF_PARSE_OK;
  default:
    return WF_PARSE_OK;
  }
}

static int parse_ipv4(const uint8_t *d, size_t caplen, size_t wire, size_t l3, wf_parsed *out) {
  if (!wf_have(caplen, l3, 20)) return WF_PARSE_TRUNCATED;
  if (d[l3] >> 4 != 4) return WF_PARSE_MALFORMED;
  size_t ihl = (size_t)(d[l3] & 0x0f) * 4;
  if (ihl < 20) return WF_PARSE_MALFORMED;
  size_t ip_len = wf_be16(d, l3 + 2);
  if (ip_len == 0) ip_len = wire - l3; /* TSO: the NIC fills the length in later */
  if (ip_len < ihl || l3 + ip_len > wire) return WF_PARSE_MALFORMED;
  if (!wf_have(caplen, l3, ihl)) return WF_PARSE_TRUNCATED; /* options cut off */

  out->family = 4;
  out->protocol = d[l3 + 9];
  out->ip_bytes = (uint32_t)min_size(ip_len, UINT32_MAX);
  memcpy(out->src, d + l3 + 12, 4);
  memcpy(out->dst, d + l3 + 16, 4);

  uint16_t frag = wf_be16(d, l3 + 6);
  if (frag & 0x1fff) out->fragment = WF_FRAG_LATER;
  else if (frag & 0x2000) out->fragment = WF_FRAG_FIRST;
  if (out->fragment != WF_FRAG_NONE) out->ip_id = wf_be16(d, l3 + 4);
  if (out->fragment == WF_FRAG_LATER) return WF_PARSE_OK;

  size_t decl_end = l3 + ip_len;
  return transport(d, l3 + ihl, min_size(caplen, decl_end), decl_end, out);
}

static int parse_ipv6(const uint8_t *d, size_t caplen, size_t wire, size_t l3, wf_parsed *out) {
  if (!wf_have(caplen, l3, 40)) return WF_PARSE_TRUNCATED;
  if (d[l3] >> 4 != 6) return WF_PARSE_MALFORMED;
  size_t payload = wf_be16(d, l3 + 4);
  uint8_t nh = d[l3 + 6];
  /* 0 = jumbogram (RFC 2675) or a GSO capture: take the frame's length instead. */
  size_t ip_len = payload != 0 || nh == IPPROTO_NONE_ ? 40 + payload : wire - l3;

  if (l3 + ip_len > wire) return WF_PARSE_MALFORMED;

  out->family = 6;
  out->ip_bytes = (uint32_t)min_size(ip_len, UINT32_MAX);
  memcpy(out->src, d + l3 + 8, 16);
  memcpy(out->dst, d + l3 + 24, 16);

  size_t decl_end = l3 + ip_len;
  size_t cap_end = min_size(caplen, decl_end);
  size_t off = l3 + 40;
  for (int i = 0; i < MAX_IPV6_EXT_HEADERS; i++) {
    size_t hlen;
    switch (nh) {
    case IPPROTO_HOPOPTS_:
    case IPPROTO_ROUTING_:
    case IPPROTO_DSTOPTS_:
    case IPPROTO_MOBILITY_:
    case IPPROTO_FRAGMENT_:
    case IPPROTO_AH_:
      break;
    default:
      out->protocol = nh;
      if (nh == IPPROTO_NONE_ || out->fragment == WF_FRAG_LATER) return WF_PARSE_OK;
      return transport(d, off, cap_end, decl_end, out);
    }
    if (!wf_have(decl_end, off, 8)) return WF_PARSE_MALFORMED; /* every extension header is >= 8 */
    if (!wf_have(caplen, off, 8)) return WF_PARSE_TRUNCATED;
    if (nh == IPPROTO_FRAGMENT_) {
      uint16_t fo = wf_be16(d, off + 2);
      if (fo >> 3) out->fragment = WF_FRAG_LATER;
      else if (fo & 1) out->fragment = WF_FRAG_FIRST;
      if (out->fragment != WF_FRAG_NONE) out->ip_id = wf_be32(d, off + 4);
      hlen = 8;
    } else if (nh == IPPROTO_AH_) {
      hlen = ((size_t)d[off + 1] + 2) * 4;
    } else {
      hlen = ((size_t)d[off + 1] + 1) * 8;
    }
    if (!wf_have(decl_end, off, hlen)) return WF_PARSE_MALFORMED;
    if (!wf_have(caplen, off, hlen)) return WF_PARSE_TRUNCATED;
    nh = d[off];
    off += hlen;
    if (out->fragment == WF_FRAG_LATER) {
      out->protocol = nh; /* the rest is payload of a later fragment */
      return WF_PARSE_OK;
    }
  }
  return WF_PARSE_MALFORMED; /* an extension-header chain this long is not real traffic */
}

int wf_parse(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen, wf_parsed *out) {
  if (out == NULL) return WF_PARSE_MALFORMED;
  memset(out, 0, sizeof *out);
  size_t len = data != NULL ? caplen : 0;
  size_t wire = wirelen > len ? wirelen : len; /* a wirelen below caplen is a writer bug */
  size_t l3 = 0;
  int ver = 0;
  int rc = link_layer(linktype, data, len, out, &l3, &ver);
  if (rc != WF_PARSE_OK) return rc;
  return ver == 4 ? parse_ipv4(data, len, wire, l3, out) : parse_ipv6(data, len, wire, l3, out);
}

void wf_tcp_flags_string(uint8_t flags, char *buf, size_t len) {
  static const struct { uint8_t bit; const char *name; } order[] = {
      {0x02, "SYN"}, {0x10, "ACK"}, {0x01, "FIN"}, {0x04, "RST"},
      {0x08, "PSH"}, {0x20, "URG"}, {0x40, "ECE"}, {0x80, "CWR"},
  };
  if (buf == NULL || len == 0) return;
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    if (!(flags & order[i].bit)) continue;
    size_t need = strlen(order[i].name) + (used ? 1 : 0);
    if (need >= len - used) break; /* keep the string terminated if buf is short */
    if (used) buf[used++] = '|';
    memcpy(buf + used, order[i].name, strlen(order[i].name) + 1);
    used += strlen(order[i].name);
  }
}
