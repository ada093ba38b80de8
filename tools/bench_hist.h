/* bench_hist.h - a latency histogram with log-linear buckets (the
 * HdrHistogram layout), pure: no clock, no I/O, no allocation.
 *
 * Values (nanoseconds for `hotline bench`, but any unsigned 64-bit count)
 * below 2^BENCH_HIST_SUB_BITS get a bucket each; above, every power of two
 * is cut into 2^(BENCH_HIST_SUB_BITS - 1) equal buckets, so a reported
 * value is never more than 2^-(BENCH_HIST_SUB_BITS - 1) (under 0.8%) above
 * the true one, over the whole 64-bit range, in 58 KiB.  Percentiles are
 * read from the merged counts, never averaged: per-thread histograms are
 * added bucket by bucket (bench_hist_merge) and then read.
 */
#ifndef HOTLINE_BENCH_HIST_H
#define HOTLINE_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 8
#define BENCH_HIST_SUB      (1u << BENCH_HIST_SUB_BITS)       /* 256: exact below this */
#define BENCH_HIST_HALF     (BENCH_HIST_SUB / 2)              /* buckets per power of two above it */
#define BENCH_HIST_BUCKETS  (BENCH_HIST_SUB + (64 - BENCH_HIST_SUB_BITS) * BENCH_HIST_HALF)

struct bench_hist {
	uint64_t counts[BENCH_HIST_BUCKETS];
	uint64_t total;
	uint64_t min, max; /* exact; min is UINT64_MAX while empty */
	long double sum;   /* for the mean, which is reported beside (not instead of) percentiles */
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t value);
/* dst += src, bucket by bucket. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* The value at percentile p (0..100): the highest value equivalent to the
 * bucket holding the ceil(p/100 * total)-th smallest recorded value, but
 * never more than the maximum recorded (nor less than the minimum).  0 for
 * an empty histogram. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);
double bench_hist_mean(const struct bench_hist *h);

/* The bucket index of a value, and the range of values that bucket holds
 * (exposed for the unit test). */
unsigned bench_hist_index(uint64_t value);
uint64_t bench_hist_bucket_low(unsigned index);
uint64_t bench_hist_bucket_high(unsigned index);

#endif
