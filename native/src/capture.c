/*
 * wf_capture_*: dispatch to the backend named in wf_capture_config.backend
 * (0 = AF_PACKET TPACKET_V3 in afpacket.c, 1 = libpcap in pcap_backend.c).
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_internal.h"

int wf_capture_fail(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  errno = code;
  return -1;
}

int wf_capture_validate(const wf_capture_config *cfg, char *err, size_t errlen) {
  if (!cfg || !cfg->interface || !*cfg->interface)
    return wf_capture_fail(err, errlen, EINVAL, "an interface name is required");
  if (strlen(cfg->interface) >= IF_NAMESIZE)
    return wf_capture_fail(err, errlen, ENODEV,
                           "no such interface \"%s\" (names are at most %d characters)",
                           cfg->interface, IF_NAMESIZE - 1);
  if (cfg->snaplen != 0 && (cfg->snaplen < 64 || cfg->snaplen > WF_CAPTURE_MAX_SNAPLEN))
    return wf_capture_fail(err, errlen, EINVAL, "snaplen must be 64..%u, got %u",
                           WF_CAPTURE_MAX_SNAPLEN, cfg->snaplen);
  if (cfg->buffer_size_mb > 4096)
    return wf_capture_fail(err, errlen, EINVAL, "buffer size must be 1..4096 MiB, got %u",
                           cfg->buffer_size_mb);
  if (cfg->block_timeout_ms > 60000)
    return wf_capture_fail(err, errlen, EINVAL, "block timeout must be at most 60000 ms, got %u",
                           cfg->block_timeout_ms);
  if (cfg->timestamp_source < WF_TS_KERNEL || cfg->timestamp_source > WF_TS_ADAPTER_UNSYNCED)
    return wf_capture_fail(err, errlen, EINVAL, "unknown timestamp source %d",
                           cfg->timestamp_source);
  return 0;
}

struct wf_capture {
  int backend;
  void *impl; /* wf_afpacket or wf_pcap_capture */
};

wf_capture *wf_capture_open(const wf_capture_config *config, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  const int backend = config ? config->backend : WF_BACKEND_AFPACKET;
  if (backend != WF_BACKEND_AFPACKET && backend != WF_BACKEND_LIBPCAP) {
    if (err && errlen) snprintf(err, errlen, "unknown capture backend %d", backend);
    errno = EINVAL;
    return NULL;
  }
  if (wf_capture_validate(config, err, errlen) < 0) return NULL;
  wf_capture *c = calloc(1, sizeof *c);
  if (!c) {
    if (err && errlen) snprintf(err, errlen, "out of memory");
    errno = ENOMEM;
    return NULL;
  }
  c->backend = backend;
  if (backend == WF_BACKEND_LIBPCAP)
    c->impl = wf_pcap_capture_open(config, err, errlen);
  else
    c->impl = wf_afpacket_open(config, err, errlen);
  if (!c->impl) {
    const int saved = errno;
    free(c);
    errno = saved;
    return NULL;
  }
  return c;
}

int wf_capture_poll(wf_capture *c, int timeout_ms, wf_packet_cb cb, void *ctx, char *err,
                    size_t errlen) {
  if (c->backend == WF_BACKEND_LIBPCAP)
    return wf_pcap_capture_poll(c->impl, timeout_ms, cb, ctx, err, errlen);
  return wf_afpacket_poll(c->impl, timeout_ms, cb, ctx, err, errlen);
}

void wf_capture_get_stats(wf_capture *c, wf_capture_stats *out) {
  if (!c) {
    *out = (wf_capture_stats){0};
    return;
  }
  if (c->backend == WF_BACKEND_LIBPCAP)
    wf_pcap_capture_get_stats(c->impl, out);
  else
    wf_afpacket_get_stats(c->impl, out);
}

int wf_capture_linktype(const wf_capture *c) {
  if (c->backend == WF_BACKEND_LIBPCAP) return wf_pcap_capture_linktype(c->impl);
  return wf_afpacket_linktype(c->impl);
}

void wf_capture_close(wf_capture *c) {
  if (!c) return;
  if (c->backend == WF_BACKEND_LIBPCAP)
    wf_pcap_capture_close(c->impl);
  else
    wf_afpacket_close(c->impl);
  free(c);
}
