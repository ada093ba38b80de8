/* audit_figures.h - the figures a call centre reports on, accumulated over
 * the audited range one event at a time (pure; fed by audit_calls.c and
 * audit_complaints.c, printed by audit_report.c):
 *
 *   calls:      offered, answered, abandoned, answer rate (answered /
 *               offered), abandon rate, average handle time (the legs'
 *               leg_ms over the calls ended after an answer), CSAT;
 *   per agent:  calls answered, legs, handle time and its average per leg
 *               (leg_ms goes to the agent whose leg it was), CSAT of the
 *               calls they ended;
 *   per queue:  offered, answered, abandoned, answer rate, CSAT;
 *   complaints: opened, resolved, resolved late, closed, reopened,
 *               escalated, overdue (resolved late, or open past the
 *               deadline at the end), in total, per tier and per category;
 *               and the deadline table per severity x tier;
 *   first-contact resolution, as defined in proto/LOG.md ("The audit").
 */
#ifndef HOTLINE_AUDIT_FIGURES_H
#define HOTLINE_AUDIT_FIGURES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "customer.h"
#include "id_set.h"
#include "lifecycle.h"
#include "strmap.h"

#define FIG_TIERS      (TIER_COUNT + 1) /* the four tiers, then "none" */
#define FIG_SEVERITIES (SEV_COUNT + 1)  /* the four severities, then "none" */
#define FIG_NAME_MAX   64               /* longer agent, queue, category names are cut */

struct fig_calls {
	uint64_t offered, answered, abandoned, ended, held, transferred;
	uint64_t legs, handle_ms; /* legs with a leg_ms, and their sum */
	uint64_t csat_n, csat_sum, csat_dist[5];
};

struct fig_agent {
	uint64_t answered, legs, handle_ms, ended, transferred_out, csat_n, csat_sum;
};

struct fig_queue {
	uint64_t offered, answered, abandoned, ended, csat_n, csat_sum;
};

struct fig_complaints {
	uint64_t opened, resolved, resolved_late, closed, reopened, escalated, open_overdue;
};

struct fig_sla {
	uint64_t resolved_in_time, resolved_late, open_in_time, open_overdue;
};

struct fig_fcr {
	uint64_t resolved_first, not_resolved, repeated, pending;
	uint64_t window_ms;
	char disposition[FIG_NAME_MAX + 1];
	struct strmap customers; /* customer id -> struct fcr_pending */
};

struct figures {
	const struct id_hasher *hasher;
	struct fig_calls calls;
	struct strmap agents, queues, categories; /* -> fig_agent, fig_queue, fig_complaints */
	struct fig_complaints complaints, tiers[FIG_TIERS];
	struct fig_sla sla[FIG_SEVERITIES][FIG_TIERS];
	struct fig_fcr fcr;
	bool out_of_memory;
};

bool figures_init(struct figures *f, const struct id_hasher *h, const char *fcr_disposition,
                  uint64_t fcr_window_ms);
void figures_free(struct figures *f);

/* Index of a tier / severity name (len bytes, NULL = none) in the tables,
 * and back ("none" for the last index). */
int figures_tier(const char *name, size_t len);
int figures_severity(const char *name, size_t len);
const char *figures_tier_name(int tier);
const char *figures_severity_name(int severity);

/* Calls.  Names are (pointer, length); NULL when unknown. */
void figures_call_offered(struct figures *f, const char *queue, size_t queue_len, const char *customer,
                          size_t customer_len, uint64_t ts_ms);
void figures_call_answered(struct figures *f, const char *agent, size_t agent_len, const char *queue,
                           size_t queue_len);
void figures_call_held(struct figures *f);
/* A leg ends (transfer or end): its handle time goes to its agent. */
void figures_call_leg(struct figures *f, const char *agent, size_t agent_len, bool transfer, bool has_leg_ms,
                      int64_t leg_ms);
void figures_call_ended(struct figures *f, bool abandoned, const char *agent, size_t agent_len,
                        const char *queue, size_t queue_len, bool has_csat, int64_t csat,
                        const char *customer, size_t customer_len, const char *disposition,
                        size_t disposition_len, uint64_t ts_ms);

/* Complaints.  event: opened resolved closed reopened escalated. */
enum fig_complaint_event { FIG_OPENED, FIG_RESOLVED, FIG_CLOSED, FIG_REOPENED, FIG_ESCALATED };
void figures_complaint(struct figures *f, enum fig_complaint_event ev, int tier, const char *category,
                       size_t category_len);
/* A deadline outcome: a resolution (late or not), or an open complaint at
 * the end (overdue or not). */
void figures_deadline(struct figures *f, bool resolved, bool late, int severity, int tier,
                      const char *category, size_t category_len);

/* First-contact resolution decisions whose window closed before now_ms. */
void figures_sweep(struct figures *f, uint64_t now_ms);
/* The end of the audit: windows closed by end_ms are decided, the rest
 * stay pending. */
void figures_finish(struct figures *f, uint64_t end_ms);

/* The figures as JSON (the "figures" member of `hotline audit --json`). */
json_t *figures_json(const struct figures *f);

#endif
