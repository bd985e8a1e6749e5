/*
 * Tango receive tests: forged, replayed, stale and wrong-epoch packets are all refused and
 * counted by reason; the window across the 16-bit wrap; loss, reordering, delay and jitter
 * measured against what the test did to the packets. From the native directory: make unit.
 */
#include "tango_fixture.h"

typedef struct sent {
  uint8_t frame[256];
  size_t len;
} sent;

static wf_tango_delivery d;

/* Sends `inner_len` bytes on path p at sender time t. */
static sent send_at(wf_tango_node *a, uint8_t p, uint64_t t) {
  sent s;
  uint8_t inner[100];
  make_inner(inner, sizeof inner, (uint8_t)t);
  const int n = wf_tango_encapsulate(a, p, inner, sizeof inner, t, s.frame, sizeof s.frame);
  CHECK(n > 0);
  s.len = (size_t)n;
  return s;
}

static int recv_at(wf_tango_node *b, const sent *s, uint64_t t) {
  return wf_tango_decapsulate(b, s->frame, s->len, t, &d);
}

static void accepted_delivery(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  const sent s = send_at(a, 1, T0 + 5 * MS);
  CHECK_RC(recv_at(b, &s, T0 + 45 * MS), WF_TANGO_OK);
  CHECK(d.path_id == 1 && d.seq == 0 && d.epoch == 1 && d.resync == 1 && d.reordered == 0);
  CHECK(d.timestamp == (((T0 + 5 * MS) >> 20) & 0xfff));
  CHECK(d.inner_offset == WF_TANGO_OVERHEAD && d.inner_len == 100);
  CHECK(d.traffic_class == 0xb8);
  uint8_t inner[100];
  make_inner(inner, sizeof inner, (uint8_t)(T0 + 5 * MS));
  CHECK(memcmp(s.frame + d.inner_offset, inner, sizeof inner) == 0);
  /* 40 ms, within the half tick the 12-bit timestamp loses. */
  CHECK(d.delay_ns > 40 * (int64_t)MS - 524288 && d.delay_ns < 40 * (int64_t)MS + 524288);

  /* The same packet on a UDP socket: the payload after the UDP header. */
  wf_tango_node *b2 = make_node(1, 0, 0);
  CHECK(wf_tango_rotate_receive_key(b2, 1, KEY1, T0, NULL, 0) == 0);
  const uint8_t *payload = s.frame + 14 + 40 + 8;
  CHECK_RC(wf_tango_receive_payload(b2, s.frame + 22, s.frame + 38, 0, payload, s.len - 62, T0 + 45 * MS, &d), WF_TANGO_OK);
  CHECK(d.inner_offset == 10 && d.inner_len == 100 && d.path_id == 1);
  CHECK_RC(wf_tango_receive_payload(b2, s.frame + 38, s.frame + 22, 0, payload, s.len - 62, T0 + 45 * MS, &d), WF_TANGO_R_ADDRESS_MISMATCH);
  CHECK_RC(wf_tango_receive_payload(b2, s.frame + 22, s.frame + 38, 0, payload, 9, T0, &d), WF_TANGO_R_TRUNCATED);

  const wf_tango_path_stats ps = path_stats(b, 1);
  CHECK(ps.rx_packets == 1 && ps.rx_bytes == 100 && ps.rx_expected == 1 && ps.rx_lost == 0);
  CHECK(ps.delay_samples == 1 && ps.delay_last_ns == d.delay_ns && ps.rx_last_ns == T0 + 45 * MS);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
  wf_tango_destroy(b2);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static void forgeries_are_all_refused(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  const sent s = send_at(a, 0, T0);
  const int tries = 20000;
  uint64_t refused = 0;
  for (int i = 0; i < tries; i++) {
    sent f = s;
    uint8_t *t = f.frame + 14 + 40 + 8;
    switch (i % 5) {
    case 0: /* any other signature */
      t[3 + (i / 5) % 4] ^= (uint8_t)(1 + next_random() % 255);
      break;
    case 1: /* a random tag and book for another sequence number */
      for (int k = 3; k < 7; k++) t[k] = (uint8_t)next_random();
      t[7] = (uint8_t)next_random(), t[8] = (uint8_t)next_random(), t[9] = next_random() & 1;
      break;
    case 2: /* the inner packet changed, header and tag kept */
      t[10 + 28 + (int)(next_random() % 72)] ^= (uint8_t)(1 + next_random() % 255);
      break;
    case 3: /* the book bit alone */
      t[9] ^= 1;
      break;
    default: /* the sequence number moved, tag kept */
      t[8] ^= (uint8_t)(1 + next_random() % 255);
      break;
    }
    fix_checksum(f.frame);
    refused += recv_at(b, &f, T0 + MS) == WF_TANGO_R_BAD_SIGNATURE;
  }
  CHECK(refused == (uint64_t)tries);
  CHECK(path_stats(b, 0).rejects[-WF_TANGO_R_BAD_SIGNATURE - 1] == (uint64_t)tries);
  CHECK(path_stats(b, 0).rx_packets == 0);

  /* Signed with another key, or by a node on the same side (a reflection): refused. */
  wf_tango_node *mallory = make_node(0, 0, 0);
  wf_tango_set_send_key(mallory, 1, KEY2);
  sent m = send_at(mallory, 0, T0);
  CHECK_RC(recv_at(b, &m, T0 + MS), WF_TANGO_R_BAD_SIGNATURE);
  wf_tango_node *twin = make_node(1, 0, 0); /* side 1, b's own side, with b's paths mirrored */
  for (uint8_t p = 0; p < 2; p++) {
    wf_tango_path_config pc = path_of(p, 0);
    CHECK(wf_tango_set_path(twin, &pc, NULL, 0) == 0);
  }
  wf_tango_set_send_key(twin, 1, KEY1);
  m = send_at(twin, 0, T0);
  CHECK_RC(recv_at(b, &m, T0 + MS), WF_TANGO_R_BAD_SIGNATURE);
  /* The genuine packet still passes after all of that. */
  CHECK_RC(recv_at(b, &s, T0 + MS), WF_TANGO_OK);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
  wf_tango_destroy(mallory);
  wf_tango_destroy(twin);
}

static void replays(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  static sent s[1100];
  for (int i = 0; i < 1100; i++) s[i] = send_at(a, 0, T0 + (uint64_t)i * 100000); /* 10 per ms */
  CHECK_RC(recv_at(b, &s[0], T0 + MS), WF_TANGO_OK);
  CHECK_RC(recv_at(b, &s[0], T0 + MS), WF_TANGO_R_REPLAY); /* at the top */
  for (int i = 1; i < 20; i++) CHECK_RC(recv_at(b, &s[i], T0 + 5 * MS), WF_TANGO_OK);
  CHECK_RC(recv_at(b, &s[7], T0 + 5 * MS), WF_TANGO_R_REPLAY); /* inside the window */
  CHECK_RC(recv_at(b, &s[0], T0 + 5 * MS), WF_TANGO_R_REPLAY);
  for (int i = 20; i < 1100; i++) {
    if (i == 30) continue; /* lost... */
    CHECK_RC(recv_at(b, &s[i], T0 + (uint64_t)i * 100000 + MS), WF_TANGO_OK);
  }
  const uint64_t late = T0 + 1100 * 100000 + MS;
  CHECK_RC(recv_at(b, &s[30], late), WF_TANGO_R_OUTSIDE_WINDOW); /* ...1070 behind: outside */
  CHECK_RC(recv_at(b, &s[100], late), WF_TANGO_R_REPLAY);        /* 999 behind, seen */
  CHECK_RC(recv_at(b, &s[50], late), WF_TANGO_R_OUTSIDE_WINDOW);
  const wf_tango_path_stats ps = path_stats(b, 0);
  CHECK(ps.rx_packets == 1099 && ps.rx_expected == 1100 && ps.rx_lost == 1);
  CHECK(ps.rejects[-WF_TANGO_R_REPLAY - 1] == 4 && ps.rejects[-WF_TANGO_R_OUTSIDE_WINDOW - 1] == 2);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
}

/* The timestamp wraps every 4096 ticks (4.295 s); the tag covers the whole tick, so a packet
 * replayed exactly one wrap later is refused as stale although its 12 bits look fresh. */
static void stale_and_ahead(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  const uint64_t wrap = (uint64_t)4096 << 20;
  const sent s = send_at(a, 0, T0);
  CHECK_RC(recv_at(b, &s, T0 + 751 * MS), WF_TANGO_R_STALE); /* max_age 750 ms */
  CHECK_RC(recv_at(b, &s, T0 - 251 * MS), WF_TANGO_R_AHEAD); /* max_ahead 250 ms */
  CHECK_RC(recv_at(b, &s, T0 + wrap + 2 * MS), WF_TANGO_R_STALE);
  CHECK_RC(recv_at(b, &s, T0 - wrap + 2 * MS), WF_TANGO_R_AHEAD);
  CHECK_RC(recv_at(b, &s, T0 + 749 * MS), WF_TANGO_OK);
  CHECK_RC(recv_at(b, &s, T0 + wrap + 2 * MS), WF_TANGO_R_STALE); /* accepted once, still stale */
  const wf_tango_path_stats ps = path_stats(b, 0);
  CHECK(ps.rejects[-WF_TANGO_R_STALE - 1] == 3 && ps.rejects[-WF_TANGO_R_AHEAD - 1] == 2);

  /* Across the 12-bit timestamp wrap: tick ...4095 sent, received in tick ...0001. */
  const uint64_t edge = ((T0 >> 32) + 1) << 32; /* a tick multiple of 4096 */
  const sent w = send_at(a, 0, edge - MS / 2);
  CHECK((w.frame[14 + 40 + 8 + 1] << 8 | w.frame[14 + 40 + 8 + 2]) == 0xfff);
  CHECK_RC(recv_at(b, &w, edge + 2 * MS), WF_TANGO_OK);
  CHECK(d.delay_ns > 2 * (int64_t)MS && d.delay_ns < 3 * (int64_t)MS);

  /* A peer clock 300 ms ahead: refused as ahead until the offset is set. */
  const sent e = send_at(a, 1, T0 + 300 * MS);
  CHECK_RC(recv_at(b, &e, T0 + 10 * MS), WF_TANGO_R_AHEAD);
  wf_tango_set_clock_offset(b, 300 * (int64_t)MS);
  CHECK_RC(recv_at(b, &e, T0 + 10 * MS), WF_TANGO_OK);
  CHECK(d.delay_ns > 10 * (int64_t)MS - 524288 && d.delay_ns < 10 * (int64_t)MS + 524288);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
}

static void epochs(void) {
  wf_tango_node *a = make_node(0, 0, 0), *b = make_node(1, 0, 10000); /* 10 s grace */
  uint64_t t = T0;
  sent s;
  wf_tango_set_send_key(a, 1, KEY1);
  s = send_at(a, 0, t);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_R_NO_KEY);
  CHECK(wf_tango_rotate_receive_key(b, 1, KEY1, t, NULL, 0) == 0);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_OK);

  /* Receiver rotates to 2 first; the sender still signs epoch 1 during the grace. */
  CHECK(wf_tango_rotate_receive_key(b, 2, KEY2, t, NULL, 0) == 0);
  s = send_at(a, 0, t += MS);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_OK);
  CHECK(d.epoch == 1);
  wf_tango_set_send_key(a, 2, KEY2);
  s = send_at(a, 0, t += MS);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_OK);
  CHECK(d.epoch == 2);
  /* A late epoch-1 packet after the grace: authentic, but its epoch is over. */
  wf_tango_node *late = make_node(0, 0, 0);
  wf_tango_set_send_key(late, 1, KEY1);
  t += 10001 * MS;
  s = send_at(late, 0, t);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_R_WRONG_EPOCH);
  /* Rotating to 3: epoch 2 in grace, epoch 1 retired (still classified), epoch 4 unknown. */
  char err[128];
  CHECK(wf_tango_rotate_receive_key(b, 3, KEY3, t, err, sizeof err) == 0);
  CHECK(wf_tango_rotate_receive_key(b, 3, KEY3, t, err, sizeof err) == -1 && strstr(err, "newer"));
  s = send_at(late, 0, t += MS);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_R_WRONG_EPOCH);
  s = send_at(a, 0, t);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_OK);
  CHECK(d.epoch == 2);
  wf_tango_set_send_key(late, 4, KEY3); /* epoch 4 has never been installed */
  s = send_at(late, 0, t);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_R_BAD_SIGNATURE);
  wf_tango_set_send_key(late, 4, KEY1); /* the right key under the wrong epoch number */
  s = send_at(late, 0, t);
  CHECK_RC(recv_at(b, &s, t), WF_TANGO_R_BAD_SIGNATURE);
  const wf_tango_path_stats ps = path_stats(b, 0);
  CHECK(ps.rejects[-WF_TANGO_R_WRONG_EPOCH - 1] == 2 && ps.rejects[-WF_TANGO_R_NO_KEY - 1] == 1);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
  wf_tango_destroy(late);
}

