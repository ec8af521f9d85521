/* genmembers.c - writes a CSV of N plausible, valid member rows (Chinese
 * names, resident ID numbers with correct check digits, mobiles, offices,
 * occupations) for tests, the demo and benchmarks. Deterministic for a seed.
 *
 *   genmembers N [SEED] [OFFICE]   > members.csv
 *
 * With OFFICE every row belongs to that office; otherwise offices rotate. */
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: genmembers N [SEED] [OFFICE]\n");
        return 2;
    }
    long n = atol(argv[1]);
    state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    const char *office = argc > 3 ? argv[3] : NULL;
    static const int w[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char chk[] = "10X98765432";
    printf("name,gender,id_number,phone,category,employer,union,office,joined,status,benefits\n");
    for (long i = 0; i < n; i++) {
        int oi = office ? 0 : (int)rnd(6);
        const char *off = office ? office : offices[oi];
        int y = 1960 + (int)rnd(45) /* at least 16 on 2021-01-01 */, m = 1 + (int)rnd(12),
            d = 1 + (int)rnd((uint32_t)days_in(y, m));
        int seq = (int)rnd(1000);
        char id[32];
        snprintf(id, sizeof id, "%s%04d%02d%02d%03d", areas[office ? rnd(6) : (uint32_t)oi], y, m,
                 d, seq);
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
    return 0;
}
