/*
 * Setting up a Tango forwarder (tango_forward.h): the TUN, one AF_PACKET socket per path with
 * its BPF filter, the UDP sink, and the network namespace they are made in.
 *
 * The kernel also sees the Tango frames arriving on a path; with the tunnel addresses on the
 * interfaces it would answer each with an ICMPv6 port unreachable, so a UDP socket bound to the
 * port with a drop-everything filter quietly takes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tango_forward_internal.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int tango_fwd_fail(char *err, size_t errlen, const char *what, int e) {
  if (err && errlen) {
    if (e) snprintf(err, errlen, "%s: %s", what, strerror(e));
    else snprintf(err, errlen, "%s", what);
  }
  return -1;
}
static int interface_mtu(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  const int rc = ioctl(s, SIOCGIFMTU, &ifr);
  close(s);
  return rc < 0 ? -1 : ifr.ifr_mtu;
}

static int set_up(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    rc = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  const int e = errno;
  close(s);
  errno = e;
  return rc;
}

static void set_queue_len(const char *name, int len) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  ifr.ifr_qlen = len;
  (void)ioctl(s, SIOCSIFTXQLEN, &ifr);
  close(s);
}

/* The tunnel carries IPv4 only: keep the host from sending its IPv6 chatter into the TUN. */
static void disable_ipv6(const char *name) {
  char path[96];
  snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, "1", 1) < 0) { /* best effort: the forwarder drops non-IPv4 packets anyway */ }
  close(fd);
}

int tango_fwd_open_tun(wf_tango_forwarder *f, const char *name, char *err, size_t errlen) {
  const int existed = if_nametoindex(name) != 0;
  f->tun_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (f->tun_fd < 0) return tango_fwd_fail(err, errlen, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  if (ioctl(f->tun_fd, TUNSETIFF, &ifr) < 0) {
    char what[64];
    snprintf(what, sizeof what, "TUN %s", name);
    return tango_fwd_fail(err, errlen, what, errno);
  }
  if (!existed) {
    disable_ipv6(name);
    set_queue_len(name, TUN_QUEUE_LEN); /* best effort: the TUN default of 500 overflows in bursts */
  }
  if (set_up(name) < 0) return tango_fwd_fail(err, errlen, "bringing the TUN up", errno);
  return 0;
}

/*
 * Incoming IPv6/UDP to `port` with no extension header, nothing we sent ourselves:
 *   ldh [12]; jne 0x86dd; ldb [20]; jne 17; ldh [56]; jne port; ld pkttype; jeq outgoing; ret all
 */
static int attach_filter(int fd, uint16_t port) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, 7),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 6),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 5),
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 40 + 2),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, 0x40000),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

int tango_fwd_open_path(wf_tango_forwarder *f, size_t slot, const wf_tango_forward_path *p, uint16_t port,
                     uint16_t node_mtu, char *err, size_t errlen) {
  char what[64];
  snprintf(what, sizeof what, "path %u interface %s", p->path_id, p->ifname);
  const unsigned ifindex = if_nametoindex(p->ifname);
  if (!ifindex) return tango_fwd_fail(err, errlen, what, errno ? errno : ENODEV);
  const int if_mtu = interface_mtu(p->ifname);
  if (if_mtu < 0) return tango_fwd_fail(err, errlen, what, errno);
  /* Protocol 0 until bound: the socket sees nothing before its filter is in place. */
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return tango_fwd_fail(err, errlen, "AF_PACKET socket (needs CAP_NET_RAW)", errno);
  f->path_fd[slot] = fd;
  if (attach_filter(fd, port) < 0) return tango_fwd_fail(err, errlen, "attaching the BPF filter", errno);
  const int one = 1;
  (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one); /* the filter does it too */
  const int rcvbuf = RCVBUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* capped by rmem_max */
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IPV6);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) return tango_fwd_fail(err, errlen, what, errno);
  const int mtu = if_mtu < node_mtu ? if_mtu : node_mtu;
  wf_tango_forward_path_stats *ps = &f->stats.paths[slot];
  ps->path_id = p->path_id;
  ps->max_inner = mtu > OUTER_EXTRA ? (uint16_t)(mtu - OUTER_EXTRA) : 0;
  return 0;
}

void tango_fwd_open_udp_sink(wf_tango_forwarder *f, uint16_t port) {
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  struct sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_fprog prog = {.len = 1, .filter = drop};
  const int one = 1;
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd); /* port taken (another forwarder here): the kernel's replies are only noise */
    return;
  }
  f->udp_sink_fd = fd;
}

/* Runs start inside config->netns: sockets and the TUN belong to the namespace they are
 * made in, and the thread, created there, inherits it; the calling thread then returns home. */
wf_tango_forwarder *tango_fwd_start_in_netns(const wf_tango_forward_config *config,
                                             wf_tango_forwarder *(*start)(const wf_tango_forward_config *, char *, size_t),
                                             char *err, size_t errlen) {
  if (!config->netns[0]) return start(config, err, errlen);
  if (memchr(config->netns, 0, sizeof config->netns) == NULL) return tango_fwd_fail(err, errlen, "netns too long", 0), NULL;
  char path[300];
  if (config->netns[0] == '/') snprintf(path, sizeof path, "%s", config->netns);
  else if (strchr(config->netns, '/') || !strcmp(config->netns, ".") || !strcmp(config->netns, "..")) {
    return tango_fwd_fail(err, errlen, "netns must be a name under /run/netns or an absolute path", 0), NULL;
  } else snprintf(path, sizeof path, "/run/netns/%s", config->netns);
  const int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return tango_fwd_fail(err, errlen, "opening this thread's network namespace", errno), NULL;
  const int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    close(home);
    return tango_fwd_fail(err, errlen, path, errno), NULL;
  }
  wf_tango_forwarder *f = NULL;
  if (setns(target, CLONE_NEWNET) < 0) {
    tango_fwd_fail(err, errlen, "joining the network namespace (needs CAP_SYS_ADMIN)", errno);
  } else {
    f = start(config, err, errlen);
    if (setns(home, CLONE_NEWNET) < 0) abort(); /* never leave the caller in another namespace */
  }
  close(target);
  close(home);
  return f;
}

