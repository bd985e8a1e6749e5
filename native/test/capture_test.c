/*
 * Live capture, BPF and pcap writer tests (assert-based, no framework). Needs root
 * (CAP_NET_RAW, and CAP_SYS_ADMIN for the network namespace of the VLAN test)
 * and libpcap.so at run time. From the repo root:
 *
 * cc -std=c11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
 *   -Inative/src native/src/capture.c native/src/afpacket.c native/src/pcap_backend.c \
 *   native/src/libpcap_loader.c native/src/bpf.c native/src/pcap_writer.c \
 *   native/src/file_reader.c native/src/parse.c native/test/capture_test.c -ldl -lpthread \
 *   -o /tmp/capture_test && /tmp/capture_test
 *
 * What it covers: filter compilation (good, bad, empty); the pcap writer's rotation by size
 * and by time, its bounded queue, and that concatenated segments read back with the file
 * reader; capture on lo (error messages, filter, snaplen trimming, many packets across many
 * ring blocks, statistics); then, inside a private network namespace, a veth pair where a
 * frame sent with an 802.1Q tag arrives with the tag stripped by the kernel and must come out
 * of wf_capture_poll byte-identical to what was sent (VLAN re-insertion). The libpcap backend
 * (backend = 1) is run on lo too: its errors, filter, snaplen trimming and counters.
 */
#define _GNU_SOURCE
#undef NDEBUG
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "file_reader_internal.h"
#include "pcap_writer.h"
#include "wirefleet.h"

#define CHECK(cond, ...)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n  ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                    \
      fprintf(stderr, "\n");                                           \
      exit(1);                                                         \
    }                                                                  \
  } while (0)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- BPF ---- */

static void test_bpf(void) {
  char version[128], err[256];
  CHECK(wf_libpcap_available(version, sizeof version), "libpcap: %s", version);
  printf("libpcap: %s\n", version);
  struct wf_bpf_program prog;
  CHECK(wf_bpf_compile("tcp port 443", WF_LINKTYPE_ETHERNET, 262144, &prog, err, sizeof err) == 0,
        "%s", err);
  CHECK(prog.len > 4 && prog.insns != NULL, "len %u", prog.len);
  wf_bpf_free(&prog);
  CHECK(prog.insns == NULL && prog.len == 0, "freed");
  CHECK(wf_bpf_compile("tcp port banana", WF_LINKTYPE_ETHERNET, 0, &prog, err, sizeof err) == -1,
        "banana compiled");
  CHECK(strncmp(err, "filter \"tcp port banana\": ", 26) == 0 && strlen(err) > 27, "%s", err);
  CHECK(prog.insns == NULL, "no program on failure");
  printf("bad filter: %s\n", err);
  /* Raw-IP link type maps to DLT_RAW. */
  CHECK(wf_bpf_compile("udp", WF_LINKTYPE_RAW, 128, &prog, err, sizeof err) == 0, "%s", err);
  wf_bpf_free(&prog);
  /* An empty expression accepts everything (one "ret #snaplen"). */
  CHECK(wf_bpf_compile("", WF_LINKTYPE_ETHERNET, 128, &prog, err, sizeof err) == 0, "%s", err);
  CHECK(prog.len == 1, "len %u", prog.len);
  wf_bpf_free(&prog);
  /* A tiny error buffer truncates, never overflows. */
  char tiny[8];
  CHECK(wf_bpf_compile("(((", WF_LINKTYPE_ETHERNET, 128, &prog, tiny, sizeof tiny) == -1, "(((");
  CHECK(strlen(tiny) == 7, "%s", tiny);
}

/* ---- pcap writer ---- */

static void fill_frame(uint8_t *f, uint32_t len, uint32_t seq) {
  for (uint32_t i = 0; i < len; i++) f[i] = (uint8_t)(seq * 7 + i);
}

