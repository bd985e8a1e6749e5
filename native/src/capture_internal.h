/*
 * The live-capture backends behind wf_capture_* (capture.c dispatches on
 * wf_capture_config.backend): AF_PACKET TPACKET_V3 (afpacket.c) and libpcap
 * loaded at run time (pcap_backend.c). Each has the semantics documented for
 * wf_capture_* in wirefleet.h.
 */
#ifndef WF_CAPTURE_INTERNAL_H
#define WF_CAPTURE_INTERNAL_H

#include "wirefleet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WF_BACKEND_AFPACKET 0
#define WF_BACKEND_LIBPCAP 1
#define WF_CAPTURE_MAX_SNAPLEN 262144u

/* Writes a one-line reason into err, sets errno = code, returns -1. */
int wf_capture_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The checks every backend shares (interface, snaplen, buffer, timeout, timestamp source). */
int wf_capture_validate(const wf_capture_config *cfg, char *err, size_t errlen);

typedef struct wf_afpacket wf_afpacket;
wf_afpacket *wf_afpacket_open(const wf_capture_config *config, char *err, size_t errlen);
int wf_afpacket_poll(wf_afpacket *c, int timeout_ms, wf_packet_cb cb, void *ctx, char *err,
                     size_t errlen);
void wf_afpacket_get_stats(wf_afpacket *c, wf_capture_stats *out);
int wf_afpacket_linktype(const wf_afpacket *c);
void wf_afpacket_close(wf_afpacket *c);

typedef struct wf_pcap_capture wf_pcap_capture;
wf_pcap_capture *wf_pcap_capture_open(const wf_capture_config *config, char *err, size_t errlen);
int wf_pcap_capture_poll(wf_pcap_capture *c, int timeout_ms, wf_packet_cb cb, void *ctx, char *err,
                         size_t errlen);
void wf_pcap_capture_get_stats(wf_pcap_capture *c, wf_capture_stats *out);
int wf_pcap_capture_linktype(const wf_pcap_capture *c);
void wf_pcap_capture_close(wf_pcap_capture *c);
/* Whether the libpcap backend can run here: 1 with libpcap's version in detail, or 0 and why. */
int wf_pcap_capture_available(char *detail, size_t len);

#ifdef __cplusplus
}
#endif

#endif
