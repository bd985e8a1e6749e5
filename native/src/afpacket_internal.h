/* Private to afpacket.c and afpacket_setup.c. */
#ifndef WF_AFPACKET_INTERNAL_H
#define WF_AFPACKET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <linux/if_packet.h>

#include "wirefleet.h"

/* LINKTYPE_* for an ARPHRD_* hardware type, or -1 when unsupported. */
int wf_afpacket_link_type(int arphrd);
/* Interface flags and hardware type through an ordinary socket (needs no privilege). */
int wf_afpacket_interface_info(const char *name, short *flags, int *arphrd, char *err,
                               size_t errlen);
/* Hardware receive timestamps on the bound socket fd (WF_TS_ADAPTER or _UNSYNCED). */
int wf_afpacket_hw_timestamps(int fd, const char *ifname, int source, char *err, size_t errlen);
/* Power-of-two-pages blocks holding at least one frame, at least two blocks. */
int wf_afpacket_ring_geometry(const wf_capture_config *cfg, uint32_t snaplen, struct tpacket_req3 *req,
                              char *err, size_t errlen);
/* Backend-specific checks; capture.c has already run wf_capture_validate(). */
int wf_afpacket_validate(const wf_capture_config *cfg, char *err, size_t errlen);

#endif