static void test_pcap_writer(void) {
  char err[256];
  wf_pcap_writer_config cfg = {.linktype = WF_LINKTYPE_ETHERNET,
                               .snaplen = 1000,
                               .max_segment_bytes = 4096,
                               .max_segment_seconds = 2,
                               .max_pending = 64};
  wf_pcap_writer *w = wf_pcap_writer_create(&cfg, err, sizeof err);
  CHECK(w, "%s", err);
  uint8_t frame[1500];
  const uint64_t t0 = 1700000000ull * 1000000000ull + 123456789ull;
  const int n = 100;
  for (int i = 0; i < n; i++) {
    uint32_t len = 60 + (uint32_t)(i * 13) % 1400; /* some beyond snaplen 1000: cut */
    fill_frame(frame, len, (uint32_t)i);
    wf_packet p = {frame, len, len, t0 + (uint64_t)i * 10000000ull /* 10 ms apart */,
                   WF_LINKTYPE_ETHERNET};
    CHECK(wf_pcap_writer_add(w, &p) == 0, "add %d", i);
  }
  CHECK(wf_pcap_writer_finish(w) == 0, "finish");
  size_t segments = wf_pcap_writer_ready(w);
  CHECK(segments > 10, "size rotation: %zu segments", segments);
  /* Concatenate: first segment whole, later ones without their file header. */
  size_t total = 0, cap = 1 << 20;
  uint8_t *file = malloc(cap);
  wf_pcap_segment seg;
  uint64_t seq = 0, packets = 0;
  while (wf_pcap_writer_take(w, &seg)) {
    CHECK(seg.sequence == seq, "sequence %llu", (unsigned long long)seg.sequence);
    CHECK(seg.len <= 4096 || seg.packets == 1, "segment of %zu bytes", seg.len);
    /* Each segment is a pcap on its own. */
    wf_file_reader *r = wf_file_open_memory(seg.data, seg.len, err, sizeof err);
    CHECK(r, "segment %llu: %s", (unsigned long long)seq, err);
    wf_file_close(r);
    size_t skip = seq == 0 ? 0 : WF_PCAP_HEADER_LEN;
    CHECK(total + seg.len - skip <= cap, "room");
    memcpy(file + total, seg.data + skip, seg.len - skip);
    total += seg.len - skip;
    packets += seg.packets;
    seq++;
    free(seg.data);
  }
  CHECK(packets == (uint64_t)n, "%llu packets in segments", (unsigned long long)packets);
  wf_file_reader *r = wf_file_open_memory(file, total, err, sizeof err);
  CHECK(r, "%s", err);
  CHECK(strcmp(wf_file_format(r), "pcap") == 0, "format");
  wf_packet p;
  int i = 0, st;
  while ((st = wf_file_next(r, &p, err, sizeof err)) == 1) {
    uint32_t len = 60 + (uint32_t)(i * 13) % 1400;
    fill_frame(frame, len, (uint32_t)i);
    CHECK(p.wirelen == len, "wirelen %u vs %u", p.wirelen, len);
    CHECK(p.caplen == (len < 1000 ? len : 1000), "caplen %u", p.caplen);
    CHECK(memcmp(p.data, frame, p.caplen) == 0, "bytes of packet %d", i);
    CHECK(p.ts_ns == t0 + (uint64_t)i * 10000000ull, "ns timestamp of packet %d", i);
    CHECK(p.linktype == WF_LINKTYPE_ETHERNET, "linktype");
    i++;
  }
  CHECK(st == 0 && i == n, "read back %d packets (%s)", i, st < 0 ? err : "");
  wf_file_close(r);
  free(file);
  wf_pcap_writer_stats ws;
  wf_pcap_writer_get_stats(w, &ws);
  CHECK(ws.packets_written == (uint64_t)n && ws.packets_dropped == 0 &&
            ws.segments_completed == segments,
        "stats");
  wf_pcap_writer_destroy(w);

  /* Time rotation (packets 1.5 s apart, 2 s segments) and a full pending queue. */
  cfg.max_segment_bytes = 1 << 20;
  cfg.max_pending = 2;
  w = wf_pcap_writer_create(&cfg, err, sizeof err);
  CHECK(w, "%s", err);
  for (int k = 0; k < 8; k++) {
    wf_packet q = {frame, 100, 100, t0 + (uint64_t)k * 1500000000ull, WF_LINKTYPE_ETHERNET};
    int rc = wf_pcap_writer_add(w, &q);
    /* segments: {0,1} {2,3} complete; {4,5} cannot be queued: packets 6, 7 are dropped */
    CHECK(rc == (k < 6 ? 0 : -1), "packet %d: %d", k, rc);
  }
  CHECK(wf_pcap_writer_ready(w) == 2, "two pending");
  CHECK(wf_pcap_writer_finish(w) == -1, "queue full at finish");
  CHECK(wf_pcap_writer_take(w, &seg) == 1 && seg.packets == 2, "first");
  free(seg.data);
  CHECK(wf_pcap_writer_finish(w) == 0, "finish after take");
  wf_pcap_writer_get_stats(w, &ws);
  CHECK(ws.packets_dropped == 2, "dropped %llu", (unsigned long long)ws.packets_dropped);
  /* Wall-clock tick completes an old segment with no new packet. */
  wf_packet q = {frame, 100, 100, t0 + 100 * 1000000000ull, WF_LINKTYPE_ETHERNET};
  while (wf_pcap_writer_take(w, &seg)) free(seg.data);
  CHECK(wf_pcap_writer_add(w, &q) == 0, "add");
  wf_pcap_writer_tick(w, q.ts_ns + 1000000000ull);
  CHECK(wf_pcap_writer_ready(w) == 0, "not yet");
  wf_pcap_writer_tick(w, q.ts_ns + 2000000000ull);
  CHECK(wf_pcap_writer_ready(w) == 1, "ticked out");
  wf_pcap_writer_destroy(w); /* frees the pending segment: ASan checks for leaks */
}

