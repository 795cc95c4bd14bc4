// Why this exists: libnuma's API (numa.h) is C. The engine uses it to read the NUMA topology, pin
// worker threads to CPUs and place memory (interleaved across nodes, or bound to one node).
#include <numa.h>