/* 70 000 packets across the 16-bit wrap: every tenth lost, adjacent pairs swapped now and then. */
static void wrap_loss_and_reordering(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  const int total = 70000;
  static sent s[2];
  uint64_t lost = 0, swapped = 0, delivered = 0;
  for (int i = 0; i < total; i += 2) {
    const uint64_t t = T0 + (uint64_t)i * 20000; /* 50 packets per ms */
    s[0] = send_at(a, 0, t);
    s[1] = send_at(a, 0, t + 20000);
    const uint64_t rx = t + 30 * MS;
    const int drop = i % 10 == 4, swap = i % 14 == 0 && i > 0;
    if (drop) {
      lost++;
      CHECK_RC(recv_at(b, &s[1], rx), WF_TANGO_OK);
      delivered++;
    } else if (swap) {
      CHECK_RC(recv_at(b, &s[1], rx), WF_TANGO_OK);
      CHECK_RC(recv_at(b, &s[0], rx), WF_TANGO_OK);
      CHECK(d.reordered == 1);
      swapped++, delivered += 2;
    } else {
      CHECK_RC(recv_at(b, &s[0], rx), WF_TANGO_OK);
      CHECK_RC(recv_at(b, &s[1], rx), WF_TANGO_OK);
      delivered += 2;
    }
  }
  const wf_tango_path_stats ps = path_stats(b, 0);
  CHECK(ps.rx_packets == delivered && ps.rx_expected == (uint64_t)total && ps.rx_lost == lost);
  CHECK(lost == 7000 && ps.rx_reordered == swapped && swapped > 2000);
  CHECK(ps.rx_top_seq == (uint16_t)(total - 1) && ps.rx_resyncs == 1);
  CHECK(path_stats(a, 0).tx_packets == (uint64_t)total && path_stats(a, 0).tx_next_seq == (uint16_t)total);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
}

