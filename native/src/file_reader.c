/*
 * pcap / pcapng reader over a read-only mapping (or any memory buffer).
 *
 * Errors are sticky: the read offset only advances past a record once it has
 * been validated, so calling wf_file_next again after -1 reports the same
 * reason. Packet data points into the mapping, so a file truncated by another
 * process while mapped can still raise SIGBUS; captures are treated as
 * immutable while read.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): glibc's posix_madvise ignores DONTNEED */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "file_reader_internal.h"

#define PCAP_MAX_RECORD (262144u * 4) /* libpcap's ceiling is 262144; allow headroom */
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_MAX_INTERFACES 65536

enum { FMT_PCAP = 1, FMT_PCAPNG = 2 };

__extension__ typedef unsigned __int128 wf_u128;
__extension__ typedef __int128 wf_i128;

typedef struct iface {
  int linktype;
  uint32_t snaplen;
  uint8_t res_pow2; /* if_tsresol: units are 2^-exp seconds, else 10^-exp */
  uint8_t res_exp;
  int64_t offset_s; /* if_tsoffset */
} iface;

struct wf_file_reader {
  const uint8_t *data;
  size_t size;
  void *map; /* non-NULL when we own an mmap of `size` bytes */
  int format;
  int big_endian; /* pcap: whole file; pcapng: current section */
  size_t off;
  uint64_t records; /* packets returned so far (for error messages) */
  int nsec;         /* pcap */
  int linktype;     /* pcap */
  iface *ifs;       /* pcapng: interfaces of the current section */
  size_t n_ifs, cap_ifs;
  size_t released;  /* mmap: bytes below this were handed back with MADV_DONTNEED */
};

/* Read pages stay mapped, so RSS would grow to the file size. Every 16 MiB,
 * hand back what lies more than 4 MiB behind the read position: on a
 * read-only private file mapping the pages re-fault from the page cache if a
 * caller still touches an old packet, so pointers stay valid. */
#define WF_RELEASE_STEP (16u << 20)
#define WF_RELEASE_LAG (4u << 20)

