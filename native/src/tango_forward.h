/*
 * The Tango forwarder: the per-packet loop that makes a Tango node (tango.h) a tunnel end.
 *
 *   TUN (inner IPv4) -> classify (5-tuple rules -> class -> path) -> wf_tango_encapsulate
 *     -> the path's AF_PACKET socket
 *   each path's AF_PACKET socket -> wf_tango_decapsulate -> a route update from the peer?
 *     apply it (class -> path) : RFC 6040 ECN, then write the inner packet to the TUN
 *
 * Pure helpers (classification, RFC 6040 decapsulation, ICMP "fragmentation needed") live in
 * tango_classify.c and tango_inner.c so the C unit tests reach them without sockets.
 */
#ifndef WF_TANGO_FORWARD_H
#define WF_TANGO_FORWARD_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "tango.h"

#define WF_TANGO_CLASSES 16    /* class ids 0..15: the embedded route-update encoding's 4 bits */
#define WF_TANGO_MAX_RULES 16

/* ---- classification (tango_classify.c) ---- */

/* One 5-tuple rule. Addresses and masks in host byte order (mask 0 matches any address). */
typedef struct wf_tango_class_rule {
  uint8_t class_id;    /* 0..15 */
  uint8_t protocol;    /* 0: any; else the IPv4 protocol number (1, 6, 17) */
  uint32_t src_net, src_mask;
  uint32_t dst_net, dst_mask;
  uint16_t sport_lo, sport_hi; /* inclusive; 0..65535 matches any */
  uint16_t dport_lo, dport_hi;
} wf_tango_class_rule;

typedef struct wf_tango_classifier {
  size_t count;
  wf_tango_class_rule rules[WF_TANGO_MAX_RULES];
} wf_tango_classifier;

/* Appends a rule (first match wins). 0, or -1 + err when it is out of range: class > 15, more
 * than 16 rules, lo > hi, a net with bits outside its mask, or ports on a protocol without them. */
int wf_tango_classifier_add(wf_tango_classifier *c, const wf_tango_class_rule *rule, char *err,
                            size_t errlen);

/* The class of an inner IPv4 packet that passed wf_tango_inner_check; 0 when no rule matches.
 * A rule with a port range matches only TCP and UDP packets whose ports are present (not a
 * non-first fragment, not cut short). */
uint8_t wf_tango_classify(const wf_tango_classifier *c, const uint8_t *ip, size_t len);

/*
 * Whether a route update issued at issued_ns replaces the class's last applied one (issued at
 * last_ns; 0 for none). Copies go out on every path and may cross, so only a newer one applies.
 * Crossing frames were issued within max_age + max_ahead (at most 1 s) of each other, or one
 * would be stale; an update issued more than 1 s before the last comes from a peer whose clock
 * stepped back, and applies rather than being ignored until that clock catches up.
 */
int wf_tango_route_update_newer(uint64_t last_ns, uint64_t issued_ns);

/* ---- inner packets (tango_inner.c) ---- */

/*
 * RFC 6040 §4.2 decapsulation of the ECN field, in place: with the outer CE, an ECT inner
 * becomes CE (the IPv4 header checksum is recomputed); with the outer ECT(1), an ECT(0) inner
 * becomes ECT(1). Returns 0 to forward, -1 to drop (outer CE on a Not-ECT inner: the congestion
 * mark cannot be passed on). `ip` passed wf_tango_inner_check.
 */
int wf_tango_ecn_decapsulate(uint8_t *ip, size_t len, uint8_t outer_traffic_class);

/* Room for the ICMP message wf_tango_icmp_frag_needed writes: IPv4 + ICMP + the original
 * header (up to 60 bytes) + 8 bytes of its payload. */
#define WF_TANGO_ICMP_MAX 96

/*
 * The ICMP "fragmentation needed and DF set" (type 3 code 4, RFC 1191 next-hop MTU) for an inner
 * packet `orig` too big for the tunnel, sent back to its source. Returns the length written to
 * out (cap >= WF_TANGO_ICMP_MAX), or 0 when none is due: DF clear, a non-first fragment, an ICMP
 * error itself, or a source that is not a unicast host (RFC 1122 §3.2.2). The message's source is
 * the original destination: the one address known to route back into the tunnel, so reverse
 * path filters on the way to the host pass it.
 */
size_t wf_tango_icmp_frag_needed(const uint8_t *orig, size_t len, uint16_t next_hop_mtu, uint8_t *out,
                                 size_t cap);

/* ---- the forwarder (tango_forward.c) ---- */

typedef struct wf_tango_forward_path {
  uint8_t path_id;
  char ifname[IF_NAMESIZE];
} wf_tango_forward_path;

