/*
 * Bounds-checked byte access shared by the parsers, readers and writers.
 *
 * Callers check wf_have() before each read so that no pointer is ever formed
 * past the end of the buffer; the readers below then take a base pointer and
 * an offset already known to be in range.
 */
#ifndef WF_BYTES_H
#define WF_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* 1 if n bytes starting at off lie inside a buffer of len bytes (no overflow). */
static inline int wf_have(size_t len, size_t off, size_t n) {
  return off <= len && n <= len - off;
}

static inline uint16_t wf_be16(const uint8_t *b, size_t off) {
  return (uint16_t)((uint16_t)b[off] << 8 | b[off + 1]);
}

static inline uint32_t wf_be32(const uint8_t *b, size_t off) {
  return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 |
         (uint32_t)b[off + 3];
}

static inline uint16_t wf_le16(const uint8_t *b, size_t off) {
  return (uint16_t)((uint16_t)b[off + 1] << 8 | b[off]);
}

static inline uint32_t wf_le32(const uint8_t *b, size_t off) {
  return (uint32_t)b[off + 3] << 24 | (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 1] << 8 |
         (uint32_t)b[off];
}

/* Reads in a byte order chosen at run time (pcap/pcapng writers use either). */
static inline uint16_t wf_rd16(const uint8_t *b, size_t off, int big_endian) {
  return big_endian ? wf_be16(b, off) : wf_le16(b, off);
}

static inline uint32_t wf_rd32(const uint8_t *b, size_t off, int big_endian) {
  return big_endian ? wf_be32(b, off) : wf_le32(b, off);
}

/* Big-endian writers; the caller has checked that the bytes fit. */
static inline void wf_put_be16(uint8_t *b, uint16_t v) {
  b[0] = (uint8_t)(v >> 8);
  b[1] = (uint8_t)v;
}

static inline void wf_put_be32(uint8_t *b, uint32_t v) {
  wf_put_be16(b, (uint16_t)(v >> 16));
  wf_put_be16(b + 2, (uint16_t)v);
}

#endif
