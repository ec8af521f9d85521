/* kind.c - kinds of record: names, tree layout and the benefit id rule (see
 * kind.h). Pure: no I/O. SHA-256 comes from libcrypto, already linked into
 * every program (TLS), so the derived ids need no hash of our own. */
#include "proto/kind.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/record.h"
#include "proto/schema.h"
#include "proto/schema_priv.h"

static const struct {
    const char *name, *zh, *dir;
} kinds[KIND_COUNT] = {
    [KIND_NONE] = {"?", "?", NULL},
    [KIND_MEMBER] = {"member", "会员", "members"},
    [KIND_UNION] = {"union", "工会", "unions"},
    [KIND_ENTERPRISE] = {"enterprise", "企业", "enterprises"},
    [KIND_STATION] = {"station", "服务站点", "stations"},
    [KIND_BENEFIT] = {"benefit", "福利发放", "benefits"},
};

static int valid_kind(record_kind k)
{
    return k > KIND_NONE && k < KIND_COUNT;
}

const char *kind_name(record_kind k)
{
    return valid_kind(k) ? kinds[k].name : "?";
}

const char *kind_name_zh(record_kind k)
{
    return valid_kind(k) ? kinds[k].zh : "?";
}

const char *kind_dir(record_kind k)
{
    return valid_kind(k) ? kinds[k].dir : NULL;
}

static int ascii_caseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        if (x != *b)
            return 0;
    }
    return *a == *b;
}

uerr kind_parse(record_kind *out, const char *word, char *err, size_t errlen)
{
    *out = KIND_NONE;
    for (int k = KIND_MEMBER; word && k < KIND_COUNT; k++)
        if (ascii_caseeq(word, kinds[k].name) || ascii_caseeq(word, kinds[k].dir) ||
            strcmp(word, kinds[k].zh) == 0) {
            *out = (record_kind)k;
            return UERR_OK;
        }
    char shown[200];
    schema_printable(shown, sizeof shown, word ? word : "");
    return uerr_set(err, errlen, UERR_INVALID,
                    "unknown kind '%s': one of member, union, enterprise, station, benefit", shown);
}

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

void kind_path(char *out, size_t outlen, record_kind k, const char *id)
{
    if (k == KIND_MEMBER && record_id_is_schema(id)) {
        /* the office's declarations: schema/<id> (record_path's rule) */
        record_path(out, outlen, id);
        return;
    }
    uint32_t h = fnv1a32(id);
    const char *dir = kind_dir(k);
    snprintf(out, outlen, "%s/%02x/%02x/%s", dir ? dir : "?", (unsigned)(h >> 24),
             (unsigned)((h >> 16) & 0xff), id);
}

uerr kind_path_parse(record_kind *kind, char *idbuf, size_t idlen, const char *path)
{
    *kind = KIND_NONE;
    if (idlen)
        idbuf[0] = '\0';
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || !record_id_valid(slash + 1) || strlen(slash + 1) + 1 > idlen)
        return UERR_INVALID;
    for (int k = KIND_MEMBER; k < KIND_COUNT; k++) {
        size_t dl = strlen(kinds[k].dir);
        if (strncmp(path, kinds[k].dir, dl) != 0 || path[dl] != '/')
            continue;
        char want[RECORD_ID_MAX + 32];
        kind_path(want, sizeof want, (record_kind)k, slash + 1);
        if (strcmp(want, path) != 0)
            return UERR_INVALID;
        *kind = (record_kind)k;
        snprintf(idbuf, idlen, "%s", slash + 1);
        return UERR_OK;
    }
    return UERR_INVALID;
}

uerr kind_benefit_id(char *out, const char *member_id, const char *kind, const char *date,
                     char *err, size_t errlen)
{
    static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (!member_id || !record_id_valid(member_id))
        return uerr_set(err, errlen, UERR_INVALID, "member: not a record id");
    if (!kind || !*kind || strchr(kind, '\n'))
        return uerr_set(err, errlen, UERR_INVALID, "kind: must be one line, not empty");
    if (!date || !schema_date_valid(date))
        return uerr_set(err, errlen, UERR_INVALID, "date: must be YYYY-MM-DD");

    size_t ml = strlen(member_id), kl = strlen(kind);
    char buf[8 + RECORD_ID_MAX + 1 + SCHEMA_VALUE_MAX + 1 + 10 + 1];
    if (kl > SCHEMA_VALUE_MAX)
        return uerr_set(err, errlen, UERR_INVALID, "kind: too long");
    int n = snprintf(buf, sizeof buf, "benefit\n%s\n%s\n%s", member_id, kind, date);
    if (n < 0 || (size_t)n >= sizeof buf || (size_t)n != 8 + ml + 1 + kl + 1 + 10)
        return uerr_set(err, errlen, UERR_INTERNAL, "benefit id: buffer");
    if (EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 10)
        return uerr_set(err, errlen, UERR_INTERNAL, "benefit id: SHA-256 failed");
    /* 80 bits = 16 symbols of 5 bits, most significant first */
    for (int i = 0; i < RECORD_ID_LEN; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)md[byte] << 8 | md[byte + 1]) >> (11 - shift);
        out[i] = b32[v & 31];
    }
    out[RECORD_ID_LEN] = '\0';
    return UERR_OK;
}
