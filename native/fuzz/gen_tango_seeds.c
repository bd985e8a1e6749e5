/*
 * Seeds for fuzz_tango (record format in fuzz_tango.c): a genuine run on both paths, signed
 * records walking the sequence number across its wrap with reordering and replays, a raw frame
 * from the encoder, and a UDP payload. Usage: gen_tango_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/tango.h"

static uint8_t buf[1 << 16];
static size_t used;

static void record(uint8_t kind, uint16_t step, const uint8_t *bytes, uint16_t len) {
  if (used + 5 + len > sizeof buf) return;
  buf[used++] = kind;
  buf[used++] = (uint8_t)(step >> 8), buf[used++] = (uint8_t)step;
  buf[used++] = (uint8_t)(len >> 8), buf[used++] = (uint8_t)len;
  memcpy(buf + used, bytes, len);
  used += len;
}

static void save(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, used, f) != used) {
    perror(path);
    exit(1);
  }
  fclose(f);
  used = 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  uint8_t b[64];
  for (int i = 0; i < 40; i++) { /* genuine frames, 1 ms apart, alternating paths */
    memset(b, (uint8_t)i, sizeof b);
    b[0] = (uint8_t)(i % 2);
    record(3, 16, b, 40);
  }
  save(argv[1], "genuine");

  static const int16_t order[] = {0, 1, 3, 2, 2, 5, 4, 40, 6, 1100, 7, -3};
  for (unsigned i = 0; i < 3 * sizeof order / sizeof order[0]; i++) { /* across 65535 -> 0 */
    const uint16_t seq = (uint16_t)(65530 + order[i % 12] + (int)(i / 12) * 2000);
    const uint8_t r[30] = {0, (uint8_t)(seq >> 8), (uint8_t)seq, 0xff, 0xfe, 0x45};
    record(2, 4, r, sizeof r);
  }
  save(argv[1], "signed-wrap");

  /* A frame from the encoder, as fuzz_tango's sending node would make it (same key, path 0). */
  const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  wf_tango_config c = {0};
  wf_tango_node *a = wf_tango_create(&c, NULL, 0);
  wf_tango_path_config p = {0};
  const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, [15] = 1};
  const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0x0b, 0, [15] = 1};
  memcpy(p.local_addr, src, 16);
  memcpy(p.peer_addr, dst, 16);
  wf_tango_set_path(a, &p, NULL, 0);
  wf_tango_set_send_key(a, 1, key);
  uint8_t inner[40] = {0x45, 0, 0, 40, [8] = 64, [9] = 17}, frame[200];
  const int n = wf_tango_encapsulate(a, 0, inner, sizeof inner, 1717200000000000000ull + 65536, frame, sizeof frame);
  wf_tango_destroy(a);
  if (n < 0) return 1;
  record(0, 1, frame, (uint16_t)n);
  record(0, 1, frame, (uint16_t)n); /* and its replay */
  memset(b, 0, sizeof b);
  record(1, 1, b, sizeof b);
  record(0, 1, b, sizeof b);
  record(4, 1, b, sizeof b);
  save(argv[1], "raw");

  /* Route updates: genuine control frames on both paths (class 1 moved to path 1, then back, and
   * a copy of each), and control-signed updates, one with a port bit flipped (refused). */
  for (int i = 0; i < 8; i++) {
    const uint8_t u[5] = {(uint8_t)(i % 2), 1, (uint8_t)(i / 2 % 2), 0, (uint8_t)(i / 2)};
    record(11, 16, u, sizeof u);
  }
  for (int i = 0; i < 4; i++) {
    const uint8_t r[9] = {0, 0, (uint8_t)(10 + i), 0, 0, 3, (uint8_t)i, 0, 1};
    record(10, 4, r, sizeof r);
  }
  const uint8_t flipped[9 + 22] = {1, 0, 20, 0, 0, 3, 1, 0, 2, [9 + 21] = 0x80};
  record(10, 4, flipped, sizeof flipped);
  save(argv[1], "control");
  return 0;
}