/* The sender restarts (its counter starts from 0 again): the receiver starts a new window from
 * the first packet sent after its top, and the old packets stay refused. */
static void sender_restart(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  static sent old[3000];
  for (int i = 0; i < 3000; i++) {
    old[i] = send_at(a, 0, T0 + (uint64_t)i * 100000);
    CHECK_RC(recv_at(b, &old[i], T0 + (uint64_t)i * 100000 + MS), WF_TANGO_OK);
  }
  wf_tango_node *a2 = make_node(0, 0, 0);
  wf_tango_set_send_key(a2, 1, KEY1);
  const uint64_t t = T0 + 3000 * 100000 + 5 * MS;
  const sent first = send_at(a2, 0, t), second = send_at(a2, 0, t + 100000);
  CHECK_RC(recv_at(b, &second, t + MS), WF_TANGO_OK);
  CHECK(d.resync == 1 && d.seq == 1);
  CHECK_RC(recv_at(b, &first, t + MS), WF_TANGO_OK); /* sent after the old top: belongs */
  CHECK(d.reordered == 1);
  CHECK_RC(recv_at(b, &old[2999], t + MS), WF_TANGO_R_REPLAY); /* numbered after, sent before */
  CHECK_RC(recv_at(b, &old[1500], t + MS), WF_TANGO_R_REPLAY);
  CHECK_RC(recv_at(b, &old[0], t + MS), WF_TANGO_R_REPLAY); /* seq 0 seen again, slot is newer */
  CHECK_RC(recv_at(b, &second, t + MS), WF_TANGO_R_REPLAY);
  const wf_tango_path_stats ps = path_stats(b, 0);
  CHECK(ps.rx_resyncs == 2 && ps.rx_packets == 3002 && ps.rx_expected == 3002 && ps.rx_lost == 0);
  wf_tango_destroy(a);
  wf_tango_destroy(a2);
  wf_tango_destroy(b);
}