/* ---- capture ---- */

typedef struct seen {
  int count;
  int matched;
  uint32_t caplen, wirelen;
  uint8_t data[2048];
  uint16_t port;
} seen;

static void on_packet(void *ctx, const wf_packet *p) {
  seen *s = ctx;
  s->count++;
  s->caplen = p->caplen;
  s->wirelen = p->wirelen;
  memcpy(s->data, p->data, p->caplen < sizeof s->data ? p->caplen : sizeof s->data);
  assert(p->linktype == WF_LINKTYPE_ETHERNET);
  uint64_t now = now_ns();
  assert(p->ts_ns > now - 60ull * 1000000000ull && p->ts_ns <= now + 1000000000ull);
  /* Ethernet + IPv4 + UDP to our port? */
  if (p->caplen >= 14 + 20 + 8 && p->data[12] == 0x08 && p->data[13] == 0 && p->data[23] == 17) {
    size_t ihl = (size_t)(p->data[14] & 15) * 4;
    if (p->caplen >= 14 + ihl + 4 &&
        (p->data[14 + ihl + 2] << 8 | p->data[14 + ihl + 3]) == s->port)
      s->matched++;
  }
}

static void poll_until(wf_capture *c, seen *s, int want, int max_ms) {
  char err[256];
  for (int waited = 0; s->count < want && waited < max_ms; waited += 50) {
    int n = wf_capture_poll(c, 50, on_packet, s, err, sizeof err);
    CHECK(n >= 0, "poll: %s", err);
  }
}

static int udp_socket(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s >= 0, "socket: %s", strerror(errno));
  return s;
}

static void send_udp(int s, uint16_t port, const void *payload, size_t len) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(sendto(s, payload, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len, "sendto: %s",
        strerror(errno));
}

