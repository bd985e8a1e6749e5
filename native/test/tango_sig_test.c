/*
 * Tango signature tests: the vendored SipHash-2-4 against its reference vectors (64- and 128-bit
 * output), the tag and book messages rebuilt here byte by byte from the layout in tango_sig.c,
 * and a known-answer vector that test/unit/protocol/tango.test.ts checks against the TypeScript
 * implementation too. From the native directory: make unit.
 */
#include "tango_fixture.h"

#include "siphash.h"
#include "siphash_vectors.h"

static void siphash_reference_vectors(void) {
  uint8_t key[16], msg[64], out[16];
  for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
  for (int len = 0; len < 64; len++) {
    msg[len] = (uint8_t)len;
    siphash(msg, (size_t)len, key, out, 8);
    CHECK(memcmp(out, vectors_sip64[len], 8) == 0);
    siphash(msg, (size_t)len, key, out, 16);
    CHECK(memcmp(out, vectors_sip128[len], 16) == 0);
  }
  /* The paper's appendix A example: 15-byte message, SipHash-2-4 = a129ca6149be45e5. */
  siphash(msg, 15, key, out, 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | out[i];
  CHECK(v == 0xa129ca6149be45e5ull);
}

static uint64_t le64(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

/* The layout of tango_sig.c's comment, built independently of its code. */
static void messages_match_the_documented_layout(void) {
  wf_tango_keys k;
  wf_tango_keys_derive(&k, 0x01020304, KEY1);
  uint8_t sub[16];
  siphash("wirefleet tango tag1", 20, KEY1, sub, 16);
  CHECK(memcmp(sub, k.tag, 16) == 0);
  siphash("wirefleet tango book1", 21, KEY1, sub, 16);
  CHECK(memcmp(sub, k.book, 16) == 0);
  siphash("wirefleet tango inner1", 22, KEY1, sub, 16);
  CHECK(memcmp(sub, k.inner, 16) == 0);
  CHECK(k.epoch == 0x01020304);

  uint8_t inner[64], out[8];
  make_inner(inner, sizeof inner, 7);
  siphash(inner, sizeof inner, k.inner, out, 8);
  const uint64_t digest = le64(out);
  CHECK(wf_tango_inner_digest(&k, inner, sizeof inner) == digest);

  const uint64_t tick = 0x0000019a2b3c4d5eull;
  const uint8_t m[28] = {1, 1, 5, 0, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x01, 0x9a,
                         0x2b, 0x3c, 0x4d, 0x5e, 0xbe, 0xef, 0, 0, out[0], out[1], out[2],
                         out[3], out[4], out[5], out[6], out[7]};
  uint8_t t[8];
  siphash(m, sizeof m, k.tag, t, 8);
  CHECK(wf_tango_tag(&k, 1, 5, tick, 0xbeef, digest) == (uint32_t)le64(t));
  uint8_t mc[28];
  memcpy(mc, m, sizeof mc);
  mc[3] = WF_TANGO_DOMAIN_CONTROL; /* the domain byte */
  siphash(mc, sizeof mc, k.tag, t, 8);
  CHECK(wf_tango_tag_domain(&k, WF_TANGO_DOMAIN_CONTROL, 1, 5, tick, 0xbeef, digest) == (uint32_t)le64(t));

  const uint8_t b[10] = {1, 0, 3, 0, 0x01, 0x02, 0x03, 0x04, 0xbe, 0xef};
  siphash(b, sizeof b, k.book, t, 8);
  CHECK(wf_tango_book(&k, 0, 3, 0xbeef) == (t[0] & 1));
}

/* Every input changes the tag; the book bit depends on the sequence number, not on time. */
static void every_field_is_covered(void) {
  wf_tango_keys k, k2, k_epoch;
  wf_tango_keys_derive(&k, 7, KEY1);
  wf_tango_keys_derive(&k2, 7, KEY2);
  wf_tango_keys_derive(&k_epoch, 8, KEY1);
  const uint64_t tick = T0 >> 20;
  const uint32_t base = wf_tango_tag(&k, 0, 1, tick, 100, 42);
  CHECK(wf_tango_tag(&k, 0, 1, tick, 100, 42) == base);
  CHECK(wf_tango_tag(&k2, 0, 1, tick, 100, 42) != base);
  CHECK(wf_tango_tag(&k_epoch, 0, 1, tick, 100, 42) != base);
  CHECK(wf_tango_tag(&k, 1, 1, tick, 100, 42) != base);
  CHECK(wf_tango_tag(&k, 0, 2, tick, 100, 42) != base);
  CHECK(wf_tango_tag(&k, 0, 1, tick + 1, 100, 42) != base);
  CHECK(wf_tango_tag(&k, 0, 1, tick + 4096, 100, 42) != base); /* same 12 wire bits */
  CHECK(wf_tango_tag(&k, 0, 1, tick, 101, 42) != base);
  CHECK(wf_tango_tag(&k, 0, 1, tick, 100, 43) != base);
  /* wf_tango_tag is the data domain; the control domain signs differently. */
  CHECK(wf_tango_tag_domain(&k, WF_TANGO_DOMAIN_DATA, 0, 1, tick, 100, 42) == base);
  CHECK(wf_tango_tag_domain(&k, WF_TANGO_DOMAIN_CONTROL, 0, 1, tick, 100, 42) != base);

  /* The book bit is a fair coin over sequence numbers, and differs between keys. */
  int ones = 0, differ = 0;
  for (uint32_t s = 0; s < 65536; s++) {
    const uint8_t bit = wf_tango_book(&k, 0, 1, (uint16_t)s);
    CHECK(bit <= 1);
    ones += bit;
    differ += bit != wf_tango_book(&k2, 0, 1, (uint16_t)s);
  }
  CHECK(ones > 32768 - 1000 && ones < 32768 + 1000);
  CHECK(differ > 32768 - 1000 && differ < 32768 + 1000);
}

/* Known answer shared with the TypeScript implementation (protocol/tango-signature.ts). Key
 * 00..0f, epoch 7, side 1, path 3, tick T0 >> 20, seq 0xfffe, inner = make_inner(40, 0). */
static void known_answer(int print) {
  uint8_t key[16], inner[40];
  for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
  make_inner(inner, sizeof inner, 0);
  wf_tango_keys k;
  wf_tango_keys_derive(&k, 7, key);
  const uint64_t digest = wf_tango_inner_digest(&k, inner, sizeof inner);
  const uint32_t tag = wf_tango_tag(&k, 1, 3, T0 >> 20, 0xfffe, digest);
  const uint8_t book = wf_tango_book(&k, 1, 3, 0xfffe);
  if (print) fprintf(stderr, "digest %016llx tag %08x book %u\n", (unsigned long long)digest, tag, book);
  CHECK(digest == 0xfb2327d289e7d6ecull);
  CHECK(tag == 0xe0c300d5u);
  CHECK(book == 1);
}

int main(int argc, char **argv) {
  (void)argv;
  siphash_reference_vectors();
  messages_match_the_documented_layout();
  every_field_is_covered();
  known_answer(argc > 1);
  printf("tango_sig_test: all passed\n");
  return 0;
}
