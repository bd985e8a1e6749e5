/*
 * NetFlow v5 encoder (one complete datagram per call, no sockets).
 *
 * Datagram: 24-byte header + 1..30 records of 48 bytes (at most 1464 bytes).
 *
 * Header                            Record (48 B)
 *   0 version = 5          u16        0 srcaddr               u32
 *   2 count (records)      u16        4 dstaddr               u32
 *   4 sysUptime ms         u32        8 nexthop = 0           u32
 *   8 unix_secs            u32       12 input, 14 output = 0  u16 each
 *  12 unix_nsecs           u32       16 dPkts                 u32 (clamped)
 *  16 flow_sequence        u32       20 dOctets               u32 (clamped)
 *  20 engine_type = 0      u8        24 First (sysUptime ms)  u32
 *  21 engine_id            u8        28 Last (sysUptime ms)   u32
 *  22 sampling_interval=0  u16       32 srcport, 34 dstport   u16 each
 *                                    36 pad1, 37 tcp_flags, 38 prot, 39 tos = 0
 *                                    40 src_as, 42 dst_as = 0, 44 src_mask, 45 dst_mask = 0
 *                                    46 pad2
 *
 * Mapping of one bidirectional wf_flow_record (NetFlow v5 is unidirectional):
 *   - IPv6 records are not encodable in v5: they are consumed and produce nothing
 *     (the exporter counts them as records_skipped).
 *   - forward record, if packets_fwd > 0: src -> dst, src_port -> dst_port,
 *     dPkts = packets_fwd, dOctets = bytes_fwd.
 *   - reverse record, if packets_rev > 0: dst -> src with the ports swapped,
 *     dPkts = packets_rev, dOctets = bytes_rev. For ICMP/ICMPv6 the ports are
 *     not swapped: dst_port carries type << 8 | code, which belongs to the
 *     packets whatever their direction.
 *   - both records carry the flow's combined tcp_flags (the meter keeps one OR of
 *     both directions) and the flow's first/last times: First/Last are
 *     milliseconds since boot_ns, modulo 2^32 (a flow that started before boot_ns
 *     wraps, which collectors read as "First > Last: started before the wrap").
 *     Times are truncated to whole ms before subtracting, so the collector's
 *     unix time - sysUptime + First equals first_ns / 1e6 exactly.
 *   - counters above 2^32 - 1 are clamped to 2^32 - 1 (v5 has 32-bit counters).
 *   - vlan_id, end_reason and flow_id have no v5 field and are dropped.
 *   - the two records of one flow are never split across datagrams, so a
 *     datagram may hold 29 records when the next flow needs two.
 *   - header: sysUptime = now - boot_ns in ms, unix_secs/nsecs = now_ns,
 *     flow_sequence as given (the exporter passes the number of v5 records sent
 *     before this datagram), engine_type 0, engine_id as given, no sampling.
 */
#include <string.h>

#include "export_internal.h"

#define NS_PER_MS 1000000u

/* Milliseconds of t since boot, modulo 2^32 (defined for t < boot). Both are
 * truncated to whole ms first, so a collector's boot + First lands exactly on
 * t's millisecond, the same value IPFIX's flowStartMilliseconds carries. */
static uint32_t uptime_ms(uint64_t t, uint64_t boot) {
  return (uint32_t)(t / NS_PER_MS - boot / NS_PER_MS);
}

static uint32_t clamp32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

static uint32_t addr4(const uint8_t *a) {
  return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | (uint32_t)a[3];
}

static void put_record(uint8_t *p, const wf_flow_record *r, int reverse, uint64_t boot_ns) {
  const int icmp = r->protocol == 1 || r->protocol == 58;
  memset(p, 0, WF_NF5_RECORD_LEN);
  wf_put32(p, 0, addr4(reverse ? r->dst : r->src));
  wf_put32(p, 4, addr4(reverse ? r->src : r->dst));
  wf_put32(p, 16, clamp32(reverse ? r->packets_rev : r->packets_fwd));
  wf_put32(p, 20, clamp32(reverse ? r->bytes_rev : r->bytes_fwd));
  wf_put32(p, 24, uptime_ms(r->first_ns, boot_ns));
  wf_put32(p, 28, uptime_ms(r->last_ns, boot_ns));
  const int swap = reverse && !icmp;
  wf_put16(p, 32, swap ? r->dst_port : r->src_port);
  wf_put16(p, 34, swap ? r->src_port : r->dst_port);
  wf_put8(p, 37, r->tcp_flags);
  wf_put8(p, 38, r->protocol);
}

size_t wf_netflow5_encode(uint8_t *buf, size_t cap, const wf_flow_record *records, size_t *count,
                          uint64_t now_ns, uint64_t boot_ns, uint32_t flow_sequence,
                          uint8_t engine_id) {
  if (count == NULL) return 0;
  const size_t available = *count;
  *count = 0;
  /* Room for a flow that needs both directions, else no progress is possible. */
  if (buf == NULL || cap < WF_NF5_HEADER_LEN + 2 * WF_NF5_RECORD_LEN) return 0;
  if (records == NULL && available > 0) return 0;
  size_t max = (cap - WF_NF5_HEADER_LEN) / WF_NF5_RECORD_LEN;
  if (max > WF_NF5_MAX_RECORDS) max = WF_NF5_MAX_RECORDS;

  size_t used = 0, i = 0;
  for (; i < available; i++) {
    const wf_flow_record *r = &records[i];
    const unsigned need = wf_nf5_records_for(r);
    if (need == 0) continue; /* IPv6 or no packets: consumed, nothing to say */
    if (used + need > max) break;
    if (r->packets_fwd > 0) {
      put_record(buf + WF_NF5_HEADER_LEN + used * WF_NF5_RECORD_LEN, r, 0, boot_ns);
      used++;
    }
    if (r->packets_rev > 0) {
      put_record(buf + WF_NF5_HEADER_LEN + used * WF_NF5_RECORD_LEN, r, 1, boot_ns);
      used++;
    }
  }
  *count = i;
  if (used == 0) return 0;

  wf_put16(buf, 0, 5);
  wf_put16(buf, 2, (uint16_t)used);
  wf_put32(buf, 4, uptime_ms(now_ns, boot_ns));
  wf_put32(buf, 8, (uint32_t)(now_ns / 1000000000u));
  wf_put32(buf, 12, (uint32_t)(now_ns % 1000000000u));
  wf_put32(buf, 16, flow_sequence);
  wf_put8(buf, 20, 0);
  wf_put8(buf, 21, engine_id);
  wf_put16(buf, 22, 0);
  return WF_NF5_HEADER_LEN + used * WF_NF5_RECORD_LEN;
}
