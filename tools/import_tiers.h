/* import_tiers.h - `hotline import customers --tiers`: every customer's tier
 * from its rank in the revenue index (top 1% platinum, next to 5% gold, to
 * 20% iron, the rest lead), written only where it differs. */
#ifndef HOTLINE_IMPORT_TIERS_H
#define HOTLINE_IMPORT_TIERS_H

#include <hiredis/hiredis.h>

/* Recompute and print what changed; 0, or -1 (reported). */
int import_tiers(redisContext *rc, const char *prefix);

#endif
