/*
 * <assert.h> for a backend written against the embedded runtime (target/compat/README.md).
 *
 * The compat folder comes before the system headers in a backend's include path, so this file
 * answers `#include <assert.h>`: a failed assert() becomes the rig's `assert` fault, reported with
 * the backend's file:line and expression, where the C library's would print and abort (there is
 * no console on the board). -DNDEBUG in BACKEND_CFLAGS (a release build) turns it off.
 *
 * No include guard, on purpose: as the C standard asks of <assert.h>, every inclusion redefines
 * assert() by the NDEBUG of that moment.
 */
#include "heaprig_backend.h"

#undef assert
#ifdef NDEBUG
#define assert(expression) ((void)0)
#else
#define assert(expression) \
    ((expression) ? (void)0 : heaprig_assert_failed(__FILE__, __LINE__, #expression))
#endif

/* C11's companion name, for code that uses it. */
#ifndef static_assert
#define static_assert _Static_assert
#endif
