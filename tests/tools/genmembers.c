/* genmembers.c - writes a CSV of N plausible, valid member rows (Chinese
 * names, resident ID numbers with correct check digits, mobiles, offices,
 * occupations) for tests, the demo and benchmarks. Deterministic for a seed.
 *
 *   genmembers N [SEED] [OFFICE]   > members.csv
 *
 * With OFFICE every row belongs to that office; otherwise offices rotate.
 *
 *   genmembers fed OFFICES [SEED] [SCALE] [--zh] DIR
 *
 * writes a linked federation for OFFICES offices (issue 11) into the
 * existing directory DIR: stations.csv, unions.csv, enterprises.csv,
 * members.csv, benefits.csv (import them in that order). Links are by
 * value, as an import gives them: a union's station and a benefit's
 * station by the station's name, a union's enterprise by the enterprise's
 * USCC, an enterprise's and a member's union by the union's name, a
 * benefit's member by ID number. Every name, USCC and ID number is unique.
 * SCALE (default 40) sets members per office (SCALE to 2*SCALE). --zh
 * writes the Chinese column headers (工会名称, 统一社会信用代码, ...) and
 * 是/否 for new_form. Dates fall in 2019-2022, so a report over 2021 sees
 * records inside and outside its period. tests/tools/report_expect.py
 * counts the report's figures from these files independently of uniond. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state;

static uint32_t rnd(uint32_t n)
{
    /* splitmix64: small, good enough, the same on every machine */
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)(z % n);
}

#define PICK(a) a[rnd(sizeof a / sizeof *a)]

static const char *surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                 "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "郑",
                                 "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭"};
static const char *given[] = {"伟",   "芳",   "娜",   "敏", "静", "丽",   "强", "磊",
                              "军",   "洋",   "勇",   "艳", "杰", "娟",   "涛", "明",
                              "超",   "秀英", "霞",   "平", "刚", "桂英", "华", "建国",
                              "晓东", "海燕", "志强", "丹", "波", "诚"};
/* canonical values of the controlled list (issue 9): an alias would be
 * stored as its value and break the tests' independent awk counts */
static const char *categories[] = {"外卖配送员", "快递员",     "网约车司机", "货车司机",
                                   "家政服务员", "护工护理员", "保安员",     "网格员"};
static const char *employers[] = {"美团",   "饿了么",   "顺丰速运", "中通快递", "滴滴出行",
                                  "货拉拉", "京东物流", "圆通速递", "曹操出行", "e代驾"};
static const char *offices[] = {"yinzhou", "haishu", "xiangshan", "beilun", "zhenhai", "jiangbei"};
static const char *areas[] = {"330212", "330203", "330225", "330206", "330211", "330205"};
static const char *unions[] = {
    "", "", "快递行业工会", "外卖骑手工会", "网约车司机工会", "货车司机工会"};
static const char *benefits[] = {"",
                                 "",
                                 "welfare-2021",
                                 "heat-relief-2021",
                                 "winter-care-2022",
                                 "welfare-2021;heat-relief-2021",
                                 "legal-aid"};

static int days_in(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : d[m - 1];
}

static int fed_main(int argc, char **argv);

/* The ID numbers written so far (open addressing on the number's digits):
 * one person, one record, so a generated file never holds an ID twice
 * (import refuses the second). A collision re-rolls the sequence digits. */
static uint64_t *ids_seen;
static size_t ids_cap;

