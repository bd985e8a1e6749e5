/*
 * Tango wire format: the 10-byte header, and Ethernet/IPv6/UDP frames around it (tango.h).
 * Stateless; the node (tango_node.c) adds sequence numbers, signatures and verification.
 */
#include <string.h>

#include "bytes.h"
#include "tango.h"

#define ETHERTYPE_IPV6 0x86dd
#define IPPROTO_UDP_ 17

const char *wf_tango_result_name(int result) {
  switch (result) {
  case WF_TANGO_OK: return "ok";
  case WF_TANGO_R_TRUNCATED: return "truncated";
  case WF_TANGO_R_NOT_TANGO: return "not_tango";
  case WF_TANGO_R_BAD_CHECKSUM: return "bad_checksum";
  case WF_TANGO_R_MALFORMED: return "malformed";
  case WF_TANGO_R_UNKNOWN_PATH: return "unknown_path";
  case WF_TANGO_R_ADDRESS_MISMATCH: return "address_mismatch";
  case WF_TANGO_R_BAD_INNER: return "bad_inner";
  case WF_TANGO_R_STALE: return "stale";
  case WF_TANGO_R_AHEAD: return "ahead";
  case WF_TANGO_R_NO_KEY: return "no_key";
  case WF_TANGO_R_BAD_SIGNATURE: return "bad_signature";
  case WF_TANGO_R_WRONG_EPOCH: return "wrong_epoch";
  case WF_TANGO_R_REPLAY: return "replay";
  case WF_TANGO_R_OUTSIDE_WINDOW: return "outside_window";
  case WF_TANGO_E_BUFFER: return "buffer_too_small";
  case WF_TANGO_E_TOO_BIG: return "too_big";
  case WF_TANGO_E_INNER: return "bad_inner";
  case WF_TANGO_E_PATH: return "unknown_path";
  case WF_TANGO_E_NO_KEY: return "no_key";
  default: return "unknown";
  }
}


void wf_tango_header_write(uint8_t out[WF_TANGO_HEADER_LEN], const wf_tango_header *h) {
  out[0] = h->path_id & 0x07;
  wf_put_be16(out + 1, (uint16_t)(h->timestamp & WF_TANGO_TS_MASK));
  wf_put_be32(out + 3, h->signature);
  wf_put_be16(out + 7, h->seq);
  out[9] = h->book & 0x01;
}

int wf_tango_header_read(const uint8_t in[WF_TANGO_HEADER_LEN], wf_tango_header *h) {
  const uint16_t ts = wf_be16(in, 1);
  h->path_id = in[0] & 0x07;
  h->timestamp = ts & WF_TANGO_TS_MASK;
  h->signature = wf_be32(in, 3);
  h->seq = wf_be16(in, 7);
  h->book = in[9] & 0x01;
  const int padding = (in[0] & 0xf8) | (ts & ~WF_TANGO_TS_MASK) | (in[9] & 0xfe);
  return padding ? WF_TANGO_R_MALFORMED : WF_TANGO_OK;
}

int wf_tango_inner_check(const uint8_t *inner, size_t len) {
  if (len < 20 || inner[0] >> 4 != 4) return WF_TANGO_R_BAD_INNER;
  const size_t ihl = (size_t)(inner[0] & 0x0f) * 4;
  const size_t total = wf_be16(inner, 2);
  return ihl >= 20 && ihl <= total && total == len ? WF_TANGO_OK : WF_TANGO_R_BAD_INNER;
}

/* One's-complement sum of big-endian 16-bit words (RFC 1071), odd tail padded with zero,
 * accumulated four bytes at a time and folded by the caller. */
static uint64_t sum_words(const uint8_t *p, size_t n, uint64_t acc) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) acc += wf_be32(p, i);
  for (; i + 2 <= n; i += 2) acc += wf_be16(p, i);
  if (i < n) acc += (uint64_t)p[i] << 8;
  return acc;
}

static uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/* The IPv6 pseudo-header (RFC 8200 §8.1) for a UDP datagram of udp_len bytes. */
static uint64_t pseudo_sum(const uint8_t *src, const uint8_t *dst, size_t udp_len) {
  uint64_t acc = sum_words(src, 16, 0);
  acc = sum_words(dst, 16, acc);
  return acc + (uint32_t)udp_len + IPPROTO_UDP_;
}

