/*
 * Tango signatures with SipHash-2-4 (siphash.c, the unmodified reference implementation).
 *
 * The reference Tango precomputes unkeyed SHA-256 "books" on the control plane because a switch
 * cannot compute a MAC per packet. Software can, so both signatures are keyed PRFs computed per
 * packet. SipHash-2-4 is a PRF built for short inputs (and so a MAC), fast without hardware
 * support, and used as such by the Linux kernel and WireGuard.
 *
 * From the pair's 16-byte epoch key K, three keys: Kx = SipHash-2-4-128(K, "wirefleet tango x1")
 * for x in tag, book, inner. Messages (all integers big-endian):
 *
 *   inner digest  D   = SipHash-2-4(Kinner, inner IPv4 packet)                     64 bits
 *   tag message   28 B: 0x01 | side | path_id | domain | epoch u32 | tick u64 | seq u16 | 0x0000
 *                       | D as its 8 output bytes
 *                 domain: 0x00 for data frames, 0x01 for control frames (route updates), so a
 *                 tag made for one never verifies as the other
 *   signature         = the first 4 output bytes of SipHash-2-4(Ktag, tag message), read as a
 *                       little-endian u32 (SipHash's own byte order), sent big-endian
 *   book message  10 B: 0x01 | side | path_id | 0x00 | epoch u32 | seq u16
 *   book bit          = first output byte of SipHash-2-4(Kbook, book message) & 1
 *
 * Beyond the path, timestamp and epoch the issue names, the tag also covers:
 * - the sequence number: otherwise one observed tag signs every sequence number in its 1 ms tick
 *   and only the 1-bit book stands between an attacker and forged loss or replays;
 * - the inner packet (through D): otherwise an on-path attacker can swap the payload of a valid
 *   packet and inject traffic into the far site;
 * - the sender side: both directions share the key, and this stops a node from accepting its
 *   own packets reflected back at it;
 * - the full sender tick, not just its 12 wire bits: a replay one timestamp wrap (4.295 s) later
 *   would otherwise carry a fresh-looking timestamp.
 */
#include <string.h>

#include "bytes.h"
#include "siphash.h"
#include "tango.h"

#define SIG_VERSION 1


static uint64_t le64(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static void subkey(uint8_t out[16], const uint8_t key[WF_TANGO_KEY_LEN], const char *label) {
  siphash(label, strlen(label), key, out, 16);
}

void wf_tango_keys_derive(wf_tango_keys *k, uint32_t epoch, const uint8_t key[WF_TANGO_KEY_LEN]) {
  k->epoch = epoch;
  subkey(k->tag, key, "wirefleet tango tag1");
  subkey(k->book, key, "wirefleet tango book1");
  subkey(k->inner, key, "wirefleet tango inner1");
}

uint64_t wf_tango_inner_digest(const wf_tango_keys *k, const uint8_t *inner, size_t len) {
  uint8_t out[8];
  siphash(inner, len, k->inner, out, 8);
  return le64(out);
}

static void message_head(uint8_t *m, const wf_tango_keys *k, uint8_t side, uint8_t path_id) {
  m[0] = SIG_VERSION;
  m[1] = side;
  m[2] = path_id;
  m[3] = 0;
  wf_put_be32(m + 4, k->epoch);
}

uint32_t wf_tango_tag(const wf_tango_keys *k, uint8_t side, uint8_t path_id, uint64_t tick,
                      uint16_t seq, uint64_t inner_digest) {
  return wf_tango_tag_domain(k, WF_TANGO_DOMAIN_DATA, side, path_id, tick, seq, inner_digest);
}

uint32_t wf_tango_tag_domain(const wf_tango_keys *k, uint8_t domain, uint8_t side, uint8_t path_id,
                             uint64_t tick, uint16_t seq, uint64_t inner_digest) {
  uint8_t m[28], out[8];
  message_head(m, k, side, path_id);
  m[3] = domain;
  wf_put_be32(m + 8, (uint32_t)(tick >> 32));
  wf_put_be32(m + 12, (uint32_t)tick);
  wf_put_be16(m + 16, seq);
  wf_put_be16(m + 18, 0);
  for (int i = 0; i < 8; i++) m[20 + i] = (uint8_t)(inner_digest >> (8 * i)); /* D's output bytes */
  siphash(m, sizeof m, k->tag, out, 8);
  return (uint32_t)le64(out);
}

uint8_t wf_tango_book(const wf_tango_keys *k, uint8_t side, uint8_t path_id, uint16_t seq) {
  uint8_t m[10], out[8];
  message_head(m, k, side, path_id);
  wf_put_be16(m + 8, seq);
  siphash(m, sizeof m, k->book, out, 8);
  return out[0] & 1;
}
