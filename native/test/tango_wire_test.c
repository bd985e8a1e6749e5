/*
 * Tango wire tests: the frame encapsulation writes, read back field by field with offsets from
 * the spec (not from tango.c), an independent checksum, in-place encapsulation, encapsulation
 * errors, and every outer-layer reject of decapsulation. From the native directory: make unit.
 */
#include "tango_fixture.h"

static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t be32(const uint8_t *b) { return (uint32_t)be16(b) << 16 | be16(b + 2); }

static void header_bits(void) {
  const wf_tango_header h = {.path_id = 5, .timestamp = 0xabc, .signature = 0xdeadbeef, .seq = 0x1234, .book = 1};
  uint8_t b[10];
  wf_tango_header_write(b, &h);
  const uint8_t want[10] = {0x05, 0x0a, 0xbc, 0xde, 0xad, 0xbe, 0xef, 0x12, 0x34, 0x01};
  CHECK(memcmp(b, want, 10) == 0);
  wf_tango_header r;
  CHECK_RC(wf_tango_header_read(b, &r), WF_TANGO_OK);
  CHECK(r.path_id == 5 && r.timestamp == 0xabc && r.signature == 0xdeadbeef && r.seq == 0x1234 && r.book == 1);
  /* Every padding bit on its own makes the header malformed. */
  const int padding[3][2] = {{0, 0xf8}, {1, 0xf0}, {9, 0xfe}};
  for (int i = 0; i < 3; i++) {
    for (int bit = 0; bit < 8; bit++) {
      if (!(padding[i][1] >> bit & 1)) continue;
      uint8_t m[10];
      memcpy(m, b, 10);
      m[padding[i][0]] ^= (uint8_t)(1 << bit);
      CHECK_RC(wf_tango_header_read(m, &r), WF_TANGO_R_MALFORMED);
    }
  }
  /* Fields wider than their bits are masked on write. */
  const wf_tango_header wide = {.path_id = 0xff, .timestamp = 0xffff, .signature = 1, .seq = 2, .book = 0xff};
  wf_tango_header_write(b, &wide);
  CHECK_RC(wf_tango_header_read(b, &r), WF_TANGO_OK);
  CHECK(r.path_id == 7 && r.timestamp == 0xfff && r.book == 1);
}

static void frame_layout(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  uint8_t inner[300], frame[400];
  make_inner(inner, sizeof inner, 3);
  const uint64_t now = T0 + 123456789;
  const int n = wf_tango_encapsulate(a, 1, inner, sizeof inner, now, frame, sizeof frame);
  CHECK(n == WF_TANGO_OVERHEAD + (int)sizeof inner && n == 372);
  const wf_tango_path_config p = path_of(1, 0);
  CHECK(memcmp(frame, p.next_hop_mac, 6) == 0 && memcmp(frame + 6, p.local_mac, 6) == 0);
  CHECK(be16(frame + 12) == 0x86dd);
  const uint8_t *ip6 = frame + 14;
  CHECK(be32(ip6) == (6u << 28 | 0xb8u << 20)); /* version 6, inner DSCP/ECN, flow label 0 */
  CHECK(be16(ip6 + 4) == 8 + 10 + sizeof inner);
  CHECK(ip6[6] == 17 && ip6[7] == 64);
  CHECK(memcmp(ip6 + 8, p.local_addr, 16) == 0 && memcmp(ip6 + 24, p.peer_addr, 16) == 0);
  const uint8_t *udp = ip6 + 40;
  CHECK(be16(udp) == WF_TANGO_DEFAULT_PORT && be16(udp + 2) == WF_TANGO_DEFAULT_PORT);
  CHECK(be16(udp + 4) == 8 + 10 + sizeof inner);
  CHECK(be16(udp + 6) == udp6_checksum(frame) && be16(udp + 6) != 0);
  const uint8_t *t = udp + 8;
  CHECK(t[0] == 1);
  CHECK(be16(t + 1) == ((now >> 20) & 0xfff));
  CHECK(be16(t + 7) == 0 && t[9] <= 1);
  CHECK(memcmp(t + 10, inner, sizeof inner) == 0);

  /* The signature is the tag of the documented inputs. */
  wf_tango_keys k;
  wf_tango_keys_derive(&k, 1, KEY1);
  const uint64_t digest = wf_tango_inner_digest(&k, inner, sizeof inner);
  CHECK(be32(t + 3) == wf_tango_tag(&k, 0, 1, now >> 20, 0, digest));
  CHECK(t[9] == wf_tango_book(&k, 0, 1, 0));

  /* Sequence numbers count per path. */
  CHECK(wf_tango_encapsulate(a, 1, inner, sizeof inner, now, frame, sizeof frame) == n);
  CHECK(be16(frame + 14 + 40 + 8 + 7) == 1);
  CHECK(wf_tango_encapsulate(a, 0, inner, sizeof inner, now, frame, sizeof frame) == n);
  CHECK(be16(frame + 14 + 40 + 8 + 7) == 0);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
}

