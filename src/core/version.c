#include "squall/version.h"

const char *sq_version(void) { return SQ_VERSION_STRING; }
unsigned sq_version_hex(void) { return SQ_VERSION_HEX; }
