// Why this exists: Swift has no cpuid. The regrouped decode GEMVs prefetch in software on Intel
// cores and not on AMD ones (`Prefetch.regroupedDistance`), which the vendor string tells apart.
#ifndef CTXBENCH_CPU_VENDOR_H
#define CTXBENCH_CPU_VENDOR_H

// 1 if cpuid leaf 0 says "GenuineIntel", else 0 (other vendors, other architectures).
int ctx_cpu_is_intel(void);

#endif
