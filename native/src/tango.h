/*
 * Tango tunnel nodes: the per-packet work in C (issue 12).
 *
 * Wire format (spec/tango-packet-layout.md, the deployed variant of the Princeton reference):
 *
 *   Ethernet (0x86DD) / IPv6 (next header 17; one tunnel address pair per path)
 *   / UDP (source and destination port = the Tango port, checksum always computed)
 *   / Tango header (10 bytes) / inner IPv4 packet
 *
 * Why the UDP shim rather than a raw IPv6 next header: Tango runs between sites over the public
 * Internet and several ISPs. An unknown next header (253/254, RFC 3692 experiments) is dropped by
 * many firewalls, NATs and cloud networks; UDP passes. Fixed ports per node keep every packet of a
 * path on one ECMP choice, so a path is one route and its measurements mean something (the
 * reference used UDP 8080 for the same reason). A receiver can also take the packets on an
 * ordinary UDP socket (wf_tango_receive_payload). The cost is 8 bytes and the checksum, which
 * IPv6 makes mandatory for UDP (RFC 8200 §8.1): we compute it on send and check it on receive.
 *
 * Tango header, big-endian, fields right-aligned in byte-aligned containers (the spec's
 * "unused higher-order bits are zero-padding"); a frame with a padding bit set is malformed:
 *
 *   byte 0     00000ppp          path_id (3 bits: paths 0..7)
 *   bytes 1-2  0000tttt tttttttt timestamp (12 bits, sender clock in 2^20 ns ticks, wraps 4.295 s)
 *   bytes 3-6  signature         32-bit truncated SipHash-2-4 tag (tango_sig.c)
 *   bytes 7-8  sequence          16-bit per-path counter, wraps
 *   byte 9     0000000b          book signature (1 bit: a keyed PRF of the sequence number)
 *
 * Everything is bounds-checked: a malformed frame is a counted reject, never a crash.
 * A node is used by one thread at a time (the forwarding thread); see tango_node.c.
 */
#ifndef WF_TANGO_H
#define WF_TANGO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WF_TANGO_HEADER_LEN 10
#define WF_TANGO_MAX_PATHS 8           /* path_id is 3 bits */
#define WF_TANGO_ETH_LEN 14
#define WF_TANGO_IPV6_LEN 40
#define WF_TANGO_UDP_LEN 8
/* Ethernet + IPv6 + UDP + Tango: what encapsulation adds to the inner IPv4 packet. */
#define WF_TANGO_OVERHEAD (WF_TANGO_ETH_LEN + WF_TANGO_IPV6_LEN + WF_TANGO_UDP_LEN + WF_TANGO_HEADER_LEN)
/* Default UDP port of the shim (both ends). Not an IANA assignment: it lies in the dynamic range,
 * above Linux's default ephemeral ports (32768-60999), and no Wireshark dissector claims it. */
#define WF_TANGO_DEFAULT_PORT 61042
#define WF_TANGO_KEY_LEN 16            /* a SipHash-2-4 key per epoch */
#define WF_TANGO_TICK_SHIFT 20         /* timestamp unit: 2^20 ns = 1.048576 ms */
#define WF_TANGO_TS_MASK 0x0fffu
#define WF_TANGO_WINDOW 1024           /* replay window, sequence numbers per path */

/* Outcome of wf_tango_decapsulate / wf_tango_receive_payload (0 or a negative reject reason),
 * and the errors of wf_tango_encapsulate. */
