/*
 * Flow text tests: JavaScript number text (expected strings printed by
 * Node's String(number)), the microsecond fast path against the general
 * shortest-digits path, whole ndjson/csv lines, and the fd writer. From the
 * native directory: make unit (builds it under ASan+UBSan).
 */
#define _GNU_SOURCE
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/flow_text.c" /* the static helpers too */

static void number(double v, const char *want) {
  char buf[40];
  size_t n = wf_text_number(v, buf);
  buf[n] = '\0';
  if (strcmp(buf, want) != 0) {
    fprintf(stderr, "wf_text_number(%.17g) = %s, want %s\n", v, buf, want);
    exit(1);
  }
}

static void js_numbers(void) {
  number(0, "0");
  number(-0.0, "0");
  number(1, "1");
  number(0.1, "0.1");
  number(0.3, "0.3");
  number(1e21, "1e+21");
  number(1e-7, "1e-7");
  number(123456789012345680000.0, "123456789012345680000");
  number(1.5e-6, "0.0000015");
  number(9007199254740992.0, "9007199254740992");
  number(9007199254740994.0, "9007199254740994");
  number(18446744073709551616.0, "18446744073709552000");
  number(1704067200.001629, "1704067200.001629");
  number(0.000001, "0.000001");
  number(1.7976931348623157e308, "1.7976931348623157e+308");
  number(5e-324, "5e-324");
  number(100, "100");
  number(123.456, "123.456");
  number(8589934592000001.0 / 1e6, "8589934592.000002");
  number(-2.5, "-2.5");
}

/* Below 2^33 s the fast six-decimal path must equal the general path. */
static void micros_fast_path(void) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t us;
    switch (i % 4) {
    case 0: us = x % 8589934592000000ull; break;
    case 1: us = 8589934592000000ull - 1 - x % 1000000000ull; break;
    case 2: us = x % 100000000ull; break;
    default: us = 1700000000000000ull + x % 100000000000000ull; break;
    }
    char a[40], b[40];
    size_t na = (size_t)(put_micros(a, us) - a), nb = wf_text_number((double)us / 1e6, b);
    a[na] = b[nb] = '\0';
    if (strcmp(a, b) != 0) {
      fprintf(stderr, "%llu us: fast %s, general %s\n", (unsigned long long)us, a, b);
      exit(1);
    }
  }
}