static void test_errors(void) {
  char err[256];
  wf_capture_config cfg = {.interface = "wf-no-such0"};
  CHECK(!wf_capture_open(&cfg, err, sizeof err) && errno == ENODEV, "unknown interface");
  CHECK(strstr(err, "no such interface \"wf-no-such0\""), "%s", err);
  printf("unknown interface: %s\n", err);
  cfg.interface = "a-name-longer-than-ifnamsiz";
  CHECK(!wf_capture_open(&cfg, err, sizeof err) && strstr(err, "no such interface"), "%s", err);
  cfg.interface = "lo";
  cfg.filter = "tcp port banana";
  CHECK(!wf_capture_open(&cfg, err, sizeof err) && errno == EINVAL, "bad filter");
  CHECK(strncmp(err, "filter \"tcp port banana\": ", 26) == 0, "%s", err);
  cfg.filter = NULL;
  cfg.timestamp_source = WF_TS_ADAPTER;
  CHECK(!wf_capture_open(&cfg, err, sizeof err), "lo has no hardware timestamps");
  CHECK(strstr(err, "cannot timestamp received packets in hardware"), "%s", err);
  printf("adapter timestamps on lo: %s\n", err);
  cfg.timestamp_source = 0;
  cfg.snaplen = 10;
  CHECK(!wf_capture_open(&cfg, err, sizeof err) && strstr(err, "snaplen"), "%s", err);
  cfg.snaplen = 0;
  cfg.buffer_size_mb = 5000;
  CHECK(!wf_capture_open(&cfg, err, sizeof err) && strstr(err, "buffer size"), "%s", err);
}

static void test_lo(void) {
  char err[256];
  const uint16_t port = (uint16_t)(40000 + getpid() % 20000);
  char filter[64];
  snprintf(filter, sizeof filter, "udp dst port %u", port);
  wf_capture_config cfg = {.interface = "lo", .filter = filter, .buffer_size_mb = 1};
  wf_capture *c = wf_capture_open(&cfg, err, sizeof err);
  CHECK(c, "open lo: %s", err);
  wf_capture_stats cs;
  wf_capture_get_stats(c, &cs);
  CHECK(cs.blocks_total >= 2 && cs.packets == 0, "blocks %u", cs.blocks_total);
  int s = udp_socket();
  const char payload[] = "wirefleet capture test";
  send_udp(s, (uint16_t)(port + 1), payload, sizeof payload); /* filtered out */
  send_udp(s, port, payload, sizeof payload);
  seen sn = {.port = port};
  poll_until(c, &sn, 1, 3000);
  /* lo: the outgoing copy is skipped, so exactly one. */
  CHECK(sn.count == 1 && sn.matched == 1, "count %d matched %d", sn.count, sn.matched);
  CHECK(sn.caplen == 14 + 20 + 8 + sizeof payload && sn.wirelen == sn.caplen, "len %u/%u",
        sn.caplen, sn.wirelen);
  CHECK(memcmp(sn.data + 42, payload, sizeof payload) == 0, "payload");
  wf_capture_get_stats(c, &cs);
  CHECK(cs.packets == 1 && cs.bytes == sn.wirelen, "packets %llu", (unsigned long long)cs.packets);
  /* Both copies (out, in) passed the filter in the kernel; the first call may also be after the
   * datagram to port+1 was already refused in the kernel filter, which it does not count. */
  CHECK(cs.kernel_packets == 2 && cs.kernel_drops == 0, "kernel %llu/%llu",
        (unsigned long long)cs.kernel_packets, (unsigned long long)cs.kernel_drops);
  wf_capture_get_stats(c, &cs); /* re-read: the kernel reset its counters, ours accumulate */
  CHECK(cs.kernel_packets == 2, "accumulated %llu", (unsigned long long)cs.kernel_packets);
  /* Timeout with nothing to read. */
  CHECK(wf_capture_poll(c, 20, on_packet, &sn, err, sizeof err) == 0, "idle poll");
  wf_capture_close(c);

  /* Small snaplen and small blocks: many packets spread over many blocks. */
  cfg.snaplen = 64;
  cfg.block_size_kb = 4;
  cfg.block_timeout_ms = 5;
  c = wf_capture_open(&cfg, err, sizeof err);
  CHECK(c, "open lo: %s", err);
  wf_capture_get_stats(c, &cs);
  CHECK(cs.blocks_total == 256, "1 MiB / 4 KiB blocks: %u", cs.blocks_total);
  uint8_t big[1200];
  memset(big, 0xab, sizeof big);
  const int total = 3000;
  seen many = {.port = port};
  for (int i = 0; i < total; i++) {
    send_udp(s, port, big, sizeof big);
    if (i % 500 == 499) (void)wf_capture_poll(c, 0, on_packet, &many, err, sizeof err);
  }
  poll_until(c, &many, total, 5000);
  CHECK(many.count == total && many.matched == total, "count %d of %d", many.count, total);
  CHECK(many.caplen == 64 && many.wirelen == 14 + 20 + 8 + sizeof big, "trimmed %u/%u",
        many.caplen, many.wirelen);
  wf_capture_get_stats(c, &cs);
  CHECK(cs.kernel_drops == 0 && cs.packets == (uint64_t)total, "drops %llu packets %llu",
        (unsigned long long)cs.kernel_drops, (unsigned long long)cs.packets);
  CHECK(cs.bytes == (uint64_t)total * (14 + 20 + 8 + sizeof big), "wire bytes");
  CHECK(cs.blocks_user == 0, "all blocks returned: %u", cs.blocks_user);
  printf("lo: %d packets over %u blocks, kernel_packets=%llu drops=%llu\n", many.count,
         cs.blocks_total, (unsigned long long)cs.kernel_packets,
         (unsigned long long)cs.kernel_drops);
  /* Blocks held by the kernel-filled ring count as used when we do not read. */
  for (int i = 0; i < 40; i++) send_udp(s, port, big, sizeof big);
  usleep(50 * 1000); /* > block timeout: the blocks are retired to user space */
  wf_capture_get_stats(c, &cs);
  CHECK(cs.blocks_user >= 1, "blocks held: %u", cs.blocks_user);
  wf_capture_close(c);
  close(s);
}

