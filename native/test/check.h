/* The C tests' assertion: on failure, the file, line and condition, then abort (so ASan and a
 * debugger see where). Not assert(): it survives NDEBUG. */
#ifndef WF_TEST_CHECK_H
#define WF_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                  \
    }                                                                           \
  } while (0)

#endif
