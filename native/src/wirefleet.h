/*
 * wirefleet capture engine: the C core's public interface.
 *
 * All per-packet work happens here; the Node binding only moves batches of
 * flow records and counters. Everything is bounds-checked: a malformed packet
 * is a counted parse error, never a crash or an out-of-bounds read.
 */
#ifndef WIREFLEET_H
#define WIREFLEET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- link types (pcap LINKTYPE_* values) ---- */
#define WF_LINKTYPE_NULL 0
#define WF_LINKTYPE_ETHERNET 1
#define WF_LINKTYPE_RAW 101
#define WF_LINKTYPE_LINUX_SLL 113
#define WF_LINKTYPE_IPV4 228
#define WF_LINKTYPE_IPV6 229

/* ---- parser (parse.c) ---- */

/* Result codes of wf_parse. Negative values are parse errors. */
enum wf_parse_result {
  WF_PARSE_OK = 0,          /* an IPv4/IPv6 packet, fields filled in */
  WF_PARSE_NOT_IP = 1,      /* valid frame but not IP (ARP, STP...): not metered, not an error */
  WF_PARSE_TRUNCATED = -1,  /* a header, or a transport field the meter uses (ports, TCP flags), runs past caplen */
  WF_PARSE_MALFORMED = -2,  /* inconsistent lengths (incl. IP length beyond the wire length), bad version, bad header length */
  WF_PARSE_UNSUPPORTED_LINKTYPE = -3,
};

enum wf_fragment_kind {
  WF_FRAG_NONE = 0,   /* not fragmented */
  WF_FRAG_FIRST = 1,  /* offset 0, more fragments: carries the transport header */
  WF_FRAG_LATER = 2,  /* offset > 0: no transport header; joins the flow by IP ID */
};

typedef struct wf_parsed {
  uint8_t family;          /* 4 or 6 */
  uint8_t protocol;        /* transport protocol (after IPv6 extension headers) */
  uint16_t vlan_id;        /* innermost 802.1Q VID (0 = none); QinQ keeps the inner one */
  uint8_t vlan_depth;      /* number of VLAN tags seen */
  uint8_t fragment;        /* enum wf_fragment_kind */
  uint8_t tcp_flags;       /* TCP flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80) */
  uint8_t has_ports;       /* 1 if src_port/dst_port are meaningful */
  uint8_t src[16];         /* IPv4 in the first 4 bytes, rest zero */
  uint8_t dst[16];
  uint16_t src_port;       /* TCP/UDP/SCTP ports; ICMP: 0 */
  uint16_t dst_port;       /* ICMP/ICMPv6: type << 8 | code (NetFlow convention) */
  uint32_t ip_id;          /* IPv4 identification or IPv6 fragment identification (for fragments) */
  uint32_t ip_bytes;       /* IP-layer length from the header (IPv4 total length, IPv6 40 + payload length) */
} wf_parsed;

/*
 * Parses one captured frame. `caplen` bytes are readable at `data`; `wirelen`
 * is the original length. Never reads outside [data, data + caplen).
 */
int wf_parse(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen, wf_parsed *out);

/* ---- capture files (file_reader.c, file_formats.c) ---- */

typedef struct wf_packet {
  const uint8_t *data;     /* into the reader's buffer: valid until the next wf_file_next(_batch) */
  uint32_t caplen;
  uint32_t wirelen;
  uint64_t ts_ns;          /* epoch nanoseconds */
  int linktype;            /* per interface in pcapng */
} wf_packet;

typedef struct wf_file_reader wf_file_reader;

/* Opens a pcap (either byte order, µs or ns) or pcapng file, read through a
 * reusable buffer. Returns NULL and writes a one-line reason into err on failure. */
wf_file_reader *wf_file_open(const char *path, char *err, size_t errlen);
/* 1 = a packet, 0 = end of file, -1 = the file is corrupt here (reason in err). */
int wf_file_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen);
/* Up to max packets into out, all valid until the next call: returns how many,
 * with *status 1 when some were read, else 0 (end of file) or -1 (corrupt, as
 * wf_file_next). A batch stops early where the buffer would have to move. */
size_t wf_file_next_batch(wf_file_reader *r, wf_packet *out, size_t max, int *status, char *err,
                          size_t errlen);
const char *wf_file_format(const wf_file_reader *r); /* "pcap" | "pcapng" */
uint64_t wf_file_size(const wf_file_reader *r);
void wf_file_close(wf_file_reader *r);

/* ---- flow metering (flow_table.c) ---- */

enum wf_flow_state { WF_STATE_ACTIVE = 0, WF_STATE_CLOSING = 1, WF_STATE_CLOSED = 2 };

/* Why a flow record was emitted. Values match IPFIX flowEndReason where one exists. */
enum wf_end_reason {
  WF_END_NONE = 0,          /* still active (snapshots) */
  WF_END_IDLE = 1,          /* idle timeout */
  WF_END_ACTIVE = 2,        /* active timeout (long-lived flow cut) */
  WF_END_FIN_RST = 3,       /* end of flow detected (TCP FIN both ways, or RST) */
  WF_END_END_OF_CAPTURE = 4,/* forced end: capture stopped or file ended */
  WF_END_EVICTED = 5,       /* lack of resources: table full */
};

