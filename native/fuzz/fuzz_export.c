/*
 * libFuzzer target for the NetFlow v5 and IPFIX encoders.
 *
 * Input: byte 0 and 1 pick the buffer capacity, byte 2 the options (templates,
 * clock), then the rest is cut into raw wf_flow_record structs (any family,
 * counters, times). Every datagram is written into a heap buffer of exactly
 * `cap` bytes, so ASan reports any write past it. Checks: progress, consumed
 * <= offered, returned length <= cap, and the length/count fields agree with
 * what was written and with the records consumed.
 *
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -Inative/src native/fuzz/fuzz_export.c native/src/netflow5.c native/src/ipfix.c \
 *     -o /tmp/fuzz_export && /tmp/fuzz_export -max_total_time=30
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/export_internal.h"

#define CHECK(x) \
  do {           \
    if (!(x)) __builtin_trap(); \
  } while (0)

static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

static void check_v5(const uint8_t *buf, size_t len, const wf_flow_record *r, size_t consumed) {
  size_t expect = 0;
  for (size_t i = 0; i < consumed; i++) expect += wf_nf5_records_for(&r[i]);
  if (len == 0) {
    CHECK(expect == 0);
    return;
  }
  CHECK(len >= WF_NF5_HEADER_LEN + WF_NF5_RECORD_LEN && len <= WF_NF5_MAX_LEN);
  CHECK(be16(buf) == 5);
  const size_t count = be16(buf + 2);
  CHECK(count == expect && count >= 1 && count <= WF_NF5_MAX_RECORDS);
  CHECK(len == WF_NF5_HEADER_LEN + count * WF_NF5_RECORD_LEN);
}

static void check_ipfix(const uint8_t *buf, size_t len, const wf_flow_record *r, size_t consumed,
                        int templates) {
  size_t expect = 0, bytes = 0;
  for (size_t i = 0; i < consumed; i++) {
    if (wf_ipfix_records_for(&r[i]) == 0) continue;
    expect++;
    bytes += r[i].family == 6 ? WF_IPFIX_RECORD_V6_LEN : WF_IPFIX_RECORD_V4_LEN;
  }
  if (len == 0) {
    CHECK(expect == 0 && !templates);
    return;
  }
  CHECK(be16(buf) == 10 && be16(buf + 2) == len);
  /* walk the sets: they must tile the message exactly */
  size_t off = WF_IPFIX_HEADER_LEN, data = 0, sets = 0;
  while (off < len) {
    CHECK(off + WF_IPFIX_SET_HEADER_LEN <= len);
    const uint16_t id = be16(buf + off), slen = be16(buf + off + 2);
    CHECK(slen >= WF_IPFIX_SET_HEADER_LEN && off + slen <= len);
    if (id == 2) {
      CHECK(templates && off == WF_IPFIX_HEADER_LEN && slen == WF_IPFIX_TEMPLATE_SET_LEN);
    } else {
      CHECK(id == WF_IPFIX_TEMPLATE_V4 || id == WF_IPFIX_TEMPLATE_V6);
      const size_t rlen = id == WF_IPFIX_TEMPLATE_V6 ? WF_IPFIX_RECORD_V6_LEN : WF_IPFIX_RECORD_V4_LEN;
      CHECK((slen - WF_IPFIX_SET_HEADER_LEN) % rlen == 0 && slen > WF_IPFIX_SET_HEADER_LEN);
      data += slen - WF_IPFIX_SET_HEADER_LEN;
      sets++;
    }
    off += slen;
  }
  CHECK(off == len && data == bytes);
  CHECK(len == WF_IPFIX_HEADER_LEN + (templates ? WF_IPFIX_TEMPLATE_SET_LEN : 0) +
                   sets * WF_IPFIX_SET_HEADER_LEN + bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const size_t cap = (size_t)(data[0] << 8 | data[1]) % 3000; /* 0..2999, around both limits */
  const uint8_t opt = data[2];
  data += 3;
  size -= 3;
  const size_t n = size / sizeof(wf_flow_record);
  wf_flow_record *records = malloc((n ? n : 1) * sizeof *records);
  if (records == NULL) return 0;
  memcpy(records, data, n * sizeof *records);
  /* bias toward families the encoders act on */
  for (size_t i = 0; i < n; i++) {
    if (opt & 0x80) records[i].family = (records[i].family & 1) ? 6 : 4;
  }
  uint8_t *buf = malloc(cap ? cap : 1);
  if (buf == NULL) {
    free(records);
    return 0;
  }
  const uint64_t now = (uint64_t)opt << 40, boot = (opt & 0x40) ? now - 12345 : now + 999;

  /* NetFlow v5: encode everything, one datagram after another */
  size_t done = 0;
  while (done < n) {
    size_t c = n - done;
    size_t len = wf_netflow5_encode(cap ? buf : NULL, cap, records + done, &c, now, boot,
                                    (uint32_t)done, opt);
    CHECK(c <= n - done && len <= cap);
    check_v5(buf, len, records + done, c);
    if (c == 0) {
      CHECK(len == 0 && cap < WF_NF5_HEADER_LEN + 2 * WF_NF5_RECORD_LEN);
      break;
    }
    done += c;
  }

  /* IPFIX, with and without templates */
  const int templates = opt & 1;
  done = 0;
  while (done < n || (templates && n == 0 && done == 0)) {
    size_t c = n - done;
    size_t len = wf_ipfix_encode(cap ? buf : NULL, cap, records + done, &c, now, (uint32_t)done,
                                 opt, templates);
    CHECK(c <= n - done && len <= cap && len <= 65535);
    check_ipfix(buf, len, records + done, c, templates && len > 0);
    if (c == 0) {
      if (n == 0) break;
      CHECK(len == 0);
      break;
    }
    done += c;
  }
  free(buf);
  free(records);
  return 0;
}