/* Two sockets in one PACKET_FANOUT_HASH group share the flows between them. */
static void test_fanout(void) {
  char err[256];
  const uint16_t port = (uint16_t)(30000 + getpid() % 10000);
  char filter[64];
  snprintf(filter, sizeof filter, "udp dst port %u", port);
  wf_capture_config cfg = {.interface = "lo", .filter = filter, .buffer_size_mb = 1,
                           .fanout_group = 4242};
  wf_capture *a = wf_capture_open(&cfg, err, sizeof err);
  CHECK(a, "fanout a: %s", err);
  wf_capture *b = wf_capture_open(&cfg, err, sizeof err);
  CHECK(b, "fanout b: %s", err);
  const int flows = 32;
  for (int i = 0; i < flows; i++) { /* a new socket, so a new source port, per flow */
    int s = udp_socket();
    send_udp(s, port, "x", 1);
    close(s);
  }
  seen sa = {.port = port}, sb = {.port = port};
  for (int waited = 0; sa.count + sb.count < flows && waited < 3000; waited += 20) {
    CHECK(wf_capture_poll(a, 10, on_packet, &sa, err, sizeof err) >= 0, "%s", err);
    CHECK(wf_capture_poll(b, 10, on_packet, &sb, err, sizeof err) >= 0, "%s", err);
  }
  CHECK(sa.count + sb.count == flows && sa.count > 0 && sb.count > 0, "fanout split %d + %d",
        sa.count, sb.count);
  printf("fanout: %d flows split %d + %d\n", flows, sa.count, sb.count);
  wf_capture_close(a);
  wf_capture_close(b);
}

/* In a private network namespace: veth pair, a tagged frame sent on one end arrives on the
 * other with the tag stripped into the ring's metadata; poll must rebuild it. */
