/* op_backup.c - `backup`: the whole store in one file (every branch, its
 * history and the open conflicts, which live in the records), for
 * `uniond restore` (docs/STORE.md "Backups"). Runs on the store queue's
 * worker thread, like every op that reads the store. Never logs the
 * records, only the head. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"

#include "daemon/util/log.h"

#include <stdlib.h>

void op_backup(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[CTL_ERRLEN], *path = msg_get_str(req, "path");
    uerr rc;
    if (!path || path[0] != '/') {
        ctl_reply_error(pk, UERR_INVALID, "backup: the path must be absolute");
    } else if ((rc = store_backup_write(o->st, path, o->office, err, sizeof err)) != UERR_OK) {
        log_msg(LOG_WARN, "backup failed: %s", err);
        ctl_reply_error(pk, rc, "backup: %s", err);
    } else {
        char head[41], tree[41];
        msg_map m;
        store_head(o->st, head, tree);
        log_msg(LOG_INFO, "backup written (head %.12s, tree %.12s)", head, tree);
        ctl_reply_ok(pk);
        msg_map_open(&m, pk);
        msg_map_str(&m, "path", path);
        msg_map_str(&m, "node", o->node);
        msg_map_str(&m, "office", o->office);
        msg_map_str(&m, "head", head);
        msg_map_str(&m, "tree", tree);
        msg_map_int(&m, "records", (int64_t)o->ix.count);
        msg_map_close(&m);
    }
    free(path);
}