static int id_taken(const char *id)
{
    uint64_t k = strtoull(id, NULL, 10) + 1; /* 17 digits; 0 marks a free slot */
    if (!ids_cap)
        return 0;
    for (size_t i = (size_t)(k * 0x9e3779b97f4a7c15ull) & (ids_cap - 1);;
         i = (i + 1) & (ids_cap - 1)) {
        if (ids_seen[i] == k)
            return 1;
        if (ids_seen[i] == 0) {
            ids_seen[i] = k;
            return 0;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "fed") == 0)
        return fed_main(argc - 1, argv + 1);
    if (argc < 2) {
        fprintf(stderr, "usage: genmembers N [SEED] [OFFICE]\n");
        return 2;
    }
    long n = atol(argv[1]);
    state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    const char *office = argc > 3 ? argv[3] : NULL;
    static const int w[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char chk[] = "10X98765432";
    for (ids_cap = 1024; ids_cap < (size_t)n * 2; ids_cap *= 2)
        ;
    if (!(ids_seen = calloc(ids_cap, sizeof *ids_seen)))
        return 1;
    printf("name,gender,id_number,phone,category,employer,union,office,joined,status,benefits\n");
    for (long i = 0; i < n; i++) {
        int oi = office ? 0 : (int)rnd(6);
        const char *off = office ? office : offices[oi];
        int y = 1960 + (int)rnd(45) /* at least 16 on 2021-01-01 */, m = 1 + (int)rnd(12),
            d = 1 + (int)rnd((uint32_t)days_in(y, m));
        int seq = (int)rnd(1000);
        const char *area = areas[office ? rnd(6) : (uint32_t)oi];
        char id[32];
        snprintf(id, sizeof id, "%s%04d%02d%02d%03d", area, y, m, d, seq);
        while (id_taken(id)) {
            seq = (int)rnd(1000);
            snprintf(id, sizeof id, "%s%04d%02d%02d%03d", area, y, m, d, seq);
        }
        int sum = 0;
        for (int k = 0; k < 17; k++)
            sum += (id[k] - '0') * w[k];
        id[17] = chk[sum % 11];
        id[18] = 0;
        const char *gender = seq % 2 ? "男" : "女";
        int jy = 2021 + (int)rnd(5), jm = 1 + (int)rnd(12), jd = 1 + (int)rnd(28);
        const char *status = rnd(10) == 0 ? "lapsed" : rnd(20) == 0 ? "applicant" : "active";
        printf("%s%s%s,%s,%s,1%d%09u,%s,%s,%s,%s,%04d-%02d-%02d,%s,%s\n", PICK(surnames),
               PICK(given), rnd(2) ? PICK(given) : "", gender, id, 3 + (int)rnd(7),
               rnd(1000000000u), PICK(categories), PICK(employers), PICK(unions), off, jy, jm, jd,
               status, PICK(benefits));
    }
    free(ids_seen);
    return 0;
}

/* ---- the federation (genmembers fed) ---- */

#define MAXOFF 64
#define MAXPER 64 /* stations, unions, enterprises per office at most */

static const char *districts[] = {"鄞州", "海曙", "象山", "北仑", "镇海", "江北"};
static const char *sectors[] = {"快递行业", "外卖配送", "网约车", "货运", "家政服务", "物业"};
static const char *industries[] = {"交通运输", "邮政快递", "住宿餐饮", "居民服务", "信息技术"};
static const char *utypes[] = {"基层工会", "联合工会", "行业工会"};
static const char uscc_alpha[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

typedef struct {
    char name[160];
} named;

static struct {
    char code[16], area[8], zh[32];
    int nst, nun, nen;
    named st[MAXPER], un[MAXPER], en[MAXPER];
    char uscc[MAXPER][19];
} off[MAXOFF];

/* YYYY-MM-DD of day d after 2019-01-01 (d < 1461 stays in 2019-2022) */
static void day_str(char out[11], int y0, int d)
{
    int y = y0, m = 1;
    while (d >= (days_in(y, 2) == 29 ? 366 : 365))
        d -= days_in(y, 2) == 29 ? 366 : 365, y++;
    while (d >= days_in(y, m))
        d -= days_in(y, m), m++;
    char buf[40];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", y % 10000, m % 100, (d + 1) % 100);
    memcpy(out, buf, 11);
}

static void rand_date(char out[11])
{
    day_str(out, 2019, (int)rnd(1461));
}

static void make_uscc(char out[19], const char *area, unsigned serial)
{
    int sum = 0, w = 1;
    char buf[40];
    snprintf(buf, sizeof buf, "91%.6s%c%c%07u", area, uscc_alpha[10 + rnd(21)], uscc_alpha[rnd(31)],
             serial % 10000000u);
    memcpy(out, buf, 17);
    for (int i = 0; i < 17; i++) {
        sum += (int)(strchr(uscc_alpha, out[i]) - uscc_alpha) * w;
        w = w * 3 % 31;
    }
    out[17] = uscc_alpha[(31 - sum % 31) % 31];
    out[18] = 0;
}

static FILE *open_csv(const char *dir, const char *name, const char *header)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "%s\n", header);
    return f;
}

