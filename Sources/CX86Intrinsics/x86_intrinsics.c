// The header carries everything (static inline); SwiftPM needs one source file per C target.
#include "x86_intrinsics.h"
