/* report.c - the membership work requests: stats, duplicates, merge and
 * transfer (see ops_internal.h). */
#include "daemon/ops_internal.h"

int ops_report_handle(ops_ctx *o, const char *op, const msgpack_object *req, msgpack_packer *pk)
{
    (void)o;
    (void)op;
    (void)req;
    (void)pk;
    return 0;
}