static void gen_offices(int noff)
{
    unsigned serial = 0;
    for (int o = 0; o < noff; o++) {
        if (o < 6) {
            snprintf(off[o].code, sizeof off[o].code, "%s", offices[o]);
            snprintf(off[o].area, sizeof off[o].area, "%s", areas[o]);
            snprintf(off[o].zh, sizeof off[o].zh, "%s", districts[o]);
        } else {
            snprintf(off[o].code, sizeof off[o].code, "area%02d", o + 1);
            snprintf(off[o].area, sizeof off[o].area, "3302%02d", 30 + o);
            snprintf(off[o].zh, sizeof off[o].zh, "第%d区", o + 1);
        }
        off[o].nst = 2 + (int)rnd(4);
        off[o].nun = 4 + (int)rnd(8);
        off[o].nen = 6 + (int)rnd(10);
        for (int k = 0; k < off[o].nst; k++)
            snprintf(off[o].st[k].name, sizeof off[o].st[k].name, "%s骑手驿站%d号", off[o].zh,
                     k + 1);
        for (int k = 0; k < off[o].nun; k++)
            snprintf(off[o].un[k].name, sizeof off[o].un[k].name, "%s%s工会%d", off[o].zh,
                     PICK(sectors), k + 1);
        for (int k = 0; k < off[o].nen; k++) {
            snprintf(off[o].en[k].name, sizeof off[o].en[k].name, "%s%s有限公司%d", off[o].zh,
                     PICK(sectors), k + 1);
            make_uscc(off[o].uscc[k], off[o].area, ++serial);
        }
    }
}

static void gen_stations(const char *dir, int noff, int zh)
{
    FILE *f = open_csv(dir, "stations.csv",
                       zh ? "站点名称,所属区县,地址,启用日期" : "name,office,address,opened");
    for (int o = 0; o < noff; o++)
        for (int k = 0; k < off[o].nst; k++) {
            char d[11] = "";
            if (rnd(10))
                rand_date(d);
            fprintf(f, "%s,%s,%s某路%d号,%s\n", off[o].st[k].name, off[o].code, off[o].zh,
                    1 + (int)rnd(300), d);
        }
    fclose(f);
}

static void gen_unions(const char *dir, int noff, int zh)
{
    FILE *f = open_csv(dir, "unions.csv",
                       zh ? "工会名称,工会类型,所属区县,成立日期,新就业形态,所属企业,服务站点"
                          : "name,type,office,founded,new_form,enterprise,station");
    for (int o = 0; o < noff; o++)
        for (int k = 0; k < off[o].nun; k++) {
            char d[11];
            rand_date(d);
            int nf = rnd(10) < 3;
            fprintf(f, "%s,%s,%s,%s,%s,%s,%s\n", off[o].un[k].name, PICK(utypes), off[o].code, d,
                    zh ? (nf ? "是" : "否") : (nf ? "yes" : "no"),
                    rnd(10) < 3 ? off[o].uscc[rnd((uint32_t)off[o].nen)] : "",
                    rnd(2) ? off[o].st[rnd((uint32_t)off[o].nst)].name : "");
        }
    fclose(f);
}

static void gen_enterprises(const char *dir, int noff, int zh)
{
    FILE *f = open_csv(dir, "enterprises.csv",
                       zh ? "企业名称,统一社会信用代码,所属区县,行业,职工人数,走访日期,所属工会"
                          : "name,uscc,office,industry,employees,surveyed,union");
    for (int o = 0; o < noff; o++)
        for (int k = 0; k < off[o].nen; k++) {
            char d[11] = "";
            if (rnd(10) < 8)
                rand_date(d);
            fprintf(f, "%s,%s,%s,%s,%u,%s,%s\n", off[o].en[k].name, off[o].uscc[k], off[o].code,
                    PICK(industries), 5 + rnd(500), d,
                    rnd(10) < 4 ? off[o].un[rnd((uint32_t)off[o].nun)].name : "");
        }
    fclose(f);
}

