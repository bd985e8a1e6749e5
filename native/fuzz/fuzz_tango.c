/*
 * libFuzzer target for the Tango receiver (decapsulate, receive_payload, the window and the
 * measurements). The input is a run of records, each fed to one receiving node in turn so that
 * window state carries over:
 *
 *   kind u8 | clock step u16 (x 64 us) | length u16 | `length` bytes
 *
 *   kind % 4 == 0  the bytes are an Ethernet frame (kind & 4: UDP checksum fixed first, so the
 *                  Tango checks behind it are reached)
 *   kind % 4 == 1  the bytes are a UDP payload (Tango header + inner), on path bytes[0] % 2's
 *                  addresses
 *   kind % 4 == 2  bytes = path, seq u16, tick offset i16, inner...: signed correctly with the
 *                  node's key, so arbitrary sequence numbers and times reach the window
 *   kind % 4 == 3  a genuine frame from the sending node at the current clock, then bytes[i]
 *                  XORed into it (a few flips land anywhere; the checksum is fixed when kind & 4)
 *
 * kind & 8 makes kinds 2 and 3 control-domain frames (route updates), so the control path is
 * fuzzed too: verification in the CONTROL domain, wf_tango_route_update_read on what verified,
 * and the forwarder's newest-per-class rule (wf_tango_route_update_newer):
 *   kind % 4 == 2  bytes = path, seq u16, tick offset i16, class, update path, issued offset i16
 *                  (x 2^20 ns), then bytes XORed into the 36-byte update from its first byte and
 *                  appended past it (IPv4 total length fixed): signed in the CONTROL domain
 *   kind % 4 == 3  wf_tango_encapsulate_control from the sending node (path bytes[0] % 2, class
 *                  bytes[1], update path bytes[2], issued offset i16 bytes[3..4]), then bytes[64..]
 *                  XORed in as for data
 *
 * Every record's buffer is an exact-size heap copy, so ASan flags any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/tango_forward.h"
#include "../src/tango_internal.h"

static const uint8_t KEY[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static wf_tango_path_config path_of(uint8_t id, int side) {
  wf_tango_path_config c;
  memset(&c, 0, sizeof c);
  c.path_id = id;
  const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, [15] = (uint8_t)(id + 1)};
  const uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0x0b, id, [15] = 1};
  memcpy(c.local_addr, side ? b : a, 16);
  memcpy(c.peer_addr, side ? a : b, 16);
  return c;
}

static wf_tango_node *node(int side) {
  wf_tango_config c;
  memset(&c, 0, sizeof c);
  c.side = (uint8_t)side;
  wf_tango_node *n = wf_tango_create(&c, NULL, 0);
  if (!n) __builtin_trap();
  for (uint8_t p = 0; p < 2; p++) {
    wf_tango_path_config pc = path_of(p, side);
    wf_tango_set_path(n, &pc, NULL, 0);
  }
  return n;
}

static void fix_checksum(uint8_t *f, size_t len) {
  if (len < 62) return;
  size_t ulen = (size_t)(f[18] << 8 | f[19]);
  if (ulen < 8 || 54 + ulen > len) return;
  f[60] = f[61] = 0;
  uint64_t sum = ulen + 17;
  for (size_t i = 22; i < 54; i += 2) sum += (uint32_t)(f[i] << 8 | f[i + 1]);
  for (size_t i = 0; i < ulen; i += 2) sum += (uint32_t)(f[54 + i] << 8 | (i + 1 < ulen ? f[55 + i] : 0));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = (uint16_t)~sum;
  if (!c) c = 0xffff;
  f[60] = (uint8_t)(c >> 8), f[61] = (uint8_t)c;
}

/* An inner IPv4 packet from fuzz bytes: version, IHL and total length made consistent. */
static size_t inner_from(uint8_t *out, const uint8_t *data, size_t have) {
  if (have > 1400) have = 1400;
  const size_t n = have < 20 ? 20 : have;
  memset(out, 0, n);
  memcpy(out, data, have);
  out[0] = 0x45;
  out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n;
  return n;
}

/* A route update (class bytes[0], path bytes[1], issued now + i16 bytes[2..3] ticks) with
 * bytes[4..] XORed over it and appended past its 36 bytes; the IPv4 total length is made to
 * match, everything else is left as the bytes make it. */
static size_t update_from(uint8_t *out, const uint8_t *data, size_t have, uint64_t now) {
  const wf_tango_route_update u = {
      .class_id = (uint8_t)(data[0] % WF_TANGO_CLASSES),
      .path_id = (uint8_t)(data[1] % WF_TANGO_MAX_PATHS),
      .issued_ns = now + (uint64_t)(int64_t)(int16_t)(data[2] << 8 | data[3]) * (1u << 20)};
  wf_tango_route_update_write(out, &u);
  const uint8_t *x = data + 4;
  size_t xn = have - 4;
  if (xn > 1400) xn = 1400;
  const size_t n = xn > WF_TANGO_ROUTE_UPDATE_LEN ? xn : WF_TANGO_ROUTE_UPDATE_LEN;
  for (size_t i = 0; i < xn; i++) out[i] = i < WF_TANGO_ROUTE_UPDATE_LEN ? out[i] ^ x[i] : x[i];
  out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n;
  return n;
}

