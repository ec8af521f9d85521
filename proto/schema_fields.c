/* schema_fields.c - which fields exist and the names they answer to: the
 * built-in table (DESIGN.md "Records and the merge") with the Chinese
 * column headers of real office lists, the fields an office declares at
 * run time, and resolving a name a user wrote, with a "did you mean" for
 * a typo. Pure: no I/O.
 *
 * The table is one static array with room for the declared fields after
 * the built-in ones, so a schema_field pointer never moves; declared
 * names and labels live in fixed buffers beside it. */
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/schema_priv.h"
#include "proto/vocab.h"

// clang-format off
static const char *const a_name[] = {"姓名", NULL};
static const char *const a_gender[] = {"性别", NULL};
static const char *const a_idnum[] = {"身份证号", "身份证号码", "公民身份号码", NULL};
static const char *const a_phone[] = {"手机", "手机号", "手机号码", "联系电话", NULL};
static const char *const a_category[] = {"职业", "职业类别", "从业类别", NULL};
static const char *const a_employer[] = {"工作单位", "单位", NULL};
static const char *const a_union[] = {"所属工会", "工会", NULL};
static const char *const a_joined[] = {"入会日期", "入会时间", "加入日期", NULL};
static const char *const a_status[] = {"状态", "会籍状态", NULL};
static const char *const a_notes[] = {"备注", NULL};
static const char *const a_benefits[] = {"福利", "福利发放", NULL};

/* Display order is the order of DESIGN.md's field table; merged_into (the id
 * of the record a duplicate was merged into) comes last. employer and union
 * stay text (what unionctl fields shows and old records hold), marked with
 * the kind the daemon resolves them to when a record of it matches. max_chars is set
 * only where it is a real input limit; the fixed formats (id, phone, date,
 * ...) are enforced by their own rules, and their raw input may legitimately
 * be longer than the stored form ("+86 138-1234-5678", "female"). */
#define NBUILTIN 13
static schema_field fields[NBUILTIN + SCHEMA_DECLARED_MAX] = {
    {"name",        SCHEMA_TEXT,   64, "姓名",     a_name,     0, 0},
    {"gender",      SCHEMA_GENDER, 0,  "性别",     a_gender,   0, 0},
    {"id_number",   SCHEMA_IDNUM,  0,  "身份证号码", a_idnum,    0, 0},
    {"phone",       SCHEMA_PHONE,  0,  "手机号码",  a_phone,    0, 0},
    {"category",    SCHEMA_VOCAB,  0,  "职业类别",  a_category, 0, 0},
    {"employer",    SCHEMA_TEXT,   0,  "工作单位",  a_employer, 0, 0, KIND_ENTERPRISE},
    {"union",       SCHEMA_TEXT,   0,  "所属工会",  a_union,    0, 0, KIND_UNION},
    {"notes",       SCHEMA_TEXT,   0,  "备注",     a_notes,    0, 0},
    {"office",      SCHEMA_OFFICE, 32, NULL,       NULL,       0, 0},
    {"joined",      SCHEMA_DATE,   0,  "入会日期",  a_joined,   0, 0},
    {"status",      SCHEMA_STATUS, 0,  "会籍状态",  a_status,   0, 0},
    {"benefits",    SCHEMA_SET,    64, "福利发放",  a_benefits, 0, 0}, /* per element */
    {"merged_into", SCHEMA_TEXT,   0,  NULL,       NULL,       0, 0},
};
// clang-format on

static char declared_names[SCHEMA_DECLARED_MAX][SCHEMA_NAME_MAX + 1];
static char declared_labels[SCHEMA_DECLARED_MAX][SCHEMA_LABEL_MAX + 1];
static size_t ndeclared;

#define NFIELDS (NBUILTIN + ndeclared)

static int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

const schema_field *schema_fields(size_t *n)
{
    if (n)
        *n = NFIELDS;
    return fields;
}

const schema_field *schema_kind_fields(record_kind k, size_t *n)
{
    size_t dummy;
    if (!n)
        n = &dummy;
    if (k == KIND_MEMBER)
        return schema_fields(n);
    return schema_kind_table(k, n);
}

