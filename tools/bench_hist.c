#include "bench_hist.h"

#include <math.h>
#include <string.h>

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned bench_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < BENCH_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - (BENCH_HIST_SUB_BITS - 1);
	/* v >> shift keeps the top BENCH_HIST_SUB_BITS bits: HALF..SUB-1. */
	return BENCH_HIST_SUB + (msb - BENCH_HIST_SUB_BITS) * BENCH_HIST_HALF +
	       (unsigned)((v >> shift) - BENCH_HIST_HALF);
}

uint64_t bench_hist_bucket_low(unsigned index)
{
	unsigned group, shift;

	if (index < BENCH_HIST_SUB)
		return index;
	group = (index - BENCH_HIST_SUB) / BENCH_HIST_HALF;
	shift = group + 1;
	return (uint64_t)((index - BENCH_HIST_SUB) % BENCH_HIST_HALF + BENCH_HIST_HALF) << shift;
}

uint64_t bench_hist_bucket_high(unsigned index)
{
	unsigned shift;

	if (index < BENCH_HIST_SUB)
		return index;
	shift = (index - BENCH_HIST_SUB) / BENCH_HIST_HALF + 1;
	return bench_hist_bucket_low(index) + ((uint64_t)1 << shift) - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	h->counts[bench_hist_index(v)]++;
	h->total++;
	h->sum += (long double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	if (src->total == 0)
		return;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	uint64_t rank, seen = 0;

	if (h->total == 0)
		return 0;
	if (p <= 0)
		return h->min;
	if (p >= 100)
		return h->max;
	/* The rank-th smallest value (1-based), as a sorted array would give. */
	rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
	if (rank < 1)
		rank = 1;
	if (rank > h->total)
		rank = h->total;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = bench_hist_bucket_high(i);

			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
	return h->total ? (double)(h->sum / (long double)h->total) : 0.0;
}
