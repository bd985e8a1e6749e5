/*
 * Tango forwarder helpers without sockets: 5-tuple class rules (first match wins, unmatched is
 * class 0, ports only where they exist), RFC 6040 ECN decapsulation with the IPv4 checksum, and
 * the ICMP "fragmentation needed" message for PMTU discovery through the tunnel, checked field by
 * field, and which route update wins; then random bytes through all three under ASan+UBSan.
 * From the native directory: make unit.
 */
#include "tango_fixture.h"

#include "tango_forward.h"

static uint16_t sum16(const uint8_t *p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i < n; i += 2) sum += (uint32_t)(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

static void set_checksum(uint8_t *ip) {
  ip[10] = ip[11] = 0;
  const uint16_t c = (uint16_t)~sum16(ip, 20);
  ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
}

/* IPv4 `proto` a.b.c.d -> e.f.g.h with ports at the transport header, 60 bytes. */
static size_t packet(uint8_t *out, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  memset(out, 0, 60);
  out[0] = 0x45;
  out[3] = 60;
  out[8] = 64;
  out[9] = proto;
  for (int i = 0; i < 4; i++) out[12 + i] = (uint8_t)(src >> (24 - 8 * i)), out[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
  out[20] = (uint8_t)(sport >> 8), out[21] = (uint8_t)sport, out[22] = (uint8_t)(dport >> 8), out[23] = (uint8_t)dport;
  set_checksum(out);
  return 60;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static wf_tango_class_rule any_rule(uint8_t class_id) {
  wf_tango_class_rule r;
  memset(&r, 0, sizeof r);
  r.class_id = class_id;
  r.sport_hi = r.dport_hi = 0xffff;
  return r;
}

static void classification(void) {
  wf_tango_classifier c;
  memset(&c, 0, sizeof c);
  char err[128];
  uint8_t p[60];
  /* No rules: everything is class 0. */
  packet(p, 17, IP(10, 1, 0, 2), IP(10, 2, 0, 2), 4000, 5001);
  CHECK(wf_tango_classify(&c, p, 60) == 0);

  wf_tango_class_rule voice = any_rule(5); /* UDP to 10.2.0.0/16 port 5001-5003 */
  voice.protocol = 17;
  voice.dst_net = IP(10, 2, 0, 0), voice.dst_mask = 0xffff0000u;
  voice.dport_lo = 5001, voice.dport_hi = 5003;
  CHECK(wf_tango_classifier_add(&c, &voice, err, sizeof err) == 0);
  wf_tango_class_rule from_host = any_rule(7); /* anything from 10.1.0.2/32 */
  from_host.src_net = IP(10, 1, 0, 2), from_host.src_mask = 0xffffffffu;
  CHECK(wf_tango_classifier_add(&c, &from_host, err, sizeof err) == 0);
  wf_tango_class_rule icmp = any_rule(9);
  icmp.protocol = 1;
  CHECK(wf_tango_classifier_add(&c, &icmp, err, sizeof err) == 0);

  CHECK(wf_tango_classify(&c, p, 60) == 5); /* first match wins over from_host */
  packet(p, 17, IP(10, 1, 0, 2), IP(10, 2, 0, 2), 4000, 5003);
  CHECK(wf_tango_classify(&c, p, 60) == 5);
  packet(p, 17, IP(10, 1, 0, 2), IP(10, 2, 0, 2), 4000, 5004);
  CHECK(wf_tango_classify(&c, p, 60) == 7); /* port outside: next rule */
  packet(p, 6, IP(10, 1, 0, 3), IP(10, 2, 0, 2), 4000, 5001);
  CHECK(wf_tango_classify(&c, p, 60) == 0); /* TCP: not voice; other source */
  packet(p, 17, IP(10, 1, 0, 3), IP(10, 3, 0, 2), 4000, 5001);
  CHECK(wf_tango_classify(&c, p, 60) == 0); /* other destination prefix */
  packet(p, 1, IP(10, 1, 0, 3), IP(10, 2, 0, 2), 0x0800, 0);
  CHECK(wf_tango_classify(&c, p, 60) == 9);

  /* A non-first fragment has no ports: port rules do not match it. */
  packet(p, 17, IP(10, 1, 0, 3), IP(10, 2, 0, 2), 4000, 5001);
  CHECK(wf_tango_classify(&c, p, 60) == 5);
  p[6] = 0x00, p[7] = 0x10; /* offset 16 x 8 */
  CHECK(wf_tango_classify(&c, p, 60) == 0);
  /* Nor a packet cut before its ports (classify reads only what len holds). */
  packet(p, 17, IP(10, 1, 0, 3), IP(10, 2, 0, 2), 4000, 5001);
  CHECK(wf_tango_classify(&c, p, 22) == 0);
  /* The ports follow IPv4 options. */
  packet(p, 17, IP(10, 1, 0, 3), IP(10, 2, 0, 2), 0, 0);
  p[0] = 0x46;
  p[24] = 0x0f, p[25] = 0xa0, p[26] = 0x13, p[27] = 0x8a; /* 4000 -> 5002 */
  CHECK(wf_tango_classify(&c, p, 60) == 5);

  /* Validation. */
  wf_tango_class_rule bad = any_rule(16);
  CHECK(wf_tango_classifier_add(&c, &bad, err, sizeof err) == -1 && strstr(err, "0..15"));
  bad = any_rule(1), bad.dport_lo = 10, bad.dport_hi = 9;
  CHECK(wf_tango_classifier_add(&c, &bad, err, sizeof err) == -1);
  bad = any_rule(1), bad.src_net = IP(10, 0, 0, 1), bad.src_mask = 0xff000000u;
  CHECK(wf_tango_classifier_add(&c, &bad, err, sizeof err) == -1 && strstr(err, "prefix"));
  bad = any_rule(1), bad.protocol = 1, bad.dport_lo = 80, bad.dport_hi = 80;
  CHECK(wf_tango_classifier_add(&c, &bad, err, sizeof err) == -1 && strstr(err, "port ranges"));
  CHECK(c.count == 3);
  for (int i = 3; i < WF_TANGO_MAX_RULES; i++) {
    wf_tango_class_rule r = any_rule(1);
    CHECK(wf_tango_classifier_add(&c, &r, err, sizeof err) == 0);
  }
  wf_tango_class_rule r = any_rule(1);
  CHECK(wf_tango_classifier_add(&c, &r, err, sizeof err) == -1 && strstr(err, "16"));
  packet(p, 6, IP(1, 1, 1, 1), IP(2, 2, 2, 2), 1, 2);
  CHECK(wf_tango_classify(&c, p, 60) == 1); /* the catch-all rule 4 */
}

/* RFC 6040 §4.2 table: rows inner Not-ECT, ECT(0), ECT(1), CE; columns outer the same order. */
static void ecn_decapsulation(void) {
  const int not_ect = 0, ect1 = 1, ect0 = 2, ce = 3, drop = -1;
  const int inner[4] = {not_ect, ect0, ect1, ce};
  const int outer[4] = {not_ect, ect0, ect1, ce};
  const int want[4][4] = {
      {not_ect, not_ect, not_ect, drop},
      {ect0, ect0, ect1, ce},
      {ect1, ect1, ect1, ce},
      {ce, ce, ce, ce},
  };
  for (int i = 0; i < 4; i++) {
    for (int o = 0; o < 4; o++) {
      uint8_t p[60];
      packet(p, 17, IP(10, 1, 0, 2), IP(10, 2, 0, 2), 1, 2);
      p[1] = (uint8_t)(0xb8 | inner[i]); /* DSCP EF kept */
      set_checksum(p);
      const int rc = wf_tango_ecn_decapsulate(p, 60, (uint8_t)(0x28 << 2 | outer[o]));
      if (want[i][o] == drop) {
        CHECK(rc == -1);
        continue;
      }
      CHECK(rc == 0);
      CHECK((p[1] & 3) == want[i][o] && (p[1] & 0xfc) == 0xb8);
      CHECK(sum16(p, 20) == 0xffff); /* the header checksum still verifies */
    }
  }
}

static void icmp_frag_needed(void) {
  uint8_t p[1500], out[WF_TANGO_ICMP_MAX];
  memset(p, 0xab, sizeof p);
  packet(p, 17, IP(10, 1, 0, 2), IP(10, 2, 0, 2), 40000, 9);
  p[2] = 1500 >> 8, p[3] = 1500 & 0xff;
  p[6] = 0x40; /* DF */
  set_checksum(p);
  const size_t n = wf_tango_icmp_frag_needed(p, sizeof p, 1442, out, sizeof out);
  CHECK(n == 20 + 8 + 20 + 8);
  CHECK(out[0] == 0x45 && (out[2] << 8 | out[3]) == (int)n && out[9] == 1 && out[8] == 64);
  CHECK(memcmp(out + 12, p + 16, 4) == 0 && memcmp(out + 16, p + 12, 4) == 0); /* back to the source */
  CHECK(sum16(out, 20) == 0xffff);
  const uint8_t *icmp = out + 20;
  CHECK(icmp[0] == 3 && icmp[1] == 4 && icmp[4] == 0 && icmp[5] == 0);
  CHECK((icmp[6] << 8 | icmp[7]) == 1442);
  CHECK(memcmp(icmp + 8, p, 28) == 0); /* the original header and 8 bytes of its payload */
  CHECK(sum16(icmp, n - 20) == 0xffff);
  CHECK(wf_tango_inner_check(out, n) == WF_TANGO_OK);

  /* With options, the whole original header is quoted. */
  p[0] = 0x47;
  set_checksum(p);
  CHECK(wf_tango_icmp_frag_needed(p, sizeof p, 1442, out, sizeof out) == 20 + 8 + 28 + 8);
  p[0] = 0x45;

  /* None due: DF clear, a later fragment, an ICMP error, a multicast or zero source, a small buffer. */
  uint8_t q[1500];
  memcpy(q, p, sizeof q), q[6] = 0;
  CHECK(wf_tango_icmp_frag_needed(q, sizeof q, 1442, out, sizeof out) == 0);
  memcpy(q, p, sizeof q), q[7] = 1;
  CHECK(wf_tango_icmp_frag_needed(q, sizeof q, 1442, out, sizeof out) == 0);
  memcpy(q, p, sizeof q), q[9] = 1, q[20] = 3;
  CHECK(wf_tango_icmp_frag_needed(q, sizeof q, 1442, out, sizeof out) == 0);
  memcpy(q, p, sizeof q), q[9] = 1, q[20] = 8; /* an echo request is not an error: answered */
  CHECK(wf_tango_icmp_frag_needed(q, sizeof q, 1442, out, sizeof out) > 0);
  memcpy(q, p, sizeof q), q[12] = 224;
  CHECK(wf_tango_icmp_frag_needed(q, sizeof q, 1442, out, sizeof out) == 0);
  memcpy(q, p, sizeof q), q[12] = q[13] = q[14] = q[15] = 0;
  CHECK(wf_tango_icmp_frag_needed(q, sizeof q, 1442, out, sizeof out) == 0);
  memcpy(q, p, sizeof q), q[16] = 239;
  CHECK(wf_tango_icmp_frag_needed(q, sizeof q, 1442, out, sizeof out) == 0);
  CHECK(wf_tango_icmp_frag_needed(p, sizeof p, 1442, out, WF_TANGO_ICMP_MAX - 1) == 0);
  /* A short packet quotes what it has. */
  CHECK(wf_tango_icmp_frag_needed(p, 24, 1442, out, sizeof out) == 20 + 8 + 24);
}

static void update_order(void) {
  CHECK(wf_tango_route_update_newer(0, T0) == 1);                /* the first */
  CHECK(wf_tango_route_update_newer(T0, T0 + 1) == 1);           /* newer */
  CHECK(wf_tango_route_update_newer(T0, T0) == 0);               /* its copy on another path */
  CHECK(wf_tango_route_update_newer(T0, T0 - 999 * MS) == 0);    /* overtaken on a faster path */
  CHECK(wf_tango_route_update_newer(T0, T0 - 1000 * MS) == 1);   /* the peer's clock stepped back */
  CHECK(wf_tango_route_update_newer(T0, T0 - 3600000 * MS) == 1);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next_random(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

/* Random headers at exact-size heap copies: nothing reads outside them. */
static void random_inputs(void) {
  wf_tango_classifier c;
  memset(&c, 0, sizeof c);
  wf_tango_class_rule r = any_rule(3);
  r.dport_lo = 100, r.dport_hi = 200;
  CHECK(wf_tango_classifier_add(&c, &r, NULL, 0) == 0);
  for (int i = 0; i < 200000; i++) {
    const size_t len = next_random() % 80;
    uint8_t *b = malloc(len ? len : 1);
    for (size_t k = 0; k < len; k++) b[k] = (uint8_t)next_random();
    if (len && i % 2) b[0] = (uint8_t)(0x40 | (b[0] & 0x0f));
    CHECK(wf_tango_classify(&c, b, len) < WF_TANGO_CLASSES);
    (void)wf_tango_ecn_decapsulate(b, len, (uint8_t)next_random());
    uint8_t out[WF_TANGO_ICMP_MAX];
    const size_t n = wf_tango_icmp_frag_needed(b, len, 1280, out, sizeof out);
    CHECK(n <= sizeof out);
    free(b);
  }
}

int main(void) {
  classification();
  ecn_decapsulation();
  icmp_frag_needed();
  update_order();
  random_inputs();
  printf("tango_classify_test: all passed\n");
  return 0;
}