static wf_flow_record v6_record(void) {
  wf_flow_record r = {.flow_id = 0x00ab00cd00ef0012ull, .family = 6, .protocol = 6, .vlan_id = 101,
                      .src_port = 443, .dst_port = 51000, .packets_fwd = 3, .packets_rev = 2,
                      .bytes_fwd = 180, .bytes_rev = 1500,
                      .first_ns = 1704067200001629123ull, .last_ns = 1704067201000000999ull,
                      .tcp_flags = 0x02 | 0x10 | 0x04, .state = 2, .end_reason = 3};
  const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t dst[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
  memcpy(r.src, src, 16);
  memcpy(r.dst, dst, 16);
  return r;
}

static void line(int format, const wf_flow_record *r, const char *want) {
  char buf[WF_TEXT_LINE_MAX];
  size_t n = wf_text_format(format, r, buf);
  assert(n < sizeof buf);
  buf[n] = '\0';
  if (strcmp(buf, want) != 0) {
    fprintf(stderr, "got  %swant %s", buf, want);
    exit(1);
  }
}

static void lines(void) {
  wf_flow_record r = v6_record();
  line(WF_TEXT_NDJSON, &r,
       "{\"flow_id\":\"00ab00cd00ef0012\",\"ip_version\":6,\"src_ip\":\"2001:db8::1\","
       "\"dst_ip\":\"::ffff:192.0.2.7\",\"src_port\":443,\"dst_port\":51000,\"protocol\":6,"
       "\"vlan_id\":101,\"packets\":5,\"bytes\":1680,\"packets_fwd\":3,\"packets_rev\":2,"
       "\"bytes_fwd\":180,\"bytes_rev\":1500,\"first_seen\":1704067200.001629,"
       "\"last_seen\":1704067201,\"duration_sec\":0.998371,\"tcp_flags\":\"SYN|ACK|RST\","
       "\"state\":\"CLOSED\",\"end_reason\":\"fin_rst\"}\n");
  line(WF_TEXT_CSV, &r,
       "00ab00cd00ef0012,2001:db8::1,::ffff:192.0.2.7,443,51000,6,101,5,1680,3,2,180,1500,"
       "1704067200.001629,1704067201,0.998371,SYN|ACK|RST,CLOSED,fin_rst\n");
  /* Active flow: null end reason; unknown state reads ACTIVE; no flags; one zero group stays. */
  wf_flow_record a = {.flow_id = 1, .family = 6, .protocol = 17, .packets_fwd = 1,
                      .first_ns = 999, .last_ns = 999, .state = 9, .end_reason = 0};
  const uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  const uint8_t d6[16] = {0x20, 0x01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
  memcpy(a.src, s6, 16);
  memcpy(a.dst, d6, 16);
  line(WF_TEXT_NDJSON, &a,
       "{\"flow_id\":\"0000000000000001\",\"ip_version\":6,\"src_ip\":\"2001:db8:0:1::\","
       "\"dst_ip\":\"2001:0:1::1:0:1\",\"src_port\":0,\"dst_port\":0,\"protocol\":17,"
       "\"vlan_id\":0,\"packets\":1,\"bytes\":0,\"packets_fwd\":1,\"packets_rev\":0,"
       "\"bytes_fwd\":0,\"bytes_rev\":0,\"first_seen\":0,\"last_seen\":0,\"duration_sec\":0,"
       "\"tcp_flags\":\"\",\"state\":\"ACTIVE\",\"end_reason\":null}\n");
  line(WF_TEXT_CSV, &a, "0000000000000001,2001:db8:0:1::,2001:0:1::1:0:1,0,0,17,0,1,0,1,0,0,0,0,0,0,,ACTIVE,\n");
  /* IPv4; counters past 2^53 print as JavaScript numbers would. */
  wf_flow_record b = {.flow_id = ~0ull, .family = 4, .protocol = 1, .src_port = 0, .dst_port = 0x0800,
                      .packets_fwd = 9007199254740993ull, .packets_rev = 0,
                      .bytes_fwd = 18446744073709551615ull, .bytes_rev = 1,
                      .first_ns = 2000, .last_ns = 1000, .end_reason = 5};
  const uint8_t s4[4] = {10, 0, 0, 1}, d4[4] = {255, 255, 255, 255};
  memcpy(b.src, s4, 4);
  memcpy(b.dst, d4, 4);
  line(WF_TEXT_CSV, &b,
       "ffffffffffffffff,10.0.0.1,255.255.255.255,0,2048,1,0,9007199254740992,"
       "18446744073709552000,9007199254740992,0,18446744073709552000,1,0.000002,0.000001,"
       "-0.000001,,ACTIVE,evicted\n");
}

/* The writer: large writes to a pipe, the csv header first, EPIPE reported, not raised. */
static void writer(void) {
  int p[2];
  assert(pipe(p) == 0);
  wf_text_writer *w = wf_text_writer_create(p[1], WF_TEXT_CSV);
  assert(w != NULL);
  wf_flow_record r = v6_record();
  assert(wf_text_write_header(w) == 0);
  assert(wf_text_write(w, &r, 1) == 0);
  assert(wf_text_flush(w) == 0);
  char buf[2048];
  ssize_t n = read(p[0], buf, sizeof buf - 1);
  assert(n > 0);
  buf[n] = '\0';
  assert(strncmp(buf, "flow_id,src_ip,", 15) == 0);
  assert(strstr(buf, "\n00ab00cd00ef0012,2001:db8::1,") != NULL);
  close(p[0]);
  signal(SIGPIPE, SIG_IGN); /* as in Node */
  assert(wf_text_write(w, &r, 1) == 0); /* buffered: nothing written yet */
  assert(wf_text_flush(w) == -1 && wf_text_error(w) == EPIPE);
  assert(wf_text_write(w, &r, 1) == -1);
  wf_text_writer_destroy(w);
  close(p[1]);
}

int main(void) {
  js_numbers();
  micros_fast_path();
  lines();
  writer();
  puts("flow_text_test: ok");
  return 0;
}
