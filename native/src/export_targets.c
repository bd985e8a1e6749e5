/*
 * Export targets: numeric HOST:PORT parsing (no DNS in the capture path), one
 * UDP socket per target, whether the target is on this host (export_pacing.c
 * then watches its collector's receive queue), and sending with one retry.
 */
#define _GNU_SOURCE /* SOCK_CLOEXEC, SO_SNDBUFFORCE */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export_internal.h"

#define SNDBUF_BYTES (4 * 1024 * 1024)
#define NS_PER_MS 1000000ull

static int parse_port(const char *s, uint16_t *port) {
  if (*s == '\0' || strlen(s) > 5) return -1;
  unsigned long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (unsigned long)(*p - '0');
  }
  if (v == 0 || v > 65535) return -1;
  *port = (uint16_t)v;
  return 0;
}

static int parse_target(const char *text, struct sockaddr_storage *ss, socklen_t *len, char *err,
                        size_t errlen) {
  char host[64];
  const char *port_text;
  int v6 = 0;
  if (text == NULL || *text == '\0') {
    snprintf(err, errlen, "empty export target (want HOST:PORT with a numeric address)");
    return -1;
  }
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host) {
      snprintf(err, errlen, "export target \"%s\": want [IPv6]:PORT", text);
      return -1;
    }
    memcpy(host, text + 1, (size_t)(close - text - 1));
    host[close - text - 1] = '\0';
    port_text = close + 2;
    v6 = 1;
  } else {
    const char *colon = strrchr(text, ':');
    if (colon == NULL) {
      snprintf(err, errlen, "export target \"%s\": missing :PORT (want HOST:PORT)", text);
      return -1;
    }
    if (strchr(text, ':') != colon) {
      snprintf(err, errlen, "export target \"%s\": write IPv6 addresses in brackets, [addr]:port",
               text);
      return -1;
    }
    if ((size_t)(colon - text) >= sizeof host || colon == text) {
      snprintf(err, errlen, "export target \"%s\": want HOST:PORT", text);
      return -1;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    port_text = colon + 1;
  }
  uint16_t port;
  if (parse_port(port_text, &port) != 0) {
    snprintf(err, errlen, "export target \"%s\": port must be 1-65535", text);
    return -1;
  }
  memset(ss, 0, sizeof *ss);
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
      snprintf(err, errlen, "export target \"%s\": \"%s\" is not a numeric IPv6 address", text,
               host);
      return -1;
    }
    *len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
      int name = 0;
      for (const char *p = host; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-') name = 1;
      }
      if (name) {
        snprintf(err, errlen,
                 "export target \"%s\": hostnames are not resolved, give a numeric IPv4 address "
                 "or [IPv6] address",
                 text);
      } else {
        snprintf(err, errlen, "export target \"%s\": \"%s\" is not a numeric IPv4 address", text,
                 host);
      }
      return -1;
    }
    *len = sizeof *a;
  }
  return 0;
}

static int is_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  }
  const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
  if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
  return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

/* 1 if packets to the target stay on this host: loopback, or the kernel picks the
 * target address itself as the source to reach it. */
static int target_is_local(const struct sockaddr_storage *ss, socklen_t len) {
  if (is_loopback(ss)) return 1;
  int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_storage src;
  socklen_t slen = sizeof src;
  int local = 0;
  if (connect(fd, (const struct sockaddr *)ss, len) == 0 &&
      getsockname(fd, (struct sockaddr *)&src, &slen) == 0) {
    if (ss->ss_family == AF_INET) {
      local = ((struct sockaddr_in *)&src)->sin_addr.s_addr ==
              ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
    } else {
      local = memcmp(&((struct sockaddr_in6 *)&src)->sin6_addr,
                     &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) == 0;
    }
  }
  close(fd);
  return local;
}

int wf_export_open_target(wf_exporter *e, size_t i, const char *text, char *err, size_t errlen) {
  if (parse_target(text, &e->addr[i], &e->addrlen[i], err, errlen) != 0) return -1;
  e->fd[i] = socket(e->addr[i].ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (e->fd[i] < 0) {
    snprintf(err, errlen, "export socket for %s: %s", text, strerror(errno));
    return -1;
  }
  e->collector[i].local = target_is_local(&e->addr[i], e->addrlen[i]);
  /* Bursts of full datagrams: a bigger send buffer (the kernel caps it at wmem_max). */
  int size = SNDBUF_BYTES;
#ifdef SO_SNDBUFFORCE
  if (setsockopt(e->fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) == 0) return 0;
#endif
  (void)setsockopt(e->fd[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return 0;
}

int wf_export_send_to(wf_exporter *e, size_t t, size_t len) {
  for (int attempt = 0; attempt < 2; attempt++) {
    ssize_t n;
    do {
      n = sendto(e->fd[t], e->buf, len, 0, (const struct sockaddr *)&e->addr[t], e->addrlen[t]);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) return 0;
    if (attempt == 0 && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      wf_export_sleep_until(wf_export_monotonic_ns() + NS_PER_MS);
    }
  }
  return -1;
}