/* Delay and RFC 3550 jitter: sent in the middle of ticks, so the timestamps lose nothing. */
static void delay_and_jitter(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  const uint64_t tick = 1u << 20, start = (T0 >> 20) << 20;
  for (int i = 0; i < 200; i++) {
    const uint64_t t = start + (uint64_t)i * tick + tick / 2;
    const sent s = send_at(a, 0, t);
    CHECK_RC(recv_at(b, &s, t + 20 * MS), WF_TANGO_OK);
    CHECK(d.delay_ns == 20 * (int64_t)MS);
  }
  wf_tango_path_stats ps = path_stats(b, 0);
  CHECK(ps.jitter_ns == 0 && ps.delay_min_ns == 20 * (int64_t)MS && ps.delay_max_ns == 20 * (int64_t)MS);
  CHECK(ps.delay_sum_ns == 200 * 20 * (int64_t)MS && ps.delay_samples == 200);
  /* Delay alternating 10 / 30 ms: |D| = 20 ms each time, so J tends to 20 ms. */
  for (int i = 200; i < 600; i++) {
    const uint64_t t = start + (uint64_t)i * tick + tick / 2;
    const sent s = send_at(a, 1, t);
    CHECK_RC(recv_at(b, &s, t + (i % 2 ? 10 : 30) * MS), WF_TANGO_OK);
  }
  ps = path_stats(b, 1);
  CHECK(ps.jitter_ns > 19 * (int64_t)MS && ps.jitter_ns <= 20 * (int64_t)MS);
  CHECK(ps.delay_min_ns == 10 * (int64_t)MS && ps.delay_max_ns == 30 * (int64_t)MS);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
}

