/* vocab.c - controlled vocabularies and nearest-name search (see vocab.h).
 *
 * Each vocabulary is a heap array of vocab_value, filled with the built-in
 * list once (pthread_once, so concurrent first lookups are safe) and grown
 * by vocab_value_add. Lists are short (tens of values), so lookups are
 * linear scans. Code points come from utf8proc_iterate: no decoder here. */
#include "proto/vocab.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "proto/schema.h"

typedef struct {
    const char *value;
    const char *aliases[6];
    int new_form;
} builtin_value;

// clang-format off
/* applicant, active, lapsed, transferred, merged (DESIGN.md) and void (a
 * record entered by mistake, issue 14) with the words a Chinese membership
 * list uses. */
static const builtin_value status_builtin[] = {
    {"applicant",   {"申请中", "申请"}, 0},
    {"active",      {"在会", "有效"}, 0},
    {"lapsed",      {"失效", "退会"}, 0},
    {"transferred", {"转出"}, 0},
    {"merged",      {"已合并"}, 0},
    {"void",        {"作废"}, 0},
};

/* A union's type (issue 11); the English words people use for them. */
static const builtin_value union_type_builtin[] = {
    {"基层工会", {"enterprise", "enterprise union", "基层"}, 0},
    {"联合工会", {"joint", "joint union", "联合"}, 0},
    {"行业工会", {"trade", "trade union", "行业"}, 0},
};

/* The new-employment-form occupations (flagged) and the two others. */
static const builtin_value category_builtin[] = {
    {"快递员",     {"快递小哥"}, 1},
    {"外卖配送员", {"外卖骑手", "骑手", "网约送餐员"}, 1},
    {"网约车司机", {0}, 1},
    {"货车司机",   {0}, 1},
    {"护工护理员", {"护工"}, 1},
    {"家政服务员", {"保姆"}, 1},
    {"育婴师",     {0}, 1},
    {"保安员",     {0}, 1},
    {"商场信息员", {0}, 1},
    {"房产中介员", {0}, 1},
    {"网格员",     {0}, 0},
    {"其他",       {0}, 0},
};
// clang-format on

typedef struct {
    const char *field;
    const builtin_value *builtin;
    size_t nbuiltin;
    vocab_value *v;
    size_t n, cap;
} vocab;

static vocab vocabs[] = {
    {"status", status_builtin, sizeof status_builtin / sizeof status_builtin[0], NULL, 0, 0},
    {"category", category_builtin, sizeof category_builtin / sizeof category_builtin[0], NULL, 0,
     0},
    {"union_type", union_type_builtin, sizeof union_type_builtin / sizeof union_type_builtin[0],
     NULL, 0, 0},
};
#define NVOCABS (sizeof vocabs / sizeof vocabs[0])

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---- words ---- */

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Equal, ASCII letters compared without case. */
static int word_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static int word_ok(const char *w)
{
    size_t n = w ? strlen(w) : 0;
    if (n == 0 || n > VOCAB_WORD_MAX || strchr(w, ';'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)w[i] < 0x20 || w[i] == 0x7f)
            return 0;
    return schema_utf8_len(w, n) >= 0; /* proto's one strict check */
}

/* ---- storage ---- */

static void value_free(vocab_value *v)
{
    for (size_t i = 0; i < v->naliases; i++)
        free(v->aliases[i]);
    free(v->aliases);
    free(v->value);
}

static vocab *vocab_find(const char *field)
{
    if (!field)
        return NULL;
    for (size_t i = 0; i < NVOCABS; i++)
        if (strcmp(vocabs[i].field, field) == 0)
            return &vocabs[i];
    return NULL;
}

