/*
 * ndjson / csv text of flow records, byte for byte as flow-format.ts prints
 * the records flow-records.ts decodes, so the CLI can skip decoding in JS.
 */
#define _POSIX_C_SOURCE 200809L

#include "flow_text.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITE_BUFFER (1u << 20)
#define TWO_POW_53 9007199254740992ull

static const char *const STATES[] = {"ACTIVE", "CLOSING", "CLOSED"};
static const char *const END_REASONS[] = {NULL, "idle", "active", "fin_rst", "end_of_capture",
                                          "evicted"};

static char *put_str(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

static char *put_u64(char *p, uint64_t v) {
  char tmp[20];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

/* JavaScript's Number::toString: the shortest digits that read back as v
 * (the closest such on a tie), fixed notation for exponents -7 < e < 21. */
size_t wf_text_number(double v, char *buf) {
  char *p = buf;
  if (v != v) return (size_t)(put_str(p, "NaN") - buf);
  if (v < 0) {
    *p++ = '-';
    v = -v;
  }
  if (v == 0) {
    buf[0] = '0'; /* -0 prints as 0 too */
    return 1;
  }
  if (v > 1.7976931348623157e308) return (size_t)(put_str(p, "Infinity") - buf);
  char e[40];
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec - 1, v);
    if (strtod(e, NULL) == v) break;
  }
  char digits[24];
  int k = 0;
  const char *q = e;
  for (; *q != 'e'; q++)
    if (*q != '.') digits[k++] = *q;
  while (k > 1 && digits[k - 1] == '0') k--; /* %.*e may pad */
  int n = atoi(q + 1) + 1;                   /* v = 0.digits x 10^n */
  if (k <= n && n <= 21) {
    memcpy(p, digits, (size_t)k);
    p += k;
    for (int i = k; i < n; i++) *p++ = '0';
  } else if (0 < n && n <= 21) {
    memcpy(p, digits, (size_t)n);
    p += n;
    *p++ = '.';
    memcpy(p, digits + n, (size_t)(k - n));
    p += k - n;
  } else if (-6 < n && n <= 0) {
    p = put_str(p, "0.");
    for (int i = 0; i < -n; i++) *p++ = '0';
    memcpy(p, digits, (size_t)k);
    p += k;
  } else {
    *p++ = digits[0];
    if (k > 1) {
      *p++ = '.';
      memcpy(p, digits + 1, (size_t)(k - 1));
      p += k - 1;
    }
    *p++ = 'e';
    *p++ = n - 1 < 0 ? '-' : '+';
    p = put_u64(p, (uint64_t)(n - 1 < 0 ? 1 - n : n - 1));
  }
  return (size_t)(p - buf);
}

/* Number(a) + Number(b) for u64 counters, as the decoder adds them. */
static char *put_sum(char *p, uint64_t a, uint64_t b) {
  if (a < TWO_POW_53 && b < TWO_POW_53 && a + b < TWO_POW_53) return put_u64(p, a + b);
  return p + wf_text_number((double)a + (double)b, p);
}

static char *put_count(char *p, uint64_t v) {
  return v < TWO_POW_53 ? put_u64(p, v) : p + wf_text_number((double)v, p);
}

/* Number(us) / 1e6 for a whole number of microseconds. Below 2^33 s the
 * double's spacing is under 1 µs, so the shortest text that reads back is
 * exactly the six-decimal value with trailing zeros dropped. */
static char *put_micros(char *p, uint64_t us) {
  if (us >= 8589934592000000ull) return p + wf_text_number((double)us / 1e6, p);
  p = put_u64(p, us / 1000000);
  uint32_t frac = (uint32_t)(us % 1000000);
  if (frac == 0) return p;
  char d[6];
  for (int i = 5; i >= 0; i--, frac /= 10) d[i] = (char)('0' + frac % 10);
  int k = 6;
  while (d[k - 1] == '0') k--;
  *p++ = '.';
  memcpy(p, d, (size_t)k);
  return p + k;
}

/* seconds(last - first) of BigInt nanoseconds: truncation toward zero. */
static char *put_duration(char *p, uint64_t first_ns, uint64_t last_ns) {
  if (last_ns >= first_ns) return put_micros(p, (last_ns - first_ns) / 1000);
  uint64_t us = (first_ns - last_ns) / 1000;
  if (us != 0) *p++ = '-';
  return put_micros(p, us);
}

static char *put_ipv4(char *p, const uint8_t *a) {
  for (int i = 0; i < 4; i++) {
    if (i) *p++ = '.';
    p = put_u64(p, a[i]);
  }
  return p;
}

static char *put_hex(char *p, uint32_t v) {
  static const char hex[] = "0123456789abcdef";
  int shift = 12;
  while (shift > 0 && ((v >> shift) & 0xf) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) *p++ = hex[(v >> shift) & 0xf];
  return p;
}

/* RFC 5952, as protocol/address.ts formatIPv6: longest zero run of two or
 * more groups (the first on a tie) as "::", IPv4-mapped as ::ffff:a.b.c.d. */
static char *put_ipv6(char *p, const uint8_t *a) {
  uint32_t g[8];
  for (int i = 0; i < 8; i++) g[i] = (uint32_t)a[2 * i] << 8 | a[2 * i + 1];
  if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff) {
    p = put_str(p, "::ffff:");
    return put_ipv4(p, a + 12);
  }
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) j++;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      p = put_str(p, "::");
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best + best_len) *p++ = ':';
    p = put_hex(p, g[i]);
  }
  return p;
}

