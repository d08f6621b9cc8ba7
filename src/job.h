/*
 * job -- background jobs that put documents into the store, and the store
 * handles the documents and jobs endpoints use (src/docs.c).
 *
 * A job is recorded in the store with its payload (store_job_add) before
 * its client is answered, so it survives a restart or a kill: at start the
 * runner takes up the oldest running or queued job again from its first
 * uncommitted document.  One job runs at a time, one step at a time on the
 * worker pool: a step chunks and embeds a batch of documents, then writes
 * them and the job's progress in one transaction, so a document is never
 * half written and the progress never runs ahead of the documents.  When
 * the store's vectors come from an OpenAI-compatible service, the batch is
 * embedded on the loop between chunking and writing, many requests at once
 * (embedq.h); a failure that retrying does not mend fails the job.  After
 * each commit the runner tells the store's readers (notify.h), so the new
 * documents are searchable at once.  Steps are the pool's background
 * work, so searches go first and keep at least one worker of two or more.
 *
 * A cancel (store side: status "cancelled") is seen by the next step inside
 * its transaction, so nothing is committed for a job after its cancel;
 * job_env_cancelled then stops the job's embeddings in flight.
 *
 * Ownership: the server owns the job_env; it borrows the pool and the host
 * services.  Loop thread only, except job_store (a worker's own handle).
 */
#ifndef RAGD_JOB_H
#define RAGD_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "pool.h"
#include "store.h"

struct event_base;

typedef struct job_env job_env;

/* Set up jobs on the store at db_path (borrowed; must outlive the env):
 * finished jobs older than retention_s seconds are deleted when the runner
 * goes idle, and the change log keeps its newest change_log_keep entries
 * (store_log_keep) through every handle the jobs write with.  Starts the
 * runner, which resumes any unfinished job.  Returns the env, or NULL
 * with a message in err. */
job_env *job_env_new(struct event_base *base, host_services *svc, const char *db_path,
                     long retention_s, long change_log_keep, char *err, size_t errlen);

/* A queued job was added: run it when the runner is idle. */
void job_env_kick(job_env *e);

/* Job id was cancelled in the store: stop its embeddings, if they are in
 * flight, so the runner moves on at once. */
void job_env_cancelled(job_env *e, int64_t id);

/* Stop starting steps (shutdown).  A step's embeddings in flight are
 * stopped (the job resumes at the next start); a step on a worker still
 * completes.  job_env_busy says when the last step has ended. */
void job_env_stop(job_env *e);

/* Whether a step is in flight (its done callback has not run yet). */
int job_env_busy(const job_env *e);

/* Free e (after the pool has finished every step) and set *ep to NULL. */
void job_env_free(job_env **ep);

/* The writable store handle of worker thread `worker`, opened on first
 * use.  Worker threads only.  Returns the handle, or NULL with a message
 * in err. */
store *job_store(job_env *e, unsigned worker, char *err, size_t errlen);

/* The path of the store. */
const char *job_env_path(const job_env *e);

#endif /* RAGD_JOB_H */
