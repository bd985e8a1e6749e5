/*
 * Flow records as the CLI's ndjson and csv text, written in large writes to
 * a file descriptor. The bytes equal what infra/cli/flow-format.ts prints for
 * the decoded records (JSON.stringify key order, JavaScript number text).
 */
#ifndef WF_FLOW_TEXT_H
#define WF_FLOW_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "wirefleet.h"

#ifdef __cplusplus
extern "C" {
#endif

enum wf_text_format { WF_TEXT_NDJSON = 0, WF_TEXT_CSV = 1 };

#define WF_TEXT_LINE_MAX 1024 /* longest line either format can produce, with room */

/* The csv header line (with its newline). */
const char *wf_text_csv_header(void);
/* One record as one line (with its newline) into buf (>= WF_TEXT_LINE_MAX); returns its length. */
size_t wf_text_format(int format, const wf_flow_record *r, char *buf);
/* A double as JavaScript's Number.prototype.toString prints it; buf >= 32. Returns the length. */
size_t wf_text_number(double v, char *buf);

typedef struct wf_text_writer wf_text_writer;

/* Writes to fd (which it does not close); NULL when out of memory. */
wf_text_writer *wf_text_writer_create(int fd, int format);
/* Buffers lines, writing whenever the buffer fills. 0, or -1 after a write
 * error (errno kept; later calls write nothing and return -1). */
int wf_text_write(wf_text_writer *w, const wf_flow_record *records, size_t count);
/* Writes the csv header (no-op for ndjson). */
int wf_text_write_header(wf_text_writer *w);
int wf_text_flush(wf_text_writer *w);
/* The errno of the first failed write, 0 if none. */
int wf_text_error(const wf_text_writer *w);
void wf_text_writer_destroy(wf_text_writer *w);

#ifdef __cplusplus
}
#endif

#endif
