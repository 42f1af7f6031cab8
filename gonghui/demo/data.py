"""Static inputs of the demo: the 焦作 division tree and word lists for invented names.

County codes are the real GB/T 2260 codes of 焦作市's ten county-level units; township names are
its towns and sub-districts. Employers are invented from common words and belong to no real company.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class County:
    code: str
    name: str  # e.g. 解放区
    short: str  # used in employer names, e.g. 解放
    townships: tuple[str, ...]
    city_prefix: bool  # districts write 焦作市解放区…; county-level units write 修武县…


CITY_NAME = "焦作市总工会"
CITY_CODE = "410800"

COUNTIES: tuple[County, ...] = (
    County(
        "410802",
        "解放区",
        "解放",
        ("焦西街道", "焦南街道", "焦北街道", "七百间街道", "民生街道"),
        True,
    ),
    County("410803", "中站区", "中站", ("李封街道", "王封街道", "朱村街道", "龙洞街道"), True),
    County("410804", "马村区", "马村", ("待王街道", "冯营街道", "九里山街道", "演马街道"), True),
    County(
        "410811",
        "山阳区",
        "山阳",
        ("焦东街道", "光亚街道", "东方红街道", "百间房街道", "艺新街道", "定和街道"),
        True,
    ),
    County("410821", "修武县", "修武", ("城关镇", "七贤镇", "郇封镇", "周庄镇", "云台山镇"), False),
    County("410822", "博爱县", "博爱", ("清化镇街道", "柏山镇", "月山镇", "许良镇"), False),
    County(
        "410823", "武陟县", "武陟", ("木城街道", "龙源街道", "詹店镇", "西陶镇", "谢旗营镇"), False
    ),
    County("410825", "温县", "温县", ("温泉街道", "岳村街道", "黄庄镇", "赵堡镇"), False),
    County(
        "410882", "沁阳市", "沁阳", ("覃怀街道", "怀庆街道", "崇义镇", "西向镇", "紫陵镇"), False
    ),
    County(
        "410883",
        "孟州市",
        "孟州",
        ("大定街道", "会昌街道", "河雍街道", "化工镇", "南庄镇", "西虢镇"),
        False,
    ),
)

# Townships left without a base union, so the coverage figure is below 100 %.
UNCOVERED_TOWNSHIPS = {"九里山街道", "西虢镇"}

# (parent county code or "" for the city, park federation name)
PARKS: tuple[tuple[str, str], ...] = (
    ("", "焦作高新技术产业开发区工会联合会"),
    ("410883", "孟州市产业集聚区工会联合会"),
)

COURIER_SECTOR = "孟州市快递行业工会联合会"
COURIER_COMPANIES = (
    "孟州市速达快递服务有限公司",
    "孟州市通宇速递有限公司",
    "孟州市顺程物流配送有限公司",
    "孟州市韵邦快件揽投有限公司",
)

EMPLOYER_WORDS = (
    "恒通",
    "鑫源",
    "华泰",
    "宏达",
    "瑞丰",
    "金盛",
    "嘉禾",
    "永兴",
    "天成",
    "润泽",
    "博远",
    "豫晟",
    "怀川",
    "沁源",
    "安泰",
    "福瑞",
    "兴业",
    "达利",
    "恒信",
    "新峰",
    "昌盛",
    "同创",
    "佳禾",
    "卓越",
    "明远",
    "锦程",
    "和顺",
    "众诚",
    "康达",
    "正阳",
)
EMPLOYER_TRADES = (
    "商贸",
    "机械制造",
    "建材",
    "食品",
    "物流",
    "电子科技",
    "化工",
    "纺织",
    "医药",
    "汽车配件",
    "餐饮管理",
    "物业服务",
    "建筑工程",
    "新材料",
    "农业发展",
)
PARK_TRADES = ("新材料", "装备制造", "电子科技", "生物医药", "汽车零部件", "精细化工")

SURNAMES = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "赵",
    "黄",
    "周",
    "吴",
    "徐",
    "孙",
    "胡",
    "朱",
    "高",
    "林",
    "何",
    "郭",
    "马",
    "罗",
    "梁",
    "宋",
    "郑",
    "谢",
    "韩",
    "唐",
    "冯",
    "于",
    "董",
    "萧",
    "程",
    "曹",
    "袁",
    "邓",
    "许",
    "傅",
    "沈",
    "曾",
    "彭",
    "吕",
    "苏",
    "卢",
    "蒋",
    "蔡",
    "贾",
    "丁",
    "魏",
    "薛",
    "叶",
    "阎",
    "余",
    "潘",
    "杜",
    "戴",
    "夏",
    "钟",
    "汪",
    "田",
    "任",
    "姜",
)
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国志海峰晨昊博文"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲桂丹萍红梅莉婷雪琳颖慧倩洁佳琪璐晶欣怡悦蕾彤月秀英兰凤"

# Other banks' debit-card prefixes (not union member cards), for a few members.
OTHER_BANK_BINS = (
    ("622848", "中国农业银行"),
    ("621700", "中国建设银行"),
    ("622202", "中国工商银行"),
)
