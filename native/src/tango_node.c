/*
 * A Tango node: paths, keys, encapsulation and the receive checks, with counters.
 *
 * Receive order: outer headers and checksum (tango.c), Tango header, path, tunnel addresses,
 * inner packet, signature, freshness, replay window. The signature comes before freshness and
 * the window so that every later reason (stale, replay...) is counted only for authentic
 * packets: an attacker can fake any timestamp and sequence number, so checking them first would
 * save no work against a deliberate flood, and would make forgeries look like replays.
 *
 * One thread drives a node. The forwarding thread of the next step owns it; whoever reads the
 * counters from another thread must copy them under the same lock that guards the calls here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "tango_internal.h"

#define TICK_NS ((uint64_t)1 << WF_TANGO_TICK_SHIFT)
#define TS_WRAP_TICKS 4096u

static void wipe(void *p, size_t n) {
  volatile uint8_t *b = p;
  while (n--) *b++ = 0;
}

static int fail(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
  return -1;
}

static wf_tango_node *refuse(char *err, size_t errlen, const char *msg) {
  fail(err, errlen, msg);
  return NULL;
}

wf_tango_node *wf_tango_create(const wf_tango_config *config, char *err, size_t errlen) {
  wf_tango_config c = *config;
  if (c.side > 1) return refuse(err, errlen, "side must be 0 or 1");
  if (!c.udp_port) c.udp_port = WF_TANGO_DEFAULT_PORT;
  if (!c.hop_limit) c.hop_limit = 64;
  if (!c.mtu) c.mtu = 1500;
  if (c.mtu < 1280 || c.mtu > 9216) return refuse(err, errlen, "mtu must be 1280..9216");
  if (!c.max_age_ms) c.max_age_ms = 750;
  if (!c.max_ahead_ms) c.max_ahead_ms = 250;
  if (!c.grace_ms) c.grace_ms = 30000;
  /* Timestamps restore unambiguously within half a wrap (2147 ms) of the receiver's clock. */
  if ((uint64_t)c.max_age_ms + c.max_ahead_ms > 1000) {
    return refuse(err, errlen, "max_age_ms + max_ahead_ms must be at most 1000");
  }
  if (c.grace_ms > 86400000u) return refuse(err, errlen, "grace_ms must be at most 86400000");
  wf_tango_node *node = calloc(1, sizeof *node);
  if (!node) return refuse(err, errlen, "out of memory");
  node->config = c;
  node->wire.udp_port = c.udp_port;
  node->wire.hop_limit = c.hop_limit;
  node->max_age_ns = (uint64_t)c.max_age_ms * 1000000u;
  node->max_ahead_ns = (uint64_t)c.max_ahead_ms * 1000000u;
  return node;
}

void wf_tango_destroy(wf_tango_node *node) {
  if (!node) return;
  wipe(&node->send, sizeof node->send); /* the key material; windows and counters are not secret */
  wipe(node->recv, sizeof node->recv);
  free(node);
}

int wf_tango_set_path(wf_tango_node *node, const wf_tango_path_config *path, char *err, size_t errlen) {
  if (path->path_id >= WF_TANGO_MAX_PATHS) return fail(err, errlen, "path_id must be 0..7");
  tango_path *p = &node->paths[path->path_id];
  p->config = *path;
  p->configured = 1;
  p->stats.configured = 1;
  return 0;
}

void wf_tango_set_send_key(wf_tango_node *node, uint32_t epoch, const uint8_t key[WF_TANGO_KEY_LEN]) {
  wf_tango_keys_derive(&node->send.keys, epoch, key);
  node->send.present = 1;
  node->send.accept_until_ns = UINT64_MAX;
}

int wf_tango_rotate_receive_key(wf_tango_node *node, uint32_t epoch,
                                const uint8_t key[WF_TANGO_KEY_LEN], uint64_t now_ns,
                                char *err, size_t errlen) {
  tango_key *r = node->recv;
  if (r[0].present && epoch <= r[0].keys.epoch) {
    return fail(err, errlen, "the new receive epoch must be newer than the current one");
  }
  r[2] = r[1];
  r[2].accept_until_ns = 0;
  r[1] = r[0];
  if (r[1].present) {
    const uint64_t grace = (uint64_t)node->config.grace_ms * 1000000u;
    r[1].accept_until_ns = now_ns > UINT64_MAX - grace ? UINT64_MAX : now_ns + grace;
  }
  wf_tango_keys_derive(&r[0].keys, epoch, key);
  r[0].present = 1;
  r[0].accept_until_ns = UINT64_MAX;
  return 0;
}

void wf_tango_set_clock_offset(wf_tango_node *node, int64_t peer_minus_local_ns) {
  node->clock_offset_ns = peer_minus_local_ns;
}

