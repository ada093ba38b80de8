#include "term_text.h"

#include <stdio.h>

static size_t utf8_seq_len(unsigned char b)
{
	return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

void term_clean(char *dst, size_t size, const char *src, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t chars = 0, keep, o = 0;

	for (const unsigned char *q = p; *q; q++)
		chars += (*q & 0xC0) != 0x80;
	keep = chars > max_chars ? max_chars - 3 : chars;
	for (size_t i = 0; i < keep && *p && o + 8 < size; i++) {
		size_t n = utf8_seq_len(*p);

		if (*p < 0x20 || *p == 0x7f || (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)) {
			dst[o++] = '?';
		} else {
			for (size_t k = 0; k < n && p[k]; k++)
				dst[o++] = (char)p[k];
		}
		for (size_t k = 0; k < n && *p; k++)
			p++;
	}
	if (keep < chars)
		o += (size_t)snprintf(dst + o, size - o, "...");
	dst[o] = '\0';
}
