// Why this exists: result tables (cells, per-op breakdowns) and imported llama-bench CSV go through
// libcsv, which handles quoting and embedded separators correctly in both directions.
#include <stdio.h>
#include <csv.h>
