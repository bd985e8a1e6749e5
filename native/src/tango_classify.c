/*
 * Traffic classes of the Tango forwarder: up to 16 ordered 5-tuple rules, first match wins,
 * unmatched traffic is class 0 (tango_forward.h). The class -> path map lives with the forwarder,
 * which changes it (locally or by the peer's route updates, in the order decided here) under its
 * lock.
 */
#include <stdio.h>

#include "bytes.h"
#include "tango_forward.h"

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17

static int fail(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
  return -1;
}

static int has_ports(const wf_tango_class_rule *r) {
  return r->sport_lo != 0 || r->sport_hi != 0xffff || r->dport_lo != 0 || r->dport_hi != 0xffff;
}

int wf_tango_classifier_add(wf_tango_classifier *c, const wf_tango_class_rule *rule, char *err,
                            size_t errlen) {
  if (c->count >= WF_TANGO_MAX_RULES) return fail(err, errlen, "at most 16 class rules");
  if (rule->class_id >= WF_TANGO_CLASSES) return fail(err, errlen, "classId must be 0..15");
  if (rule->sport_lo > rule->sport_hi || rule->dport_lo > rule->dport_hi) {
    return fail(err, errlen, "a port range must run from low to high");
  }
  if ((rule->src_net & ~rule->src_mask) || (rule->dst_net & ~rule->dst_mask)) {
    return fail(err, errlen, "a prefix has address bits beyond its length");
  }
  if (has_ports(rule) && rule->protocol != 0 && rule->protocol != PROTO_TCP && rule->protocol != PROTO_UDP) {
    return fail(err, errlen, "port ranges need protocol tcp, udp or any");
  }
  c->rules[c->count++] = *rule;
  return 0;
}

static int in_range(uint16_t v, uint16_t lo, uint16_t hi) { return v >= lo && v <= hi; }

uint8_t wf_tango_classify(const wf_tango_classifier *c, const uint8_t *ip, size_t len) {
  if (!wf_have(len, 0, 20)) return 0;
  const uint8_t proto = ip[9];
  const uint32_t src = wf_be32(ip, 12), dst = wf_be32(ip, 16);
  const size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  /* Ports exist for TCP and UDP in the first fragment (offset 0), when the packet holds them. */
  const int ports = (proto == PROTO_TCP || proto == PROTO_UDP) && (wf_be16(ip, 6) & 0x1fff) == 0 &&
                    ihl >= 20 && wf_have(len, ihl, 4);
  const uint16_t sport = ports ? wf_be16(ip, ihl) : 0, dport = ports ? wf_be16(ip, ihl + 2) : 0;
  for (size_t i = 0; i < c->count && i < WF_TANGO_MAX_RULES; i++) {
    const wf_tango_class_rule *r = &c->rules[i];
    if (r->protocol && r->protocol != proto) continue;
    if ((src & r->src_mask) != r->src_net || (dst & r->dst_mask) != r->dst_net) continue;
    if (has_ports(r) &&
        (!ports || !in_range(sport, r->sport_lo, r->sport_hi) || !in_range(dport, r->dport_lo, r->dport_hi))) {
      continue;
    }
    return r->class_id;
  }
  return 0;
}

#define CROSSING_NS 1000000000ull /* max_age + max_ahead are at most 1000 ms (tango_node.c) */

int wf_tango_route_update_newer(uint64_t last_ns, uint64_t issued_ns) {
  return issued_ns > last_ns || last_ns - issued_ns >= CROSSING_NS;
}
