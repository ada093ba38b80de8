#include "pwhash_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

#define PWHASH_MAX_HASH 256
#define PWHASH_MAX_SECRET 1024
#define PWHASH_MAX_THREADS 8

struct pwhash_job {
	struct pwhash_job *next;
	char hash[PWHASH_MAX_HASH];
	char secret[PWHASH_MAX_SECRET + 1];
	bool ok;
	pwhash_done_fn *done;
	void *arg;
};

struct job_queue {
	struct pwhash_job *head, *tail;
};

struct pwhash_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job_queue todo;     /* guarded by lock */
	struct job_queue finished; /* guarded by lock */
	bool stopping;             /* guarded by lock */

	pthread_t threads[PWHASH_MAX_THREADS];
	unsigned n_threads;
	unsigned in_flight; /* loop thread only: submitted, not yet delivered */
	unsigned max_queued;

	int pipe_rd, pipe_wr;
	struct event *ready_ev;
};

static void queue_push(struct job_queue *q, struct pwhash_job *job)
{
	job->next = NULL;
	if (q->tail)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
}

static struct pwhash_job *queue_take_all(struct job_queue *q)
{
	struct pwhash_job *all = q->head;

	q->head = q->tail = NULL;
	return all;
}

static struct pwhash_job *queue_pop(struct job_queue *q)
{
	struct pwhash_job *job = q->head;

	if (job) {
		q->head = job->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return job;
}

static void *worker_main(void *arg)
{
	struct pwhash_pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct pwhash_job *job;

		while (!pool->stopping && pool->todo.head == NULL)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stopping)
			break;
		job = queue_pop(&pool->todo);
		pthread_mutex_unlock(&pool->lock);

		job->ok = crypto_pwhash_str_verify(job->hash, job->secret, strlen(job->secret)) == 0;
		sodium_memzero(job->secret, sizeof(job->secret));

		pthread_mutex_lock(&pool->lock);
		queue_push(&pool->finished, job);
		/* A full pipe already holds a wake-up; the loop drains every finished job. */
		if (write(pool->pipe_wr, "x", 1) < 0 && errno != EAGAIN)
			log_error("pwhash: cannot wake the loop: %s", strerror(errno));
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void deliver(struct pwhash_pool *pool, struct pwhash_job *jobs)
{
	while (jobs) {
		struct pwhash_job *next = jobs->next;

		pool->in_flight--;
		jobs->done(jobs->ok, jobs->arg);
		free(jobs);
		jobs = next;
	}
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct pwhash_pool *pool = arg;
	struct pwhash_job *jobs;
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&pool->lock);
	jobs = queue_take_all(&pool->finished);
	pthread_mutex_unlock(&pool->lock);
	deliver(pool, jobs);
}

struct pwhash_pool *pwhash_pool_new(struct event_base *base, unsigned threads, unsigned max_queued)
{
	struct pwhash_pool *pool = calloc(1, sizeof(*pool));
	int fds[2];

	if (pool == NULL)
		return NULL;
	if (threads == 0)
		threads = 1;
	if (threads > PWHASH_MAX_THREADS)
		threads = PWHASH_MAX_THREADS;
	pool->max_queued = max_queued;
	pool->pipe_rd = pool->pipe_wr = -1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		goto fail;
	pool->pipe_rd = fds[0];
	pool->pipe_wr = fds[1];
	pool->ready_ev = event_new(base, pool->pipe_rd, EV_READ | EV_PERSIST, on_ready, pool);
	if (pool->ready_ev == NULL || event_add(pool->ready_ev, NULL) != 0)
		goto fail;
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0)
			goto fail;
		pool->n_threads++;
	}
	return pool;
fail:
	log_error("pwhash: cannot start the verification pool: %s", strerror(errno));
	pwhash_pool_free(pool);
	return NULL;
}

void pwhash_pool_set_max_queued(struct pwhash_pool *pool, unsigned max_queued)
{
	pool->max_queued = max_queued;
}

int pwhash_pool_submit(struct pwhash_pool *pool, const char *hash, const char *secret, size_t secret_len,
                       pwhash_done_fn *done, void *arg)
{
	struct pwhash_job *job;

	if (pool->in_flight >= pool->max_queued || strlen(hash) >= PWHASH_MAX_HASH ||
	    secret_len > PWHASH_MAX_SECRET)
		return -1;
	job = calloc(1, sizeof(*job));
	if (job == NULL)
		return -1;
	memcpy(job->hash, hash, strlen(hash) + 1);
	memcpy(job->secret, secret, secret_len);
	job->done = done;
	job->arg = arg;
	pool->in_flight++;
	pthread_mutex_lock(&pool->lock);
	queue_push(&pool->todo, job);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

unsigned pwhash_pool_in_flight(const struct pwhash_pool *pool)
{
	return pool->in_flight;
}

void pwhash_pool_free(struct pwhash_pool *pool)
{
	struct pwhash_job *left;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);

	/* Threads are gone: no lock needed.  Finished jobs keep their verdict;
	 * jobs never started fail closed. */
	deliver(pool, queue_take_all(&pool->finished));
	left = queue_take_all(&pool->todo);
	for (struct pwhash_job *j = left; j; j = j->next) {
		sodium_memzero(j->secret, sizeof(j->secret));
		j->ok = false;
	}
	deliver(pool, left);

	if (pool->ready_ev)
		event_free(pool->ready_ev);
	if (pool->pipe_rd >= 0)
		close(pool->pipe_rd);
	if (pool->pipe_wr >= 0)
		close(pool->pipe_wr);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}
