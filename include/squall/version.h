/* squall: version information. */
#ifndef SQUALL_VERSION_H
#define SQUALL_VERSION_H

#include "common.h"

#define SQ_VERSION_MAJOR 0
#define SQ_VERSION_MINOR 1
#define SQ_VERSION_PATCH 0
#define SQ_VERSION_STRING "0.1.0"
/* One number that grows with every release: 0xMMmmpp. */
#define SQ_VERSION_HEX ((SQ_VERSION_MAJOR << 16) | (SQ_VERSION_MINOR << 8) | SQ_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH".
 * Compare with SQ_VERSION_STRING to detect a header/library mismatch.
 * The returned string is static. */
SQ_EXTERN const char *sq_version(void);

/* The linked version as SQ_VERSION_HEX would compute it. */
SQ_EXTERN unsigned sq_version_hex(void);

#ifdef __cplusplus
}
#endif
#endif