enum wf_tango_result {
  WF_TANGO_OK = 0,
  WF_TANGO_R_TRUNCATED = -1,        /* shorter than the headers it announces */
  WF_TANGO_R_NOT_TANGO = -2,        /* not IPv6/UDP to the Tango port: not ours (leave it to the kernel) */
  WF_TANGO_R_BAD_CHECKSUM = -3,     /* UDP checksum wrong or zero (zero is illegal over IPv6) */
  WF_TANGO_R_MALFORMED = -4,        /* lengths disagree, or a padding bit of the Tango header is set */
  WF_TANGO_R_UNKNOWN_PATH = -5,     /* path_id not configured */
  WF_TANGO_R_ADDRESS_MISMATCH = -6, /* outer addresses are not this path's tunnel pair */
  WF_TANGO_R_BAD_INNER = -7,        /* inner packet is not a well-formed IPv4 packet of that length */
  WF_TANGO_R_STALE = -8,            /* timestamp older than max_age */
  WF_TANGO_R_AHEAD = -9,            /* timestamp further in the future than max_ahead */
  WF_TANGO_R_NO_KEY = -10,          /* no receive key installed yet */
  WF_TANGO_R_BAD_SIGNATURE = -11,   /* tag or book bit wrong under every known key: forged or corrupt */
  WF_TANGO_R_WRONG_EPOCH = -12,     /* valid under a key this node no longer (or not yet) accepts */
  WF_TANGO_R_REPLAY = -13,          /* a sequence number already seen, or older than its window slot */
  WF_TANGO_R_OUTSIDE_WINDOW = -14,  /* further behind the newest packet than the window reaches */
  WF_TANGO_E_BUFFER = -20,          /* encapsulate: output buffer too small */
  WF_TANGO_E_TOO_BIG = -21,         /* encapsulate: the frame would exceed the path MTU */
  WF_TANGO_E_INNER = -22,           /* encapsulate: inner packet is not IPv4 of exactly that length */
  WF_TANGO_E_PATH = -23,            /* encapsulate: path_id not configured */
  WF_TANGO_E_NO_KEY = -24,          /* encapsulate: no send key installed */
};
#define WF_TANGO_REJECT_REASONS 14     /* WF_TANGO_R_TRUNCATED .. WF_TANGO_R_OUTSIDE_WINDOW */

/* "bad_signature", "e_buffer"...: a stable snake_case name for every result; "unknown" otherwise. */
const char *wf_tango_result_name(int result);

/* ---- the 10-byte header (tango.c) ---- */

typedef struct wf_tango_header {
  uint8_t path_id;     /* 0..7 */
  uint16_t timestamp;  /* 0..4095 */
  uint32_t signature;
  uint16_t seq;
  uint8_t book;        /* 0 or 1 */
} wf_tango_header;

/* Writes 10 bytes; fields are masked to their widths. */
void wf_tango_header_write(uint8_t out[WF_TANGO_HEADER_LEN], const wf_tango_header *h);
/* WF_TANGO_OK, or WF_TANGO_R_MALFORMED when a padding bit is set (h is filled either way). */
int wf_tango_header_read(const uint8_t in[WF_TANGO_HEADER_LEN], wf_tango_header *h);

/* The 12-bit timestamp of a sender clock reading in ns. */
static inline uint16_t wf_tango_timestamp(uint64_t now_ns) {
  return (uint16_t)((now_ns >> WF_TANGO_TICK_SHIFT) & WF_TANGO_TS_MASK);
}

/* ---- frames (tango.c): stateless build and parse ---- */

/* One path as both ends see it; the receiving end swaps local and peer. */
typedef struct wf_tango_path_config {
  uint8_t path_id;
  uint8_t local_addr[16];  /* this node's tunnel address on the path */
  uint8_t peer_addr[16];   /* the peer's tunnel address on the path (one destination per path) */
  uint8_t local_mac[6];
  uint8_t next_hop_mac[6]; /* Ethernet destination towards peer_addr */
} wf_tango_path_config;

/* Outer-header settings shared by the paths of a node. */
typedef struct wf_tango_wire {
  uint16_t udp_port;
  uint8_t hop_limit;
} wf_tango_wire;

/* WF_TANGO_OK if `inner` is an IPv4 packet whose header and total length fit exactly `len`. */
int wf_tango_inner_check(const uint8_t *inner, size_t len);

