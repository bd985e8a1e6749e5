/*
 * pcap and pcapng records, read from the reader's window (file_reader.c).
 *
 * Each parser first asks wf_file_need for the whole record, so the window
 * holds it unless the file ends first; lengths are then checked against what
 * is left of the file, and offsets in messages are file offsets.
 */
#include <stdlib.h>

#include "bytes.h"
#include "file_reader_internal.h"

#define PCAP_MAX_RECORD (262144u * 4) /* libpcap's ceiling is 262144; allow headroom */
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_MAX_INTERFACES 65536

__extension__ typedef unsigned __int128 wf_u128;
__extension__ typedef __int128 wf_i128;

/* File offset of the read position, for messages. */
static size_t pos(const wf_file_reader *r) { return (size_t)(r->base + r->off); }

/* wf_file_need's answer as a parser result: 1 go on, else what to return. */
static int need(wf_file_reader *r, uint64_t n, char *err, size_t errlen, int *rc) {
  int got = wf_file_need(r, n, err, errlen);
  if (got == 1) return 1;
  *rc = got == 0 ? WF_FILE_MOVE : -1;
  return 0;
}

/* ---- pcap ---- */

int wf_pcap_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen) {
  int rc;
  if (!need(r, 16, err, errlen, &rc)) return rc;
  uint64_t left = wf_file_left(r);
  if (left == 0) return 0;
  size_t rem = (size_t)left;
  unsigned long long n = (unsigned long long)r->records + 1;
  if (rem < 16) {
    wf_file_err(err, errlen, "record %llu truncated at offset %zu: header has %zu of 16 bytes", n, pos(r), rem);
    return -1;
  }
  int be = r->big_endian;
  uint32_t incl = wf_rd32(r->data + r->off, 8, be);
  if (incl > PCAP_MAX_RECORD) {
    wf_file_err(err, errlen, "record %llu corrupt at offset %zu: captured length %u is implausible", n,
                pos(r), incl);
    return -1;
  }
  if (incl > rem - 16) {
    wf_file_err(err, errlen, "record %llu truncated at offset %zu: needs %u bytes, %zu left", n, pos(r),
                incl, rem - 16);
    return -1;
  }
  if (!need(r, 16 + (uint64_t)incl, err, errlen, &rc)) return rc;
  const uint8_t *h = r->data + r->off;
  uint32_t sec = wf_rd32(h, 0, be), frac = wf_rd32(h, 4, be), orig = wf_rd32(h, 12, be);
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
static uint64_t ts_to_ns(const wf_iface *f, uint64_t units) {
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
static void idb_options(const uint8_t *d, size_t off, size_t end, int be, wf_iface *f) {
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
    wf_file_err(err, errlen, "interface block at offset %zu too short", pos(r));
    return -1;
  }
  if (r->n_ifs == r->cap_ifs) {
    if (r->n_ifs >= PCAPNG_MAX_INTERFACES) {
      wf_file_err(err, errlen, "too many interfaces at offset %zu", pos(r));
      return -1;
    }
    size_t cap = r->cap_ifs ? r->cap_ifs * 2 : 4;
    wf_iface *p = realloc(r->ifs, cap * sizeof *p);
    if (p == NULL) {
      wf_file_err(err, errlen, "out of memory");
      return -1;
    }
    r->ifs = p;
    r->cap_ifs = cap;
  }
  wf_iface *f = &r->ifs[r->n_ifs++];
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
    wf_file_err(err, errlen, "packet block at offset %zu too short", pos(r));
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
    wf_file_err(err, errlen, "packet block at offset %zu names interface %u, section has %zu", pos(r),
                ifid, r->n_ifs);
    return -1;
  }
  const wf_iface *f = &r->ifs[ifid];
  if (type == 3) {
    if (cap > body_len - hdr) cap = (uint32_t)(body_len - hdr);
    if (f->snaplen != 0 && cap > f->snaplen) cap = f->snaplen;
  } else if (cap > body_len - hdr) {
    wf_file_err(err, errlen, "packet block at offset %zu: captured length %u exceeds the block", pos(r),
                cap);
    return -1;
  }
  out->data = d + body + hdr;
  out->caplen = cap;
  out->wirelen = orig;
  out->ts_ns = type == 3 ? 0 : ts_to_ns(f, units);
  out->linktype = f->linktype;
  return 1;
}

int wf_pcapng_byte_order(const uint8_t *d, size_t off) {
  uint32_t bom = wf_be32(d, off + 8);
  if (bom == 0x1A2B3C4Du) return 1;
  if (bom == 0x4D3C2B1Au) return 0;
  return -1;
}

int wf_pcapng_next(wf_file_reader *r, wf_packet *out, char *err, size_t errlen) {
  for (;;) {
    int rc;
    if (!need(r, 12, err, errlen, &rc)) return rc;
    uint64_t left = wf_file_left(r);
    if (left == 0) return 0;
    size_t rem = (size_t)left;
    if (rem < 12) {
      wf_file_err(err, errlen, "block at offset %zu truncated: %zu bytes left", pos(r), rem);
      return -1;
    }
    const uint8_t *d = r->data;
    size_t off = r->off;
    if (wf_le32(d, off) == PCAPNG_SHB) { /* palindrome: readable before the byte order is known */
      int be = wf_pcapng_byte_order(d, off);
      if (be < 0) {
        wf_file_err(err, errlen, "section header at offset %zu: bad byte-order magic", pos(r));
        return -1;
      }
      r->big_endian = be;
    }
    int be = r->big_endian;
    uint32_t type = wf_rd32(d, off, be), len = wf_rd32(d, off + 4, be);
    if (len < 12 || len % 4 != 0) {
      wf_file_err(err, errlen, "block at offset %zu: bad length %u", pos(r), len);
      return -1;
    }
    if (len > rem) {
      wf_file_err(err, errlen, "block at offset %zu truncated: length %u, %zu bytes left", pos(r), len,
                  rem);
      return -1;
    }
    if (!need(r, len, err, errlen, &rc)) return rc;
    d = r->data; /* the window may have moved */
    off = r->off;
    if (wf_rd32(d, off + len - 4, be) != len) {
      wf_file_err(err, errlen, "block at offset %zu: trailing length does not match %u", pos(r), len);
      return -1;
    }
    size_t body = off + 8, body_len = len - 12;
    rc = 0;
    if (type == PCAPNG_SHB) {
      if (body_len < 16 || wf_rd16(d, body + 4, be) != 1) {
        wf_file_err(err, errlen, "section header at offset %zu: unsupported version or too short",
                    pos(r));
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
