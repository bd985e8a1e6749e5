/*
 * Writes fuzz seeds at run time (nothing is committed):
 *   gen_seeds PARSE_DIR FILE_DIR [CAPTURE_DIR]
 * PARSE_DIR gets hand-built frames plus the first frames of each capture given
 * (prefixed with the fuzz_parse link-type byte); FILE_DIR gets small hand-built
 * pcap/pcapng files plus copies of the small captures given.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../src/wirefleet.h"

#define MAX_COPY_SIZE 16384
#define FRAMES_PER_FILE 8

static const int linktypes[] = {0, 1, 101, 113, 228, 229}; /* same order as fuzz_parse.c */
static unsigned seq;

static void write_blob(const char *dir, const char *tag, const void *a, size_t alen,
                       const void *b, size_t blen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s-%05u", dir, tag, seq++);
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  if (alen) fwrite(a, 1, alen, f);
  if (blen) fwrite(b, 1, blen, f);
  fclose(f);
}

static void frame(const char *dir, int lt_index, const uint8_t *f, size_t n) {
  uint8_t prefix = (uint8_t)lt_index;
  write_blob(dir, "frame", &prefix, 1, f, n);
}

static const uint8_t ETH_V4[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00};
static const uint8_t ETH_QINQ_V6[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x88, 0xa8, 0x00, 0x64,
                                      0x81, 0x00, 0x00, 0xc8, 0x86, 0xdd};
static const uint8_t V4_TCP[] = {0x46, 0, 0, 48, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1,
                                 10, 0, 0, 2, 1, 1, 0, 0, /* 4 bytes of options */
                                 0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12,
                                 0xff, 0xff, 0, 0, 0, 0};
static const uint8_t V4_FRAG_UDP[] = {0x45, 0, 0, 28, 0xab, 0xcd, 0x20, 0, 64, 17, 0, 0, 192, 168, 1, 1,
                                      192, 168, 1, 2, 0x00, 0x35, 0xc0, 0x00, 0, 8, 0, 0};
static const uint8_t V4_LATER[] = {0x45, 0, 0, 28, 0xab, 0xcd, 0x00, 0x03, 64, 17, 0, 0, 192, 168, 1, 1,
                                   192, 168, 1, 2, 1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t V4_ICMP_TSO[] = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0, 1, 1, 1, 1,
                                      8, 8, 8, 8, 8, 0, 0, 0, 0, 1, 0, 1};
static const uint8_t V6_HBH_FRAG_TCP[] = {
    0x60, 0, 0, 0, 0, 36, 0, 64, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    44, 0, 1, 4, 0, 0, 0, 0,                  /* hop-by-hop, 8 bytes */
    6, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef,       /* fragment: offset 0, M=1 */
    0x01, 0xbb, 0xc3, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x11, 0, 0, 0, 0, 0, 0};
static const uint8_t V6_AH_ICMP6[] = {
    0x60, 0, 0, 0, 0, 16, 51, 64, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    58, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1,      /* AH: (1 + 2) * 4 = 12 bytes */
    128, 0, 0, 0};

static void builtin_frames(const char *dir) {
  uint8_t buf[256];
  memcpy(buf, ETH_V4, sizeof ETH_V4);
  memcpy(buf + sizeof ETH_V4, V4_TCP, sizeof V4_TCP);
  frame(dir, 1, buf, sizeof ETH_V4 + sizeof V4_TCP);
  memcpy(buf, ETH_QINQ_V6, sizeof ETH_QINQ_V6);
  memcpy(buf + sizeof ETH_QINQ_V6, V6_HBH_FRAG_TCP, sizeof V6_HBH_FRAG_TCP);
  frame(dir, 1, buf, sizeof ETH_QINQ_V6 + sizeof V6_HBH_FRAG_TCP);
  frame(dir, 2, V4_FRAG_UDP, sizeof V4_FRAG_UDP);
  frame(dir, 4, V4_LATER, sizeof V4_LATER);
  frame(dir, 4, V4_ICMP_TSO, sizeof V4_ICMP_TSO);
  frame(dir, 5, V6_AH_ICMP6, sizeof V6_AH_ICMP6);
  static const uint8_t null_v6[4] = {30, 0, 0, 0};
  memcpy(buf, null_v6, 4);
  memcpy(buf + 4, V6_AH_ICMP6, sizeof V6_AH_ICMP6);
  frame(dir, 0, buf, 4 + sizeof V6_AH_ICMP6);
  static const uint8_t sll[16] = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00};
  memcpy(buf, sll, 16);
  memcpy(buf + 16, V4_FRAG_UDP, sizeof V4_FRAG_UDP);
  frame(dir, 3, buf, 16 + sizeof V4_FRAG_UDP);
}

static void put32(uint8_t *p, uint32_t v, int be) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (be ? 24 - 8 * i : 8 * i));
}