/*
 * Writes Ethernet/IPv6/UDP/Tango/inner into out (cap bytes) with the UDP checksum, and returns
 * the frame length or WF_TANGO_E_BUFFER / WF_TANGO_E_TOO_BIG (IPv6 payload over 65535). The
 * header fields are written as given (the signature is the caller's). `inner` may already sit
 * at out + WF_TANGO_OVERHEAD (encapsulation in place, e.g. in a TX ring slot): it is then not
 * copied. The outer traffic class copies the inner DSCP and ECN (RFC 6040 normal mode); the flow
 * label is 0 so that routers hash only the fixed addresses and ports (one route per path).
 */
int wf_tango_frame_write(const wf_tango_path_config *path, const wf_tango_wire *wire,
                         const wf_tango_header *h, const uint8_t *inner, size_t inner_len,
                         uint8_t *out, size_t cap);

/* What wf_tango_frame_parse found; offsets are into the frame. */
typedef struct wf_tango_frame {
  const uint8_t *src_addr;  /* outer IPv6 source (16 bytes, inside the frame) */
  const uint8_t *dst_addr;
  uint8_t traffic_class;    /* outer: its ECN bits matter for RFC 6040 decapsulation */
  size_t payload_offset;    /* the Tango header */
  size_t payload_len;       /* Tango header + inner packet */
} wf_tango_frame;

/*
 * Checks the outer layers of an Ethernet frame: IPv6 without extension headers, UDP to `port`,
 * lengths (bytes after the IPv6 payload, such as Ethernet padding, are ignored), and the UDP
 * checksum. Returns WF_TANGO_OK or TRUNCATED / NOT_TANGO / MALFORMED / BAD_CHECKSUM.
 */
int wf_tango_frame_parse(const uint8_t *frame, size_t len, uint16_t port, wf_tango_frame *out);

/* ---- signatures (tango_sig.c) ---- */

/*
 * Keys of one epoch. The pair shares a 16-byte key per epoch (derived from the pair's secret by
 * the TypeScript side); three SipHash keys are derived from it so that each use has its own.
 */
typedef struct wf_tango_keys {
  uint32_t epoch;
  uint8_t tag[16];
  uint8_t book[16];
  uint8_t inner[16];
} wf_tango_keys;

void wf_tango_keys_derive(wf_tango_keys *k, uint32_t epoch, const uint8_t key[WF_TANGO_KEY_LEN]);
/* SipHash-2-4 of the inner packet under the inner key: the digest the tag covers. */
uint64_t wf_tango_inner_digest(const wf_tango_keys *k, const uint8_t *inner, size_t len);
/*
 * The 32-bit tag over (version, sender side, path, epoch, sender tick, seq, inner digest). `tick`
 * is the sender clock in 2^20 ns units, all of it: the wire carries its low 12 bits and the
 * receiver restores the rest from its own clock, so a packet replayed one 4.295 s timestamp wrap
 * later no longer verifies.
 */
uint32_t wf_tango_tag(const wf_tango_keys *k, uint8_t side, uint8_t path_id, uint64_t tick,
                      uint16_t seq, uint64_t inner_digest);
/* Tag domains (byte 3 of the tag message): data frames sign under DATA; control frames (the
 * route updates of wf_tango_encapsulate_control) under CONTROL, which data frames never use, so a
 * host's own packet that looks like a route update is delivered as data and never applied. */
#define WF_TANGO_DOMAIN_DATA 0
#define WF_TANGO_DOMAIN_CONTROL 1
/* wf_tango_tag in a chosen domain (wf_tango_tag is the DATA domain). */
uint32_t wf_tango_tag_domain(const wf_tango_keys *k, uint8_t domain, uint8_t side, uint8_t path_id,
                             uint64_t tick, uint16_t seq, uint64_t inner_digest);
/* The book bit: a keyed PRF of the sequence number (and sender side, path, epoch). */
uint8_t wf_tango_book(const wf_tango_keys *k, uint8_t side, uint8_t path_id, uint16_t seq);

/* ---- nodes (tango_node.c, tango_window.c) ---- */