static void release_behind(wf_file_reader *r) {
  if (r->map == NULL || r->off < r->released + WF_RELEASE_STEP + WF_RELEASE_LAG) return;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t end = (r->off - WF_RELEASE_LAG) & ~(page - 1);
  if (end > r->released) {
    madvise((uint8_t *)r->map + r->released, end - r->released, MADV_DONTNEED);
    r->released = end;
  }
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                           ...) {
  if (err == NULL || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static void set_errno(char *err, size_t errlen, const char *what, int e) {
  char buf[128];
  if (strerror_r(e, buf, sizeof buf) != 0) snprintf(buf, sizeof buf, "error %d", e);
  set_err(err, errlen, "%s: %s", what, buf);
}

/* ---- pcap ---- */

static int pcap_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen) {
  if (r->off == r->size) return 0;
  size_t rem = r->size - r->off;
  unsigned long long n = (unsigned long long)r->records + 1;
  if (rem < 16) {
    set_err(err, errlen, "record %llu truncated at offset %zu: header has %zu of 16 bytes", n, r->off, rem);
    return -1;
  }
  const uint8_t *h = r->data + r->off;
  int be = r->big_endian;
  uint32_t sec = wf_rd32(h, 0, be), frac = wf_rd32(h, 4, be);
  uint32_t incl = wf_rd32(h, 8, be), orig = wf_rd32(h, 12, be);
  if (incl > PCAP_MAX_RECORD) {
    set_err(err, errlen, "record %llu corrupt at offset %zu: captured length %u is implausible", n,
            r->off, incl);
    return -1;
  }
  if (incl > rem - 16) {
    set_err(err, errlen, "record %llu truncated at offset %zu: needs %u bytes, %zu left", n, r->off,
            incl, rem - 16);
    return -1;
  }
  out->data = h + 16;
  out->caplen = incl;
  out->wirelen = orig;
  out->ts_ns = (uint64_t)sec * 1000000000u + (r->nsec ? frac : (uint64_t)frac * 1000u);
  out->linktype = r->linktype;
  r->off += 16 + (size_t)incl;
  r->records++;
  return 1;
}

/* ---- pcapng ---- */

static uint64_t rd64(const uint8_t *b, size_t off, int be) {
  uint32_t first = wf_rd32(b, off, be), second = wf_rd32(b, off + 4, be);
  return be ? (uint64_t)first << 32 | second : (uint64_t)second << 32 | first;
}

static uint64_t pow10u(unsigned e) { /* e <= 19 */
  uint64_t v = 1;
  while (e--) v *= 10;
  return v;
}

/* Timestamp units -> epoch ns, saturating instead of wrapping. */
static uint64_t ts_to_ns(const iface *f, uint64_t units) {
  wf_u128 ns;
  if (f->res_pow2) ns = ((wf_u128)units * 1000000000u) >> f->res_exp; /* < 2^94, exp <= 127 */
  else if (f->res_exp <= 9) ns = (wf_u128)units * pow10u(9u - f->res_exp);
  else if (f->res_exp - 9u <= 19) ns = units / pow10u(f->res_exp - 9u);
  else ns = 0; /* finer than 1e-28 s per unit: any u64 count is below 1 ns */
  wf_i128 t = (wf_i128)ns + (wf_i128)f->offset_s * 1000000000;
  if (t < 0) return 0;
  if (t > (wf_i128)UINT64_MAX) return UINT64_MAX;
  return (uint64_t)t;
}

/* if_tsresol / if_tsoffset; malformed options end the walk and keep defaults. */
static void idb_options(const uint8_t *d, size_t off, size_t end, int be, iface *f) {
  while (wf_have(end, off, 4)) {
    uint16_t code = wf_rd16(d, off, be), len = wf_rd16(d, off + 2, be);
    off += 4;
    if (code == 0 || !wf_have(end, off, len)) return;
    if (code == 9 && len >= 1) {
      f->res_pow2 = (d[off] & 0x80) != 0;
      f->res_exp = d[off] & 0x7f;
    } else if (code == 14 && len >= 8) {
      f->offset_s = (int64_t)rd64(d, off, be);
    }
    off += ((size_t)len + 3) & ~(size_t)3;
  }
}

static int add_interface(wf_file_reader *r, const uint8_t *d, size_t body, size_t body_len,
                         char *err, size_t errlen) {
  if (body_len < 8) {
    set_err(err, errlen, "interface block at offset %zu too short", r->off);
    return -1;
  }
  if (r->n_ifs == r->cap_ifs) {
    if (r->n_ifs >= PCAPNG_MAX_INTERFACES) {
      set_err(err, errlen, "too many interfaces at offset %zu", r->off);
      return -1;
    }
    size_t cap = r->cap_ifs ? r->cap_ifs * 2 : 4;
    iface *p = realloc(r->ifs, cap * sizeof *p);
    if (p == NULL) {
      set_err(err, errlen, "out of memory");
      return -1;
    }
    r->ifs = p;
    r->cap_ifs = cap;
  }
  iface *f = &r->ifs[r->n_ifs++];
  f->linktype = wf_rd16(d, body, r->big_endian);
  f->snaplen = wf_rd32(d, body + 4, r->big_endian);
  f->res_pow2 = 0;
  f->res_exp = 6; /* default: microseconds */
  f->offset_s = 0;
  idb_options(d, body + 8, body + body_len, r->big_endian, f);
  return 0;
}

/* EPB (6), obsolete PB (2) and SPB (3) bodies -> a packet. */
static int packet_block(wf_file_reader *r, uint32_t type, size_t body, size_t body_len,
                        wf_packet *out, char *err, size_t errlen) {
  const uint8_t *d = r->data;
  int be = r->big_endian;
  size_t hdr = type == 3 ? 4 : 20;
  uint32_t ifid, cap, orig;
  uint64_t units = 0;
  if (body_len < hdr) {
    set_err(err, errlen, "packet block at offset %zu too short", r->off);
    return -1;
  }
  if (type == 3) {
    ifid = 0;
    orig = wf_rd32(d, body, be);
    cap = orig; /* clipped below to the block and the interface snaplen */
  } else {
    ifid = type == 2 ? wf_rd16(d, body, be) : wf_rd32(d, body, be);
    units = (uint64_t)wf_rd32(d, body + 4, be) << 32 | wf_rd32(d, body + 8, be);
    cap = wf_rd32(d, body + 12, be);
    orig = wf_rd32(d, body + 16, be);
  }
  if (ifid >= r->n_ifs) {
    set_err(err, errlen, "packet block at offset %zu names interface %u, section has %zu", r->off,
            ifid, r->n_ifs);
    return -1;
  }
  const iface *f = &r->ifs[ifid];
  if (type == 3) {
    if (cap > body_len - hdr) cap = (uint32_t)(body_len - hdr);
    if (f->snaplen != 0 && cap > f->snaplen) cap = f->snaplen;
  } else if (cap > body_len - hdr) {
    set_err(err, errlen, "packet block at offset %zu: captured length %u exceeds the block", r->off, cap);
    return -1;
  }
  out->data = d + body + hdr;
  out->caplen = cap;
  out->wirelen = orig;
  out->ts_ns = type == 3 ? 0 : ts_to_ns(f, units);
  out->linktype = f->linktype;
  return 1;
}

/* Byte order from an SHB's magic at off + 8 (caller checked 12 bytes). */
static int shb_byte_order(const uint8_t *d, size_t off) {
  uint32_t bom = wf_be32(d, off + 8);
  if (bom == 0x1A2B3C4Du) return 1;
  if (bom == 0x4D3C2B1Au) return 0;
  return -1;
}

static int pcapng_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen) {
  const uint8_t *d = r->data;
  for (;;) {
    size_t off = r->off;
    if (off == r->size) return 0;
    size_t rem = r->size - off;
    if (rem < 12) {
      set_err(err, errlen, "block at offset %zu truncated: %zu bytes left", off, rem);
      return -1;
    }
    if (wf_le32(d, off) == PCAPNG_SHB) { /* palindrome: readable before the byte order is known */
      int be = shb_byte_order(d, off);
      if (be < 0) {
        set_err(err, errlen, "section header at offset %zu: bad byte-order magic", off);
        return -1;
      }
      r->big_endian = be;
    }
    int be = r->big_endian;
    uint32_t type = wf_rd32(d, off, be), len = wf_rd32(d, off + 4, be);
    if (len < 12 || len % 4 != 0) {
      set_err(err, errlen, "block at offset %zu: bad length %u", off, len);
      return -1;
    }
    if (len > rem) {
      set_err(err, errlen, "block at offset %zu truncated: length %u, %zu bytes left", off, len, rem);
      return -1;
    }
    if (wf_rd32(d, off + len - 4, be) != len) {
      set_err(err, errlen, "block at offset %zu: trailing length does not match %u", off, len);
      return -1;
    }
    size_t body = off + 8, body_len = len - 12;
    int rc = 0;
    if (type == PCAPNG_SHB) {
      if (body_len < 16 || wf_rd16(d, body + 4, be) != 1) {
        set_err(err, errlen, "section header at offset %zu: unsupported version or too short", off);
        return -1;
      }
      r->n_ifs = 0; /* interface ids are per section */
    } else if (type == 1) {
      rc = add_interface(r, d, body, body_len, err, errlen);
    } else if (type == 2 || type == 3 || type == 6) {
      rc = packet_block(r, type, body, body_len, out, err, errlen);
    }
    if (rc < 0) return -1;
    r->off = off + len;
    if (rc == 1) {
      r->records++;
      return 1;
    }
  }
}

