/*
 * AF_PACKET setup that needs no capture state: what an interface is (link
 * type, flags), hardware timestamping, the TPACKET_V3 ring's geometry, and
 * the backend's own option checks. afpacket.c opens the socket with these.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>

#include "afpacket_internal.h"
#include "capture_internal.h"

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

/* Link type of the interface from its ARPHRD_* hardware type. */
int wf_afpacket_link_type(int arphrd) {
  switch (arphrd) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK: /* a 14-byte Ethernet header with zero addresses */
      return WF_LINKTYPE_ETHERNET;
    case ARPHRD_NONE: /* tun */
    case ARPHRD_RAWIP:
    case ARPHRD_PPP:
    case ARPHRD_TUNNEL:
    case ARPHRD_TUNNEL6:
    case ARPHRD_SIT:
    case ARPHRD_IPGRE:
      return WF_LINKTYPE_RAW; /* no link header: frames start at the IP header */
    default:
      return -1;
  }
}

/* Interface flags and hardware type through an ordinary socket (needs no privilege). */
int wf_afpacket_interface_info(const char *name, short *flags, int *arphrd, char *err,
                               size_t errlen) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return wf_capture_fail(err, errlen, errno, "interface %s: socket: %s", name, strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name));
  int rc = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    rc = wf_capture_fail(err, errlen, errno, "interface %s: %s", name, strerror(errno));
  } else {
    *flags = ifr.ifr_flags;
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
      rc = wf_capture_fail(err, errlen, errno, "interface %s: hardware type: %s", name, strerror(errno));
    else
      *arphrd = ifr.ifr_hwaddr.sa_family;
  }
  close(s);
  return rc;
}

/* Hardware receive timestamps: the NIC must stamp every received packet. */
int wf_afpacket_hw_timestamps(int fd, const char *ifname, int source, char *err, size_t errlen) {
  struct hwtstamp_config hw;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strlen(ifname));
  memset(&hw, 0, sizeof hw);
  ifr.ifr_data = (char *)&hw;
  /* Leave an existing configuration (PTP daemons set one) alone if it stamps received packets. */
  if (ioctl(fd, SIOCGHWTSTAMP, &ifr) < 0 || hw.rx_filter == HWTSTAMP_FILTER_NONE) {
    memset(&hw, 0, sizeof hw);
    hw.tx_type = HWTSTAMP_TX_OFF;
    hw.rx_filter = HWTSTAMP_FILTER_ALL;
    ifr.ifr_data = (char *)&hw;
    if (ioctl(fd, SIOCSHWTSTAMP, &ifr) < 0) {
      int e = errno;
      return wf_capture_fail(err, errlen, e,
                  "interface %s cannot timestamp received packets in hardware (SIOCSHWTSTAMP: %s);"
                  " use kernel timestamps",
                  ifname, e == EPERM ? "needs CAP_NET_ADMIN" : strerror(e));
    }
    if (hw.rx_filter == HWTSTAMP_FILTER_NONE)
      return wf_capture_fail(err, errlen, EOPNOTSUPP,
                  "interface %s cannot timestamp received packets in hardware; use kernel timestamps",
                  ifname);
  }
  /* SYS_HARDWARE is obsolete (never set since Linux 3.17); RAW_HARDWARE is the NIC clock, which
   * is on system time only if something (phc2sys) keeps it there: "adapter" assumes that. */
  int req = SOF_TIMESTAMPING_RAW_HARDWARE;
  if (source == WF_TS_ADAPTER) req |= SOF_TIMESTAMPING_SYS_HARDWARE;
  if (setsockopt(fd, SOL_PACKET, PACKET_TIMESTAMP, &req, sizeof req) < 0)
    return wf_capture_fail(err, errlen, errno, "interface %s: PACKET_TIMESTAMP: %s", ifname,
                strerror(errno));
  return 0;
}

/* Ring geometry: power-of-two-pages blocks holding at least one frame, at least two blocks. */
int wf_afpacket_ring_geometry(const wf_capture_config *cfg, uint32_t snaplen, struct tpacket_req3 *req,
                              char *err, size_t errlen) {
  uint64_t ring = (uint64_t)(cfg->buffer_size_mb ? cfg->buffer_size_mb : 64) << 20;
  uint64_t want = (uint64_t)(cfg->block_size_kb ? cfg->block_size_kb : 1024) << 10;
  long page_l = sysconf(_SC_PAGESIZE);
  uint64_t page = page_l > 0 ? (uint64_t)page_l : 4096;
  /* Room for the header, sockaddr_ll, alignment slack and a re-inserted VLAN tag. */
  uint64_t frame = TPACKET_ALIGN(TPACKET3_HDRLEN + 64 + snaplen);
  uint64_t block = page;
  while (block < want || block < frame) block <<= 1;
  while (ring / block < 2 && (block >> 1) >= frame && (block >> 1) >= page) block >>= 1;
  if (ring / block < 2 || block > UINT32_MAX)
    return wf_capture_fail(err, errlen, EINVAL,
                "a %u MiB ring cannot hold two blocks of %llu bytes: raise the buffer size",
                (unsigned)(ring >> 20), (unsigned long long)block);
  memset(req, 0, sizeof *req);
  req->tp_block_size = (uint32_t)block;
  req->tp_block_nr = (uint32_t)(ring / block);
  req->tp_frame_size = (uint32_t)frame;
  req->tp_frame_nr = (uint32_t)(block / frame) * req->tp_block_nr;
  req->tp_retire_blk_tov = cfg->block_timeout_ms ? cfg->block_timeout_ms : 50;
  req->tp_sizeof_priv = 0;
  req->tp_feature_req_word = 0;
  return 0;
}

/* Backend-specific checks; capture.c has already run wf_capture_validate(). */
int wf_afpacket_validate(const wf_capture_config *cfg, char *err, size_t errlen) {
  if (cfg->block_size_kb > 65536)
    return wf_capture_fail(err, errlen, EINVAL, "block size must be at most 65536 KiB, got %u",
                cfg->block_size_kb);
  if (cfg->fanout_group > 0xffff)
    return wf_capture_fail(err, errlen, EINVAL, "fanout group must be 1..65535, got %u", cfg->fanout_group);
  return 0;
}