typedef struct wf_tango_config {
  uint8_t side;          /* 0 or 1: which end of the pair (signed into every tag, so a node
                            never accepts its own packets reflected back) */
  uint16_t udp_port;     /* 0: WF_TANGO_DEFAULT_PORT */
  uint8_t hop_limit;     /* 0: 64 */
  uint16_t mtu;          /* outer IPv6 MTU of every path, 1280..9216; 0: 1500 */
  uint32_t max_age_ms;   /* older timestamps are stale; 0: 750 */
  uint32_t max_ahead_ms; /* newer than this ahead of our clock is refused; 0: 250 */
  uint32_t grace_ms;     /* the previous receive epoch stays valid this long; 0: 30000 */
} wf_tango_config;

typedef struct wf_tango_node wf_tango_node;

/* NULL with a reason in err when the config is out of range. max_age + max_ahead must stay
 * at or under 1000 ms so that 12-bit timestamps compare unambiguously (tango_window.c). */
wf_tango_node *wf_tango_create(const wf_tango_config *config, char *err, size_t errlen);
/* Zeroes the keys and frees. */
void wf_tango_destroy(wf_tango_node *node);

/* Adds or replaces a path (counters and window are kept when it is replaced). 0 or -1 + err. */
int wf_tango_set_path(wf_tango_node *node, const wf_tango_path_config *path, char *err, size_t errlen);

/* The key this node signs with from now on. */
void wf_tango_set_send_key(wf_tango_node *node, uint32_t epoch, const uint8_t key[WF_TANGO_KEY_LEN]);
/*
 * Receive-side rotation: `epoch` becomes current; the old current stays accepted until
 * now_ns + grace; the one before is kept only to count its packets as wrong_epoch. The epoch
 * must be newer than the current one (0 or -1 + err). Rotate every receiver before any sender
 * signs with the new epoch, and keep the grace above the rotation skew plus the path delay.
 */
int wf_tango_rotate_receive_key(wf_tango_node *node, uint32_t epoch,
                                const uint8_t key[WF_TANGO_KEY_LEN], uint64_t now_ns,
                                char *err, size_t errlen);
/* Peer clock minus our clock, in ns: subtracted before timestamps are compared (delay, freshness). */
void wf_tango_set_clock_offset(wf_tango_node *node, int64_t peer_minus_local_ns);

/*
 * Encapsulates one inner IPv4 packet for path_id at sender time now_ns (epoch ns; a clock that
 * steps back is held at its last value so timestamps never decrease on a path). Takes the next
 * sequence number of the path and signs with the send key. Returns the frame length or a
 * WF_TANGO_E_* error (nothing is counted as sent then).
 */
int wf_tango_encapsulate(wf_tango_node *node, uint8_t path_id, const uint8_t *inner,
                         size_t inner_len, uint64_t now_ns, uint8_t *out, size_t cap);

/*
 * Route updates: the spec's embedded encoding. The inner packet is IPv4 (20 bytes, 0.0.0.0 to
 * 0.0.0.0: it never leaves the receiving node) / UDP with source port = class (0..15) and
 * destination port = path (0..7), every other port bit zero / 8 bytes: the sender's clock in
 * epoch ns when it issued the update, big-endian. Copies go out on every path, so they can
 * arrive out of order; the receiver applies only the newest per class (issued_ns).
 */
#define WF_TANGO_ROUTE_UPDATE_LEN 36
typedef struct wf_tango_route_update {
  uint8_t class_id;   /* 0..15 */
  uint8_t path_id;    /* 0..7 */
  uint64_t issued_ns;
} wf_tango_route_update;

/* Writes the 36-byte inner packet (checksums computed). */
void wf_tango_route_update_write(uint8_t out[WF_TANGO_ROUTE_UPDATE_LEN], const wf_tango_route_update *u);
/* 1 if `inner` (a checked IPv4 packet of len bytes) has the embedded encoding: an unfragmented
 * UDP datagram with the class/path port pattern (u filled; issued_ns 0 if the payload is shorter
 * than 8 bytes), else 0. Says nothing about who sent it: only the CONTROL tag does. */
int wf_tango_route_update_read(const uint8_t *inner, size_t len, wf_tango_route_update *u);