/* ---- public API ---- */

wf_file_reader *wf_file_open_memory(const uint8_t *data, size_t len, char *err, size_t errlen) {
  if (data == NULL || len == 0) {
    set_err(err, errlen, "file is empty");
    return NULL;
  }
  if (len < 4) {
    set_err(err, errlen, "not a capture file: too short (%zu bytes)", len);
    return NULL;
  }
  wf_file_reader r = {.data = data, .size = len};
  uint32_t magic = wf_be32(data, 0);
  if (magic == 0xA1B2C3D4u || magic == 0xA1B23C4Du || magic == 0xD4C3B2A1u || magic == 0x4D3CB2A1u) {
    if (len < 24) {
      set_err(err, errlen, "pcap file header truncated (%zu of 24 bytes)", len);
      return NULL;
    }
    r.format = FMT_PCAP;
    r.big_endian = (magic >> 24) == 0xA1;
    r.nsec = magic == 0xA1B23C4Du || magic == 0x4D3CB2A1u;
    r.linktype = (int)(wf_rd32(data, 20, r.big_endian) & 0xffff); /* high bits: FCS info */
    r.off = 24;
  } else if (magic == PCAPNG_SHB) {
    if (len < 12 || shb_byte_order(data, 0) < 0) {
      set_err(err, errlen, "not a capture file: pcapng section header without byte-order magic");
      return NULL;
    }
    r.format = FMT_PCAPNG;
    r.off = 0; /* the first wf_file_next parses the section header */
  } else {
    set_err(err, errlen, "not a capture file: unknown magic 0x%08x", magic);
    return NULL;
  }
  wf_file_reader *p = malloc(sizeof *p);
  if (p == NULL) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  *p = r;
  return p;
}

wf_file_reader *wf_file_open(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    set_errno(err, errlen, "cannot open", errno);
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    set_errno(err, errlen, "cannot stat", errno);
    close(fd);
    return NULL;
  }
  const char *why = NULL;
  if (S_ISDIR(st.st_mode)) why = "is a directory";
  else if (!S_ISREG(st.st_mode)) why = "not a regular file";
  else if (st.st_size == 0) why = "file is empty";
  else if ((uint64_t)st.st_size > SIZE_MAX) why = "file too large to map";
  if (why != NULL) {
    set_err(err, errlen, "%s", why);
    close(fd);
    return NULL;
  }
  size_t size = (size_t)st.st_size;
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  close(fd); /* the mapping keeps the file referenced */
  if (map == MAP_FAILED) {
    set_errno(err, errlen, "cannot map", map_errno);
    return NULL;
  }
  posix_madvise(map, size, POSIX_MADV_SEQUENTIAL); /* advisory: failure is harmless */
  wf_file_reader *r = wf_file_open_memory(map, size, err, errlen);
  if (r == NULL) {
    munmap(map, size);
    return NULL;
  }
  r->map = map;
  return r;
}

int wf_file_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen) {
  if (r == NULL || out == NULL) {
    set_err(err, errlen, "invalid argument");
    return -1;
  }
  release_behind(r);
  return r->format == FMT_PCAP ? pcap_next(r, out, err, errlen) : pcapng_next(r, out, err, errlen);
}

const char *wf_file_format(const wf_file_reader *r) {
  return r != NULL && r->format == FMT_PCAPNG ? "pcapng" : "pcap";
}

uint64_t wf_file_size(const wf_file_reader *r) { return r != NULL ? r->size : 0; }

void wf_file_close(wf_file_reader *r) {
  if (r == NULL) return;
  if (r->map != NULL) munmap(r->map, r->size);
  free(r->ifs);
  free(r);
}
