/* render.c - how a record is shown in a control reply: displayed values,
 * conflicts, masking of personal fields (see common.h). Pure reading of one
 * record; never touches the store or the index, never logs values. */
#include "daemon/ctl/common.h"

#include "proto/schema.h"

#include <stdlib.h>
#include <string.h>

/* The fields a record shows, in schema order then custom fields by name;
 * *names is malloc'd, the strings are borrowed from r. */
static size_t record_field_names(const char ***names, const record *r)
{
    size_t ns, n = 0;
    const schema_field *sf = schema_fields(&ns);
    const char **out = malloc((ns + r->nentries + 1) * sizeof *out);
    *names = out;
    if (!out)
        return 0;
    for (size_t i = 0; i < ns; i++) {
        size_t first;
        if (record_field_entries(r, sf[i].name, &first))
            out[n++] = sf[i].name;
    }
    for (size_t i = 0; i < r->nentries; i++) {
        const char *f = r->entries[i].field;
        if (schema_field_find(f) || (n && strcmp(out[n - 1], f) == 0))
            continue;
        out[n++] = f;
    }
    return n;
}

void ctl_pack_value(msgpack_packer *pk, const char *field, const char *v, int reveal)
{
    if (!reveal && schema_field_is_masked(field)) {
        char *m = schema_value_mask(field, v);
        msg_pack_str(pk, m ? m : "");
        free(m);
    } else {
        msg_pack_str(pk, v);
    }
}

size_t ctl_field_values(const char **vals, const record *r, const char *field)
{
    size_t first, n = record_field_entries(r, field, &first), k = 0;
    const record_entry *w = record_field_winner(r, field);
    if (w)
        vals[k++] = w->value;
    for (size_t i = first; i < first + n; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(vals[j], r->entries[i].value) == 0;
        if (!dup)
            vals[k++] = r->entries[i].value;
    }
    return k;
}

size_t ctl_conflict_count(const record *r)
{
    return record_conflict_fields(r, schema_field_is_set);
}

/* A set field's distinct elements, sorted, as an array (el: room for the
 * field's entry count). */
static void pack_set(msgpack_packer *pk, const char **el, const record *r, size_t first, size_t n)
{
    size_t ne = 0;
    for (size_t j = first; j < first + n; j++) {
        const char *v = r->entries[j].value;
        size_t pos = 0;
        while (pos < ne && strcmp(el[pos], v) < 0)
            pos++;
        if (pos < ne && strcmp(el[pos], v) == 0)
            continue;
        memmove(&el[pos + 1], &el[pos], (ne - pos) * sizeof *el);
        el[pos] = v;
        ne++;
    }
    msg_arr a;
    msg_arr_open(&a, pk);
    for (size_t j = 0; j < ne; j++) {
        msg_arr_item(&a);
        msg_pack_str(pk, el[j]);
    }
    msg_arr_close(&a);
}

/* {"id", "fields": {...}, "conflicts": {...}} */
void ctl_pack_record(msgpack_packer *pk, const char *id, const record *r, int reveal)
{
    msg_map top;
    ctl_pack_record_open(&top, pk, id, r, reveal);
    msg_map_close(&top);
}

void ctl_pack_record_open(msg_map *top, msgpack_packer *pk, const char *id, const record *r,
                          int reveal)
{
    const char **names = NULL;
    size_t nf = record_field_names(&names, r);
    const char **vals = malloc((r->nentries + 1) * sizeof *vals);
    msg_map fields, conf;
    msg_map_open(top, pk);
    msg_map_str(top, "id", id);
    msg_map_key(top, "fields");
    msg_map_open(&fields, pk);
    for (size_t i = 0; i < nf && vals; i++) {
        size_t first, n = record_field_entries(r, names[i], &first);
        if (schema_field_is_set(names[i])) {
            msg_map_key(&fields, names[i]);
            pack_set(pk, vals, r, first, n);
            continue;
        }
        size_t k = ctl_field_values(vals, r, names[i]);
        if (k > 1 || (k == 1 && vals[0][0])) {
            msg_map_key(&fields, names[i]);
            ctl_pack_value(pk, names[i], vals[0], reveal);
        }
    }
    msg_map_close(&fields);
    msg_map_key(top, "conflicts");
    msg_map_open(&conf, pk);
    for (size_t i = 0; i < nf && vals; i++) {
        if (schema_field_is_set(names[i]))
            continue;
        size_t k = ctl_field_values(vals, r, names[i]);
        if (k < 2)
            continue;
        msg_arr a;
        msg_map_key(&conf, names[i]);
        msg_arr_open(&a, pk);
        for (size_t j = 0; j < k; j++) {
            msg_arr_item(&a);
            ctl_pack_value(pk, names[i], vals[j], reveal);
        }
        msg_arr_close(&a);
    }
    msg_map_close(&conf);
    free(vals);
    free(names);
}

/* The distinct values of a single-valued field joined by " | ", each masked
 * on its own first when mask is set (a masked join would show neither). */