/* White-box: the window's verdicts at the edges of RFC 1982 order. */
static void window_edges(void) {
  tango_path p;
  memset(&p, 0, sizeof p);
  const uint64_t tick = 1000;
  CHECK(tango_window_check(&p.rx, 65535, tick) == TANGO_W_START);
  tango_window_accept(&p, TANGO_W_START, 65535, tick, tick - 700, 0, 0, 20);
  CHECK(tango_window_check(&p.rx, 0, tick) == TANGO_W_ADVANCE);          /* wraps forward */
  CHECK(tango_window_check(&p.rx, 32766, tick) == TANGO_W_ADVANCE);      /* +32767 */
  CHECK(tango_window_check(&p.rx, 32767, tick) == WF_TANGO_R_OUTSIDE_WINDOW); /* exactly half: behind */
  CHECK(tango_window_check(&p.rx, 65535 - 1024, tick) == WF_TANGO_R_OUTSIDE_WINDOW);
  CHECK(tango_window_check(&p.rx, 65535 - 1023, tick) == TANGO_W_LATE);
  CHECK(tango_window_check(&p.rx, 65535 - 1023, tick - 701) == WF_TANGO_R_REPLAY); /* before the floor */
  CHECK(tango_window_check(&p.rx, 0, tick - 1) == WF_TANGO_R_REPLAY);   /* newer number, older tick */
  CHECK(tango_window_check(&p.rx, 65000, tick + 1) == TANGO_W_RESYNC);  /* older number, newer tick */
  CHECK(tango_window_check(&p.rx, 65535, tick) == WF_TANGO_R_REPLAY);
  tango_window_accept(&p, TANGO_W_ADVANCE, 5, tick + 2, 0, 0, 0, 20);
  CHECK(p.stats.rx_expected == 7 && p.stats.rx_packets == 2 && p.stats.rx_lost == 5);
  CHECK(tango_window_check(&p.rx, 2, tick - 1) == WF_TANGO_R_REPLAY); /* slot opened at tick */
  CHECK(tango_window_check(&p.rx, 2, tick + 1) == TANGO_W_LATE);
  tango_window_accept(&p, TANGO_W_LATE, 2, tick, 0, 0, 0, 20);
  CHECK(p.stats.rx_lost == 4 && p.stats.rx_reordered == 1);
  CHECK(tango_window_check(&p.rx, 2, tick) == WF_TANGO_R_REPLAY);
}

