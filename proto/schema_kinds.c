/* schema_kinds.c - the field tables of the kinds of record other than
 * member (proto/kind.h): union, enterprise, station (服务站点) and benefit
 * (one dated welfare hand-out), with the Chinese column headers of the
 * federation's own lists. The member table, which offices extend with
 * declared fields, is schema_fields.c's; these are fixed.
 *
 * Pure: no I/O. A name, label or alias must be unique within its table
 * (test_kinds checks it); the same word may mean different fields of
 * different kinds (名称, 备注). */
#include "proto/schema.h"

#include "proto/schema_priv.h"

// clang-format off
static const char *const a_office[] = {"所属区县", "区县", "所属地区", "辖区", NULL};
static const char *const a_notes[] = {"备注", NULL};

/* union (工会) */
static const char *const u_name[] = {"工会名称", "名称", NULL};
static const char *const u_type[] = {"工会类型", "类型", NULL};
static const char *const u_founded[] = {"成立日期", "成立时间", "建会日期", NULL};
static const char *const u_new_form[] = {"新就业形态", "新就业形态工会", "是否新就业形态", NULL};
static const char *const u_enterprise[] = {"所属企业", "企业", NULL};
static const char *const u_station[] = {"服务站点", "站点", NULL};

static const schema_field union_fields[] = {
    {.name = "name", .type = SCHEMA_TEXT, .max_chars = 128, .label = "工会名称", .aliases = u_name,
     .required = 1},
    {.name = "type", .type = SCHEMA_VOCAB, .label = "工会类型", .aliases = u_type,
     .vocab = "union_type"},
    {.name = "office", .type = SCHEMA_OFFICE, .max_chars = 32, .label = "所属区县",
     .aliases = a_office},
    {.name = "founded", .type = SCHEMA_DATE, .label = "成立日期", .aliases = u_founded},
    {.name = "new_form", .type = SCHEMA_YESNO, .label = "新就业形态", .aliases = u_new_form},
    {.name = "enterprise", .type = SCHEMA_LINK, .label = "所属企业", .aliases = u_enterprise,
     .link = KIND_ENTERPRISE},
    {.name = "station", .type = SCHEMA_LINK, .label = "服务站点", .aliases = u_station,
     .link = KIND_STATION},
    {.name = "notes", .type = SCHEMA_TEXT, .label = "备注", .aliases = a_notes},
};

/* enterprise (企业): "one file per enterprise" of the surveys */
static const char *const e_name[] = {"企业名称", "单位名称", "名称", NULL};
static const char *const e_uscc[] = {"统一社会信用代码", "社会信用代码", "信用代码", NULL};
static const char *const e_industry[] = {"行业", "所属行业", "行业类别", NULL};
static const char *const e_employees[] = {"职工人数", "员工人数", "从业人数", NULL};
static const char *const e_surveyed[] = {"走访日期", "调查日期", "摸排日期", NULL};
static const char *const e_union[] = {"所属工会", "工会", NULL};

static const schema_field enterprise_fields[] = {
    {.name = "name", .type = SCHEMA_TEXT, .max_chars = 128, .label = "企业名称", .aliases = e_name,
     .required = 1},
    {.name = "uscc", .type = SCHEMA_USCC, .label = "统一社会信用代码", .aliases = e_uscc},
    {.name = "office", .type = SCHEMA_OFFICE, .max_chars = 32, .label = "所属区县",
     .aliases = a_office},
    {.name = "industry", .type = SCHEMA_TEXT, .label = "行业", .aliases = e_industry},
    {.name = "employees", .type = SCHEMA_COUNT, .label = "职工人数", .aliases = e_employees},
    {.name = "surveyed", .type = SCHEMA_DATE, .label = "走访日期", .aliases = e_surveyed},
    {.name = "union", .type = SCHEMA_LINK, .label = "所属工会", .aliases = e_union,
     .link = KIND_UNION},
    {.name = "notes", .type = SCHEMA_TEXT, .label = "备注", .aliases = a_notes},
};

/* station (服务站点): where workers are reached first, enrolled later */
static const char *const s_name[] = {"站点名称", "服务站点名称", "名称", NULL};
static const char *const s_address[] = {"地址", "站点地址", NULL};
static const char *const s_opened[] = {"启用日期", "建站日期", "开放日期", NULL};

static const schema_field station_fields[] = {
    {.name = "name", .type = SCHEMA_TEXT, .max_chars = 128, .label = "站点名称", .aliases = s_name,
     .required = 1},
    {.name = "office", .type = SCHEMA_OFFICE, .max_chars = 32, .label = "所属区县",
     .aliases = a_office},
    {.name = "address", .type = SCHEMA_TEXT, .label = "地址", .aliases = s_address},
    {.name = "opened", .type = SCHEMA_DATE, .label = "启用日期", .aliases = s_opened},
    {.name = "notes", .type = SCHEMA_TEXT, .label = "备注", .aliases = a_notes},
};

/* benefit (福利发放): one hand-out; its id is kind_benefit_id(member, kind,
 * date). id_number is how an import names the member: the daemon finds
 * the member by it and stores member, never the ID number itself. */
static const char *const b_member[] = {"会员", "会员编号", NULL};
static const char *const b_idnum[] = {"身份证号", "身份证号码", "公民身份号码", NULL};
static const char *const b_kind[] = {"福利类型", "福利项目", "发放项目", NULL};
static const char *const b_date[] = {"发放日期", "日期", NULL};
static const char *const b_amount[] = {"金额", "发放金额", "金额(元)", NULL};
static const char *const b_station[] = {"服务站点", "发放站点", "站点", NULL};

static const schema_field benefit_fields[] = {
    {.name = "member", .type = SCHEMA_LINK, .label = "会员", .aliases = b_member,
     .link = KIND_MEMBER, .required = 1},
    {.name = "id_number", .type = SCHEMA_IDNUM, .label = "身份证号码", .aliases = b_idnum,
     .input_only = 1},
    {.name = "kind", .type = SCHEMA_TEXT, .max_chars = 64, .label = "福利类型", .aliases = b_kind,
     .required = 1},
    {.name = "date", .type = SCHEMA_DATE, .label = "发放日期", .aliases = b_date, .required = 1},
    {.name = "amount", .type = SCHEMA_AMOUNT, .label = "金额", .aliases = b_amount},
    {.name = "station", .type = SCHEMA_LINK, .label = "服务站点", .aliases = b_station,
     .link = KIND_STATION},
};
// clang-format on

#define COUNT_OF(a) (sizeof a / sizeof a[0])

const schema_field *schema_kind_table(record_kind k, size_t *n)
{
    switch (k) {
    case KIND_UNION:
        return *n = COUNT_OF(union_fields), union_fields;
    case KIND_ENTERPRISE:
        return *n = COUNT_OF(enterprise_fields), enterprise_fields;
    case KIND_STATION:
        return *n = COUNT_OF(station_fields), station_fields;
    case KIND_BENEFIT:
        return *n = COUNT_OF(benefit_fields), benefit_fields;
    default:
        return *n = 0, NULL;
    }
}