typedef struct wf_tango_forward_config {
  wf_tango_node *node;   /* used only by the forwarder (under its lock) until stopped */
  /* "" for the caller's network namespace; else a name under /run/netns or an absolute path:
   * the TUN and the sockets are made in it (the calling thread joins it for that, then returns). */
  char netns[256];
  char tun_name[IF_NAMESIZE];
  size_t path_count;     /* 1..8 */
  wf_tango_forward_path paths[WF_TANGO_MAX_PATHS];
  wf_tango_classifier classes;
  uint8_t class_path[WF_TANGO_CLASSES]; /* each a path_id of `paths` */
} wf_tango_forward_config;

typedef struct wf_tango_forward_path_stats {
  uint8_t path_id;
  uint64_t tx_frames;   /* frames sent on the path (data and route updates) */
  uint64_t rx_frames;   /* frames accepted from the path (data and route updates) */
  uint64_t tx_errors;   /* frames the socket refused (sendmmsg/send failures) */
  uint64_t rx_errors;   /* receive errors and frames numbered for another path */
  uint16_t max_inner;   /* largest inner packet the path carries: min(node, interface MTU) - 58 */
} wf_tango_forward_path_stats;

typedef struct wf_tango_forward_stats {
  uint64_t tun_rx;               /* packets read from the TUN */
  uint64_t tun_tx;               /* inner packets written to the TUN */
  uint64_t encap_errors;         /* TUN packets not sent: not IPv4, malformed, too big, no key */
  uint64_t too_big;              /* of which bigger than the path carries */
  uint64_t icmp_frag_needed;     /* ICMP fragmentation-needed messages written to the TUN */
  uint64_t ecn_drops;            /* outer CE on a Not-ECT inner (RFC 6040) */
  uint64_t rx_rejected;          /* frames the node refused (reasons in its own counters) */
  uint64_t tun_write_errors;
  uint64_t route_updates_sent;   /* control frames sent (one per path per update) */
  uint64_t route_updates_applied;
  uint64_t route_updates_ignored; /* authentic, but a copy of the class's last update or one it
                                     overtook on a faster path (issued up to 1 s before it) */
  uint64_t route_updates_refused; /* refused frames that carried the route-update encoding, and
                                     authentic updates naming a path this forwarder lacks */
  size_t path_count;
  wf_tango_forward_path_stats paths[WF_TANGO_MAX_PATHS];
  int running;                   /* 0 once the thread stopped on a fatal error */
  char error[160];               /* why it stopped ("" while running) */
} wf_tango_forward_stats;

typedef struct wf_tango_forwarder wf_tango_forwarder;

/* Opens (or creates) the TUN and one AF_PACKET socket per path in the caller's network namespace,
 * and starts the forwarding thread. NULL + err on failure (nothing is left open). */
wf_tango_forwarder *wf_tango_forwarder_start(const wf_tango_forward_config *config, char *err,
                                             size_t errlen);
/* Stops and joins the thread, closes every descriptor (a TUN the forwarder created goes away with
 * it) and frees. The node is the caller's again. */
void wf_tango_forwarder_stop(wf_tango_forwarder *f);

/* 0, or -1 + err (class > 15, path not one of this forwarder's). */
int wf_tango_forwarder_set_class_path(wf_tango_forwarder *f, uint8_t class_id, uint8_t path_id,
                                      char *err, size_t errlen);
/* Sends an authenticated route update "class -> path" to the peer on every path. Returns the
 * number of paths it went out on, or -1 + err. */
int wf_tango_forwarder_send_route_update(wf_tango_forwarder *f, uint8_t class_id, uint8_t path_id,
                                         char *err, size_t errlen);
void wf_tango_forwarder_class_paths(wf_tango_forwarder *f, uint8_t out[WF_TANGO_CLASSES]);
void wf_tango_forwarder_stats(wf_tango_forwarder *f, wf_tango_forward_stats *out);
/* 1 while a running forwarder holds `node` (from start until stop returns): the node must not be
 * destroyed meanwhile, as the thread uses it. */
int wf_tango_forwarder_holds(const wf_tango_node *node);
/* For a node's owner that must let go of it now (a finalizer): if a running forwarder holds
 * `node`, that forwarder destroys it once its thread has stopped, and 1 is returned; else 0, and
 * the caller destroys it. */
int wf_tango_forwarder_adopt_node(wf_tango_node *node);
/* The lock that guards the node while the thread runs: hold it to use the node from elsewhere. */
void wf_tango_forwarder_lock(wf_tango_forwarder *f);
void wf_tango_forwarder_unlock(wf_tango_forwarder *f);

#endif