int wf_tango_frame_write(const wf_tango_path_config *path, const wf_tango_wire *wire,
                         const wf_tango_header *h, const uint8_t *inner, size_t inner_len,
                         uint8_t *out, size_t cap) {
  const size_t udp_len = WF_TANGO_UDP_LEN + WF_TANGO_HEADER_LEN + inner_len;
  if (udp_len > 0xffff) return WF_TANGO_E_TOO_BIG;
  const size_t frame_len = WF_TANGO_ETH_LEN + WF_TANGO_IPV6_LEN + udp_len;
  if (cap < frame_len) return WF_TANGO_E_BUFFER;
  uint8_t *in_place = out + WF_TANGO_OVERHEAD;
  if (inner != in_place) memmove(in_place, inner, inner_len);

  memcpy(out, path->next_hop_mac, 6);
  memcpy(out + 6, path->local_mac, 6);
  wf_put_be16(out + 12, ETHERTYPE_IPV6);

  uint8_t *ip6 = out + WF_TANGO_ETH_LEN;
  const uint8_t tclass = inner_len >= 2 ? in_place[1] : 0; /* inner DSCP + ECN */
  wf_put_be32(ip6, (uint32_t)6 << 28 | (uint32_t)tclass << 20);
  wf_put_be16(ip6 + 4, (uint16_t)udp_len);
  ip6[6] = IPPROTO_UDP_;
  ip6[7] = wire->hop_limit;
  memcpy(ip6 + 8, path->local_addr, 16);
  memcpy(ip6 + 24, path->peer_addr, 16);

  uint8_t *udp = ip6 + WF_TANGO_IPV6_LEN;
  wf_put_be16(udp, wire->udp_port);
  wf_put_be16(udp + 2, wire->udp_port);
  wf_put_be16(udp + 4, (uint16_t)udp_len);
  wf_put_be16(udp + 6, 0);
  wf_tango_header_write(udp + WF_TANGO_UDP_LEN, h);

  const uint16_t sum = (uint16_t)~fold(sum_words(udp, udp_len, pseudo_sum(ip6 + 8, ip6 + 24, udp_len)));
  wf_put_be16(udp + 6, sum == 0 ? 0xffff : sum); /* RFC 768: a computed 0 is sent as all ones */
  return (int)frame_len;
}

int wf_tango_frame_parse(const uint8_t *frame, size_t len, uint16_t port, wf_tango_frame *out) {
  if (!wf_have(len, 0, WF_TANGO_ETH_LEN)) return WF_TANGO_R_TRUNCATED;
  if (wf_be16(frame, 12) != ETHERTYPE_IPV6) return WF_TANGO_R_NOT_TANGO;
  if (!wf_have(len, WF_TANGO_ETH_LEN, WF_TANGO_IPV6_LEN)) return WF_TANGO_R_TRUNCATED;
  const uint8_t *ip6 = frame + WF_TANGO_ETH_LEN;
  /* We never send extension headers, so a Tango frame has UDP right after the fixed header. */
  if (ip6[0] >> 4 != 6 || ip6[6] != IPPROTO_UDP_) return WF_TANGO_R_NOT_TANGO;
  const size_t ip_payload = wf_be16(ip6, 4);
  if (ip_payload < WF_TANGO_UDP_LEN) return WF_TANGO_R_MALFORMED;
  if (!wf_have(len, WF_TANGO_ETH_LEN + WF_TANGO_IPV6_LEN, ip_payload)) return WF_TANGO_R_TRUNCATED;
  const uint8_t *udp = ip6 + WF_TANGO_IPV6_LEN;
  if (wf_be16(udp, 2) != port) return WF_TANGO_R_NOT_TANGO;
  if (wf_be16(udp, 4) != ip_payload) return WF_TANGO_R_MALFORMED; /* no jumbograms, no trailers */
  if (wf_be16(udp, 6) == 0) return WF_TANGO_R_BAD_CHECKSUM;       /* zero is illegal over IPv6 */
  if (fold(sum_words(udp, ip_payload, pseudo_sum(ip6 + 8, ip6 + 24, ip_payload))) != 0xffff) {
    return WF_TANGO_R_BAD_CHECKSUM;
  }
  out->src_addr = ip6 + 8;
  out->dst_addr = ip6 + 24;
  out->traffic_class = (uint8_t)(wf_be16(ip6, 0) >> 4);
  out->payload_offset = WF_TANGO_ETH_LEN + WF_TANGO_IPV6_LEN + WF_TANGO_UDP_LEN;
  out->payload_len = ip_payload - WF_TANGO_UDP_LEN;
  return WF_TANGO_OK;
}