static void test_vlan(void) {
  char err[256];
  CHECK(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
  CHECK(system("ip link add wfcapa type veth peer name wfcapb && ip link set wfcapa up && "
               "ip link set wfcapb up") == 0,
        "creating the veth pair (is iproute2 installed?)");
  wf_capture_config cfg = {.interface = "wfcapa", .filter = "udp port 4789 or vlan",
                           .buffer_size_mb = 2, .promiscuous = 1};
  wf_capture *c = wf_capture_open(&cfg, err, sizeof err);
  CHECK(c, "open wfcapa: %s", err);
  int tx = socket(AF_PACKET, SOCK_RAW, 0);
  CHECK(tx >= 0, "tx socket: %s", strerror(errno));
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("wfcapb"),
                           .sll_halen = 6};
  uint8_t frame[14 + 4 + 20 + 8 + 32];
  memset(frame, 0, sizeof frame);
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0xaa}, src[6] = {0x02, 0, 0, 0, 0, 0xbb};
  memcpy(frame, dst, 6);
  memcpy(frame + 6, src, 6);
  memcpy(to.sll_addr, dst, 6);
  frame[12] = 0x81; frame[13] = 0x00;          /* 802.1Q */
  frame[14] = 0x60; frame[15] = 42;             /* PCP 3, VID 42 */
  frame[16] = 0x08; frame[17] = 0x00;           /* IPv4 */
  uint8_t *ip = frame + 18;
  ip[0] = 0x45;
  ip[3] = (uint8_t)(sizeof frame - 18);
  ip[8] = 64;
  ip[9] = 17;
  ip[12] = 10; ip[15] = 1;
  ip[16] = 10; ip[19] = 2;
  uint8_t *udp = ip + 20;
  udp[0] = 0x30; udp[1] = 0x39;                 /* 12345 */
  udp[2] = 0x12; udp[3] = 0xb5;                 /* 4789 */
  udp[5] = 8 + 32;
  for (int i = 0; i < 32; i++) udp[8 + i] = (uint8_t)i;
  CHECK(sendto(tx, frame, sizeof frame, 0, (struct sockaddr *)&to, sizeof to) == sizeof frame,
        "send: %s", strerror(errno));
  seen sn = {.port = 4789};
  poll_until(c, &sn, 1, 3000);
  CHECK(sn.count >= 1, "no frame");
  CHECK(sn.caplen == sizeof frame && sn.wirelen == sizeof frame, "len %u/%u (sent %zu)", sn.caplen,
        sn.wirelen, sizeof frame);
  CHECK(memcmp(sn.data, frame, sizeof frame) == 0, "tag re-inserted byte-exact");
  wf_parsed parsed;
  CHECK(wf_parse(WF_LINKTYPE_ETHERNET, sn.data, sn.caplen, sn.wirelen, &parsed) == WF_PARSE_OK &&
            parsed.vlan_id == 42 && parsed.dst_port == 4789,
        "parsed vlan %u port %u", parsed.vlan_id, parsed.dst_port);
  printf("vlan: tag 42 re-inserted, %u bytes\n", sn.caplen);
  close(tx);
  wf_capture_close(c);
  /* The namespace (and the veth pair) goes away with the process. */
}