const schema_field *schema_kind_field_find(record_kind k, const char *name)
{
    size_t n;
    const schema_field *t = schema_kind_fields(k, &n);
    /* the first byte before the call: every cell of an import asks here
     * several times (checks, links, apply), over a kind's whole table */
    for (size_t i = 0; name && i < n; i++)
        if (t[i].name[0] == name[0] && strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

const schema_field *schema_field_find(const char *name)
{
    return schema_kind_field_find(KIND_MEMBER, name);
}

int schema_name_valid(const char *name)
{
    if (!name || !is_lower((unsigned char)name[0]))
        return 0;
    for (size_t i = 1; name[i]; i++) {
        unsigned char c = (unsigned char)name[i];
        if (i >= SCHEMA_NAME_MAX || !(is_lower(c) || is_digit(c) || c == '_'))
            return 0;
    }
    /* "id" is the record id in every output (JSON, CSV header, --where) */
    return strcmp(name, "id") != 0;
}

int schema_field_is_set(const char *name)
{
    const schema_field *f = schema_field_find(name);
    return f && f->type == SCHEMA_SET;
}

int schema_field_is_masked(const char *name)
{
    const schema_field *f = schema_field_find(name);
    return f && (f->type == SCHEMA_IDNUM || f->type == SCHEMA_PHONE || f->is_private);
}

/* The field of kind k that answers to w as name, label or alias, or NULL. */
/* a == b, the first bytes compared before the call (this runs for every
 * value of an import, over every name, label and alias of the kind) */
static int same(const char *a, const char *b)
{
    return a[0] == b[0] && strcmp(a, b) == 0;
}

static const schema_field *kind_answers_to(record_kind k, const char *w)
{
    size_t n;
    const schema_field *t = schema_kind_fields(k, &n);
    for (size_t i = 0; i < n; i++) {
        const schema_field *f = &t[i];
        if (same(f->name, w) || (f->label && same(f->label, w)))
            return f;
        for (size_t a = 0; f->aliases && f->aliases[a]; a++)
            if (same(f->aliases[a], w))
                return f;
    }
    return NULL;
}

static const schema_field *answers_to(const char *w)
{
    return kind_answers_to(KIND_MEMBER, w);
}

/* The nearest name, label or alias of kind k to w, or NULL (vocab_nearest's
 * rule). */
static const char *nearest_name(record_kind k, const char *w)
{
    const char *cands[(NBUILTIN + SCHEMA_DECLARED_MAX) * 6];
    size_t n = 0, nf;
    const schema_field *t = schema_kind_fields(k, &nf);
    for (size_t i = 0; i < nf && n + 2 < sizeof cands / sizeof *cands; i++) {
        const schema_field *f = &t[i];
        cands[n++] = f->name;
        if (f->label)
            cands[n++] = f->label;
        for (size_t a = 0; f->aliases && f->aliases[a] && n < sizeof cands / sizeof *cands; a++)
            cands[n++] = f->aliases[a];
    }
    return vocab_nearest(w, cands, n);
}

uerr schema_field_resolve(const schema_field **out, const char *name, char *err, size_t errlen)
{
    return schema_kind_field_resolve(out, KIND_MEMBER, name, err, errlen);
}

uerr schema_kind_field_resolve(const schema_field **out, record_kind k, const char *name, char *err,
                               size_t errlen)
{
    char *w = NULL, shown[200];
    uerr rc;

    *out = NULL;
    if (k <= KIND_NONE || k >= KIND_COUNT)
        return uerr_set(err, errlen, UERR_INTERNAL, "no such kind of record");
    if (!name)
        return uerr_set(err, errlen, UERR_INVALID, "field name missing");
    /* A field's own name (what an import's every cell is resolved by):
     * plain ASCII that normalises to itself, so the answer below would be
     * the same; without the NFKC pass and its allocation (a third of
     * unionctl's CPU in an import). */
    const schema_field *own = kind_answers_to(k, name);
    if (own && strcmp(own->name, name) == 0) {
        *out = own;
        return UERR_OK;
    }
    rc = schema_text_normalize(&w, name, strlen(name));
    if (rc == UERR_NOMEM)
        return uerr_set(err, errlen, rc, "out of memory");
    schema_printable(shown, sizeof shown, rc == UERR_OK ? w : name);
    if (rc != UERR_OK) {
        rc = uerr_set(err, errlen, UERR_INVALID, "unknown field '%s' (not valid UTF-8)", shown);
        goto cleanup;
    }
    if (strcmp(w, "id") == 0) {
        rc = uerr_set(err, errlen, UERR_INVALID, "id: reserved for the record id, not a field");
        goto cleanup;
    }
    if ((*out = kind_answers_to(k, w)) != NULL)
        goto cleanup;
    const char *near = nearest_name(k, w);
    if (near) {
        char nshown[200];
        schema_printable(nshown, sizeof nshown, near);
        rc = uerr_set(err, errlen, UERR_INVALID, "unknown field '%s' (did you mean '%s'?)", shown,
                      nshown);
    } else if (k != KIND_MEMBER) {
        rc = uerr_set(err, errlen, UERR_INVALID,
                      "unknown field '%s' of a %s (unionctl fields --kind %s lists them)", shown,
                      kind_name(k), kind_name(k));
    } else if (schema_name_valid(w)) {
        rc = uerr_set(err, errlen, UERR_INVALID,
                      "unknown field '%s' (unionctl fields lists the fields; an office declares "
                      "its own with: unionctl field add %s)",
                      shown, w);
    } else {
        rc = uerr_set(err, errlen, UERR_INVALID,
                      "unknown field '%s' (unionctl fields lists the fields)", shown);
    }
cleanup:
    free(w);
    return rc;
}

static const struct {
    const char *word;
    schema_type type;
    int declarable;
} types[] = {
    {"text", SCHEMA_TEXT, 1},     {"gender", SCHEMA_GENDER, 0}, {"id_number", SCHEMA_IDNUM, 1},
    {"phone", SCHEMA_PHONE, 1},   {"office", SCHEMA_OFFICE, 0}, {"date", SCHEMA_DATE, 1},
    {"status", SCHEMA_STATUS, 0}, {"set", SCHEMA_SET, 1},       {"vocab", SCHEMA_VOCAB, 0},
    {"link", SCHEMA_LINK, 0},     {"yes_no", SCHEMA_YESNO, 0},  {"uscc", SCHEMA_USCC, 0},
    {"count", SCHEMA_COUNT, 0},   {"amount", SCHEMA_AMOUNT, 0},
};
#define NTYPES (sizeof types / sizeof types[0])

const char *schema_type_name(schema_type t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i].type == t)
            return types[i].word;
    return "?";
}

