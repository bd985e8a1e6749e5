/* Private to the C core and its fuzzers: not part of the Node-facing contract. */
#ifndef WF_FILE_READER_INTERNAL_H
#define WF_FILE_READER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wirefleet.h"

/* Reads a capture held in memory. `data` is not copied and must outlive the
 * reader; wf_file_close frees only the reader. wf_file_open uses this after mmap. */
wf_file_reader *wf_file_open_memory(const uint8_t *data, size_t len, char *err, size_t errlen);

#endif