static int tx_error(wf_tango_node *node, int error) {
  node->stats.tx_errors++;
  return error;
}

static int encapsulate(wf_tango_node *node, uint8_t domain, uint8_t path_id, const uint8_t *inner,
                       size_t inner_len, uint64_t now_ns, uint8_t *out, size_t cap) {
  if (path_id >= WF_TANGO_MAX_PATHS || !node->paths[path_id].configured) {
    return tx_error(node, WF_TANGO_E_PATH);
  }
  if (!node->send.present) return tx_error(node, WF_TANGO_E_NO_KEY);
  if (wf_tango_inner_check(inner, inner_len) != WF_TANGO_OK) return tx_error(node, WF_TANGO_E_INNER);
  const size_t ip_payload = WF_TANGO_UDP_LEN + WF_TANGO_HEADER_LEN + inner_len;
  if (ip_payload + WF_TANGO_IPV6_LEN > node->config.mtu) return tx_error(node, WF_TANGO_E_TOO_BIG);
  if (cap < WF_TANGO_OVERHEAD + inner_len) return tx_error(node, WF_TANGO_E_BUFFER);

  tango_path *p = &node->paths[path_id];
  if (now_ns < p->tx_last_ns) now_ns = p->tx_last_ns; /* never let timestamps go back on a path */
  p->tx_last_ns = now_ns;
  const uint64_t tick = now_ns >> WF_TANGO_TICK_SHIFT;
  const wf_tango_keys *k = &node->send.keys;
  const uint8_t side = node->config.side;
  wf_tango_header h;
  h.path_id = path_id;
  h.timestamp = (uint16_t)(tick & WF_TANGO_TS_MASK);
  h.seq = p->tx_seq;
  h.signature = wf_tango_tag_domain(k, domain, side, path_id, tick, h.seq,
                                    wf_tango_inner_digest(k, inner, inner_len));
  h.book = wf_tango_book(k, side, path_id, h.seq);
  const int n = wf_tango_frame_write(&p->config, &node->wire, &h, inner, inner_len, out, cap);
  if (n < 0) return tx_error(node, n);
  p->tx_seq++;
  p->stats.tx_packets++;
  p->stats.tx_bytes += inner_len;
  p->stats.tx_next_seq = p->tx_seq;
  node->stats.tx_packets++;
  return n;
}

int wf_tango_encapsulate(wf_tango_node *node, uint8_t path_id, const uint8_t *inner,
                         size_t inner_len, uint64_t now_ns, uint8_t *out, size_t cap) {
  return encapsulate(node, WF_TANGO_DOMAIN_DATA, path_id, inner, inner_len, now_ns, out, cap);
}

