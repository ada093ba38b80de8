#include "stream_id.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool parse_part(const char *s, uint64_t *out, char **end)
{
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, end, 10);
	return errno == 0; /* ERANGE: beyond 64 bits, which Redis refuses */
}

bool stream_id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
	char *end;

	*seq = 0;
	if (!parse_part(s, ms, &end))
		return false;
	if (*end == '-' && !parse_part(end + 1, seq, &end))
		return false;
	return *end == '\0';
}

int stream_id_cmp(const char *a, const char *b)
{
	uint64_t am, as, bm, bs;

	if (!stream_id_parse(a, &am, &as) || !stream_id_parse(b, &bm, &bs))
		return strcmp(a, b);
	if (am != bm)
		return am < bm ? -1 : 1;
	return as < bs ? -1 : as > bs;
}
