/* ops.h - what the daemon does for a control request: add, edit, show,
 * list, log, import, export, id, status. Handlers run on the store queue's
 * worker thread (never on the loop thread): they own the store and the
 * in-memory index while they run.
 *
 * Request: one msgpack map {"op": str, "operator": str, ...op fields}.
 * Response: {"ok": true, "result": ...} or
 *           {"ok": false, "error": str, "errors": [...optional details]}.
 * docs/CONTROL.md lists every op and its fields. */
#ifndef UNIOND_OPS_H
#define UNIOND_OPS_H

#include "daemon/store/recindex.h"
#include "daemon/store/store.h"

#include <msgpack.h>
#include <stdint.h>

typedef struct {
    store *st;    /* owned */
    recindex ix;  /* owned */
    char *node;   /* borrowed from the daemon's config */
    char *office; /* borrowed */
    char *listen; /* borrowed */
    char fingerprint[65];
    int64_t started_ms;
    unsigned long requests;
    /* peers' state for status (thread-safe snapshot), NULL if none */
    void (*peers_status)(void *arg, msgpack_packer *pk);
    void *peers_arg;
} ops_ctx;

/* Fill the index from the store's head tree. Returns 0 or -1 with err set
 * (a record that does not decode is an error naming its id). */
int ops_load(ops_ctx *o, char *err, size_t errlen);

/* Handle one request (payload of one frame) and append the response map to
 * out (owned by the caller). Never fails without writing a response. */
void ops_handle(ops_ctx *o, const char *req, size_t len, msgpack_sbuffer *out);

/* A store_record_cb that decodes a record a merge or fast-forward changed
 * into o's index (arg = ops_ctx *). Worker thread only. */
int ops_index_changed(const char *id, const char *buf, size_t len, void *arg);

/* Current wall clock in ms since the epoch. */
int64_t ops_now_ms(void);

#endif