/* Appends a value with no aliases; returns it or NULL on OOM. */
static vocab_value *vocab_append(vocab *vb, const char *value, int new_form, int builtin)
{
    if (vb->n == vb->cap) {
        size_t cap = vb->cap ? vb->cap * 2 : 16;
        vocab_value *nv = realloc(vb->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        vb->v = nv;
        vb->cap = cap;
    }
    vocab_value *v = &vb->v[vb->n];
    memset(v, 0, sizeof *v);
    if (!(v->value = strdup(value)))
        return NULL;
    v->new_form = new_form;
    v->builtin = builtin;
    vb->n++;
    return v;
}

static int alias_append(vocab_value *v, const char *alias)
{
    char **na = realloc(v->aliases, (v->naliases + 1) * sizeof *na);
    if (!na)
        return -1;
    v->aliases = na;
    if (!(na[v->naliases] = strdup(alias)))
        return -1;
    v->naliases++;
    return 0;
}

/* Fills every vocabulary with its built-in list. Out of memory here leaves
 * a shorter list, which refuses values rather than accepting wrong ones. */
static void builtins_load(void)
{
    for (size_t i = 0; i < NVOCABS; i++) {
        vocab *vb = &vocabs[i];
        for (size_t k = 0; k < vb->nbuiltin; k++) {
            const builtin_value *b = &vb->builtin[k];
            vocab_value *v = vocab_append(vb, b->value, b->new_form, 1);
            for (size_t a = 0; v && a < sizeof b->aliases / sizeof b->aliases[0] && b->aliases[a];
                 a++)
                if (alias_append(v, b->aliases[a]) != 0)
                    break;
        }
    }
}

static void init(void)
{
    pthread_once(&init_once, builtins_load);
}

/* The value that w names (as value or alias), or NULL. */
static vocab_value *lookup(vocab *vb, const char *w)
{
    for (size_t i = 0; i < vb->n; i++) {
        if (word_eq(vb->v[i].value, w))
            return &vb->v[i];
        for (size_t a = 0; a < vb->v[i].naliases; a++)
            if (word_eq(vb->v[i].aliases[a], w))
                return &vb->v[i];
    }
    return NULL;
}

/* ---- public ---- */

int vocab_has(const char *field)
{
    return vocab_find(field) != NULL;
}

const char *vocab_resolve(const char *field, const char *input)
{
    vocab *vb = vocab_find(field);
    if (!vb || !input)
        return NULL;
    init();
    vocab_value *v = lookup(vb, input);
    return v ? v->value : NULL;
}

int vocab_is_new_form(const char *field, const char *value)
{
    vocab *vb = vocab_find(field);
    if (!vb || !value)
        return -1;
    init();
    vocab_value *v = lookup(vb, value);
    return v ? v->new_form : -1;
}

size_t vocab_values(const char *field, const vocab_value **out)
{
    vocab *vb = vocab_find(field);
    if (out)
        *out = NULL;
    if (!vb)
        return 0;
    init();
    if (out)
        *out = vb->v;
    return vb->n;
}

uerr vocab_value_add(const char *field, const char *value, const char *const *aliases,
                     size_t naliases, int new_form, char *err, size_t errlen)
{
    vocab *vb = vocab_find(field);
    if (!vb)
        return uerr_set(err, errlen, UERR_INVALID, "%s: has no list of values",
                        field ? field : "(null)");
    init();
    if (!word_ok(value))
        return uerr_set(err, errlen, UERR_INVALID,
                        "%s: a value must be 1 to %d bytes of text without ';'", field,
                        VOCAB_WORD_MAX);
    if (naliases > VOCAB_ALIASES_MAX)
        return uerr_set(err, errlen, UERR_INVALID, "%s: at most %d aliases per value", field,
                        VOCAB_ALIASES_MAX);
    for (size_t i = 0; i < naliases; i++) {
        if (!word_ok(aliases[i]))
            return uerr_set(err, errlen, UERR_INVALID,
                            "%s: an alias must be 1 to %d bytes of text without ';'", field,
                            VOCAB_WORD_MAX);
        vocab_value *owner = lookup(vb, aliases[i]);
        if (owner && !word_eq(owner->value, value))
            return uerr_set(err, errlen, UERR_CONFLICT, "%s: '%s' already stands for '%s'", field,
                            aliases[i], owner->value);
    }
    vocab_value *v = lookup(vb, value);
    if (v && !word_eq(v->value, value))
        return uerr_set(err, errlen, UERR_CONFLICT, "%s: '%s' is already an alias of '%s'", field,
                        value, v->value);
    if (!v && !(v = vocab_append(vb, value, new_form, 0)))
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    if (new_form)
        v->new_form = 1;
    for (size_t i = 0; i < naliases; i++) {
        if (lookup(vb, aliases[i]))
            continue; /* already this value's own word */
        if (v->naliases >= VOCAB_ALIASES_MAX + 8)
            return uerr_set(err, errlen, UERR_INVALID, "%s: '%s' has too many aliases", field,
                            v->value);
        if (alias_append(v, aliases[i]) != 0)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    return UERR_OK;
}

void vocab_reset(void)
{
    init();
    for (size_t i = 0; i < NVOCABS; i++) {
        vocab *vb = &vocabs[i];
        for (size_t k = 0; k < vb->n; k++)
            value_free(&vb->v[k]);
        vb->n = 0;
    }
    /* refill in place: the once-flag has already fired */
    builtins_load();
}

/* ---- nearest names ---- */

#define DIST_MAX_CP 64

/* Decodes s into cps (at most DIST_MAX_CP); -1 if too long or invalid. */
static long decode(utf8proc_int32_t *cps, const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    long n = 0;
    while (left > 0) {
        if (n == DIST_MAX_CP)
            return -1;
        utf8proc_ssize_t k = utf8proc_iterate(p, left, &cps[n]);
        if (k <= 0)
            return -1;
        p += k, left -= k, n++;
    }
    return n;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t vocab_distance(const char *a, const char *b)
{
    utf8proc_int32_t x[DIST_MAX_CP], y[DIST_MAX_CP];
    static const size_t far = (size_t)-1;
    long n = a ? decode(x, a) : -1, m = b ? decode(y, b) : -1;
    if (n < 0 || m < 0)
        return far;

    /* three rows of the DP table: i-2, i-1, i */
    size_t rows[3][DIST_MAX_CP + 1];
    for (long j = 0; j <= m; j++)
        rows[0][j] = (size_t)j;
    for (long i = 1; i <= n; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = (size_t)i;
        for (long j = 1; j <= m; j++) {
            size_t cost = x[i - 1] == y[j - 1] ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] &&
                prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
    }
    return rows[n % 3][m];
}

/* Common prefix of a and b in code points (bytes of whole characters). */
static size_t common_prefix(const char *a, const char *b)
{
    utf8proc_int32_t x[DIST_MAX_CP], y[DIST_MAX_CP];
    long n = decode(x, a), m = decode(y, b);
    size_t k = 0;
    if (n < 0 || m < 0)
        return 0;
    while ((long)k < n && (long)k < m && x[k] == y[k])
        k++;
    return k;
}

/* Nearest by distance, ties by longer common prefix; index or -1. */
static long nearest_index(const char *input, const char *const *cands, size_t n, size_t *dist,
                          size_t *prefix)
{
    long best = -1;
    size_t bd = (size_t)-1, bp = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = vocab_distance(input, cands[i]), p = common_prefix(input, cands[i]);
        if (best < 0 || d < bd || (d == bd && p > bp)) {
            best = (long)i;
            bd = d;
            bp = p;
        }
    }
    *dist = bd;
    *prefix = bp;
    return best;
}

const char *vocab_nearest(const char *input, const char *const *cands, size_t n)
{
    utf8proc_int32_t cps[DIST_MAX_CP];
    long len = input ? decode(cps, input) : -1;
    size_t d, p;
    if (len <= 0 || n == 0)
        return NULL;
    long i = nearest_index(input, cands, n, &d, &p);
    size_t limit = len < 5 ? 1 : 2;
    if (i >= 0 && d <= limit)
        return cands[i];
    /* no near spelling: the longest shared beginning, if long enough */
    long bi = -1;
    size_t bp = 0;
    for (size_t k = 0; k < n; k++) {
        size_t pk = common_prefix(input, cands[k]);
        if (pk > bp) {
            bp = pk;
            bi = (long)k;
        }
    }
    return bi >= 0 && bp >= 3 ? cands[bi] : NULL;
}

const char *vocab_suggest(const char *field, const char *input)
{
    vocab *vb = vocab_find(field);
    if (!vb || !input)
        return NULL;
    init();
    const vocab_value *best = NULL;
    size_t bd = (size_t)-1, bp = 0;
    for (size_t i = 0; i < vb->n; i++) {
        const vocab_value *v = &vb->v[i];
        for (size_t a = 0; a <= v->naliases; a++) {
            const char *w = a == 0 ? v->value : v->aliases[a - 1];
            size_t d = vocab_distance(input, w), p = common_prefix(input, w);
            if (!best || d < bd || (d == bd && p > bp)) {
                best = v;
                bd = d;
                bp = p;
            }
        }
    }
    assert(!best || best->value);
    return best ? best->value : NULL;
}
