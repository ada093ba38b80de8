/* hotline demo-data: write N synthetic but plausible customers, for demos,
 * load tests and import tests, as JSON Lines or CSV on standard output.
 *
 * The output is a pure function of (N, seed, format, country): every
 * customer draws from its own random stream keyed by (seed, index), so
 * nothing depends on the C library's rand() or on the order of draws
 * elsewhere.  Two passes keep memory at 16 bytes per customer: the first
 * draws every revenue, a sorted copy of them places the tier boundaries
 * (the pyramid is by rank among all customers), and the second writes each
 * customer in turn.
 *
 * What makes the data exercise the importer: phone numbers in the varied
 * ways people write them (all of which normalise to one number with the
 * default country set to --country), numbers shared by small groups of
 * customers (households, company switchboards), names in pinyin, Chinese
 * characters and English, company names with commas, notes on a few.
 * Numbers and accounts come from keyed permutations, so apart from the
 * deliberate sharing no two customers collide.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "customer.h"
#include "demo_ids.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Keeps every permutation index below its domain (3 numbers a customer plus
 * the shared ones must stay under 7e7 landline numbers). */
#define MAX_CUSTOMERS 10000000UL
#define MAX_PHONES    3
#define MAX_ACCOUNTS  2
/* The permutations keep phone and account numbers to 8 digits, which the
 * compiler cannot see: buffers leave room for any "%llu" (20 digits). */
#define ULL_DIGITS 20

/* Revenue: Pareto with alpha 1.16, the shape for which the top 20% hold
 * about 80%; scale in cents.  Companies buy more. */
#define PARETO_ALPHA      1.16
#define PARETO_MIN_CENTS  15000.0
#define COMPANY_FACTOR    8.0
#define REVENUE_CAP_CENTS 100000000000.0 /* one billion: far below customer.c's limit */

/* Independent random streams per customer. */
enum stream {
	S_KIND = 1,
	S_REVENUE,
	S_ATTR,
	S_BLOCK,
	S_NUMBER,
	S_PERM_MEMBERS,
	S_PERM_MOBILE,
	S_PERM_LANDLINE,
	S_PERM_ACCOUNT
};

/* ---- randomness --------------------------------------------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t hash3(uint64_t seed, uint64_t stream, uint64_t index)
{
	return mix64(mix64(seed ^ mix64(stream)) + index * 0x9e3779b97f4a7c15ULL);
}

static struct rng rng_for(uint64_t seed, enum stream stream, uint64_t index)
{
	return (struct rng){hash3(seed, stream, index)};
}

/* splitmix64: tiny state, good enough statistics, and cheap to seed per customer. */
static uint64_t rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rng_next(r) % n);
}

