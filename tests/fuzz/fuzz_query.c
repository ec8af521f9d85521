/* fuzz_query.c - --where expressions (typed by people, sent to the daemon)
 * on arbitrary bytes: parsing must either refuse with a message or give a
 * condition that matches a fixed record without crashing or leaking. */
#include "proto/query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *expr = malloc(size + 1);
    if (!expr)
        return 0;
    memcpy(expr, data, size);
    expr[size] = 0;
    record r;
    record_init(&r);
    record_write(&r, "a", 1, "name", "陈诚");
    record_set_add(&r, "a", 1, "benefits", "welfare-2021");
    query_cond c;
    char err[256] = "";
    if (query_cond_parse(&c, expr, err, sizeof err) == 0) {
        int m = query_match(&c, 1, "rec", &r);
        if (m != 0 && m != 1)
            abort();
        query_cond_free(&c);
    } else if (!err[0]) {
        abort(); /* a refusal says why */
    }
    record_free(&r);
    free(expr);
    return 0;
}
