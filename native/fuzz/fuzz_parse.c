/*
 * libFuzzer target for wf_parse. Byte 0 picks the link type (low bits) and the
 * wire-length slack (high bits); the rest is the frame. libFuzzer hands us an
 * exactly sized heap buffer, so ASan flags any read past caplen.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../src/wirefleet.h"

static const int linktypes[] = {WF_LINKTYPE_NULL, WF_LINKTYPE_ETHERNET, WF_LINKTYPE_RAW,
                                WF_LINKTYPE_LINUX_SLL, WF_LINKTYPE_IPV4, WF_LINKTYPE_IPV6};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size - 1 > UINT32_MAX - 65536) return 0;
  int linktype = linktypes[data[0] % 6];
  uint32_t caplen = (uint32_t)(size - 1);
  uint32_t wirelen = caplen + (uint32_t)(data[0] >> 3) * 1021u; /* exercise length-0 fallbacks */
  wf_parsed p;
  int rc = wf_parse(linktype, data + 1, caplen, wirelen, &p);

  /* Invariants the flow table relies on. */
  if (rc == WF_PARSE_OK) {
    if (p.family != 4 && p.family != 6) __builtin_trap();
    if (p.fragment > WF_FRAG_LATER) __builtin_trap();
    if (p.fragment == WF_FRAG_LATER && p.has_ports) __builtin_trap();
    if (!p.has_ports && (p.src_port || p.dst_port)) __builtin_trap();
    if (p.family == 4 && p.ip_bytes < 20) __builtin_trap();
    if (p.family == 6 && p.ip_bytes < 40) __builtin_trap();
  } else if (rc < WF_PARSE_UNSUPPORTED_LINKTYPE || rc > WF_PARSE_NOT_IP) {
    __builtin_trap();
  }

  char buf[40];
  wf_tcp_flags_string(p.tcp_flags, buf, sizeof buf);
  if (memchr(buf, '\0', sizeof buf) == NULL) __builtin_trap();
  char tiny[5]; /* short buffers must still come back terminated */
  wf_tcp_flags_string(data[size - 1], tiny, sizeof tiny);
  if (memchr(tiny, '\0', sizeof tiny) == NULL) __builtin_trap();
  return 0;
}