static void builtin_files(const char *dir) {
  uint8_t f[512];
  for (int be = 0; be < 2; be++) { /* classic pcap, LE µs and BE ns, Ethernet */
    size_t n = sizeof ETH_V4 + sizeof V4_TCP;
    put32(f, be ? 0xa1b23c4du : 0xa1b2c3d4u, be);
    f[4 + !be] = 0, f[4 + be] = 2, f[6 + !be] = 0, f[6 + be] = 4;
    put32(f + 8, 0, be), put32(f + 12, 0, be), put32(f + 16, 65535, be), put32(f + 20, 1, be);
    put32(f + 24, 1700000000, be), put32(f + 28, 123456, be), put32(f + 32, (uint32_t)n, be);
    put32(f + 36, (uint32_t)n, be);
    memcpy(f + 40, ETH_V4, sizeof ETH_V4);
    memcpy(f + 40 + sizeof ETH_V4, V4_TCP, sizeof V4_TCP);
    write_blob(dir, "pcap", f, 40 + n, NULL, 0);
  }
  /* pcapng LE: SHB, IDB (raw, tsresol 2^-20, tsoffset), EPB, SPB, PB */
  size_t o = 0;
  put32(f + o, 0x0a0d0d0a, 0), put32(f + o + 4, 28, 0), put32(f + o + 8, 0x1a2b3c4d, 0);
  put32(f + o + 12, 1, 0), put32(f + o + 16, 0xffffffff, 0), put32(f + o + 20, 0xffffffff, 0);
  put32(f + o + 24, 28, 0), o += 28;
  put32(f + o, 1, 0), put32(f + o + 4, 48, 0), put32(f + o + 8, 101, 0), put32(f + o + 12, 0, 0);
  put32(f + o + 16, 9 | 1 << 16, 0), put32(f + o + 20, 0x94, 0);   /* if_tsresol 2^-20 */
  put32(f + o + 24, 14 | 8 << 16, 0), put32(f + o + 28, 100, 0), put32(f + o + 32, 0, 0);
  put32(f + o + 36, 0, 0), put32(f + o + 40, 0, 0), put32(f + o + 44, 48, 0), o += 48;
  uint32_t pkt = sizeof V4_FRAG_UDP; /* 28: already 4-aligned */
  uint32_t types[3] = {6, 3, 2};
  for (int i = 0; i < 3; i++) {
    size_t hdr = types[i] == 3 ? 4 : 20, len = 12 + hdr + pkt;
    memset(f + o, 0, len);
    put32(f + o, types[i], 0), put32(f + o + 4, (uint32_t)len, 0);
    if (types[i] == 3) {
      put32(f + o + 8, pkt, 0);
    } else {
      put32(f + o + 12, 0x0005, 0), put32(f + o + 16, 0x12345678, 0);
      put32(f + o + 20, pkt, 0), put32(f + o + 24, pkt + 100, 0);
    }
    memcpy(f + o + 8 + hdr, V4_FRAG_UDP, pkt);
    put32(f + o + len - 4, (uint32_t)len, 0), o += len;
  }
  write_blob(dir, "pcapng", f, o, NULL, 0);
}

static int lt_index(int linktype) {
  for (int i = 0; i < 6; i++)
    if (linktypes[i] == linktype) return i;
  return -1;
}

static void from_capture(const char *path, const char *parse_dir, const char *file_dir) {
  char err[256];
  wf_file_reader *r = wf_file_open(path, err, sizeof err);
  if (r == NULL) return;
  if (wf_file_size(r) <= MAX_COPY_SIZE) {
    FILE *f = fopen(path, "rb");
    static uint8_t buf[MAX_COPY_SIZE];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    if (n) write_blob(file_dir, "copy", buf, n, NULL, 0);
  }
  wf_packet p;
  for (int i = 0; i < FRAMES_PER_FILE && wf_file_next(r, &p, err, sizeof err) == 1; i++) {
    int idx = lt_index(p.linktype);
    if (idx >= 0) frame(parse_dir, idx, p.data, p.caplen);
  }
  wf_file_close(r);
}

static void from_dir(const char *dir, const char *parse_dir, const char *file_dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return; /* the shared corpus is optional */
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    from_capture(path, parse_dir, file_dir); /* non-captures are refused by wf_file_open */
  }
  closedir(d);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PARSE_DIR FILE_DIR [CAPTURE_DIR]\n", argv[0]);
    return 2;
  }
  mkdir(argv[1], 0755); /* EEXIST is fine; a real failure shows up at the first fopen */
  mkdir(argv[2], 0755);
  builtin_frames(argv[1]);
  builtin_files(argv[2]);
  if (argc > 3) from_dir(argv[3], argv[1], argv[2]);
  printf("gen_seeds: %u seeds\n", seq);
  return 0;
}
