/*
 * Live capture on Linux: an AF_PACKET socket with a TPACKET_V3 ring. What
 * needs no capture state (interface queries, hardware timestamps, ring
 * geometry, option checks) is in afpacket_setup.c.
 *
 * Setup order (no packet can reach the ring before the filter is in place):
 *   1. socket(AF_PACKET, SOCK_RAW, 0): protocol 0 registers no receive hook,
 *      so the socket queues nothing until bind() names a protocol;
 *   2. PACKET_VERSION TPACKET_V3, PACKET_RX_RING, mmap;
 *   3. SO_ATTACH_FILTER (the compiled expression, or a "ret #snaplen" program
 *      that only trims), PACKET_TIMESTAMP;
 *   4. bind(ETH_P_ALL, ifindex): from here on packets arrive, all filtered;
 *   5. PACKET_ADD_MEMBERSHIP (promiscuous) and PACKET_FANOUT, both of which
 *      need a bound socket. With fanout, packets that arrive between bind and
 *      joining the group reach this socket alone (the kernel has no way to
 *      join a group before bind); they are filtered and counted normally.
 *      The group is PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG: the kernel reassembles IPv4
 *      fragments before hashing so all of a datagram goes to one member, which means members
 *      see reassembled datagrams, not the fragments that were on the wire.
 * So the drop-all-filter-then-drain dance is not needed.
 *
 * The ring is buffer_size_mb split into blocks of block_size_kb (rounded up to
 * a power-of-two number of pages, at least one frame of snaplen, at least two
 * blocks). The kernel retires a block when it is full or block_timeout_ms
 * after its first packet; we walk blocks in order while their status has
 * TP_STATUS_USER and hand them back with TP_STATUS_KERNEL (as Arkime's reader).
 *
 * VLAN: the kernel strips the 802.1Q tag into tp_vlan_tci; when
 * TP_STATUS_VLAN_VALID is set the tag is rebuilt in front of the ethertype in
 * a per-capture scratch buffer, so the parser and pcap files see the frame as
 * it was on the wire.
 *
 * Loopback: every packet is seen twice (leaving and arriving); as libpcap does,
 * the outgoing copy is skipped on loopback interfaces.
 *
 * Threads: wf_afpacket_poll must be called from one thread at a time;
 * wf_afpacket_get_stats may be called from any thread concurrently with it.
 * wf_afpacket_close must not race with either.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "afpacket_internal.h"
#include "capture_internal.h"
#include "wirefleet.h"

#ifndef PACKET_FANOUT_FLAG_DEFRAG
#define PACKET_FANOUT_FLAG_DEFRAG 0x8000
#endif

#define VLAN_TAG_LEN 4

struct wf_afpacket {
  int fd;
  int ifindex;
  char ifname[IF_NAMESIZE];
  int linktype;
  int skip_outgoing;
  uint32_t snaplen;
  uint8_t *ring;
  size_t ring_len;
  uint32_t block_size;
  uint32_t block_nr;
  uint32_t current; /* next block to read, in kernel fill order */
  uint8_t *scratch; /* block_size + VLAN_TAG_LEN: a frame with its VLAN tag rebuilt */
  /* Delivered counters: written by the polling thread, read by any (atomics). */
  uint64_t packets;
  uint64_t bytes;
  /* Running totals of PACKET_STATISTICS, which resets on every read. */
  pthread_mutex_t stats_lock;
  uint64_t kernel_packets;
  uint64_t kernel_drops;
  uint64_t freeze_count;
};

static struct tpacket_block_desc *block_at(const wf_afpacket *c, uint32_t i) {
  return (struct tpacket_block_desc *)(void *)(c->ring + (size_t)i * c->block_size);
}

static uint32_t block_status(const struct tpacket_block_desc *bd) {
  return __atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
}

