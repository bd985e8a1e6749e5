/*
 * What the Tango forwarder does to inner IPv4 packets besides carrying them: RFC 6040 ECN
 * decapsulation, and ICMP "fragmentation needed" for packets too big for a path (PMTU discovery
 * through the tunnel, RFC 1191). See tango_forward.h.
 */
#include <string.h>

#include "bytes.h"
#include "tango_forward.h"

#define ECN_NOT_ECT 0
#define ECN_ECT1 1
#define ECN_ECT0 2
#define ECN_CE 3

static uint16_t checksum(const uint8_t *p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += wf_be16(p, i);
  if (n & 1) sum += (uint32_t)p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Recomputes the IPv4 header checksum after a change to the header. */
static void fix_header_checksum(uint8_t *ip, size_t ihl) {
  ip[10] = ip[11] = 0;
  wf_put_be16(ip + 10, checksum(ip, ihl));
}

int wf_tango_ecn_decapsulate(uint8_t *ip, size_t len, uint8_t outer_traffic_class) {
  if (!wf_have(len, 0, 20)) return -1;
  const size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  if (ihl < 20 || !wf_have(len, 0, ihl)) return -1;
  const uint8_t outer = outer_traffic_class & 3, inner = ip[1] & 3;
  uint8_t next = inner;
  if (outer == ECN_CE) {
    if (inner == ECN_NOT_ECT) return -1; /* the mark cannot be passed on: drop (RFC 6040 §4.2) */
    next = ECN_CE;
  } else if (outer == ECN_ECT1 && inner == ECN_ECT0) {
    next = ECN_ECT1;
  }
  if (next != inner) {
    ip[1] = (uint8_t)((ip[1] & 0xfc) | next);
    fix_header_checksum(ip, ihl);
  }
  return 0;
}

/* RFC 1122 §3.2.2: no ICMP error to a source that is not one host. */
static int unicast_host(uint32_t a) {
  const uint32_t first = a >> 24;
  return a != 0 && a != 0xffffffffu && first != 0 && first != 127 && (first & 0xf0) != 0xe0 &&
         (first & 0xf0) != 0xf0;
}

static int icmp_error_type(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

size_t wf_tango_icmp_frag_needed(const uint8_t *orig, size_t len, uint16_t next_hop_mtu, uint8_t *out,
                                 size_t cap) {
  if (cap < WF_TANGO_ICMP_MAX || !wf_have(len, 0, 20)) return 0;
  const size_t ihl = (size_t)(orig[0] & 0x0f) * 4;
  if (ihl < 20 || !wf_have(len, 0, ihl)) return 0;
  const uint16_t frag = wf_be16(orig, 6);
  if (!(frag & 0x4000) || (frag & 0x1fff)) return 0; /* DF clear, or not the first fragment */
  if (orig[9] == 1 && (!wf_have(len, ihl, 1) || icmp_error_type(orig[ihl]))) return 0;
  const uint32_t src = wf_be32(orig, 12), dst = wf_be32(orig, 16);
  if (!unicast_host(src) || (dst >> 28) == 0xe || dst == 0xffffffffu) return 0;

  const size_t quoted = ihl + (len - ihl < 8 ? len - ihl : 8); /* header + 8 bytes (RFC 792) */
  const size_t total = 20 + 8 + quoted;
  memset(out, 0, 28);
  out[0] = 0x45;
  out[1] = 0xc0; /* DSCP CS6, as routers send their ICMP */
  wf_put_be16(out + 2, (uint16_t)total);
  out[8] = 64;
  out[9] = 1;
  memcpy(out + 12, orig + 16, 4); /* from the original destination, see tango_forward.h */
  memcpy(out + 16, orig + 12, 4);
  wf_put_be16(out + 10, checksum(out, 20));
  uint8_t *icmp = out + 20;
  icmp[0] = 3;
  icmp[1] = 4;
  wf_put_be16(icmp + 6, next_hop_mtu);
  memcpy(icmp + 8, orig, quoted);
  wf_put_be16(icmp + 2, checksum(icmp, 8 + quoted));
  return total;
}