uerr schema_type_parse(schema_type *out, const char *word, char *err, size_t errlen)
{
    for (size_t i = 0; word && i < NTYPES; i++)
        if (types[i].declarable && strcmp(types[i].word, word) == 0) {
            *out = types[i].type;
            return UERR_OK;
        }
    return uerr_set(err, errlen, UERR_INVALID,
                    "unknown type '%.32s': one of text, date, phone, id_number, set",
                    word ? word : "");
}

static int declarable(schema_type t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i].type == t)
            return types[i].declarable;
    return 0;
}

/* Checks a label: text of 1..SCHEMA_LABEL_MAX bytes, in NFKC form and
 * trimmed already (so it resolves as typed), no control character. */
static uerr label_check(const char *label, char *err, size_t errlen)
{
    char *norm = NULL;
    size_t n = strlen(label);
    uerr rc = UERR_OK;

    if (n == 0 || n > SCHEMA_LABEL_MAX)
        return uerr_set(err, errlen, UERR_INVALID, "label: 1 to %d bytes", SCHEMA_LABEL_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
            return uerr_set(err, errlen, UERR_INVALID, "label: control characters not allowed");
    rc = schema_text_normalize(&norm, label, n);
    if (rc == UERR_NOMEM)
        return uerr_set(err, errlen, rc, "out of memory");
    if (rc != UERR_OK || strcmp(norm, label) != 0)
        rc = uerr_set(err, errlen, UERR_INVALID,
                      "label: must be valid UTF-8, without surrounding spaces, in NFKC form");
    free(norm);
    return rc;
}

uerr schema_field_declare(const char *name, schema_type type, const char *label, int is_private,
                          char *err, size_t errlen)
{
    uerr rc;
    if (!schema_name_valid(name))
        return uerr_set(err, errlen, UERR_INVALID,
                        "field name must be [a-z][a-z0-9_]*, at most %d characters, not 'id'",
                        SCHEMA_NAME_MAX);
    if (!declarable(type))
        return uerr_set(err, errlen, UERR_INVALID,
                        "%s: type must be one of text, date, phone, id_number, set", name);
    if (label && *label && (rc = label_check(label, err, errlen)) != UERR_OK)
        return rc;
    if (label && !*label)
        label = NULL;

    schema_field *f = (schema_field *)schema_field_find(name);
    const schema_field *owner = answers_to(name);
    if (f && !f->declared)
        return uerr_set(err, errlen, UERR_CONFLICT, "%s: is a built-in field", name);
    if (!f && owner)
        return uerr_set(err, errlen, UERR_CONFLICT, "%s: is already a name of field %s", name,
                        owner->name);
    if (f && f->type != type)
        return uerr_set(err, errlen, UERR_CONFLICT, "%s: already declared as %s", name,
                        schema_type_name(f->type));
    if (label && (owner = answers_to(label)) != NULL && owner != f)
        return uerr_set(err, errlen, UERR_CONFLICT, "label '%s' already names field %s", label,
                        owner->name);
    if (!f) {
        if (ndeclared == SCHEMA_DECLARED_MAX)
            return uerr_set(err, errlen, UERR_BUSY, "at most %d declared fields",
                            SCHEMA_DECLARED_MAX);
        size_t k = ndeclared;
        f = &fields[NBUILTIN + k];
        snprintf(declared_names[k], sizeof declared_names[k], "%s", name);
        memset(f, 0, sizeof *f);
        f->name = declared_names[k];
        f->type = type;
        f->max_chars = type == SCHEMA_SET ? 64 : 0;
        f->declared = 1;
        ndeclared++;
    }
    size_t k = (size_t)(f - fields) - NBUILTIN;
    if (label) {
        snprintf(declared_labels[k], sizeof declared_labels[k], "%s", label);
        f->label = declared_labels[k];
    }
    f->is_private = is_private ? 1 : 0;
    return UERR_OK;
}

void schema_declared_reset(void)
{
    memset(&fields[NBUILTIN], 0, sizeof fields - NBUILTIN * sizeof fields[0]);
    ndeclared = 0;
}