static void in_place_and_clock(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  uint8_t copy[200], inner[128];
  make_inner(inner, sizeof inner, 9);
  const int n = wf_tango_encapsulate(a, 0, inner, sizeof inner, T0, copy, sizeof copy);
  /* A second sender in the same state, with the inner packet already in the output buffer. */
  wf_tango_node *a2 = make_node(0, 0, 0);
  wf_tango_set_send_key(a2, 1, KEY1);
  uint8_t slot[200];
  memcpy(slot + WF_TANGO_OVERHEAD, inner, sizeof inner);
  CHECK(wf_tango_encapsulate(a2, 0, slot + WF_TANGO_OVERHEAD, sizeof inner, T0, slot, sizeof slot) == n);
  CHECK(memcmp(slot, copy, (size_t)n) == 0);

  /* A clock that steps back is held: the timestamp stays at the newest value sent. */
  uint8_t f[200];
  CHECK(wf_tango_encapsulate(a, 0, inner, sizeof inner, T0 + 900 * MS, f, sizeof f) > 0);
  CHECK(wf_tango_encapsulate(a, 0, inner, sizeof inner, T0 + 100 * MS, f, sizeof f) > 0);
  CHECK(be16(f + 14 + 40 + 8 + 1) == (((T0 + 900 * MS) >> 20) & 0xfff));
  wf_tango_destroy(a);
  wf_tango_destroy(a2);
  wf_tango_destroy(b);
}

static void encapsulate_errors(void) {
  wf_tango_node *a = make_node(0, 0, 0);
  uint8_t inner[1500], out[1600];
  make_inner(inner, 100, 0);
  CHECK_RC(wf_tango_encapsulate(a, 0, inner, 100, T0, out, sizeof out), WF_TANGO_E_NO_KEY);
  wf_tango_set_send_key(a, 1, KEY1);
  CHECK_RC(wf_tango_encapsulate(a, 2, inner, 100, T0, out, sizeof out), WF_TANGO_E_PATH);
  CHECK_RC(wf_tango_encapsulate(a, 8, inner, 100, T0, out, sizeof out), WF_TANGO_E_PATH);
  CHECK_RC(wf_tango_encapsulate(a, 0, inner, 99, T0, out, sizeof out), WF_TANGO_E_INNER); /* length says 100 */
  CHECK_RC(wf_tango_encapsulate(a, 0, inner, 19, T0, out, sizeof out), WF_TANGO_E_INNER);
  inner[0] = 0x65;
  CHECK_RC(wf_tango_encapsulate(a, 0, inner, 100, T0, out, sizeof out), WF_TANGO_E_INNER); /* version 6 */
  inner[0] = 0x44;
  CHECK_RC(wf_tango_encapsulate(a, 0, inner, 100, T0, out, sizeof out), WF_TANGO_E_INNER); /* IHL 4 */
  make_inner(inner, 100, 0);
  CHECK_RC(wf_tango_encapsulate(a, 0, inner, 100, T0, out, 171), WF_TANGO_E_BUFFER);
  CHECK(wf_tango_encapsulate(a, 0, inner, 100, T0, out, 172) == 172);
  /* 1500-byte MTU: 1442 bytes of inner packet fit, 1443 do not. */
  make_inner(inner, 1442, 0);
  CHECK(wf_tango_encapsulate(a, 0, inner, 1442, T0, out, sizeof out) == 1514);
  make_inner(inner, 1443, 0);
  CHECK_RC(wf_tango_encapsulate(a, 0, inner, 1443, T0, out, sizeof out), WF_TANGO_E_TOO_BIG);
  const wf_tango_path_stats s = path_stats(a, 0);
  CHECK(s.tx_packets == 2 && s.tx_next_seq == 2 && s.tx_bytes == 100 + 1442); /* errors take no number */
  wf_tango_node_stats ns;
  wf_tango_get_node_stats(a, &ns);
  CHECK(ns.tx_errors == 9 && ns.tx_packets == 2);

  char err[128];
  wf_tango_config c = {.side = 2};
  CHECK(wf_tango_create(&c, err, sizeof err) == NULL && strstr(err, "side"));
  c = (wf_tango_config){.mtu = 1000};
  CHECK(wf_tango_create(&c, err, sizeof err) == NULL && strstr(err, "mtu"));
  c = (wf_tango_config){.max_age_ms = 900, .max_ahead_ms = 101};
  CHECK(wf_tango_create(&c, err, sizeof err) == NULL && strstr(err, "1000"));
  wf_tango_path_config p = path_of(0, 0);
  p.path_id = 8;
  CHECK(wf_tango_set_path(a, &p, err, sizeof err) == -1 && strstr(err, "0..7"));
  CHECK(wf_tango_get_path_stats(a, 8, &(wf_tango_path_stats){0}) == -1);
  wf_tango_destroy(a);
}