/* Route updates: the embedded encoding, signed in the control domain. */
static void route_update_encoding(void) {
  uint8_t inner[WF_TANGO_ROUTE_UPDATE_LEN];
  const wf_tango_route_update u = {.class_id = 15, .path_id = 7, .issued_ns = T0 + 123};
  wf_tango_route_update_write(inner, &u);
  CHECK(wf_tango_inner_check(inner, sizeof inner) == WF_TANGO_OK);
  CHECK(inner[20] == 0 && inner[21] == 15 && inner[22] == 0 && inner[23] == 7);
  /* Both checksums verify (sum over the covered bytes is all ones). */
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(inner[i] << 8 | inner[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  CHECK(sum == 0xffff);
  sum = 17 + 16;
  for (int i = 20; i < 36; i += 2) sum += (uint32_t)(inner[i] << 8 | inner[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  CHECK(sum == 0xffff);
  wf_tango_route_update r;
  CHECK(wf_tango_route_update_read(inner, sizeof inner, &r) == 1);
  CHECK(r.class_id == 15 && r.path_id == 7 && r.issued_ns == T0 + 123);

  /* Any other port bit, TCP, a fragment, or a short packet is not the encoding. */
  uint8_t x[WF_TANGO_ROUTE_UPDATE_LEN];
  memcpy(x, inner, sizeof x), x[21] = 16;
  CHECK(wf_tango_route_update_read(x, sizeof x, &r) == 0);
  memcpy(x, inner, sizeof x), x[23] = 8;
  CHECK(wf_tango_route_update_read(x, sizeof x, &r) == 0);
  memcpy(x, inner, sizeof x), x[20] = 0x80;
  CHECK(wf_tango_route_update_read(x, sizeof x, &r) == 0);
  memcpy(x, inner, sizeof x), x[9] = 6;
  CHECK(wf_tango_route_update_read(x, sizeof x, &r) == 0);
  memcpy(x, inner, sizeof x), x[6] = 0x20; /* more fragments */
  CHECK(wf_tango_route_update_read(x, sizeof x, &r) == 0);
  memcpy(x, inner, sizeof x), x[2] = 0, x[3] = 24; /* UDP header cut short */
  CHECK(wf_tango_route_update_read(x, 24, &r) == 0);
  memcpy(x, inner, sizeof x), x[3] = 28; /* no issued time: read as 0 */
  CHECK(wf_tango_route_update_read(x, 28, &r) == 1 && r.issued_ns == 0 && r.class_id == 15);
}

static void control_frames(void) {
  wf_tango_node *a, *b;
  make_pair(&a, &b);
  const wf_tango_route_update u = {.class_id = 3, .path_id = 1, .issued_ns = T0};
  sent c;
  int n = wf_tango_encapsulate_control(a, 1, &u, T0, c.frame, sizeof c.frame);
  CHECK(n == WF_TANGO_OVERHEAD + WF_TANGO_ROUTE_UPDATE_LEN);
  c.len = (size_t)n;
  CHECK(udp6_checksum(c.frame) == (c.frame[60] << 8 | c.frame[61]));
  CHECK_RC(recv_at(b, &c, T0 + MS), WF_TANGO_OK);
  CHECK(d.control == 1 && d.path_id == 1 && d.seq == 0);
  wf_tango_route_update r;
  CHECK(wf_tango_route_update_read(c.frame + d.inner_offset, d.inner_len, &r) == 1);
  CHECK(r.class_id == 3 && r.path_id == 1 && r.issued_ns == T0);
  /* Replayed: refused by the window like any frame of the path. */
  CHECK_RC(recv_at(b, &c, T0 + MS), WF_TANGO_R_REPLAY);

  /* The same inner packet sent as data (a host's packet with ports 3 -> 1) is data. */
  sent h;
  uint8_t inner[WF_TANGO_ROUTE_UPDATE_LEN];
  wf_tango_route_update_write(inner, &u);
  n = wf_tango_encapsulate(a, 1, inner, sizeof inner, T0, h.frame, sizeof h.frame);
  CHECK(n > 0);
  h.len = (size_t)n;
  CHECK_RC(recv_at(b, &h, T0 + MS), WF_TANGO_OK);
  CHECK(d.control == 0 && d.seq == 1);
  /* Ordinary data is never control. */
  sent s = send_at(a, 0, T0);
  CHECK_RC(recv_at(b, &s, T0 + MS), WF_TANGO_OK);
  CHECK(d.control == 0);

  /* A control frame under another key, or with its class changed, is refused. */
  wf_tango_node *mallory = make_node(0, 0, 0);
  wf_tango_set_send_key(mallory, 1, KEY2);
  sent m;
  n = wf_tango_encapsulate_control(mallory, 1, &u, T0, m.frame, sizeof m.frame);
  CHECK(n > 0);
  m.len = (size_t)n;
  CHECK_RC(recv_at(b, &m, T0 + MS), WF_TANGO_R_BAD_SIGNATURE);
  sent t;
  n = wf_tango_encapsulate_control(a, 1, &u, T0, t.frame, sizeof t.frame);
  t.len = (size_t)n;
  t.frame[WF_TANGO_OVERHEAD + 21] = 4; /* class 3 -> 4 (the inner UDP checksum is not checked) */
  fix_checksum(t.frame);
  CHECK_RC(recv_at(b, &t, T0 + MS), WF_TANGO_R_BAD_SIGNATURE);

  /* Out-of-range updates are not built; errors are counted, nothing is numbered. */
  const wf_tango_route_update bad_class = {.class_id = 16, .path_id = 1};
  const wf_tango_route_update bad_path = {.class_id = 1, .path_id = 8};
  CHECK_RC(wf_tango_encapsulate_control(a, 1, &bad_class, T0, t.frame, sizeof t.frame), WF_TANGO_E_INNER);
  CHECK_RC(wf_tango_encapsulate_control(a, 1, &bad_path, T0, t.frame, sizeof t.frame), WF_TANGO_E_INNER);
  CHECK_RC(wf_tango_encapsulate_control(a, 1, &u, T0, t.frame, 80), WF_TANGO_E_BUFFER);
  CHECK_RC(wf_tango_encapsulate_control(a, 5, &u, T0, t.frame, sizeof t.frame), WF_TANGO_E_PATH);
  CHECK(path_stats(a, 1).tx_next_seq == 3);
  wf_tango_destroy(a);
  wf_tango_destroy(b);
  wf_tango_destroy(mallory);
}

int main(void) {
  accepted_delivery();
  forgeries_are_all_refused();
  replays();
  stale_and_ahead();
  epochs();
  wrap_loss_and_reordering();
  sender_restart();
  delay_and_jitter();
  window_edges();
  route_update_encoding();
  control_frames();
  printf("tango_node_test: all passed\n");
  return 0;
}