typedef struct wf_flow_record {
  uint64_t flow_id;        /* seeded hash of the canonical key, stable for the flow's life */
  uint8_t family;          /* 4 or 6 */
  uint8_t protocol;
  uint16_t vlan_id;
  uint8_t src[16];         /* initiator: the source of the first packet seen */
  uint8_t dst[16];
  uint16_t src_port;
  uint16_t dst_port;
  uint64_t packets_fwd, packets_rev;
  uint64_t bytes_fwd, bytes_rev; /* IP-layer bytes, as NetFlow counts */
  uint64_t first_ns, last_ns;
  uint8_t tcp_flags;       /* OR of both directions */
  uint8_t state;           /* enum wf_flow_state */
  uint8_t end_reason;      /* enum wf_end_reason */
  uint8_t _pad[5];
} wf_flow_record;

typedef struct wf_meter_config {
  uint32_t max_flows;        /* 4096 .. 16777216 */
  uint32_t idle_timeout_s;   /* default 300; TCP flows closed by FIN/RST end at once */
  uint32_t active_timeout_s; /* default 1800 */
  uint64_t seed;             /* hash seed; 0 = random */
} wf_meter_config;

typedef struct wf_meter_stats {
  uint64_t packets;          /* frames offered */
  uint64_t bytes;            /* IP bytes of metered packets */
  uint64_t ip_packets;       /* frames that parsed as IP and were metered */
  uint64_t non_ip;           /* valid frames that are not IP */
  uint64_t parse_errors;     /* truncated or malformed */
  uint64_t fragments_unmatched; /* later fragments whose first fragment was never seen (metered with ports 0) */
  uint64_t flows_active;
  uint64_t flows_created;
  uint64_t flows_emitted;
  uint64_t evictions;        /* flows ended early because the table was full */
  uint64_t emit_queue_drops; /* records lost because the caller did not drain (should stay 0) */
  uint32_t capacity;         /* max flows */
  uint32_t bytes_per_flow;   /* memory per flow slot, table and record */
  uint64_t memory_bytes;     /* total allocated by the meter */
} wf_meter_stats;

typedef struct wf_meter wf_meter;

wf_meter *wf_meter_create(const wf_meter_config *config, char *err, size_t errlen);
void wf_meter_destroy(wf_meter *m);

/* Meters one frame (parses it internally). ts_ns drives all timeouts. */
void wf_meter_packet(wf_meter *m, int linktype, const uint8_t *data, uint32_t caplen,
                     uint32_t wirelen, uint64_t ts_ns);
/* Meters an already parsed packet. */
void wf_meter_parsed(wf_meter *m, const wf_parsed *p, uint64_t ts_ns);
/* Meters n frames exactly like n wf_meter_packet calls, but parses and hashes
 * them in batches and prefetches table slots and records so cache misses overlap. */
void wf_meter_packets(wf_meter *m, const wf_packet *pkts, size_t n);

/* Ends flows whose idle or active timeout passed by now_ns (also done inside
 * wf_meter_packet as capture time advances). Ended records wait in the emit queue. */
void wf_meter_expire(wf_meter *m, uint64_t now_ns);
/* Ends every flow with WF_END_END_OF_CAPTURE. */
void wf_meter_flush(wf_meter *m);

/* Number of ended records waiting, and moves up to max of them into out. */
size_t wf_meter_pending(const wf_meter *m);
size_t wf_meter_drain(wf_meter *m, wf_flow_record *out, size_t max);

/* Copies up to max active flows (end_reason WF_END_NONE) into out, in table order. */
size_t wf_meter_snapshot(const wf_meter *m, wf_flow_record *out, size_t max);

void wf_meter_get_stats(const wf_meter *m, wf_meter_stats *out);

/* TCP flags byte as "SYN|ACK|FIN" (order: SYN ACK FIN RST PSH URG ECE CWR; "" for none). buf >= 40. */
void wf_tcp_flags_string(uint8_t flags, char *buf, size_t len);


/* ---- flow export (exporter.c, export_targets.c, export_pacing.c, netflow5.c, ipfix.c) ---- */

enum wf_export_version { WF_EXPORT_NETFLOW5 = 5, WF_EXPORT_IPFIX = 10 };

typedef struct wf_exporter_config {
  int version;                 /* 5 or 10 */
  const char *const *targets;  /* "HOST:PORT" or "[v6]:PORT", numeric addresses only */
  size_t target_count;         /* 1..8 */
  uint32_t observation_domain; /* IPFIX observation domain id / NetFlow v5 engine_id (low 8 bits) */
  uint32_t template_refresh_s; /* IPFIX: re-send templates at least this often (default 60) */
  uint32_t template_refresh_packets; /* and every N messages (default 20) */
  uint32_t max_datagrams_per_s;/* pacing; 0 = default 20000. Keeps a local collector from dropping */
  uint64_t boot_ns;            /* NetFlow v5 sysUptime base (epoch ns); 0 = exporter creation time */
} wf_exporter_config;

