/* stream_id.h - Redis stream entry ids ("<ms>-<seq>", or "<ms>" meaning
 * "<ms>-0"): parsed and compared as the two numbers they are, so that
 * "10-0" sorts after "9-5".  Pure; shared by the tail and the journal. */
#ifndef HOTLINE_STREAM_ID_H
#define HOTLINE_STREAM_ID_H

#include <stdbool.h>
#include <stdint.h>

/* True for "<ms>" or "<ms>-<seq>" with both parts decimal and 64-bit. */
bool stream_id_parse(const char *s, uint64_t *ms, uint64_t *seq);

/* <0, 0, >0 like strcmp; ids that do not parse compare as strings. */
int stream_id_cmp(const char *a, const char *b);

#endif