/* Uniform in (0, 1]: never 0, so it can be raised to a negative power. */
static double rng_unit(struct rng *r)
{
	return (double)((rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static bool rng_chance(struct rng *r, unsigned percent)
{
	return rng_below(r, 100) < percent;
}

static unsigned rng_weighted(struct rng *r, const unsigned *weights, size_t n)
{
	unsigned total = 0, x;

	for (size_t i = 0; i < n; i++)
		total += weights[i];
	x = rng_below(r, total);
	for (size_t i = 0; i < n; i++) {
		if (x < weights[i])
			return (unsigned)i;
		x -= weights[i];
	}
	return (unsigned)(n - 1);
}

#define PICK(r, table) ((table)[rng_below((r), ARRAY_SIZE(table))])

/* A keyed bijection of [0, domain): a 4-round Feistel network over the
 * smallest even bit width that covers the domain, walking the cycle until
 * the value falls inside it.  Injective, so distinct indexes give distinct
 * phone numbers and accounts without remembering which were handed out. */
struct perm {
	uint64_t domain, key, mask;
	unsigned half;
};

static void perm_init(struct perm *p, uint64_t domain, uint64_t key)
{
	unsigned bits = 2;

	while (bits < 62 && (1ULL << bits) < domain)
		bits += 2;
	p->domain = domain;
	p->key = key;
	p->half = bits / 2;
	p->mask = (1ULL << p->half) - 1;
}

static uint64_t perm_apply(const struct perm *p, uint64_t x)
{
	do {
		uint64_t l = x >> p->half, r = x & p->mask;

		for (uint64_t round = 0; round < 4; round++) {
			uint64_t t = l ^ (mix64(p->key + round * 0x632be59bd9b4e019ULL + r) & p->mask);

			l = r;
			r = t;
		}
		x = (l << p->half) | r;
	} while (x >= p->domain);
	return x;
}

/* ---- vocabulary --------------------------------------------------------------------------------------- */

struct han_name {
	const char *pinyin, *han;
};

static const struct han_name family_names[] = {
    {"Wang", "王"},  {"Li", "李"},    {"Zhang", "张"}, {"Liu", "刘"},   {"Chen", "陈"},  {"Yang", "杨"},
    {"Huang", "黄"}, {"Zhao", "赵"},  {"Wu", "吴"},    {"Zhou", "周"},  {"Xu", "徐"},    {"Sun", "孙"},
    {"Ma", "马"},    {"Zhu", "朱"},   {"Hu", "胡"},    {"Guo", "郭"},   {"He", "何"},    {"Gao", "高"},
    {"Lin", "林"},   {"Luo", "罗"},   {"Zheng", "郑"}, {"Liang", "梁"}, {"Xie", "谢"},   {"Song", "宋"},
    {"Tang", "唐"},  {"Han", "韩"},   {"Feng", "冯"},  {"Deng", "邓"},  {"Cao", "曹"},   {"Peng", "彭"},
    {"Zeng", "曾"},  {"Xiao", "肖"},  {"Tian", "田"},  {"Dong", "董"},  {"Yuan", "袁"},  {"Pan", "潘"},
    {"Yu", "于"},    {"Jiang", "蒋"}, {"Cai", "蔡"},   {"Du", "杜"},    {"Ye", "叶"},    {"Cheng", "程"},
    {"Wei", "魏"},   {"Su", "苏"},    {"Lyu", "吕"},   {"Ding", "丁"},  {"Ren", "任"},   {"Shen", "沈"},
    {"Yao", "姚"},   {"Lu", "卢"},    {"Jiang", "姜"}, {"Cui", "崔"},   {"Zhong", "钟"}, {"Tan", "谭"},
    {"Fan", "范"},   {"Wang", "汪"},  {"Liao", "廖"},  {"Shi", "石"},   {"Jin", "金"},   {"Wei", "韦"},
    {"Jia", "贾"},   {"Xia", "夏"},   {"Fu", "付"},    {"Fang", "方"},  {"Bai", "白"},   {"Zou", "邹"},
    {"Meng", "孟"},  {"Xiong", "熊"}, {"Qin", "秦"},   {"Qiu", "邱"},   {"Hou", "侯"},   {"Jiang", "江"},
    {"Yin", "尹"},   {"Xue", "薛"},   {"Yan", "闫"},   {"Duan", "段"},  {"Lei", "雷"},   {"Long", "龙"},
    {"Tao", "陶"},   {"He", "贺"},    {"Mao", "毛"},   {"Hao", "郝"},   {"Gu", "顾"},    {"Gong", "龚"},
};

static const struct han_name given_names[] = {
    {"Wei", "伟"},        {"Fang", "芳"},       {"Na", "娜"},         {"Xiuying", "秀英"},
    {"Min", "敏"},        {"Jing", "静"},       {"Li", "丽"},         {"Qiang", "强"},
    {"Lei", "磊"},        {"Jun", "军"},        {"Yang", "洋"},       {"Yong", "勇"},
    {"Yan", "艳"},        {"Jie", "杰"},        {"Juan", "娟"},       {"Tao", "涛"},
    {"Ming", "明"},       {"Chao", "超"},       {"Xiulan", "秀兰"},   {"Xia", "霞"},
    {"Ping", "平"},       {"Gang", "刚"},       {"Guiying", "桂英"},  {"Hui", "慧"},
    {"Hua", "华"},        {"Yu", "宇"},         {"Xin", "欣"},        {"Hao", "浩"},
    {"Yuxuan", "雨轩"},   {"Zihan", "子涵"},    {"Haoran", "浩然"},   {"Yichen", "逸辰"},
    {"Xinyi", "欣怡"},    {"Zimo", "子墨"},     {"Ruoxi", "若曦"},    {"Jiahao", "家豪"},
    {"Siyu", "思雨"},     {"Junjie", "俊杰"},   {"Jianhua", "建华"},  {"Jianguo", "建国"},
    {"Guoqiang", "国强"}, {"Xiaoming", "晓明"}, {"Xiaohong", "晓红"}, {"Lihua", "丽华"},
    {"Shuang", "爽"},     {"Bo", "博"},         {"Kai", "凯"},        {"Peng", "鹏"},
    {"Dan", "丹"},        {"Lin", "琳"},        {"Ting", "婷"},       {"Xue", "雪"},
    {"Bin", "斌"},        {"Hong", "红"},       {"Yun", "云"},        {"Zhiqiang", "志强"},
    {"Haiyan", "海燕"},   {"Dongmei", "冬梅"},  {"Chunhua", "春华"},  {"Wenjing", "文静"},
    {"Mingyu", "明宇"},   {"Tianyi", "天翼"},   {"Shuhui", "淑慧"},   {"Zhen", "珍"},
    {"Long", "龙"},
};

static const char *const english_given[] = {
    "James",  "Mary",     "John",    "Patricia", "Robert",  "Jennifer", "Michael", "Linda",    "William",
    "Emma",   "David",    "Barbara", "Richard",  "Susan",   "Joseph",   "Jessica", "Thomas",   "Sarah",
    "Daniel", "Karen",    "Matthew", "Nancy",    "Anthony", "Lisa",     "Mark",    "Margaret", "Paul",
    "Emily",  "Steven",   "Olivia",  "Andrew",   "Sophie",  "George",   "Grace",   "Peter",    "Charlotte",
    "Oliver", "Hannah",   "Lucas",   "Chloe",    "Henry",   "Amelia",   "Jack",    "Isabella", "Samuel",
    "Laura",  "Benjamin", "Rachel",  "Adam",     "Helen",   "Kevin",    "Anna",    "Brian",    "Julia",
};

static const char *const english_family[] = {
    "Smith",   "Johnson",  "Williams", "Brown",   "Jones",    "Miller",   "Davis",   "Wilson", "Anderson",
    "Taylor",  "Thomas",   "Moore",    "Martin",  "Jackson",  "Thompson", "White",   "Harris", "Clark",
    "Lewis",   "Robinson", "Walker",   "Young",   "Allen",    "King",     "Wright",  "Scott",  "Green",
    "Baker",   "Adams",    "Nelson",   "Hill",    "Campbell", "Mitchell", "Roberts", "Carter", "Phillips",
    "Evans",   "Turner",   "Parker",   "Collins", "Edwards",  "Stewart",  "Morris",  "Murphy", "Cook",
    "Rogers",  "Morgan",   "Cooper",   "Reed",    "Bailey",   "Bell",     "Kelly",   "Howard", "Ward",
    "O'Brien", "Fischer",  "Dubois",   "Muller",  "Rossi",    "Tanaka",   "Kim",     "Park",   "Nguyen",
};

static const char *const company_brands[] = {
    "Huaxin",  "Zhongtian", "Jinlong",   "Hengda",        "Dongfang",  "Changcheng", "Tianyu",   "Hongxing",
    "Ruifeng", "Shengshi",  "Yongan",    "Fuda",          "Minsheng",  "Guotai",     "Kaiyuan",  "Haitong",
    "Lianhe",  "Jiahe",     "Xinghai",   "Baofeng",       "Longteng",  "Huamei",     "Zhongxin", "Hexin",
    "Tongda",  "Anxin",     "Shunfeng",  "Wanjia",        "Jinhui",    "Hualong",    "Sanhe",    "Yuanda",
    "Pacific", "Orient",    "Silk Road", "Golden Bridge", "Evergreen", "Bluesky",    "Harbour",  "Summit",
};

static const char *const company_trades[] = {
    "Trading",   "Logistics",      "Electronics",  "Textiles",   "Pharmaceutical",  "Construction",
    "Food",      "Machinery",      "Technology",   "Auto Parts", "Chemicals",       "Furniture",
    "Packaging", "Medical Supply", "Agricultural", "Steel",      "Home Appliances", "Tea",
};

static const char *const company_suffixes[] = {
    "Co.", "Co., Ltd.", "Co., Ltd.", "Group", "Holdings Ltd.", "Import & Export Co.", "Distribution Co."};

/* After the city's name; numbered ones get "No. n" first. */
struct public_body {
	const char *what;
	bool numbered;
};

static const struct public_body public_bodies[] = {
    {"Municipal Water Bureau", false},  {"People's Hospital", true},
    {"Public Transport Co.", false},    {"Education Bureau", false},
    {"Central Library", false},         {"Middle School", true},
    {"Power Supply Bureau", false},     {"Housing Provident Fund Centre", false},
    {"Municipal Sports Centre", false}, {"Customs Service Centre", false},
    {"Primary School", true},
};

struct region {
	const char *name;
	const char *area; /* trunk-less area code, so "(0" + area + ")" is how locals write it */
	unsigned weight;
};

static const struct region regions[] = {
    {"Beijing", "10", 14},
    {"Shanghai", "21", 14},
    {"Tianjin", "22", 5},
    {"Chongqing", "23", 6},
    {"Guangdong / Guangzhou", "20", 10},
    {"Guangdong / Shenzhen", "755", 10},
    {"Guangdong / Dongguan", "769", 4},
    {"Guangdong / Foshan", "757", 4},
    {"Zhejiang / Hangzhou", "571", 8},
    {"Zhejiang / Ningbo", "574", 4},
    {"Zhejiang / Wenzhou", "577", 3},
    {"Jiangsu / Nanjing", "25", 6},
    {"Jiangsu / Suzhou", "512", 6},
    {"Jiangsu / Wuxi", "510", 3},
    {"Sichuan / Chengdu", "28", 7},
    {"Hubei / Wuhan", "27", 6},
    {"Shaanxi / Xi'an", "29", 5},
    {"Liaoning / Shenyang", "24", 4},
    {"Liaoning / Dalian", "411", 3},
    {"Shandong / Jinan", "531", 3},
    {"Shandong / Qingdao", "532", 4},
    {"Fujian / Xiamen", "592", 3},
    {"Fujian / Fuzhou", "591", 3},
    {"Henan / Zhengzhou", "371", 4},
    {"Hunan / Changsha", "731", 4},
    {"Anhui / Hefei", "551", 3},
    {"Hebei / Shijiazhuang", "311", 3},
    {"Shanxi / Taiyuan", "351", 2},
    {"Jiangxi / Nanchang", "791", 2},
    {"Yunnan / Kunming", "871", 3},
    {"Guizhou / Guiyang", "851", 2},
    {"Guangxi / Nanning", "771", 2},
    {"Hainan / Haikou", "898", 1},
    {"Heilongjiang / Harbin", "451", 3},
    {"Jilin / Changchun", "431", 2},
    {"Inner Mongolia / Hohhot", "471", 1},
    {"Xinjiang / Urumqi", "991", 1},
    {"Gansu / Lanzhou", "931", 1},
    {"Ningxia / Yinchuan", "951", 1},
    {"Qinghai / Xining", "971", 1},
    {"Tibet / Lhasa", "891", 1},
};

static const char *const mobile_prefixes[] = {
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "180", "181", "182", "183", "185", "186", "187", "188", "189"};

static const char *const notes_any[] = {
    "prefers email",
    "prefers WeChat over phone calls",
    "do not call before 10:00",
    "speaks Cantonese; English is fine too",
    "hard of hearing, speak slowly",
    "complained about a late delivery in 2024, resolved",
    "asks for the same agent every time",
    "needs a fapiao (official invoice) for every order",
    "moved house last year, check the delivery address",
    "price-sensitive: mention current promotions",
    "calls usually about billing",
    "\"no marketing calls\" requested, honour it",
};

static const char *const notes_top[] = {
    "VIP: call back within 1h",
    "VIP: escalate any complaint to the account manager",
    "key account: quarterly review with sales",
    "VIP: offer the priority delivery slot",
};

static const char *const notes_company[] = {
    "call the switchboard and ask for purchasing",
    "invoices go to head office, not the branch",
    "reseller for East China",
    "orders in bulk at the end of each quarter",
    "contact person changed in 2025, update on next call",
};

/* ---- options ------------------------------------------------------------------------------------------ */

struct opts {
	unsigned long n;
	uint64_t seed;
	bool csv;
	char country[4];
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: hotline demo-data N [--seed S] [--format jsonl|csv] [--country CC]\n"
	        "Writes N synthetic customers (at most %lu) to standard output, the same for the same\n"
	        "seed (default 1).  Phone numbers are written in the varied ways people write them; all of\n"
	        "them normalise to one number when the importer's default country is CC (default 86).\n",
	        MAX_CUSTOMERS);
}

static bool parse_ulong(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

static bool valid_country(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 3 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, "hotline demo-data: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	usage(stderr);
	return CLI_USAGE;
}

/* 0 to go on, else the exit code. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	unsigned long long v;
	bool have_n = false;

	*o = (struct opts){.seed = 1, .country = "86"};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return -1;
		}
		if ((strcmp(a, "--seed") == 0 || strcmp(a, "--format") == 0 || strcmp(a, "--country") == 0) &&
		    !val)
			return bad_usage("missing value after", a);
		if (strcmp(a, "--seed") == 0) {
			if (!parse_ulong(val, UINT64_MAX, &v))
				return bad_usage("--seed wants a non-negative integer", val);
			o->seed = v;
			i++;
		} else if (strcmp(a, "--format") == 0) {
			if (strcmp(val, "csv") != 0 && strcmp(val, "jsonl") != 0)
				return bad_usage("--format wants jsonl or csv", val);
			o->csv = strcmp(val, "csv") == 0;
			i++;
		} else if (strcmp(a, "--country") == 0) {
			if (!valid_country(val))
				return bad_usage("--country wants a country calling code such as 86", val);
			snprintf(o->country, sizeof(o->country), "%s", val);
			i++;
		} else if (!have_n && parse_ulong(a, MAX_CUSTOMERS, &v) && v > 0) {
			o->n = (unsigned long)v;
			have_n = true;
		} else {
			return bad_usage(
			    have_n ? "unexpected argument" : "N must be a count from 1 to 10000000", a);
		}
	}
	return have_n ? 0 : bad_usage("how many customers? N is missing", NULL);
}

/* ---- the population ----------------------------------------------------------------------------------- */

enum kind { K_PERSON, K_COMPANY, K_PUBLIC };

/* Cumulative rank boundaries of the pyramid, with how many customers whose
 * revenue equals a boundary value may still be placed above it, so ties
 * never make a tier bigger than its share. */
struct pyramid {
	uint64_t threshold[TIER_LEAD];
	uint64_t tie_slots[TIER_LEAD];
};

struct world {
	struct opts o;
	uint64_t *cents; /* per customer; 0 = a prospect who has bought nothing yet */
	struct pyramid pyr;
	struct perm members, mobile, landline, account;
	uint64_t sharing; /* members-permutation positions below this share a number, in blocks of 5 */
};

static enum kind kind_of(const struct world *w, uint64_t i)
{
	uint64_t h = hash3(w->o.seed, S_KIND, i) % 1000;

	return h < 70 ? K_COMPANY : h < 100 ? K_PUBLIC : K_PERSON;
}

static uint64_t revenue_of(const struct world *w, uint64_t i)
{
	struct rng r = rng_for(w->o.seed, S_REVENUE, i);
	double cents;

	if (rng_chance(&r, 5))
		return 0;
	cents = PARETO_MIN_CENTS * pow(rng_unit(&r), -1.0 / PARETO_ALPHA);
	if (kind_of(w, i) != K_PERSON)
		cents *= COMPANY_FACTOR;
	return (uint64_t)(cents < REVENUE_CAP_CENTS ? cents : REVENUE_CAP_CENTS);
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Shares of the pyramid in per mille, top down (shared/domain.md). */
static const unsigned tier_cumulative_permille[TIER_LEAD] = {10, 50, 200};

static int build_pyramid(struct world *w)
{
	uint64_t n = w->o.n, *sorted = malloc(n * sizeof(*sorted));

	if (!sorted)
		return -1;
	memcpy(sorted, w->cents, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_desc);
	for (int t = 0; t < TIER_LEAD; t++) {
		uint64_t k = (n * tier_cumulative_permille[t] + 500) / 1000, above = 0;

		if (k == 0) {
			w->pyr.threshold[t] = UINT64_MAX; /* nobody: nothing equals or exceeds it */
			w->pyr.tie_slots[t] = 0;
			continue;
		}
		w->pyr.threshold[t] = sorted[k - 1];
		while (above < k && sorted[above] > sorted[k - 1])
			above++;
		w->pyr.tie_slots[t] = k - above;
	}
	free(sorted);
	return 0;
}

/* Called once per customer in index order: tie slots are used up as they go. */
static enum customer_tier tier_of(struct world *w, uint64_t cents)
{
	enum customer_tier tier = TIER_LEAD;

	for (int t = 0; t < TIER_LEAD; t++) {
		if (cents > w->pyr.threshold[t] ||
		    (cents == w->pyr.threshold[t] && w->pyr.tie_slots[t] > 0)) {
			tier = (enum customer_tier)t;
			break;
		}
	}
	/* A customer on a boundary value fills that boundary's quota even when
	 * placed higher, so every cumulative count stays exact. */
	for (int t = tier; t < TIER_LEAD; t++)
		if (cents == w->pyr.threshold[t] && w->pyr.tie_slots[t] > 0)
			w->pyr.tie_slots[t]--;
	return tier;
}

static int world_init(struct world *w, const struct opts *o)
{
	uint64_t n = o->n;

	memset(w, 0, sizeof(*w));
	w->o = *o;
	w->cents = malloc(n * sizeof(*w->cents));
	if (!w->cents)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		w->cents[i] = revenue_of(w, i);
	if (build_pyramid(w) != 0)
		return -1;
	perm_init(&w->members, n, hash3(o->seed, S_PERM_MEMBERS, 0));
	perm_init(&w->mobile, 100000000, hash3(o->seed, S_PERM_MOBILE, 0));
	perm_init(&w->landline, 70000000, hash3(o->seed, S_PERM_LANDLINE, 0));
	perm_init(&w->account, 100000000, hash3(o->seed, S_PERM_ACCOUNT, 0));
	/* 6.5% of positions in blocks of 5, of which 2..5 (3.5 on average)
	 * share: about 4.5% of customers hold one shared number, some 3% of
	 * all the numbers written. */
	w->sharing = n * 65 / 1000 / 5 * 5;
	return 0;
}

/* ---- one customer ------------------------------------------------------------------------------------- */

struct demo {
	char id[24];
	char name[160];
	char phones[MAX_PHONES][48];
	size_t n_phones;
	char accounts[MAX_ACCOUNTS][2 + ULL_DIGITS + 1]; /* "AC" and the number */
	size_t n_accounts;
	enum customer_tier tier;
	const char *status, *lifecycle, *credit, *team, *type, *region, *attention, *notes;
	uint64_t cents;
	char since[24]; /* room for what the compiler cannot prove impossible */
	bool recent;    /* customer for less than about two years */
};

/* Written the ways people write numbers: all normalise to +<cc><national>. */
static void format_mobile(char *out, size_t len, const char *cc, const char *m, struct rng *r)
{
	static const unsigned w[] = {20, 30, 10, 15, 5, 15, 5};

	switch (rng_weighted(r, w, ARRAY_SIZE(w))) {
	case 0:
		snprintf(out, len, "+%s %.3s-%.4s-%.4s", cc, m, m + 3, m + 7);
		break;
	case 1:
		snprintf(out, len, "%s", m);
		break;
	case 2:
		snprintf(out, len, "+%s%s", cc, m);
		break;
	case 3:
		snprintf(out, len, "%.3s %.4s %.4s", m, m + 3, m + 7);
		break;
	case 4:
		snprintf(out, len, "00%s %.3s %.4s %.4s", cc, m, m + 3, m + 7);
		break;
	case 5:
		snprintf(out, len, "+%s %.3s %.4s %.4s", cc, m, m + 3, m + 7);
		break;
	default:
		snprintf(out, len, "(+%s) %.3s-%.4s-%.4s", cc, m, m + 3, m + 7);
		break;
	}
}

static void format_landline(char *out, size_t len, const char *cc, const char *area, const char *l,
                            struct rng *r)
{
	static const unsigned w[] = {30, 20, 15, 5, 20, 10};

	switch (rng_weighted(r, w, ARRAY_SIZE(w))) {
	case 0:
		snprintf(out, len, "(0%s) %.4s %.4s", area, l, l + 4);
		break;
	case 1:
		snprintf(out, len, "0%s-%s", area, l);
		break;
	case 2:
		snprintf(out, len, "+%s %s %.4s %.4s", cc, area, l, l + 4);
		break;
	case 3:
		snprintf(out, len, "+%s-%s-%.4s-%.4s", cc, area, l, l + 4);
		break;
	case 4:
		snprintf(out, len, "0%s %.4s %.4s", area, l, l + 4);
		break;
	default:
		snprintf(out, len, "0%s%s", area, l);
		break;
	}
}

/* Phone number u (unique per u) in a human format; r only picks the format. */
static void make_number(const struct world *w, uint64_t u, bool landline, const char *area, char *out,
                        size_t len, struct rng *r)
{
	char digits[3 + ULL_DIGITS + 1]; /* a mobile prefix ("139") and the number */

	if (landline) {
		snprintf(digits, sizeof(digits), "%08llu",
		         (unsigned long long)(20000000 + perm_apply(&w->landline, u)));
		format_landline(out, len, w->o.country, area, digits, r);
	} else {
		const char *prefix =
		    mobile_prefixes[hash3(w->o.seed, S_NUMBER, u) % ARRAY_SIZE(mobile_prefixes)];

		snprintf(digits, sizeof(digits), "%s%08llu", prefix,
		         (unsigned long long)perm_apply(&w->mobile, u));
		format_mobile(out, len, w->o.country, digits, r);
	}
}

static const struct region *pick_region(struct rng *r)
{
	unsigned weights[ARRAY_SIZE(regions)];

	for (size_t i = 0; i < ARRAY_SIZE(regions); i++)
		weights[i] = regions[i].weight;
	return &regions[rng_weighted(r, weights, ARRAY_SIZE(regions))];
}

static const char *city_of(const struct region *reg)
{
	const char *slash = strstr(reg->name, " / ");

	return slash ? slash + 3 : reg->name;
}

/* Each draw is its own statement: the order in which function arguments
 * are evaluated is unspecified, and the output must not depend on the
 * compiler. */
static void make_name(struct demo *d, enum kind kind, const struct region *reg, struct rng *r)
{
	unsigned style = rng_below(r, 100);
	const char *a, *b, *c;

	if (kind == K_COMPANY) {
		a = PICK(r, company_brands);
		b = PICK(r, company_trades);
		c = PICK(r, company_suffixes);
		snprintf(d->name, sizeof(d->name), "%s %s %s", a, b, c);
	} else if (kind == K_PUBLIC) {
		const struct public_body *body = &PICK(r, public_bodies);
		unsigned no = 1 + rng_below(r, 12);

		if (body->numbered)
			snprintf(d->name, sizeof(d->name), "%s No. %u %s", city_of(reg), no, body->what);
		else
			snprintf(d->name, sizeof(d->name), "%s %s", city_of(reg), body->what);
	} else if (style < 60) {
		a = PICK(r, family_names).pinyin;
		b = PICK(r, given_names).pinyin;
		snprintf(d->name, sizeof(d->name), "%s %s", a, b);
	} else if (style < 80) {
		a = PICK(r, family_names).han;
		b = PICK(r, given_names).han;
		snprintf(d->name, sizeof(d->name), "%s%s", a, b);
	} else {
		a = PICK(r, english_given);
		b = PICK(r, english_family);
		snprintf(d->name, sizeof(d->name), "%s %s", a, b);
	}
}

static void make_status(struct demo *d, bool prospect, struct rng *r)
{
	static const char *const statuses[] = {"active", "developing", "dormant", "churned"};
	static const unsigned by_tier[TIER_COUNT][4] = {
	    {80, 8, 8, 4}, {80, 8, 8, 4}, {65, 12, 15, 8}, {50, 15, 20, 15}};
	/* lifecycle given status: exploration formation stability decline */
	static const char *const stages[] = {"exploration", "formation", "stability", "decline"};
	static const unsigned by_status[4][4] = {
	    {5, 25, 65, 5}, {60, 40, 0, 0}, {0, 15, 35, 50}, {0, 10, 10, 80}};
	unsigned s;

	if (prospect) {
		d->status = rng_chance(r, 80) ? "developing" : "dormant";
		d->lifecycle = "exploration";
		return;
	}
	s = rng_weighted(r, by_tier[d->tier], 4);
	d->status = statuses[s];
	d->lifecycle = stages[rng_weighted(r, by_status[s], 4)];
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return days[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

/* Customer since 2005..2026, more of them recent (the book grew); new
 * relationships (exploration, developing) are recent by definition, and a
 * customer takes a while to go dormant or leave.  2026 stops at October so
 * no date lies in the future of the data set. */
static void make_since(struct demo *d, struct rng *r)
{
	unsigned weights[22], y, m, day;
	bool new_rel = strcmp(d->lifecycle, "exploration") == 0 || strcmp(d->status, "developing") == 0;
	bool lapsed = strcmp(d->status, "churned") == 0 || strcmp(d->status, "dormant") == 0;

	for (unsigned i = 0; i < 22; i++)
		weights[i] = new_rel ? (i >= 20 ? 1 : 0) : lapsed && i >= 20 ? 0 : 5 + i;
	y = 2005 + rng_weighted(r, weights, 22);
	m = 1 + rng_below(r, y == 2026 ? 10 : 12);
	day = 1 + rng_below(r, days_in_month(y, m));
	snprintf(d->since, sizeof(d->since), "%04u-%02u-%02u", y, m, day);
	d->recent = y >= 2025;
}

/* One of the numbers shared by a small group of customers. */
struct share {
	bool member;
	uint64_t block; /* which group: the number's index is past all personal ones */
	uint64_t h;     /* the group's own randomness: its size, region and kind of line */
};

/* The members permutation scatters the sharing groups over the whole
 * range, so a household is not a run of consecutive ids. */
static struct share share_of(const struct world *w, uint64_t i)
{
	uint64_t pos = perm_apply(&w->members, i);
	struct share s = {false, 0, 0};

	if (pos >= w->sharing)
		return s;
	s.block = pos / 5;
	s.h = hash3(w->o.seed, S_BLOCK, s.block);
	s.member = pos % 5 < 2 + s.h % 4;
	return s;
}

static const struct region *share_region(const struct share *s)
{
	return &regions[(s->h >> 8) % ARRAY_SIZE(regions)];
}

static void make_phones(const struct world *w, struct demo *d, uint64_t i, enum kind kind,
                        const struct region *reg, const struct share *sh, struct rng *r)
{
	static const unsigned count_w[] = {60, 30, 10};

	d->n_phones = 1 + rng_weighted(r, count_w, ARRAY_SIZE(count_w));
	for (size_t k = 0; k < d->n_phones; k++) {
		bool landline = kind != K_PERSON ? (k == 0 || rng_chance(r, 30)) : rng_chance(r, 15);

		make_number(w, i * MAX_PHONES + k, landline, reg->area, d->phones[k], sizeof(d->phones[k]),
		            r);
	}
	if (sh->member) {
		size_t slot = rng_below(r, (uint32_t)d->n_phones);

		make_number(w, w->o.n * MAX_PHONES + sh->block, (sh->h >> 16) % 2 == 0,
		            share_region(sh)->area, d->phones[slot], sizeof(d->phones[slot]), r);
	}
}

static void make_accounts(const struct world *w, struct demo *d, uint64_t i, struct rng *r)
{
	d->n_accounts = rng_chance(r, 70) ? 1 : 2;
	for (size_t k = 0; k < d->n_accounts; k++)
		snprintf(d->accounts[k], sizeof(d->accounts[k]), "AC%08llu",
		         (unsigned long long)perm_apply(&w->account, i * MAX_ACCOUNTS + k));
}

static void make_relationship(struct demo *d, enum kind kind, struct rng *r)
{
	static const char *const credits[] = {"good", "fair", "poor"};
	static const unsigned credit_ok[] = {70, 22, 8}, credit_lapsed[] = {35, 35, 30};
	static const char *const teams[] = {"sales-a", "sales-b", "service"};
	static const unsigned team_w[] = {40, 35, 25};
	bool lapsed = strcmp(d->status, "churned") == 0 || strcmp(d->status, "dormant") == 0;
	bool top = d->tier <= TIER_GOLD;

	d->credit =
	    rng_chance(r, 10) ? NULL : credits[rng_weighted(r, lapsed ? credit_lapsed : credit_ok, 3)];
	d->team =
	    top && rng_chance(r, 90) ? "key-accounts" : teams[rng_weighted(r, team_w, ARRAY_SIZE(team_w))];
	if (kind == K_COMPANY)
		d->type = "intermediary";
	else if (kind == K_PUBLIC)
		d->type = "public";
	else
		d->type = rng_chance(r, 2) ? "internal" : "consumer";
}

static void make_attention(struct demo *d, struct rng *r)
{
	static const char *const levels[] = {"special", "recent", "normal", "none"};
	static const unsigned platinum[] = {70, 20, 10, 0}, gold[] = {30, 30, 40, 0},
	                      churned[] = {0, 10, 30, 60}, dormant[] = {0, 10, 60, 30},
	                      fresh[] = {2, 40, 53, 5}, other[] = {2, 10, 78, 10};
	const unsigned *w = other;

	if (d->tier == TIER_PLATINUM)
		w = platinum;
	else if (d->tier == TIER_GOLD)
		w = gold;
	else if (strcmp(d->status, "churned") == 0)
		w = churned;
	else if (strcmp(d->status, "dormant") == 0)
		w = dormant;
	else if (d->recent)
		w = fresh;
	d->attention = rng_chance(r, 5) ? NULL : levels[rng_weighted(r, w, 4)];
}

static void make_notes(struct demo *d, enum kind kind, struct rng *r)
{
	d->notes = NULL;
	if (!rng_chance(r, 10))
		return;
	if (d->tier <= TIER_GOLD && rng_chance(r, 50))
		d->notes = PICK(r, notes_top);
	else if (kind != K_PERSON && rng_chance(r, 50))
		d->notes = PICK(r, notes_company);
	else
		d->notes = PICK(r, notes_any);
}

static void make_customer(struct world *w, uint64_t i, struct demo *d)
{
	struct rng r = rng_for(w->o.seed, S_ATTR, i);
	enum kind kind = kind_of(w, i);
	struct share sh = share_of(w, i);
	const struct region *own = pick_region(&r);
	/* A household's landline carries the area code of where they live. */
	const struct region *reg = sh.member ? share_region(&sh) : own;

	demo_customer_id(d->id, sizeof(d->id), w->o.n, i);
	d->cents = w->cents[i];
	d->tier = tier_of(w, d->cents);
	d->region = reg->name;
	make_name(d, kind, reg, &r);
	make_status(d, d->cents == 0, &r);
	make_since(d, &r);
	make_phones(w, d, i, kind, reg, &sh, &r);
	make_accounts(w, d, i, &r);
	make_relationship(d, kind, &r);
	make_attention(d, &r);
	make_notes(d, kind, &r);
}

/* ---- output ------------------------------------------------------------------------------------------- */

/* A lone number is sometimes given as a plain string rather than a list:
 * the importer accepts both, so the data exercises both. */
static json_t *json_phones(const struct demo *d, uint64_t i)
{
	json_t *arr;

	if (d->n_phones == 1 && i % 5 == 0)
		return json_string_nocheck(d->phones[0]);
	arr = json_array();
	for (size_t k = 0; arr && k < d->n_phones; k++)
		if (json_array_append_new(arr, json_string_nocheck(d->phones[k])) != 0)
			return json_decref(arr), NULL;
	return arr;
}

static json_t *json_accounts(const struct demo *d)
{
	json_t *arr = json_array();

	for (size_t k = 0; arr && k < d->n_accounts; k++)
		if (json_array_append_new(arr, json_string_nocheck(d->accounts[k])) != 0)
			return json_decref(arr), NULL;
	return arr;
}

/* Nonzero when out of memory (json_object_set_new refuses a NULL value). */
static int set(json_t *o, enum customer_field f, json_t *v)
{
	return json_object_set_new_nocheck(o, customer_field_name(f), v) != 0;
}

static int set_str(json_t *o, enum customer_field f, const char *s)
{
	return s ? set(o, f, json_string_nocheck(s)) : 0;
}

static int write_jsonl(const struct demo *d, uint64_t i)
{
	json_t *o = json_object();
	char buf[4096];
	size_t n = 0;
	int bad;

	if (!o)
		return -1;
	/* One statement each: the order of the keys is the order of insertion. */
	bad = set_str(o, CF_ID, d->id);
	bad |= set_str(o, CF_NAME, d->name);
	bad |= set(o, CF_PHONES, json_phones(d, i));
	bad |= set(o, CF_ACCOUNTS, json_accounts(d));
	bad |= set_str(o, CF_TIER, customer_tier_name(d->tier));
	bad |= set_str(o, CF_STATUS, d->status);
	bad |= set_str(o, CF_LIFECYCLE, d->lifecycle);
	bad |= set_str(o, CF_CREDIT, d->credit);
	bad |= set_str(o, CF_TEAM, d->team);
	bad |= set_str(o, CF_TYPE, d->type);
	bad |= set_str(o, CF_REGION, d->region);
	if (d->cents > 0)
		bad |= set(o, CF_REVENUE, json_real((double)d->cents / 100.0));
	bad |= set_str(o, CF_SINCE, d->since);
	bad |= set_str(o, CF_ATTENTION, d->attention);
	bad |= set_str(o, CF_NOTES, d->notes);
	/* 15 significant digits print cents exactly (revenue stays below 1e12)
	 * instead of 19.989999999999998 for 19.99.  Dumped into a buffer: to a
	 * FILE jansson makes one fwrite per token, which dominated the run time. */
	if (!bad)
		n = json_dumpb(o, buf, sizeof(buf) - 1,
		               JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_decref(o);
	if (n == 0 || n > sizeof(buf) - 1)
		return -1;
	buf[n++] = '\n';
	return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

/* One CSV line, built whole and written with one call. */
struct line {
	char buf[4096];
	size_t len;
	bool overflow;
};

static void line_putc(struct line *l, char c)
{
	if (l->len < sizeof(l->buf))
		l->buf[l->len++] = c;
	else
		l->overflow = true;
}

/* RFC 4180: quoted only when the field holds a comma, quote, line end or
 * edge blank, with quotes doubled. */
static void csv_field(struct line *l, const char *s, bool last)
{
	size_t n = strlen(s);
	bool quote = strpbrk(s, ",\"\r\n") || (n > 0 && (s[0] == ' ' || s[n - 1] == ' '));

	if (quote)
		line_putc(l, '"');
	for (; *s; s++) {
		if (*s == '"')
			line_putc(l, '"');
		line_putc(l, *s);
	}
	if (quote)
		line_putc(l, '"');
	line_putc(l, last ? '\n' : ',');
}

/* Lists are joined with ';', the separator the importer splits CSV lists on. */
static void csv_list(struct line *l, const char *const *items, size_t n)
{
	char buf[256] = "";

	for (size_t k = 0; k < n; k++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", k ? ";" : "", items[k]);
	csv_field(l, buf, false);
}

static int line_write(const struct line *l)
{
	return !l->overflow && fwrite(l->buf, 1, l->len, stdout) == l->len ? 0 : -1;
}

static int write_csv_header(void)
{
	struct line l = {.len = 0};

	for (int f = 0; f < CF_COUNT; f++)
		csv_field(&l, customer_field_name((enum customer_field)f), f == CF_COUNT - 1);
	return line_write(&l);
}

static int write_csv(const struct demo *d)
{
	const char *phones[MAX_PHONES], *accounts[MAX_ACCOUNTS];
	char revenue[32] = "";
	struct line l = {.len = 0};

	for (size_t k = 0; k < d->n_phones; k++)
		phones[k] = d->phones[k];
	for (size_t k = 0; k < d->n_accounts; k++)
		accounts[k] = d->accounts[k];
	if (d->cents > 0)
		snprintf(revenue, sizeof(revenue), "%llu.%02llu", (unsigned long long)(d->cents / 100),
		         (unsigned long long)(d->cents % 100));
	csv_field(&l, d->id, false);
	csv_field(&l, d->name, false);
	csv_list(&l, phones, d->n_phones);
	csv_list(&l, accounts, d->n_accounts);
	csv_field(&l, customer_tier_name(d->tier), false);
	csv_field(&l, d->status, false);
	csv_field(&l, d->lifecycle, false);
	csv_field(&l, d->credit ? d->credit : "", false);
	csv_field(&l, d->team, false);
	csv_field(&l, d->type, false);
	csv_field(&l, d->region, false);
	csv_field(&l, revenue, false);
	csv_field(&l, d->since, false);
	csv_field(&l, d->attention ? d->attention : "", false);
	csv_field(&l, d->notes ? d->notes : "", true);
	return line_write(&l);
}

static int write_all(struct world *w)
{
	struct demo d;

	if (w->o.csv && write_csv_header() != 0)
		return -1;
	for (uint64_t i = 0; i < w->o.n; i++) {
		memset(&d, 0, sizeof(d));
		make_customer(w, i, &d);
		if ((w->o.csv ? write_csv(&d) : write_jsonl(&d, i)) != 0)
			return -1;
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

/* Digits in an id grow with N so that ids sort as text the way they sort
 * as numbers: C000001..C999999, then C0000001... */
void demo_customer_id(char *out, size_t len, unsigned long n, unsigned long i)
{
	int width = 6;

	for (unsigned long m = 1000000; m <= n && width < 20; m *= 10)
		width++;
	snprintf(out, len, "C%0*lu", width, i + 1);
}

int cmd_demo_data(int argc, char **argv)
{
	struct opts o;
	struct world w;
	int rc = parse_opts(argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (world_init(&w, &o) != 0) {
		free(w.cents);
		fprintf(stderr, "hotline demo-data: out of memory for %lu customers\n", o.n);
		return CLI_FAILED;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	rc = write_all(&w);
	free(w.cents);
	if (rc != 0) {
		fprintf(stderr, "hotline demo-data: cannot write the output: %s\n", strerror(errno));
		return CLI_FAILED;
	}
	return CLI_OK;
}
