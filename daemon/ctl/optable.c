/* optable.c - the op table (see optable.h) and the store-queue side of
 * dispatch. The rows are kept sorted by name so a lookup is a binary
 * search; tests/unit/test_optable.c checks the order, so a row in the
 * wrong place fails the build's tests rather than hiding an op. */
#include "daemon/ctl/optable.h"

#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const ctl_op table[] = {
    /* name            where          handler (sorted by name) */
    {"add", CTL_ON_QUEUE, op_add_any},
    {"backup", CTL_ON_QUEUE, op_backup},
    {"benefit_list", CTL_ON_QUEUE, op_benefit_list},
    {"bundle_export", CTL_ON_QUEUE, op_bundle_export},
    {"bundle_import", CTL_ON_QUEUE, op_bundle_import},
    {"conflicts", CTL_ON_QUEUE, op_conflicts},
    {"duplicates", CTL_ON_QUEUE, op_duplicates},
    {"edit", CTL_ON_QUEUE, op_edit_any},
    {"field_add", CTL_ON_QUEUE, op_field_add},
    {"field_value_add", CTL_ON_QUEUE, op_field_value_add},
    {"fields", CTL_ON_QUEUE, op_fields},
    {"history", CTL_ON_QUEUE, op_history},
    {"id", CTL_ON_QUEUE, op_id},
    {"import", CTL_ON_QUEUE, op_import_any},
    {"list", CTL_ON_QUEUE, op_list},
    {"log", CTL_ON_QUEUE, op_log},
    {"merge", CTL_ON_QUEUE, op_merge},
    {"peer_add", CTL_ON_LOOP, NULL},
    {"peer_remove", CTL_ON_LOOP, NULL},
    {"peers", CTL_ON_LOOP, NULL},
    {"report", CTL_ON_QUEUE, op_report},
    {"resolve", CTL_ON_QUEUE, op_resolve},
    {"revert", CTL_ON_QUEUE, op_revert},
    {"show", CTL_ON_QUEUE, op_show},
    {"stats", CTL_ON_QUEUE, op_stats},
    {"status", CTL_ON_QUEUE, op_status},
    {"sync", CTL_ON_LOOP, NULL},
    {"transfer", CTL_ON_QUEUE, op_transfer},
};

#define NOPS (sizeof table / sizeof *table)

static int row_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const ctl_op *)row)->name);
}

const ctl_op *ctl_op_find(const char *name)
{
    return bsearch(name, table, NOPS, sizeof *table, row_cmp);
}

const ctl_op *ctl_ops(size_t *n)
{
    *n = NOPS;
    return table;
}

void ctl_queue_handle(ops_ctx *o, const char *req, size_t len, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_unpacked u;
    char *op = NULL;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_unpacked_init(&u);
    o->requests++;
    if (msg_unpack(&u, req, len) != 0 || u.data.type != MSGPACK_OBJECT_MAP) {
        ctl_reply_error(&pk, UERR_INVALID, "malformed request: expected one msgpack map");
        goto cleanup;
    }
    op = msg_get_str(&u.data, "op");
    const ctl_op *row = op ? ctl_op_find(op) : NULL;
    if (!op) {
        ctl_reply_error(&pk, UERR_INVALID, "malformed request: no op");
    } else if (!row) {
        ctl_reply_error(&pk, UERR_INVALID, "unknown request '%s' (is unionctl newer than uniond?)",
                        op);
    } else if (row->place != CTL_ON_QUEUE) {
        /* control sends loop ops to the loop handler; one gets here only
         * inside an oversized frame */
        ctl_reply_error(&pk, UERR_INVALID, "request '%s' is too large", op);
    } else {
        assert(row->run);
        size_t before = out->size;
        row->run(o, &u.data, &pk);
        assert(out->size > before); /* every handler writes one reply */
        (void)before;
    }
cleanup:
    free(op);
    msgpack_unpacked_destroy(&u);
}