wf_afpacket *wf_afpacket_open(const wf_capture_config *cfg, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (wf_afpacket_validate(cfg, err, errlen) < 0) return NULL;
  const char *name = cfg->interface;
  unsigned ifindex = if_nametoindex(name);
  if (ifindex == 0) {
    wf_capture_fail(err, errlen, ENODEV, "no such interface \"%s\"", name);
    return NULL;
  }
  short flags = 0;
  int arphrd = 0;
  if (wf_afpacket_interface_info(name, &flags, &arphrd, err, errlen) < 0) return NULL;
  int linktype = wf_afpacket_link_type(arphrd);
  if (linktype < 0) {
    wf_capture_fail(err, errlen, EOPNOTSUPP,
         "interface %s has hardware type %d: only Ethernet, loopback and raw-IP interfaces are"
         " supported",
         name, arphrd);
    return NULL;
  }
  if (!(flags & IFF_UP)) {
    wf_capture_fail(err, errlen, ENETDOWN, "interface %s is down", name);
    return NULL;
  }
  const uint32_t snaplen = cfg->snaplen ? cfg->snaplen : WF_CAPTURE_MAX_SNAPLEN;

  /* Compile the filter first: a bad expression is reported even without privileges. */
  struct wf_bpf_program prog = {0, NULL};
  if (cfg->filter && *cfg->filter) {
    if (wf_bpf_compile(cfg->filter, linktype, snaplen, &prog, err, errlen) < 0) {
      errno = EINVAL;
      return NULL;
    }
  }

  struct tpacket_req3 req;
  if (wf_afpacket_ring_geometry(cfg, snaplen, &req, err, errlen) < 0) {
    wf_bpf_free(&prog);
    return NULL;
  }

  wf_afpacket *c = calloc(1, sizeof *c);
  if (!c) {
    wf_bpf_free(&prog);
    wf_capture_fail(err, errlen, ENOMEM, "out of memory");
    return NULL;
  }
  c->fd = -1;
  c->ring = MAP_FAILED;
  c->ifindex = (int)ifindex;
  memcpy(c->ifname, name, strlen(name) + 1);
  c->linktype = linktype;
  c->skip_outgoing = (flags & IFF_LOOPBACK) != 0;
  c->snaplen = snaplen;
  c->block_size = req.tp_block_size;
  c->block_nr = req.tp_block_nr;
  pthread_mutex_init(&c->stats_lock, NULL);

  int saved;
  c->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: nothing queued yet */
  if (c->fd < 0) {
    saved = errno;
    if (saved == EPERM || saved == EACCES)
      wf_capture_fail(err, errlen, EPERM,
           "capture on %s needs CAP_NET_RAW (run as root, or setcap cap_net_raw,cap_net_admin+ep"
           " on node)",
           name);
    else
      wf_capture_fail(err, errlen, saved, "AF_PACKET socket: %s", strerror(saved));
    goto error;
  }
  int version = TPACKET_V3;
  if (setsockopt(c->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) {
    wf_capture_fail(err, errlen, errno, "TPACKET_V3 not supported by this kernel: %s", strerror(errno));
    goto error;
  }
  if (setsockopt(c->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
    saved = errno;
    wf_capture_fail(err, errlen, saved, "could not set up a %u MiB ring (%u blocks of %u KiB): %s",
         (unsigned)(((uint64_t)req.tp_block_size * req.tp_block_nr) >> 20), req.tp_block_nr,
         req.tp_block_size >> 10, strerror(saved));
    goto error;
  }
  c->ring_len = (size_t)req.tp_block_size * req.tp_block_nr;
  c->ring = mmap(NULL, c->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
  if (c->ring == MAP_FAILED) {
    wf_capture_fail(err, errlen, errno, "mmap of the capture ring: %s", strerror(errno));
    goto error;
  }
  c->scratch = malloc((size_t)c->block_size + VLAN_TAG_LEN);
  if (!c->scratch) {
    wf_capture_fail(err, errlen, ENOMEM, "out of memory");
    goto error;
  }

  /* Filter before bind. Without an expression, a one-instruction program still trims to snaplen. */
  struct sock_filter trim = BPF_STMT(BPF_RET | BPF_K, snaplen);
  struct sock_fprog fprog;
  if (prog.len) {
    fprog.len = (unsigned short)prog.len;
    fprog.filter = prog.insns;
  } else {
    fprog.len = 1;
    fprog.filter = &trim;
  }
  if ((prog.len || snaplen < WF_CAPTURE_MAX_SNAPLEN) &&
      setsockopt(c->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) {
    wf_capture_fail(err, errlen, errno, "filter \"%s\": the kernel refused it: %s",
         cfg->filter ? cfg->filter : "", strerror(errno));
    goto error;
  }
  wf_bpf_free(&prog);

  if (cfg->timestamp_source != WF_TS_KERNEL &&
      wf_afpacket_hw_timestamps(c->fd, c->ifname, cfg->timestamp_source, err, errlen) < 0)
    goto error;

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)ifindex;
  if (bind(c->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    saved = errno;
    wf_capture_fail(err, errlen, saved, saved == ENODEV ? "no such interface \"%s\"" : "bind to %s: %s", name,
         strerror(saved));
    goto error;
  }

  if (cfg->promiscuous) {
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = (int)ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(c->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
      wf_capture_fail(err, errlen, errno, "promiscuous mode on %s: %s", name, strerror(errno));
      goto error;
    }
  }
  if (cfg->fanout_group) {
    int arg = (int)(cfg->fanout_group | (uint32_t)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG)
                                            << 16);
    if (setsockopt(c->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
      saved = errno;
      wf_capture_fail(err, errlen, saved, "fanout group %u on %s: %s%s", cfg->fanout_group, name,
           strerror(saved),
           saved == EINVAL || saved == EALREADY ? " (the group exists with another mode, or is full)"
                                                : "");
      goto error;
    }
  }
  return c;

error:
  saved = errno;
  wf_bpf_free(&prog);
  wf_afpacket_close(c);
  errno = saved;
  return NULL;
}

/* Delivers the packets of one retired block. */
static int walk_block(wf_afpacket *c, struct tpacket_block_desc *bd, wf_packet_cb cb, void *ctx) {
  const uint32_t bs = c->block_size;
  const uint32_t hdr_room = (uint32_t)TPACKET_ALIGN(sizeof(struct tpacket3_hdr));
  uint32_t num = bd->hdr.bh1.num_pkts;
  uint32_t off = bd->hdr.bh1.offset_to_first_pkt;
  int delivered = 0;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < num; i++) {
    /* The kernel writes these; check anyway so a surprise cannot read past the block. */
    if (off < sizeof *bd || off > bs || bs - off < hdr_room + sizeof(struct sockaddr_ll)) break;
    const uint8_t *base = (const uint8_t *)bd + off;
    const struct tpacket3_hdr *h = (const struct tpacket3_hdr *)(const void *)base;
    const uint32_t mac = h->tp_mac;
    uint32_t caplen = h->tp_snaplen;
    if (mac > bs - off || caplen > bs - off - mac) break;
    const struct sockaddr_ll *sll = (const struct sockaddr_ll *)(const void *)(base + hdr_room);
    if (!(c->skip_outgoing && sll->sll_pkttype == PACKET_OUTGOING)) {
      wf_packet p;
      p.data = base + mac;
      p.caplen = caplen;
      p.wirelen = h->tp_len;
      p.ts_ns = (uint64_t)h->tp_sec * 1000000000ull + h->tp_nsec;
      p.linktype = c->linktype;
      if ((h->tp_status & TP_STATUS_VLAN_VALID) && c->linktype == WF_LINKTYPE_ETHERNET &&
          caplen >= 2 * ETH_ALEN) {
        uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid
                            ? h->hv1.tp_vlan_tpid
                            : ETH_P_8021Q;
        uint16_t tci = h->hv1.tp_vlan_tci;
        uint8_t *s = c->scratch; /* block_size + 4 bytes; caplen <= block_size */
        memcpy(s, p.data, 2 * ETH_ALEN);
        s[12] = (uint8_t)(tpid >> 8);
        s[13] = (uint8_t)tpid;
        s[14] = (uint8_t)(tci >> 8);
        s[15] = (uint8_t)tci;
        memcpy(s + 2 * ETH_ALEN + VLAN_TAG_LEN, p.data + 2 * ETH_ALEN, caplen - 2 * ETH_ALEN);
        p.data = s;
        p.caplen = caplen + VLAN_TAG_LEN;
        p.wirelen += VLAN_TAG_LEN;
      }
      if (p.caplen > c->snaplen) p.caplen = c->snaplen;
      if (p.caplen > p.wirelen) p.wirelen = p.caplen;
      cb(ctx, &p);
      delivered++;
      bytes += p.wirelen;
    }
    if (h->tp_next_offset == 0) break;
    if (h->tp_next_offset > bs - off) break;
    off += h->tp_next_offset;
  }
  __atomic_fetch_add(&c->packets, (uint64_t)delivered, __ATOMIC_RELAXED);
  __atomic_fetch_add(&c->bytes, bytes, __ATOMIC_RELAXED);
  return delivered;
}

int wf_afpacket_poll(wf_afpacket *c, int timeout_ms, wf_packet_cb cb, void *ctx, char *err,
                    size_t errlen) {
  if (!(block_status(block_at(c, c->current)) & TP_STATUS_USER)) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | POLLERR, .revents = 0};
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) return 0;
      return wf_capture_fail(err, errlen, errno, "poll on %s: %s", c->ifname, strerror(errno));
    }
    if (pfd.revents & (POLLERR | POLLNVAL)) {
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (pfd.revents & POLLNVAL) soerr = EBADF;
      else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
      if (soerr == ENETDOWN)
        return wf_capture_fail(err, errlen, soerr, "interface %s went down", c->ifname);
      if (soerr == ENODEV || soerr == ENXIO)
        return wf_capture_fail(err, errlen, soerr, "interface %s went away", c->ifname);
      if (soerr) return wf_capture_fail(err, errlen, soerr, "capture on %s: %s", c->ifname, strerror(soerr));
    }
  }
  int delivered = 0;
  /* At most one pass over the ring, so a busy link still returns to the caller. */
  for (uint32_t n = 0; n < c->block_nr; n++) {
    struct tpacket_block_desc *bd = block_at(c, c->current);
    if (!(block_status(bd) & TP_STATUS_USER)) break;
    delivered += walk_block(c, bd, cb, ctx);
    __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    c->current = (c->current + 1) % c->block_nr;
  }
  return delivered;
}