static char *display_single(const record *r, const char *field, size_t n, int mask)
{
    const char **vals = malloc((n + 1) * sizeof *vals);
    char **masked = calloc(n + 1, sizeof *masked);
    char *out = NULL;
    size_t len = 1;
    if (!vals || !masked)
        goto cleanup;
    size_t k = ctl_field_values(vals, r, field);
    for (size_t i = 0; mask && i < k; i++)
        if (schema_field_is_masked(field) && (masked[i] = schema_value_mask(field, vals[i])))
            vals[i] = masked[i];
    for (size_t i = 0; i < k; i++)
        len += strlen(vals[i]) + 3;
    out = calloc(1, len);
    for (size_t i = 0; out && i < k; i++) {
        if (i)
            strcat(out, " | ");
        strcat(out, vals[i]);
    }
    for (size_t i = 0; i < k; i++)
        free(masked[i]);
cleanup:
    free(masked);
    free(vals);
    return out;
}

char *ctl_display_joined(const record *r, const char *field, int mask)
{
    size_t first, n = record_field_entries(r, field, &first), len = 1;
    if (!schema_field_is_set(field))
        return display_single(r, field, n, mask);
    for (size_t i = first; i < first + n; i++)
        len += strlen(r->entries[i].value) + 1;
    char *out = calloc(1, len);
    for (size_t i = first; out && i < first + n; i++) {
        if (i > first)
            strcat(out, ";");
        strcat(out, r->entries[i].value);
    }
    return out;
}

/* ---- differences between two states ---------------------------------------- */

void ctl_diff_free(ctl_diff *d)
{
    for (size_t i = 0; d->from && d->to && i < d->n; i++) {
        free(d->from[i]);
        free(d->to[i]);
    }
    free(d->from);
    free(d->to);
    free(d->changed);
    free(d->names);
}

/* Fill d from two states of a record. 0, or -1 when out of memory. */
int ctl_diff_make(ctl_diff *d, const record *oldr, const record *newr, int reveal)
{
    size_t cap = oldr->nentries + newr->nentries + 1;
    memset(d, 0, sizeof *d);
    d->names = malloc(cap * sizeof *d->names);
    d->from = calloc(cap, sizeof *d->from);
    d->to = calloc(cap, sizeof *d->to);
    d->changed = calloc(cap, 1);
    if (!d->names || !d->from || !d->to || !d->changed)
        return -1;
    const record *both[2] = {oldr, newr};
    for (int s = 0; s < 2; s++) /* field names of both, merged in order */
        for (size_t i = 0; i < both[s]->nentries; i++) {
            const char *f = both[s]->entries[i].field;
            int seen = 0;
            for (size_t j = 0; j < d->n && !seen; j++)
                seen = strcmp(d->names[j], f) == 0;
            if (!seen)
                d->names[d->n++] = f;
        }
    /* a change is decided on the real values, then shown masked */
    for (size_t i = 0; i < d->n; i++) {
        d->from[i] = ctl_display_joined(oldr, d->names[i], 0);
        d->to[i] = ctl_display_joined(newr, d->names[i], 0);
        if (!d->from[i] || !d->to[i] || strcmp(d->from[i], d->to[i]) == 0)
            continue;
        d->changed[i] = 1;
        if (!reveal && schema_field_is_masked(d->names[i])) {
            free(d->from[i]);
            free(d->to[i]);
            /* masking can make the two texts equal; the change stays */
            d->from[i] = ctl_display_joined(oldr, d->names[i], 1);
            d->to[i] = ctl_display_joined(newr, d->names[i], 1);
        }
    }
    return 0;
}

void ctl_diff_pack(msgpack_packer *pk, const ctl_diff *d)
{
    msg_arr a;
    msg_arr_open(&a, pk);
    for (size_t i = 0; i < d->n; i++) {
        if (!d->changed[i])
            continue;
        msg_map c;
        msg_arr_item(&a);
        msg_map_open(&c, pk);
        msg_map_str(&c, "field", d->names[i]);
        msg_map_str(&c, "from", d->from[i] ? d->from[i] : "*");
        msg_map_str(&c, "to", d->to[i] ? d->to[i] : "*");
        msg_map_close(&c);
    }
    msg_arr_close(&a);
}

char *ctl_mask_apart(const char *field, const char *v, const record *r, size_t first, size_t n)
{
    char *m = schema_value_mask(field, v);
    if (!m)
        return NULL;
    size_t len = strlen(v);
    int clash = 0;
    for (size_t e = first; e < first + n; e++) {
        const char *o = r->entries[e].value;
        if (strcmp(o, v) == 0)
            continue;
        char *om = schema_value_mask(field, o);
        int same = om && strcmp(om, m) == 0;
        free(om);
        if (!same)
            continue;
        clash = 1;
        if (strlen(o) != len || strlen(m) != len)
            continue;
        /* the first masked digit that differs is enough */
        for (size_t i = 0; i < len; i++)
            if (m[i] == '*' && o[i] != v[i]) {
                m[i] = v[i];
                break;
            }
    }
    if (clash && strlen(m) != len) {
        /* a mask that does not keep positions: say so instead */
        const char *note = " (differs in masked digits)";
        char *nm = realloc(m, strlen(m) + strlen(note) + 1);
        if (!nm) {
            free(m);
            return NULL;
        }
        m = strcat(nm, note);
    }
    return m;
}