static char *put_ip(char *p, const wf_flow_record *r, const uint8_t *a) {
  return r->family == 6 ? put_ipv6(p, a) : put_ipv4(p, a);
}

const char *wf_text_csv_header(void) {
  return "flow_id,src_ip,dst_ip,src_port,dst_port,protocol,vlan_id,packets,bytes,packets_fwd,"
         "packets_rev,bytes_fwd,bytes_rev,first_seen,last_seen,duration_sec,tcp_flags,state,"
         "end_reason\n";
}

size_t wf_text_format(int format, const wf_flow_record *r, char *buf) {
  const int json = format == WF_TEXT_NDJSON;
  char flags[48], id[17];
  wf_tcp_flags_string(r->tcp_flags, flags, sizeof flags);
  snprintf(id, sizeof id, "%016llx", (unsigned long long)r->flow_id);
  const char *state = r->state < 3 ? STATES[r->state] : "ACTIVE";
  const char *reason = r->end_reason < 6 ? END_REASONS[r->end_reason] : NULL;
  /* Field names for ndjson, commas for csv; strings quoted only in JSON. */
#define KEY(name) p = put_str(p, json ? (first ? "{\"" name "\":" : ",\"" name "\":") : (first ? "" : ","))
#define QSTR(s)                 \
  do {                          \
    if (json) *p++ = '"';       \
    p = put_str(p, s);          \
    if (json) *p++ = '"';       \
  } while (0)
  char *p = buf;
  int first = 1;
  KEY("flow_id");
  QSTR(id);
  first = 0;
  if (json) {
    KEY("ip_version");
    *p++ = r->family == 6 ? '6' : '4';
  }
  KEY("src_ip");
  if (json) *p++ = '"';
  p = put_ip(p, r, r->src);
  if (json) *p++ = '"';
  KEY("dst_ip");
  if (json) *p++ = '"';
  p = put_ip(p, r, r->dst);
  if (json) *p++ = '"';
  KEY("src_port");
  p = put_u64(p, r->src_port);
  KEY("dst_port");
  p = put_u64(p, r->dst_port);
  KEY("protocol");
  p = put_u64(p, r->protocol);
  KEY("vlan_id");
  p = put_u64(p, r->vlan_id);
  KEY("packets");
  p = put_sum(p, r->packets_fwd, r->packets_rev);
  KEY("bytes");
  p = put_sum(p, r->bytes_fwd, r->bytes_rev);
  KEY("packets_fwd");
  p = put_count(p, r->packets_fwd);
  KEY("packets_rev");
  p = put_count(p, r->packets_rev);
  KEY("bytes_fwd");
  p = put_count(p, r->bytes_fwd);
  KEY("bytes_rev");
  p = put_count(p, r->bytes_rev);
  KEY("first_seen");
  p = put_micros(p, r->first_ns / 1000);
  KEY("last_seen");
  p = put_micros(p, r->last_ns / 1000);
  KEY("duration_sec");
  p = put_duration(p, r->first_ns, r->last_ns);
  KEY("tcp_flags");
  QSTR(flags);
  KEY("state");
  QSTR(state);
  KEY("end_reason");
  if (reason != NULL) QSTR(reason);
  else if (json) p = put_str(p, "null");
  if (json) *p++ = '}';
  *p++ = '\n';
#undef KEY
#undef QSTR
  return (size_t)(p - buf);
}

/* ---- writer ---- */

struct wf_text_writer {
  int fd, format, error;
  size_t len;
  char buf[WRITE_BUFFER + WF_TEXT_LINE_MAX];
};

wf_text_writer *wf_text_writer_create(int fd, int format) {
  wf_text_writer *w = malloc(sizeof *w);
  if (w == NULL) return NULL;
  w->fd = fd;
  w->format = format;
  w->error = 0;
  w->len = 0;
  return w;
}

/* All of buf, waiting out EAGAIN on a non-blocking descriptor. */
static int write_all(wf_text_writer *w, const char *buf, size_t len) {
  while (len > 0 && w->error == 0) {
    ssize_t n = write(w->fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {.fd = w->fd, .events = POLLOUT};
      (void)poll(&pfd, 1, -1);
    } else {
      w->error = n < 0 ? errno : EIO;
    }
  }
  return w->error ? -1 : 0;
}

int wf_text_flush(wf_text_writer *w) {
  if (w->error) return -1;
  int rc = write_all(w, w->buf, w->len);
  w->len = 0;
  return rc;
}

int wf_text_write_header(wf_text_writer *w) {
  if (w->format != WF_TEXT_CSV) return w->error ? -1 : 0;
  const char *h = wf_text_csv_header();
  size_t n = strlen(h);
  if (w->len + n > WRITE_BUFFER && wf_text_flush(w) != 0) return -1;
  memcpy(w->buf + w->len, h, n);
  w->len += n;
  return 0;
}

int wf_text_write(wf_text_writer *w, const wf_flow_record *records, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (w->error) return -1;
    w->len += wf_text_format(w->format, &records[i], w->buf + w->len);
    if (w->len >= WRITE_BUFFER && wf_text_flush(w) != 0) return -1;
  }
  return w->error ? -1 : 0;
}

int wf_text_error(const wf_text_writer *w) { return w->error; }

void wf_text_writer_destroy(wf_text_writer *w) { free(w); }