static void gen_people(const char *dir, int noff, int scale, int zh)
{
    static const int w[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char chk[] = "10X98765432";
    static const char *kinds[] = {"welfare-2021", "heat-relief-2021", "winter-care-2022"};
    static const char *amounts[][2] = {{"180", "240"}, {"100.50", "80"}, {"300", "150.25"}};
    FILE *m = open_csv(dir, "members.csv",
                       zh ? "姓名,性别,身份证号码,手机号码,职业类别,工作单位,所属工会,office,"
                            "入会日期,会籍状态"
                          : "name,gender,id_number,phone,category,employer,union,office,joined,"
                            "status");
    FILE *b = open_csv(dir, "benefits.csv",
                       zh ? "身份证号码,福利类型,发放日期,金额,服务站点"
                          : "id_number,kind,date,amount,station");
    long i = 0;
    for (int o = 0; o < noff; o++) {
        int n = scale + (int)rnd((uint32_t)scale + 1);
        for (int j = 0; j < n; j++, i++) {
            /* (birth day block, sequence) is unique per member: i/1000, i%1000 */
            char birth[11], id[40], joined[11];
            day_str(birth, 1960, (int)(i / 1000) * 37 + (int)rnd(37));
            snprintf(id, sizeof id, "%s%.4s%.2s%.2s%03ld", off[o].area, birth, birth + 5, birth + 8,
                     i % 1000);
            int sum = 0;
            for (int k = 0; k < 17; k++)
                sum += (id[k] - '0') * w[k];
            id[17] = chk[sum % 11];
            id[18] = 0;
            rand_date(joined);
            uint32_t r = rnd(20);
            const char *status = r < 16   ? "active"
                                 : r < 18 ? "lapsed"
                                 : r < 19 ? "applicant"
                                          : "transferred";
            fprintf(m, "%s%s,%s,%s,1%d%09u,%s,%s,%s,%s,%s,%s\n", PICK(surnames), PICK(given),
                    (i % 1000) % 2 ? "男" : "女", id, 3 + (int)rnd(7), rnd(1000000000u),
                    PICK(categories),
                    rnd(2) ? off[o].en[rnd((uint32_t)off[o].nen)].name : PICK(employers),
                    rnd(10) < 6 ? off[o].un[rnd((uint32_t)off[o].nun)].name : "", off[o].code,
                    joined, status);
            for (int k = 0; k < 3; k++) {
                if (rnd(10) < 4)
                    continue;
                char d[11];
                /* each kind in its own year: the same member, kind and date
                 * never comes twice */
                day_str(d, k == 2 ? 2022 : 2021, (int)rnd(365));
                fprintf(b, "%s,%s,%s,%s,%s\n", id, kinds[k], d, amounts[k][rnd(2)],
                        rnd(2) ? off[o].st[rnd((uint32_t)off[o].nst)].name : "");
            }
        }
    }
    fclose(m);
    fclose(b);
}

static int fed_main(int argc, char **argv)
{
    int zh = 0, pos = 0;
    const char *args[4] = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--zh") == 0)
            zh = 1;
        else if (pos < 4)
            args[pos++] = argv[i];
    }
    if (pos < 2) {
        fprintf(stderr, "usage: genmembers fed OFFICES [SEED] [SCALE] [--zh] DIR\n");
        return 2;
    }
    const char *dir = args[pos - 1];
    int noff = atoi(args[0]);
    state = pos > 2 ? strtoull(args[1], NULL, 10) : 1;
    int scale = pos > 3 ? atoi(args[2]) : 40;
    if (noff < 1 || noff > MAXOFF || scale < 1 || scale > 100000) {
        fprintf(stderr, "genmembers fed: 1..%d offices, scale 1..100000\n", MAXOFF);
        return 2;
    }
    gen_offices(noff);
    gen_stations(dir, noff, zh);
    gen_unions(dir, noff, zh);
    gen_enterprises(dir, noff, zh);
    gen_people(dir, noff, scale, zh);
    return 0;
}
