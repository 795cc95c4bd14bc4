#include "build_features.h"
#include "current_cpu.h"
#include "prefetch.h"
#include "measured_region.h"