static void outer_rejects(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  uint8_t inner[100], good[200], f[200];
  make_inner(inner, sizeof inner, 1);
  const int n = wf_tango_encapsulate(a, 0, inner, sizeof inner, T0, good, sizeof good);
  wf_tango_delivery d;

  /* Every truncation is refused, none is read past (ASan). */
  for (int len = 0; len < n; len++) {
    uint8_t *cut = malloc((size_t)len + 1);
    memcpy(cut, good, (size_t)len);
    const int rc = wf_tango_decapsulate(b, cut, (size_t)len, T0, &d);
    CHECK(rc == WF_TANGO_R_TRUNCATED);
    free(cut);
  }
  CHECK(reason_count(b, WF_TANGO_R_TRUNCATED) == (uint64_t)n);

  memcpy(f, good, (size_t)n);
  f[12] = 0x08, f[13] = 0x00; /* IPv4 ethertype */
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_NOT_TANGO);
  memcpy(f, good, (size_t)n);
  f[14 + 6] = 6; /* TCP */
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_NOT_TANGO);
  memcpy(f, good, (size_t)n);
  f[14 + 40 + 3] ^= 1; /* another port */
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_NOT_TANGO);
  memcpy(f, good, (size_t)n);
  f[14 + 40 + 6] = f[14 + 40 + 7] = 0; /* zero checksum: illegal over IPv6 */
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_BAD_CHECKSUM);
  for (int i = 14 + 8; i < n; i++) { /* any flipped bit from the addresses on breaks the sum */
    if (i >= 14 + 40 + 2 && i < 14 + 40 + 6) continue; /* port, length: refused before the sum */
    memcpy(f, good, (size_t)n);
    f[i] ^= 0x10;
    CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_BAD_CHECKSUM);
  }
  memcpy(f, good, (size_t)n);
  f[14 + 40 + 5] -= 1; /* UDP length disagrees with the IPv6 payload length */
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_MALFORMED);

  /* Trailing bytes after the IPv6 payload (Ethernet padding) are ignored. */
  memcpy(f, good, (size_t)n);
  f[n] = 0xee;
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n + 1, T0, &d), WF_TANGO_OK);

  /* Checksummed again, the Tango layer refuses on its own grounds. */
  memcpy(f, good, (size_t)n);
  f[14 + 40 + 8] |= 0x80; /* padding bit of path_id */
  fix_checksum(f);
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_MALFORMED);
  memcpy(f, good, (size_t)n);
  f[14 + 40 + 8] = 4; /* path 4 is not configured */
  fix_checksum(f);
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_UNKNOWN_PATH);
  memcpy(f, good, (size_t)n);
  f[14 + 8 + 15] ^= 1; /* source is not the peer's address on path 0 */
  fix_checksum(f);
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_ADDRESS_MISMATCH);
  memcpy(f, good, (size_t)n);
  f[14 + 40 + 8] = 1; /* path 1's addresses are other ones */
  fix_checksum(f);
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_ADDRESS_MISMATCH);
  memcpy(f, good, (size_t)n);
  f[14 + 40 + 8 + 10 + 3] ^= 1; /* inner total length */
  fix_checksum(f);
  CHECK_RC(wf_tango_decapsulate(b, f, (size_t)n, T0, &d), WF_TANGO_R_BAD_INNER);

  CHECK(path_stats(b, 0).rejects[-WF_TANGO_R_ADDRESS_MISMATCH - 1] == 1);
  CHECK(path_stats(b, 1).rejects[-WF_TANGO_R_ADDRESS_MISMATCH - 1] == 1);
  CHECK(path_stats(b, 0).rejects[-WF_TANGO_R_BAD_INNER - 1] == 1);
  CHECK(path_stats(b, 0).rejects[-WF_TANGO_R_TRUNCATED - 1] == 0); /* no path known yet */
  CHECK_RC(wf_tango_decapsulate(b, good, (size_t)n, T0, &d), WF_TANGO_R_REPLAY); /* accepted above */
  wf_tango_node_stats s;
  wf_tango_get_node_stats(b, &s);
  CHECK(s.rx_accepted == 1);
  uint64_t rejects = 0;
  for (int i = 0; i < WF_TANGO_REJECT_REASONS; i++) rejects += s.rejects[i];
  CHECK(s.rx_frames == s.rx_accepted + rejects);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
}

static void names(void) {
  for (int r = WF_TANGO_R_OUTSIDE_WINDOW; r <= WF_TANGO_OK; r++) CHECK(strcmp(wf_tango_result_name(r), "unknown") != 0);
  for (int r = WF_TANGO_E_NO_KEY; r <= WF_TANGO_E_BUFFER; r++) CHECK(strcmp(wf_tango_result_name(r), "unknown") != 0);
  CHECK(strcmp(wf_tango_result_name(WF_TANGO_R_BAD_SIGNATURE), "bad_signature") == 0);
  CHECK(strcmp(wf_tango_result_name(-15), "unknown") == 0);
}

int main(void) {
  header_bits();
  frame_layout();
  in_place_and_clock();
  encapsulate_errors();
  outer_rejects();
  names();
  printf("tango_wire_test: all passed\n");
  return 0;
}