/* As wf_tango_encapsulate, for a route update signed in the CONTROL domain (same path sequence
 * numbers, so the receiver's replay window covers updates too). */
int wf_tango_encapsulate_control(wf_tango_node *node, uint8_t path_id, const wf_tango_route_update *u,
                                 uint64_t now_ns, uint8_t *out, size_t cap);

/* An accepted packet. */
typedef struct wf_tango_delivery {
  uint8_t path_id;
  uint16_t seq;
  uint16_t timestamp;
  uint32_t epoch;          /* the key epoch it verified under */
  size_t inner_offset;     /* the inner IPv4 packet, in the buffer that was passed in */
  size_t inner_len;
  int64_t delay_ns;        /* one-way delay sample, clock offset applied (±0.53 ms quantisation) */
  uint8_t traffic_class;   /* outer (0 from wf_tango_receive_payload unless the caller passes it) */
  uint8_t reordered;       /* arrived after a higher sequence number */
  uint8_t resync;          /* started a new window: first packet, idle path, or sender restart */
  uint8_t control;         /* signed in the CONTROL domain: a route update from the peer */
} wf_tango_delivery;

/* Verifies one received Ethernet frame at receive time now_ns. WF_TANGO_OK fills out and
 * updates the path's measurements; anything else is a reject reason, counted. */
int wf_tango_decapsulate(wf_tango_node *node, const uint8_t *frame, size_t len, uint64_t now_ns,
                         wf_tango_delivery *out);

/* The same checks from the Tango header on, for a payload received on a UDP socket (the kernel
 * checked the outer headers and the checksum); src/dst are the outer IPv6 addresses. */
int wf_tango_receive_payload(wf_tango_node *node, const uint8_t src_addr[16],
                             const uint8_t dst_addr[16], uint8_t traffic_class,
                             const uint8_t *payload, size_t len, uint64_t now_ns,
                             wf_tango_delivery *out);

typedef struct wf_tango_path_stats {
  uint8_t configured;
  uint64_t tx_packets;
  uint64_t tx_bytes;          /* inner IPv4 bytes */
  uint16_t tx_next_seq;
  uint64_t rx_packets;        /* accepted */
  uint64_t rx_bytes;          /* inner IPv4 bytes accepted */
  uint64_t rx_expected;       /* sequence numbers spanned by the accepted packets (wrap-safe) */
  uint64_t rx_lost;           /* rx_expected - rx_packets (RFC 3550 cumulative loss) */
  uint64_t rx_reordered;      /* accepted after a higher sequence number */
  uint64_t rx_resyncs;        /* windows started: first packet, idle path, sender restart */
  uint16_t rx_top_seq;        /* highest sequence number accepted */
  uint64_t rx_last_ns;        /* receive time of the last accepted packet */
  uint64_t delay_samples;
  int64_t delay_last_ns;
  int64_t delay_min_ns;
  int64_t delay_max_ns;
  int64_t delay_sum_ns;
  int64_t jitter_ns;          /* RFC 3550 §6.4.1 interarrival jitter estimate */
  uint64_t rejects[WF_TANGO_REJECT_REASONS]; /* index -reason - 1; only rejects with a known path */
} wf_tango_path_stats;

typedef struct wf_tango_node_stats {
  uint64_t rx_frames;                        /* everything handed to decapsulate/receive */
  uint64_t rx_accepted;
  uint64_t rejects[WF_TANGO_REJECT_REASONS]; /* index -reason - 1, every path and none */
  uint64_t tx_packets;
  uint64_t tx_errors;                        /* encapsulate calls that returned an error */
} wf_tango_node_stats;

/* 0, or -1 when path_id is out of range (an unconfigured path reads as zeros). */
int wf_tango_get_path_stats(const wf_tango_node *node, uint8_t path_id, wf_tango_path_stats *out);
void wf_tango_get_node_stats(const wf_tango_node *node, wf_tango_node_stats *out);

#ifdef __cplusplus
}
#endif

#endif
