/* test_bench_hist.c - unit tests for tools/bench_hist.c, the latency histogram of `hotline bench`.
 *
 * The buckets must tile the whole 64-bit range without gaps or overlaps, and every percentile read from
 * the histogram must fall in the same bucket as the value a sorted array of the same data gives at the same
 * rank (so it is within the bucket's relative width above it, never below), on random data of several
 * shapes; merging per-thread histograms must read exactly like one histogram of all the data.
 */
#include "bench_hist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "check.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit(void)
{
	return (double)((rnd() >> 11) + 1) / 9007199254740993.0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void check_tiling(void)
{
	unsigned last = BENCH_HIST_BUCKETS - 1;

	CHECK(bench_hist_bucket_low(0) == 0);
	for (unsigned i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
		if (bench_hist_bucket_high(i) + 1 != bench_hist_bucket_low(i + 1)) {
			CHECK(bench_hist_bucket_high(i) + 1 == bench_hist_bucket_low(i + 1));
			fprintf(stderr, "  bucket %u ends at %llu, bucket %u starts at %llu\n", i,
			        (unsigned long long)bench_hist_bucket_high(i), i + 1,
			        (unsigned long long)bench_hist_bucket_low(i + 1));
			return;
		}
	}
	CHECK(bench_hist_bucket_high(last) == UINT64_MAX);
	CHECK(bench_hist_index(UINT64_MAX) == last);
	CHECK(bench_hist_index(0) == 0);
	CHECK(bench_hist_index(BENCH_HIST_SUB - 1) == BENCH_HIST_SUB - 1);
	CHECK(bench_hist_index(BENCH_HIST_SUB) == BENCH_HIST_SUB);
	for (int i = 0; i < 100000; i++) {
		uint64_t v = rnd() >> (rnd() % 64);
		unsigned idx = bench_hist_index(v);
		uint64_t lo = bench_hist_bucket_low(idx), hi = bench_hist_bucket_high(idx);

		if (!(lo <= v && v <= hi && idx < BENCH_HIST_BUCKETS)) {
			CHECK(lo <= v && v <= hi && idx < BENCH_HIST_BUCKETS);
			return;
		}
		/* The promised precision: a bucket is at most 1/HALF of its lowest value wide. */
		if (v >= BENCH_HIST_SUB && (hi - lo) > lo / BENCH_HIST_HALF) {
			CHECK((hi - lo) <= lo / BENCH_HIST_HALF);
			return;
		}
	}
}

/* The reference: the value at the same 1-based rank the histogram documents. */
static uint64_t reference(const uint64_t *sorted, size_t n, double p)
{
	uint64_t rank;

	if (p <= 0)
		return sorted[0];
	if (p >= 100)
		return sorted[n - 1];
	rank = (uint64_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static const double percentiles[] = {0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100};

static void check_against_sorted(const char *shape, uint64_t *data, size_t n)
{
	struct bench_hist *h = malloc(sizeof(*h)), *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	uint64_t prev = 0;

	if (!h || !a || !b) {
		CHECK(!"out of memory");
		goto out;
	}
	bench_hist_init(h);
	bench_hist_init(a);
	bench_hist_init(b);
	for (size_t i = 0; i < n; i++) {
		bench_hist_record(h, data[i]);
		bench_hist_record(i % 3 ? a : b, data[i]);
	}
	bench_hist_merge(a, b);
	qsort(data, n, sizeof(*data), cmp_u64);
	CHECK(h->total == n);
	CHECK(h->min == data[0]);
	CHECK(h->max == data[n - 1]);
	for (size_t k = 0; k < sizeof(percentiles) / sizeof(percentiles[0]); k++) {
		double p = percentiles[k];
		uint64_t ref = reference(data, n, p), got = bench_hist_percentile(h, p);

		if (!check_report(bench_hist_index(got) == bench_hist_index(ref) && got >= ref, __FILE__, __LINE__,
		                  "%s, n=%zu: p%g is %llu, the sorted array says %llu (not the same bucket)", shape,
		                  n, p, (unsigned long long)got, (unsigned long long)ref))
			continue;
		CHECK(got - ref <= (ref < BENCH_HIST_SUB ? 0 : ref / BENCH_HIST_HALF));
		CHECK(got >= prev); /* monotone in p */
		CHECK(bench_hist_percentile(a, p) == got); /* merged reads like one */
		prev = got;
	}
	CHECK(a->total == h->total && a->min == h->min && a->max == h->max);
	CHECK(fabs(bench_hist_mean(a) - bench_hist_mean(h)) <= 1e-6 * (bench_hist_mean(h) + 1));
out:
	free(h);
	free(a);
	free(b);
}

static void check_shapes(void)
{
	static const size_t sizes[] = {1, 2, 3, 7, 100, 1000, 12345, 200000};
	uint64_t *data = malloc(200000 * sizeof(*data));

	if (data == NULL) {
		CHECK(!"out of memory");
		return;
	}
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		for (size_t i = 0; i < n; i++) /* small exact values */
			data[i] = rnd() % 300;
		check_against_sorted("uniform 0..299", data, n);
		for (size_t i = 0; i < n; i++) /* a latency-like shape: log-normal around 50 us, in ns */
			data[i] = (uint64_t)(50000.0 * exp(0.8 * sqrt(-2 * log(unit())) * cos(6.283185307 * unit())));
		check_against_sorted("log-normal", data, n);
		for (size_t i = 0; i < n; i++) /* heavy tail: Pareto */
			data[i] = (uint64_t)(1000.0 * pow(unit(), -1.0 / 1.1));
		check_against_sorted("pareto", data, n);
		for (size_t i = 0; i < n; i++) /* the whole range */
			data[i] = rnd() >> (rnd() % 64);
		check_against_sorted("any 64-bit", data, n);
		for (size_t i = 0; i < n; i++)
			data[i] = 123456789;
		check_against_sorted("constant", data, n);
	}
	free(data);
}

static void check_empty(void)
{
	struct bench_hist *h = malloc(sizeof(*h)), *e = malloc(sizeof(*e));

	if (!h || !e) {
		CHECK(!"out of memory");
		free(h);
		free(e);
		return;
	}
	bench_hist_init(h);
	bench_hist_init(e);
	CHECK(bench_hist_percentile(h, 50) == 0);
	CHECK(bench_hist_mean(h) == 0);
	bench_hist_record(h, 1000);
	bench_hist_merge(h, e); /* merging an empty one changes nothing */
	CHECK(h->min == 1000 && h->max == 1000 && h->total == 1);
	CHECK(bench_hist_percentile(h, 99.9) == 1000);
	bench_hist_merge(e, h); /* into an empty one: min taken over */
	CHECK(e->min == 1000 && e->total == 1);
	free(h);
	free(e);
}

int main(void)
{
	check_tiling();
	check_empty();
	check_shapes();
	return check_summary("test_bench_hist");
}