typedef struct wf_exporter_stats {
  uint64_t records_sent;       /* flow records placed in datagrams that were sent */
  uint64_t datagrams_sent;
  uint64_t bytes_sent;
  uint64_t templates_sent;     /* IPFIX template sets sent */
  uint64_t records_skipped;    /* NetFlow v5 cannot carry IPv6 flows: counted here */
  uint64_t send_errors;        /* sendto failures (the datagram is retried once, then dropped and counted) */
  uint64_t records_dropped;    /* records lost to send errors */
} wf_exporter_stats;

typedef struct wf_exporter wf_exporter;

wf_exporter *wf_exporter_create(const wf_exporter_config *config, char *err, size_t errlen);
/* Encodes and sends records (batches them into full datagrams, paced). Blocking. */
int wf_exporter_send(wf_exporter *e, const wf_flow_record *records, size_t count);
/* Sends any partly filled datagram. */
int wf_exporter_flush(wf_exporter *e);
void wf_exporter_get_stats(const wf_exporter *e, wf_exporter_stats *out);
void wf_exporter_destroy(wf_exporter *e);

/* Encoders, separated from sockets so they can be tested and fuzzed on memory.
 * Each writes one complete datagram into buf (<= cap bytes) and returns its
 * length, consuming up to *count records (updated to the number consumed). */
size_t wf_netflow5_encode(uint8_t *buf, size_t cap, const wf_flow_record *records, size_t *count,
                          uint64_t now_ns, uint64_t boot_ns, uint32_t flow_sequence, uint8_t engine_id);
/* with_templates: prepend the IPv4 and IPv6 template sets. */
size_t wf_ipfix_encode(uint8_t *buf, size_t cap, const wf_flow_record *records, size_t *count,
                       uint64_t now_ns, uint32_t sequence, uint32_t domain, int with_templates);

/* ---- live capture (afpacket.c, bpf.c) ---- */

enum wf_timestamp_source { WF_TS_KERNEL = 0, WF_TS_ADAPTER = 1, WF_TS_ADAPTER_UNSYNCED = 2 };

typedef struct wf_capture_config {
  const char *interface;       /* required */
  uint32_t snaplen;            /* 0 = 262144 */
  int promiscuous;
  uint32_t buffer_size_mb;     /* ring size, 1..4096, default 64 */
  uint32_t block_size_kb;      /* TPACKET_V3 block size, default 1024 */
  uint32_t block_timeout_ms;   /* retire timeout, default 50 */
  const char *filter;          /* BPF expression; NULL/"" = none. Needs libpcap at run time */
  int timestamp_source;        /* enum wf_timestamp_source */
  uint32_t fanout_group;       /* 0 = no fanout; else PACKET_FANOUT_HASH group id */
  int backend; /* 0 = afpacket, 1 = libpcap */
} wf_capture_config;

typedef struct wf_capture_stats {
  uint64_t packets;            /* delivered to us */
  uint64_t bytes;              /* wire bytes of delivered packets */
  uint64_t kernel_drops;       /* accumulated PACKET_STATISTICS tp_drops (the kernel resets on read) */
  uint64_t kernel_packets;     /* accumulated tp_packets (includes drops) */
  uint64_t freeze_count;       /* accumulated tp_freeze_q_cnt */
  uint32_t blocks_total;
  uint32_t blocks_user;        /* blocks currently held by user space: buffer_usage_pct = 100*user/total */
} wf_capture_stats;

typedef struct wf_capture wf_capture;

/* Opens an AF_PACKET TPACKET_V3 socket on the interface. NULL + reason on failure
 * (no such interface, no CAP_NET_RAW, filter does not compile, libpcap missing for a filter). */
wf_capture *wf_capture_open(const wf_capture_config *config, char *err, size_t errlen);
/* Waits up to timeout_ms for packets and hands each to cb; returns packets delivered, or -1. */
typedef void (*wf_packet_cb)(void *ctx, const wf_packet *packet);
int wf_capture_poll(wf_capture *c, int timeout_ms, wf_packet_cb cb, void *ctx, char *err, size_t errlen);
void wf_capture_get_stats(wf_capture *c, wf_capture_stats *out);
/* LINKTYPE_* of every delivered packet (WF_LINKTYPE_ETHERNET, or WF_LINKTYPE_RAW on tun/tunnel). */
int wf_capture_linktype(const wf_capture *c);
void wf_capture_close(wf_capture *c);

/* BPF via libpcap loaded with dlopen: compiles expr for linktype/snaplen into a
 * classic BPF program. Returns 0, or -1 with a reason (including "libpcap not found"). */
struct wf_bpf_program { uint32_t len; void *insns; /* struct sock_filter[len] */ };
int wf_bpf_compile(const char *expr, int linktype, uint32_t snaplen, struct wf_bpf_program *out,
                   char *err, size_t errlen);
void wf_bpf_free(struct wf_bpf_program *prog);
/* Whether libpcap could be loaded, and its version string. */
int wf_libpcap_available(char *version, size_t len);

#ifdef __cplusplus
}
#endif

#endif
