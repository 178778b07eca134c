/*
 * callback_deliver.h - POSTs a final job to its callback URL from the io
 * pool, never from the loop thread, retrying with back-off up to
 * callbacks.retries times (common/callback.h does one attempt).
 *
 * Delivery is at-least-once while the worker lives: a pending retry is lost if
 * the worker ends (the job itself stays in the store, and GET shows it).
 * Loop thread only.
 */
#ifndef CRUNCHD_CALLBACK_DELIVER_H
#define CRUNCHD_CALLBACK_DELIVER_H

#include "job.h"
#include "wctx.h"

/* Starts delivering j (borrowed; its JSON is taken now). */
void callback_deliver(wctx *w, const job *j);

/* One attempt right now, blocking for at most 2 s: for a worker about to end. */
void callback_deliver_now(wctx *w, const job *j);

/* Deliveries in progress (attempts running or waiting for a retry). */
int callback_pending(void);

#endif