static void check_delivery(int rc, const wf_tango_delivery *d, const uint8_t *buf, size_t len) {
  if (rc > 0 || rc < WF_TANGO_R_OUTSIDE_WINDOW) __builtin_trap();
  if (rc != WF_TANGO_OK) return;
  if (d->inner_offset > len || d->inner_len > len - d->inner_offset) __builtin_trap();
  if (wf_tango_inner_check(buf + d->inner_offset, d->inner_len) != WF_TANGO_OK) __builtin_trap();
  if (d->path_id > 1 || d->control > 1) __builtin_trap();
}

/* The receiving forwarder's side of route updates (tango_forward.c), on the same core calls. */
typedef struct control_state {
  uint64_t last_ns[WF_TANGO_CLASSES];
  uint8_t class_path[WF_TANGO_CLASSES];
  uint64_t delivered, applied, ignored, refused_lookalikes;
} control_state;

static void handle_control(control_state *cs, int rc, const wf_tango_delivery *d, const uint8_t *buf,
                           size_t len, int raw_frame) {
  if (rc == WF_TANGO_OK && d->control) {
    /* Only the embedded encoding can verify in the CONTROL domain. */
    wf_tango_route_update u;
    if (!wf_tango_route_update_read(buf + d->inner_offset, d->inner_len, &u)) __builtin_trap();
    if (u.class_id >= WF_TANGO_CLASSES || u.path_id >= WF_TANGO_MAX_PATHS) __builtin_trap();
    cs->delivered++;
    if (!wf_tango_route_update_newer(cs->last_ns[u.class_id], u.issued_ns)) {
      cs->ignored++;
      return;
    }
    cs->last_ns[u.class_id] = u.issued_ns;
    cs->class_path[u.class_id] = u.path_id;
    cs->applied++;
  } else if (rc != WF_TANGO_OK && raw_frame) {
    /* A refused frame is parsed again to tell a refused update (forged, replayed) apart. */
    wf_tango_frame fr;
    if (wf_tango_frame_parse(buf, len, WF_TANGO_DEFAULT_PORT, &fr) != WF_TANGO_OK) return;
    if (fr.payload_offset > len || fr.payload_len > len - fr.payload_offset) __builtin_trap();
    if (fr.payload_len < WF_TANGO_HEADER_LEN) return;
    wf_tango_route_update u;
    if (wf_tango_route_update_read(buf + fr.payload_offset + WF_TANGO_HEADER_LEN,
                                   fr.payload_len - WF_TANGO_HEADER_LEN, &u)) {
      cs->refused_lookalikes++;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wf_tango_node *a = node(0), *b = node(1);
  wf_tango_set_send_key(a, 1, KEY);
  uint64_t now = 1717200000000000000ull;
  wf_tango_rotate_receive_key(b, 1, KEY, now, NULL, 0);
  wf_tango_keys keys;
  wf_tango_keys_derive(&keys, 1, KEY);
  static uint8_t inner[1400], frame[1600];
  control_state cs;
  memset(&cs, 0, sizeof cs);
  size_t at = 0;
  while (at + 5 <= size) {
    const uint8_t kind = data[at];
    now += (uint64_t)(data[at + 1] << 8 | data[at + 2]) * 65536;
    size_t len = (size_t)(data[at + 3] << 8 | data[at + 4]);
    at += 5;
    if (len > size - at) len = size - at;
    const uint8_t *bytes = data + at;
    at += len;
    wf_tango_delivery d;
    int rc;
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    if (kind % 4 == 0) {
      buf = malloc(len ? len : 1), buf_len = len;
      memcpy(buf, bytes, len);
      if (kind & 4) fix_checksum(buf, len);
      rc = wf_tango_decapsulate(b, buf, buf_len, now, &d);
    } else if (kind % 4 == 1) {
      const wf_tango_path_config p = path_of(len ? bytes[0] % 2 : 0, 0);
      buf = malloc(len ? len : 1), buf_len = len;
      memcpy(buf, bytes, len);
      rc = wf_tango_receive_payload(b, p.local_addr, p.peer_addr, 0, buf, buf_len, now, &d);
    } else if (kind % 4 == 2) {
      const int control = (kind & 8) != 0;
      if (len < (control ? 9u : 5u)) continue;
      const uint8_t pid = bytes[0] % 2;
      const uint16_t seq = (uint16_t)(bytes[1] << 8 | bytes[2]);
      const int16_t skew = (int16_t)(bytes[3] << 8 | bytes[4]);
      const uint64_t tick = (now >> 20) + (uint64_t)(int64_t)skew;
      const size_t n = control ? update_from(inner, bytes + 5, len - 5, now) : inner_from(inner, bytes + 5, len - 5);
      const uint64_t digest = wf_tango_inner_digest(&keys, inner, n);
      const uint32_t tag = control ? wf_tango_tag_domain(&keys, WF_TANGO_DOMAIN_CONTROL, 0, pid, tick, seq, digest)
                                   : wf_tango_tag(&keys, 0, pid, tick, seq, digest);
      const wf_tango_header h = {pid, (uint16_t)(tick & 0xfff), tag, seq, wf_tango_book(&keys, 0, pid, seq)};
      const wf_tango_path_config p = path_of(pid, 0);
      const wf_tango_wire w = {WF_TANGO_DEFAULT_PORT, 64};
      const int fl = wf_tango_frame_write(&p, &w, &h, inner, n, frame, sizeof frame);
      if (fl < 0) __builtin_trap();
      buf = malloc((size_t)fl), buf_len = (size_t)fl;
      memcpy(buf, frame, buf_len);
      rc = wf_tango_decapsulate(b, buf, buf_len, now, &d);
      /* Domain separation: a frame signed in one domain never verifies in the other. */
      if (rc == WF_TANGO_OK && d.control != control) __builtin_trap();
    } else {
      const int control = (kind & 8) != 0;
      const uint8_t pid = len ? bytes[0] % 2 : 0;
      int fl;
      if (control) {
        const wf_tango_route_update u = {
            .class_id = (uint8_t)(len > 1 ? bytes[1] % WF_TANGO_CLASSES : 0),
            .path_id = (uint8_t)(len > 2 ? bytes[2] % WF_TANGO_MAX_PATHS : 0),
            .issued_ns = now + (uint64_t)(int64_t)(int16_t)(len > 4 ? bytes[3] << 8 | bytes[4] : 0) * (1u << 20)};
        fl = wf_tango_encapsulate_control(a, pid, &u, now, frame, sizeof frame);
      } else {
        const size_t n = inner_from(inner, bytes, len > 64 ? 64 : len);
        fl = wf_tango_encapsulate(a, pid, inner, n, now, frame, sizeof frame);
      }
      if (fl < 0) __builtin_trap();
      buf = malloc((size_t)fl), buf_len = (size_t)fl;
      memcpy(buf, frame, buf_len);
      for (size_t i = 64; i < len; i++) buf[i % buf_len] ^= bytes[i];
      if (kind & 4) fix_checksum(buf, buf_len);
      rc = wf_tango_decapsulate(b, buf, buf_len, now, &d);
      /* Unchanged, a genuine frame is accepted as what it was signed as (or refused by the window
       * or the clock, never as forged). */
      if (len <= 64 && rc == WF_TANGO_OK && d.control != control) __builtin_trap();
      if (len <= 64 && rc == WF_TANGO_R_BAD_SIGNATURE) __builtin_trap();
    }
    check_delivery(rc, &d, buf, buf_len);
    handle_control(&cs, rc, &d, buf, buf_len, kind % 4 != 1);
    free(buf);
  }

  /* Counters add up: every frame was accepted or refused for exactly one reason. */
  wf_tango_node_stats s;
  wf_tango_get_node_stats(b, &s);
  uint64_t refused = 0;
  for (int i = 0; i < WF_TANGO_REJECT_REASONS; i++) refused += s.rejects[i];
  if (s.rx_frames != s.rx_accepted + refused) __builtin_trap();
  uint64_t accepted = 0;
  for (uint8_t p = 0; p < WF_TANGO_MAX_PATHS; p++) {
    wf_tango_path_stats ps;
    wf_tango_get_path_stats(b, p, &ps);
    if (ps.rx_packets > ps.rx_expected || ps.rx_lost != ps.rx_expected - ps.rx_packets) __builtin_trap();
    if (ps.rx_reordered > ps.rx_packets) __builtin_trap();
    accepted += ps.rx_packets;
  }
  if (accepted != s.rx_accepted) __builtin_trap();
  /* Route updates: every one delivered was applied or ignored as older, and nothing else moved a
   * class; the class map names only paths 0..7. */
  if (cs.delivered != cs.applied + cs.ignored || cs.delivered > s.rx_accepted) __builtin_trap();
  for (int c = 0; c < WF_TANGO_CLASSES; c++) {
    if (cs.class_path[c] >= WF_TANGO_MAX_PATHS) __builtin_trap();
  }
  wf_tango_destroy(a);
  wf_tango_destroy(b);
  return 0;
}