/* The libpcap backend (libpcap loaded at run time) on lo: same operations, same results. */
static void test_libpcap_lo(void) {
  char err[256];
  wf_capture_config bad = {.interface = "wf-no-such0", .backend = 1};
  CHECK(!wf_capture_open(&bad, err, sizeof err) && errno == ENODEV, "unknown interface");
  CHECK(strstr(err, "no such interface \"wf-no-such0\""), "%s", err);
  bad.interface = "lo";
  bad.filter = "tcp port banana";
  CHECK(!wf_capture_open(&bad, err, sizeof err) && errno == EINVAL, "bad filter: %d %s", errno, err);
  CHECK(strncmp(err, "filter \"tcp port banana\": ", 26) == 0, "%s", err);
  printf("libpcap bad filter: %s\n", err);
  bad.filter = NULL;
  bad.timestamp_source = WF_TS_ADAPTER;
  CHECK(!wf_capture_open(&bad, err, sizeof err) && errno == EOPNOTSUPP, "lo: no hw timestamps");
  CHECK(strstr(err, "cannot timestamp received packets in hardware"), "%s", err);
  bad.timestamp_source = WF_TS_KERNEL;
  bad.fanout_group = 7;
  CHECK(!wf_capture_open(&bad, err, sizeof err) && strstr(err, "afpacket"), "%s", err);
  bad.fanout_group = 0;
  bad.backend = 2;
  CHECK(!wf_capture_open(&bad, err, sizeof err) && strstr(err, "unknown capture backend"), "%s",
        err);

  const uint16_t port = (uint16_t)(40000 + (getpid() + 7) % 20000);
  char filter[64];
  snprintf(filter, sizeof filter, "udp dst port %u", port);
  wf_capture_config cfg = {.interface = "lo", .filter = filter, .buffer_size_mb = 4, .backend = 1};
  wf_capture *c = wf_capture_open(&cfg, err, sizeof err);
  CHECK(c, "libpcap open lo: %s", err);
  CHECK(wf_capture_linktype(c) == WF_LINKTYPE_ETHERNET, "linktype %d", wf_capture_linktype(c));
  wf_capture_stats cs;
  wf_capture_get_stats(c, &cs);
  CHECK(cs.packets == 0 && cs.kernel_packets == 0, "fresh counters");
  int s = udp_socket();
  const char payload[] = "wirefleet libpcap test";
  send_udp(s, (uint16_t)(port + 1), payload, sizeof payload); /* filtered out */
  send_udp(s, port, payload, sizeof payload);
  seen sn = {.port = port};
  poll_until(c, &sn, 1, 3000);
  CHECK(sn.count == 1 && sn.matched == 1, "count %d matched %d", sn.count, sn.matched);
  CHECK(sn.caplen == 14 + 20 + 8 + sizeof payload && sn.wirelen == sn.caplen, "len %u/%u",
        sn.caplen, sn.wirelen);
  CHECK(memcmp(sn.data + 42, payload, sizeof payload) == 0, "payload");
  wf_capture_get_stats(c, &cs);
  CHECK(cs.packets == 1 && cs.bytes == sn.wirelen, "packets %llu", (unsigned long long)cs.packets);
  /* Both copies (out, in) passed the kernel filter; libpcap skips the outgoing one. */
  CHECK(cs.kernel_packets == 2 && cs.kernel_drops == 0, "kernel %llu/%llu",
        (unsigned long long)cs.kernel_packets, (unsigned long long)cs.kernel_drops);
  wf_capture_get_stats(c, &cs);
  CHECK(cs.kernel_packets == 2, "accumulated %llu", (unsigned long long)cs.kernel_packets);
  CHECK(wf_capture_poll(c, 20, on_packet, &sn, err, sizeof err) == 0, "idle poll");
  wf_capture_close(c);

  /* Snaplen 64: many packets, trimmed, none dropped, exact wire bytes. */
  cfg.snaplen = 64;
  cfg.block_timeout_ms = 5;
  c = wf_capture_open(&cfg, err, sizeof err);
  CHECK(c, "libpcap open lo: %s", err);
  uint8_t big[1200];
  memset(big, 0xcd, sizeof big);
  const int total = 3000;
  seen many = {.port = port};
  for (int i = 0; i < total; i++) {
    send_udp(s, port, big, sizeof big);
    if (i % 500 == 499) (void)wf_capture_poll(c, 0, on_packet, &many, err, sizeof err);
  }
  poll_until(c, &many, total, 5000);
  CHECK(many.count == total && many.matched == total, "count %d of %d", many.count, total);
  CHECK(many.caplen == 64 && many.wirelen == 14 + 20 + 8 + sizeof big, "trimmed %u/%u",
        many.caplen, many.wirelen);
  wf_capture_get_stats(c, &cs);
  CHECK(cs.kernel_drops == 0 && cs.packets == (uint64_t)total, "drops %llu packets %llu",
        (unsigned long long)cs.kernel_drops, (unsigned long long)cs.packets);
  CHECK(cs.bytes == (uint64_t)total * (14 + 20 + 8 + sizeof big), "wire bytes");
  printf("libpcap lo: %d packets, kernel_packets=%llu drops=%llu\n", many.count,
         (unsigned long long)cs.kernel_packets, (unsigned long long)cs.kernel_drops);
  wf_capture_close(c);
  close(s);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_bpf();
  test_pcap_writer();
  if (geteuid() != 0) {
    fprintf(stderr, "capture_test: the live-capture part needs root (CAP_NET_RAW, CAP_SYS_ADMIN)\n");
    return 1;
  }
  test_errors();
  test_lo();
  test_fanout();
  test_libpcap_lo(); /* before test_vlan, which moves into a namespace where lo is down */
  test_vlan();
  printf("capture_test: all passed\n");
  return 0;
}
