/* import_read.h - the input of `hotline import customers`, CSV with a header
 * row or JSON Lines, read into rows: each validated by customer.c, checked
 * against the rest of the file (an id once, an account for one customer),
 * then batched for Redis.  A bad row is reported as NAME:LINE and skipped. */
#ifndef HOTLINE_IMPORT_READ_H
#define HOTLINE_IMPORT_READ_H

struct importer;

/* Read fd to its end.  0 done, -1 failed (reported), -2 the CSV header is unusable (reported). */
int import_csv(struct importer *im, int fd);
int import_jsonl(struct importer *im, int fd);

#endif
