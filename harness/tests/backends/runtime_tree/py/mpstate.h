/* A decoy: the runtime's own py/mpstate.h in a source tree handed to the rig. The rig's compat headers
 * (target/compat) come first in the backend's include path, so this file must never be read. */
#error "the runtime's py/mpstate.h was used: target/compat must shadow it (BACKEND_INCLUDES)"