static uint16_t ones_complement(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += wf_be16(p, i);
  if (n & 1) sum += (uint32_t)p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

void wf_tango_route_update_write(uint8_t out[WF_TANGO_ROUTE_UPDATE_LEN], const wf_tango_route_update *u) {
  memset(out, 0, WF_TANGO_ROUTE_UPDATE_LEN);
  out[0] = 0x45;
  wf_put_be16(out + 2, WF_TANGO_ROUTE_UPDATE_LEN);
  out[8] = 1;  /* TTL: it is consumed by the receiving node */
  out[9] = 17; /* UDP; addresses 0.0.0.0 */
  wf_put_be16(out + 10, ones_complement(out, 20, 0));
  uint8_t *udp = out + 20;
  wf_put_be16(udp, (uint16_t)(u->class_id & 0x0f));
  wf_put_be16(udp + 2, (uint16_t)(u->path_id & 0x07));
  wf_put_be16(udp + 4, WF_TANGO_ROUTE_UPDATE_LEN - 20);
  for (int i = 0; i < 8; i++) udp[8 + i] = (uint8_t)(u->issued_ns >> (56 - 8 * i));
  /* Pseudo-header: zero addresses, protocol 17, UDP length. */
  const uint16_t c = ones_complement(udp, WF_TANGO_ROUTE_UPDATE_LEN - 20, 17 + WF_TANGO_ROUTE_UPDATE_LEN - 20);
  wf_put_be16(udp + 6, c == 0 ? 0xffff : c);
}

int wf_tango_route_update_read(const uint8_t *inner, size_t len, wf_tango_route_update *u) {
  if (wf_tango_inner_check(inner, len) != WF_TANGO_OK || inner[9] != 17) return 0;
  if (wf_be16(inner, 6) & 0x3fff) return 0; /* a fragment (MF or an offset) has no usable ports */
  const size_t ihl = (size_t)(inner[0] & 0x0f) * 4;
  if (len - ihl < 8) return 0;
  const uint16_t sport = wf_be16(inner, ihl), dport = wf_be16(inner, ihl + 2);
  if (sport >> 4 || dport >> 3) return 0;
  u->class_id = (uint8_t)sport;
  u->path_id = (uint8_t)dport;
  u->issued_ns = 0;
  if (len - ihl >= 16) {
    for (int i = 0; i < 8; i++) u->issued_ns = u->issued_ns << 8 | inner[ihl + 8 + i];
  }
  return 1;
}

int wf_tango_encapsulate_control(wf_tango_node *node, uint8_t path_id, const wf_tango_route_update *u,
                                 uint64_t now_ns, uint8_t *out, size_t cap) {
  if (u->class_id > 15 || u->path_id >= WF_TANGO_MAX_PATHS) return tx_error(node, WF_TANGO_E_INNER);
  if (cap < WF_TANGO_OVERHEAD + WF_TANGO_ROUTE_UPDATE_LEN) return tx_error(node, WF_TANGO_E_BUFFER);
  uint8_t *inner = out + WF_TANGO_OVERHEAD; /* built in place: frame_write does not copy it */
  wf_tango_route_update_write(inner, u);
  return encapsulate(node, WF_TANGO_DOMAIN_CONTROL, path_id, inner, WF_TANGO_ROUTE_UPDATE_LEN, now_ns, out, cap);
}

static int reject(wf_tango_node *node, tango_path *path, int reason) {
  node->stats.rejects[-reason - 1]++;
  if (path) path->stats.rejects[-reason - 1]++;
  return reason;
}

/* Per key, the inner digest is computed at most once. */
typedef struct key_try {
  const wf_tango_keys *keys;
  int accepted;
  int digest_ready;
  uint64_t digest;
} key_try;

static int tag_matches(key_try *t, uint8_t domain, uint8_t side, const wf_tango_header *h, uint64_t tick,
                       const uint8_t *inner, size_t inner_len) {
  if (wf_tango_book(t->keys, side, h->path_id, h->seq) != h->book) return 0;
  if (!t->digest_ready) {
    t->digest = wf_tango_inner_digest(t->keys, inner, inner_len);
    t->digest_ready = 1;
  }
  return wf_tango_tag_domain(t->keys, domain, side, h->path_id, tick, h->seq, t->digest) == h->signature;
}

/* WF_TANGO_OK with *epoch set, or the reason the signature fails (see tango.h). */
static int check_signature(const wf_tango_node *node, uint8_t domain, const wf_tango_header *h,
                           uint64_t tick, const uint8_t *inner, size_t inner_len, uint64_t now_ns,
                           uint32_t *epoch) {
  key_try tries[3];
  int n = 0;
  for (int i = 0; i < 3; i++) {
    const tango_key *k = &node->recv[i];
    if (!k->present) continue;
    tries[n].keys = &k->keys;
    tries[n].accepted = i == 0 || now_ns <= k->accept_until_ns;
    tries[n].digest_ready = 0;
    n++;
  }
  if (n == 0) return WF_TANGO_R_NO_KEY;
  const uint8_t side = (uint8_t)(node->config.side ^ 1); /* signed by the peer */
  for (int i = 0; i < n; i++) {
    if (tries[i].accepted && tag_matches(&tries[i], domain, side, h, tick, inner, inner_len)) {
      *epoch = tries[i].keys->epoch;
      return WF_TANGO_OK;
    }
  }
  for (int i = 0; i < n; i++) {
    if (!tries[i].accepted && tag_matches(&tries[i], domain, side, h, tick, inner, inner_len)) {
      return WF_TANGO_R_WRONG_EPOCH;
    }
  }
  /* Authentic but a whole timestamp wrap (4.295 s) away from where our clock puts it: an old
   * packet replayed, or a clock offset beyond ±2.1 s. */
  for (int i = 0; i < n; i++) {
    if (!tries[i].accepted) continue;
    if (tag_matches(&tries[i], domain, side, h, tick - TS_WRAP_TICKS, inner, inner_len)) return WF_TANGO_R_STALE;
    if (tag_matches(&tries[i], domain, side, h, tick + TS_WRAP_TICKS, inner, inner_len)) return WF_TANGO_R_AHEAD;
  }
  return WF_TANGO_R_BAD_SIGNATURE;
}

static int verify(wf_tango_node *node, const uint8_t *src, const uint8_t *dst, uint8_t traffic_class,
                  const uint8_t *payload, size_t len, size_t base, uint64_t now_ns,
                  wf_tango_delivery *out) {
  if (len < WF_TANGO_HEADER_LEN) return reject(node, NULL, WF_TANGO_R_TRUNCATED);
  wf_tango_header h;
  if (wf_tango_header_read(payload, &h) != WF_TANGO_OK) return reject(node, NULL, WF_TANGO_R_MALFORMED);
  tango_path *path = &node->paths[h.path_id];
  if (!path->configured) return reject(node, NULL, WF_TANGO_R_UNKNOWN_PATH);
  if (memcmp(src, path->config.peer_addr, 16) != 0 || memcmp(dst, path->config.local_addr, 16) != 0) {
    return reject(node, path, WF_TANGO_R_ADDRESS_MISMATCH);
  }
  const uint8_t *inner = payload + WF_TANGO_HEADER_LEN;
  const size_t inner_len = len - WF_TANGO_HEADER_LEN;
  if (wf_tango_inner_check(inner, inner_len) != WF_TANGO_OK) return reject(node, path, WF_TANGO_R_BAD_INNER);

  /* The sender's full tick: the one within half a wrap of our clock (moved to the peer's). */
  const uint64_t local_in_peer_ns = now_ns + (uint64_t)node->clock_offset_ns;
  const uint64_t our_tick = local_in_peer_ns >> WF_TANGO_TICK_SHIFT;
  const int behind = (int)((our_tick - h.timestamp + 2048) & WF_TANGO_TS_MASK) - 2048;
  const uint64_t tick = our_tick - (uint64_t)(int64_t)behind;

  uint32_t epoch = 0;
  int sig = check_signature(node, WF_TANGO_DOMAIN_DATA, &h, tick, inner, inner_len, now_ns, &epoch);
  int control = 0;
  wf_tango_route_update update;
  /* Only the embedded encoding can be a control frame: everything else costs one check. */
  if (sig == WF_TANGO_R_BAD_SIGNATURE && wf_tango_route_update_read(inner, inner_len, &update)) {
    sig = check_signature(node, WF_TANGO_DOMAIN_CONTROL, &h, tick, inner, inner_len, now_ns, &epoch);
    control = sig == WF_TANGO_OK;
  }
  if (sig != WF_TANGO_OK) return reject(node, path, sig);

  /* Sent somewhere in its tick: take the middle (error at most half a tick, 0.52 ms). */
  const int64_t delay_ns = (int64_t)(local_in_peer_ns - (tick << WF_TANGO_TICK_SHIFT)) - (int64_t)(TICK_NS / 2);
  if (delay_ns > (int64_t)node->max_age_ns) return reject(node, path, WF_TANGO_R_STALE);
  if (delay_ns < -(int64_t)node->max_ahead_ns) return reject(node, path, WF_TANGO_R_AHEAD);

  const int verdict = tango_window_check(&path->rx, h.seq, tick);
  if (verdict < 0) return reject(node, path, verdict);
  const uint64_t fresh_floor = (local_in_peer_ns - node->max_age_ns) >> WF_TANGO_TICK_SHIFT;
  const int reordered = verdict == TANGO_W_LATE;
  const int resync = verdict == TANGO_W_START || verdict == TANGO_W_RESYNC;
  tango_window_accept(path, verdict, h.seq, tick, fresh_floor - 1, delay_ns, now_ns, inner_len);

  node->stats.rx_accepted++;
  out->path_id = h.path_id;
  out->seq = h.seq;
  out->timestamp = h.timestamp;
  out->epoch = epoch;
  out->inner_offset = base + WF_TANGO_HEADER_LEN;
  out->inner_len = inner_len;
  out->delay_ns = delay_ns;
  out->traffic_class = traffic_class;
  out->reordered = (uint8_t)reordered;
  out->resync = (uint8_t)resync;
  out->control = (uint8_t)control;
  return WF_TANGO_OK;
}

int wf_tango_decapsulate(wf_tango_node *node, const uint8_t *frame, size_t len, uint64_t now_ns,
                         wf_tango_delivery *out) {
  node->stats.rx_frames++;
  wf_tango_frame f;
  const int rc = wf_tango_frame_parse(frame, len, node->wire.udp_port, &f);
  if (rc != WF_TANGO_OK) return reject(node, NULL, rc);
  return verify(node, f.src_addr, f.dst_addr, f.traffic_class, frame + f.payload_offset,
                f.payload_len, f.payload_offset, now_ns, out);
}

int wf_tango_receive_payload(wf_tango_node *node, const uint8_t src_addr[16],
                             const uint8_t dst_addr[16], uint8_t traffic_class,
                             const uint8_t *payload, size_t len, uint64_t now_ns,
                             wf_tango_delivery *out) {
  node->stats.rx_frames++;
  return verify(node, src_addr, dst_addr, traffic_class, payload, len, 0, now_ns, out);
}

int wf_tango_get_path_stats(const wf_tango_node *node, uint8_t path_id, wf_tango_path_stats *out) {
  if (path_id >= WF_TANGO_MAX_PATHS) return -1;
  *out = node->paths[path_id].stats;
  return 0;
}

void wf_tango_get_node_stats(const wf_tango_node *node, wf_tango_node_stats *out) {
  *out = node->stats;
}