void wf_afpacket_get_stats(wf_afpacket *c, wf_capture_stats *out) {
  memset(out, 0, sizeof *out);
  if (!c) return;
  struct tpacket_stats_v3 st;
  socklen_t len = sizeof st;
  pthread_mutex_lock(&c->stats_lock);
  memset(&st, 0, sizeof st);
  if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    c->kernel_packets += st.tp_packets; /* includes tp_drops */
    c->kernel_drops += st.tp_drops;
    c->freeze_count += st.tp_freeze_q_cnt;
  }
  out->kernel_packets = c->kernel_packets;
  out->kernel_drops = c->kernel_drops;
  out->freeze_count = c->freeze_count;
  pthread_mutex_unlock(&c->stats_lock);
  out->packets = __atomic_load_n(&c->packets, __ATOMIC_RELAXED);
  out->bytes = __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
  out->blocks_total = c->block_nr;
  uint32_t user = 0;
  for (uint32_t i = 0; i < c->block_nr; i++)
    if (block_status(block_at(c, i)) & TP_STATUS_USER) user++;
  out->blocks_user = user;
}

int wf_afpacket_linktype(const wf_afpacket *c) { return c->linktype; }

void wf_afpacket_close(wf_afpacket *c) {
  if (!c) return;
  if (c->ring != MAP_FAILED && c->ring) munmap(c->ring, c->ring_len);
  if (c->fd >= 0) close(c->fd); /* also leaves promiscuous mode and the fanout group */
  free(c->scratch);
  pthread_mutex_destroy(&c->stats_lock);
  free(c);
}
