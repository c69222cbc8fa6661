"""Word lists and name makers for the demo street: people, compounds, roads, property companies, units."""

from __future__ import annotations

import numpy as np

# common surnames, roughly most frequent first
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文辉鹏宇浩然晨曦子涵欣怡梓轩雨婷思雅俊峰"
    "海燕春梅冬梅丹凤琴慧颖佳琪嘉欣博文家豪晓东小龙德荣成林永福金凤玉珍淑芬秀英燕飞立新卫东庆云光明天佑若溪"
    "诗涵一诺欣然浩宇子墨宏伟雪梅建华志强学军红霞利民富贵开元世杰蓉川渝锦"
)
# roads of the street (real-sounding names around Dawan, Qingbaijiang)
ROADS = (
    "青江中路", "青江南路", "青江东路", "大同路", "团结中路", "团结北路", "化工路", "凤凰大道", "凤凰东路",
    "华严路", "青华路", "红阳路", "怡湖路", "石家碾路", "大弯南路", "北新路", "长流路", "蔡家庙路", "卿家湾路",
    "红河路", "革新路", "广场路", "黄家碾路", "红锋路",
)
ADDRESS_PREFIX = "四川省成都市青白江区"
_ESTATE_WORDS = (
    "青江", "凤凰", "怡湖", "华严", "锦绣", "金色", "阳光", "翠屏", "蓉欧", "城北", "天府", "祥和", "瑞景", "嘉禾",
    "金港", "兴华", "同心", "幸福", "和美", "康居", "东方", "滨河", "碧水", "南苑", "北辰", "紫荆", "桂湖", "新城",
    "春晓", "丽景", "馨园", "盛世", "绿洲", "御景", "欧香", "书香", "明珠", "恒大", "润园", "星河",
)
_ESTATE_SUFFIXES = ("苑", "花园", "小区", "家园", "雅居", "华庭", "佳苑", "名城", "公馆", "新居", "丽都", "府")
_PHASES = ("一期", "二期", "三期")
_WORK_UNITS = (
    "川化", "攀成钢", "化工机械厂", "铁路", "供电局", "粮站", "农机站", "玻璃厂", "水泥厂", "磷肥厂", "运输公司",
    "邮电局", "棉纺厂", "化肥厂", "钢管厂", "建安公司",
)
_COMPANY_WORDS = (
    "蓉城", "锦江", "青江", "凤凰", "金凤", "嘉诚", "恒信", "众和", "安居", "和美", "天府", "蜀信", "益民", "德信",
    "鑫源", "兴蓉", "诚悦", "佳和", "瑞邦", "宏达", "川府", "锦华", "康泰", "华宇", "中鼎", "汇锦", "明德", "合力",
    "顺达", "嘉园", "金盾", "庭安", "优居", "悦家", "祥瑞", "邦泰", "同创", "新蓉", "博雅", "金科", "乐居", "宜家",
)
_COMPANY_FORMS = ("四川{}物业服务有限公司", "成都{}物业管理有限公司", "成都市青白江区{}物业服务有限公司")
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156",
    "157", "158", "159", "173", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "199",
)

# (code, name): district bureaus (level district) that a street case may be escalated or routed to
DISTRICT_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("dept-qu-chengguan", "青白江区综合行政执法局"),
    ("dept-qu-zhujian", "青白江区住房和城乡建设局"),
    ("dept-qu-shengtai", "成都市青白江生态环境局"),
    ("dept-qu-shichang", "青白江区市场监督管理局"),
    ("dept-qu-gongan", "成都市公安局青白江区分局"),
    ("dept-qu-xiaofang", "青白江区消防救援大队"),
    ("dept-qu-weijian", "青白江区卫生健康局"),
    ("dept-qu-minzheng", "青白江区民政局"),
    ("dept-qu-yingji", "青白江区应急管理局"),
    ("dept-qu-shuiwu", "青白江区水务局"),
    ("dept-qu-jiaotong", "青白江区交通运输局"),
    ("dept-qu-guihua", "成都市规划和自然资源局青白江分局"),
)
# (code, name): bodies that sit at the street, several of them outposts of a district bureau (派出机构)
STREET_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("dept-chengguan", "大弯街道综合行政执法队"),
    ("dept-police", "大弯派出所"),
    ("dept-fire", "大弯消防救援站"),
    ("dept-health", "大弯街道社区卫生服务中心"),
    ("dept-market", "大弯市场监督管理所"),
)
# (code, name): the street office's own internal offices (街道内设机构)
STREET_OFFICES: tuple[tuple[str, str], ...] = (
    ("office-party", "大弯街道党政办公室"),
    ("office-governance", "大弯街道社区发展治理办公室"),
    ("office-safety", "大弯街道平安建设办公室（应急管理办公室）"),
    ("office-livelihood", "大弯街道民生服务办公室（民政）"),
    ("office-planning", "大弯街道规划建设办公室（住建、环保、水务）"),
    ("office-economy", "大弯街道经济发展办公室"),
)


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """`n` Chinese names: a surname by rough frequency and one or two given-name characters."""
    ranks = np.arange(len(SURNAMES), dtype=np.float64)
    weights = 1.0 / (ranks + 4.0)
    surnames = rng.choice(len(SURNAMES), size=n, p=weights / weights.sum())
    first = rng.integers(0, len(GIVEN_CHARS), size=n)
    second = rng.integers(0, len(GIVEN_CHARS), size=n)
    double = rng.random(n) < 0.75
    return [
        SURNAMES[s] + GIVEN_CHARS[a] + (GIVEN_CHARS[b] if d else "")
        for s, a, b, d in zip(surnames.tolist(), first.tolist(), second.tolist(), double.tolist(), strict=True)
    ]


def mobile_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct, plausible 11-digit mainland mobile numbers."""
    found: dict[str, None] = {}
    while len(found) < n:
        prefix = _MOBILE_PREFIXES[int(rng.integers(len(_MOBILE_PREFIXES)))]
        found.setdefault(f"{prefix}{int(rng.integers(10**8)):08d}", None)
    return list(found)


def company_names(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct property-company names such as 四川嘉诚物业服务有限公司."""
    words = rng.permutation(len(_COMPANY_WORDS))[:n]
    forms = rng.integers(0, len(_COMPANY_FORMS), size=n)
    return [_COMPANY_FORMS[f].format(_COMPANY_WORDS[w]) for w, f in zip(words.tolist(), forms.tolist(), strict=True)]


def compound_identity(rng: np.random.Generator, taken: set[str]) -> tuple[str, str, bool]:
    """A new compound's (name, address, is an old courtyard 院落); the name is not in `taken`, then is."""
    while True:
        road = ROADS[int(rng.integers(len(ROADS)))]
        number = int(rng.integers(1, 400))
        style = rng.random()
        if style < 0.12:
            name, courtyard = f"{road}{number}号院", True
        elif style < 0.2:
            name, courtyard = f"{_WORK_UNITS[int(rng.integers(len(_WORK_UNITS)))]}家属院", True
        else:
            name, courtyard = _estate_name(rng), False
        if name not in taken:
            taken.add(name)
            return name, f"{ADDRESS_PREFIX}{road}{number}号", courtyard


def _estate_name(rng: np.random.Generator) -> str:
    word = _ESTATE_WORDS[int(rng.integers(len(_ESTATE_WORDS)))]
    suffix = _ESTATE_SUFFIXES[int(rng.integers(len(_ESTATE_SUFFIXES)))]
    phase = _PHASES[int(rng.integers(len(_PHASES)))] if rng.random() < 0.25 else ""
    return f"{word}{suffix}{phase}"
