"""Names and codes of the demo county: townships, villages, streets, enterprises.

The townships carry the names of Deqing's 13 towns and subdistricts so the
demo reads like the real place; their positions, shapes, codes and everything
below them are invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Administrative code prefix of the county (Deqing is 330521).
COUNTY_CODE = "330521"
COUNTY_NAME = "德清县（模拟）"
COUNTY_PINYIN = "Deqing Xian (synthetic)"


@dataclass(frozen=True)
class Township:
    """One town (镇) or subdistrict (街道) and where its seat sits.

    ``u`` and ``v`` place the seat as fractions of the county's bounding box
    (west to east, south to north); ``radius_km`` sizes its street grid and
    ``weight`` its share of enterprises and cell sites.
    """

    code: str
    name: str
    pinyin: str
    kind: str
    u: float
    v: float
    radius_km: float
    weight: float


TOWNSHIPS: tuple[Township, ...] = (
    Township("330521001", "武康街道", "Wukang Jiedao", "subdistrict", 0.36, 0.47, 2.2, 3.0),
    Township("330521002", "舞阳街道", "Wuyang Jiedao", "subdistrict", 0.31, 0.28, 1.2, 1.3),
    Township("330521003", "阜溪街道", "Fuxi Jiedao", "subdistrict", 0.26, 0.64, 1.0, 1.0),
    Township("330521004", "下渚湖街道", "Xiazhuhu Jiedao", "subdistrict", 0.47, 0.62, 1.0, 1.0),
    Township("330521005", "康乾街道", "Kangqian Jiedao", "subdistrict", 0.60, 0.33, 1.0, 1.1),
    Township("330521101", "乾元镇", "Qianyuan Zhen", "town", 0.57, 0.52, 1.5, 1.6),
    Township("330521102", "新市镇", "Xinshi Zhen", "town", 0.82, 0.62, 1.6, 1.8),
    Township("330521103", "洛舍镇", "Luoshe Zhen", "town", 0.50, 0.83, 0.9, 0.8),
    Township("330521104", "钟管镇", "Zhongguan Zhen", "town", 0.69, 0.80, 1.0, 1.0),
    Township("330521105", "禹越镇", "Yuyue Zhen", "town", 0.78, 0.22, 1.0, 0.9),
    Township("330521106", "新安镇", "Xin'an Zhen", "town", 0.92, 0.42, 0.9, 0.8),
    Township("330521107", "雷甸镇", "Leidian Zhen", "town", 0.52, 0.17, 1.0, 1.0),
    Township("330521108", "莫干山镇", "Moganshan Zhen", "town", 0.13, 0.56, 0.7, 0.6),
)

# Syllables that make plausible village and street names in northern Zhejiang.
_SYLLABLES: tuple[tuple[str, str], ...] = (
    ("三", "san"),
    ("桥", "qiao"),
    ("新", "xin"),
    ("联", "lian"),
    ("丰", "feng"),
    ("和", "he"),
    ("东", "dong"),
    ("西", "xi"),
    ("南", "nan"),
    ("北", "bei"),
    ("塘", "tang"),
    ("湾", "wan"),
    ("山", "shan"),
    ("溪", "xi"),
    ("庙", "miao"),
    ("前", "qian"),
    ("后", "hou"),
    ("上", "shang"),
    ("杨", "yang"),
    ("墩", "dun"),
    ("港", "gang"),
    ("林", "lin"),
    ("竹", "zhu"),
    ("桑", "sang"),
    ("荷", "he"),
    ("花", "hua"),
    ("云", "yun"),
    ("龙", "long"),
    ("凤", "feng"),
    ("青", "qing"),
    ("石", "shi"),
    ("泉", "quan"),
    ("兴", "xing"),
    ("安", "an"),
    ("宁", "ning"),
    ("庆", "qing"),
    ("民", "min"),
    ("仙", "xian"),
    ("潭", "tan"),
    ("勤", "qin"),
    ("光", "guang"),
    ("明", "ming"),
    ("永", "yong"),
    ("福", "fu"),
    ("金", "jin"),
    ("星", "xing"),
    ("蠡", "li"),
    ("湖", "hu"),
    ("洋", "yang"),
    ("舍", "she"),
)

_STREET_SUFFIX: tuple[str, ...] = ("路", "路", "路", "街", "大道", "巷")

LAKE_NAMES: tuple[str, ...] = ("下渚湖", "东衡漾", "白洋漾", "蠡山漾", "葛山漾", "西湖漾", "北湖漾")
SMALL_CANAL_NAMES: tuple[str, ...] = (
    "龙溪港",
    "杨家塘港",
    "新开河",
    "三里塘",
    "阜溪港",
    "西塘河",
    "北横塘",
    "湘溪港",
    "洛舍漾港",
)

INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "manufacturing": ("机械", "五金", "新材料", "电器", "纺织", "木业", "管业", "钢构", "装饰材料"),
    "agriculture": ("农业", "生态农场", "茶业", "水产养殖", "果蔬", "蚕桑"),
    "tourism": ("旅游", "度假村", "文旅"),
    "retail": ("商贸", "超市", "百货", "建材商行"),
    "services": ("物业", "家政", "咨询", "餐饮", "健康"),
    "logistics": ("物流", "运输", "仓储"),
    "tech": ("科技", "信息技术", "地理信息", "智能装备"),
}
HOMESTAY_WORDS: tuple[str, ...] = ("山居", "民宿", "小筑", "隐庐", "竹舍", "云栖")


def syllable_names(rng: np.random.Generator, count: int, length: int = 2) -> list[tuple[str, str]]:
    """``count`` distinct names of ``length`` syllables as (hanzi, pinyin) pairs."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < count:
        idx = rng.choice(len(_SYLLABLES), size=length, replace=False)
        hanzi = "".join(_SYLLABLES[i][0] for i in idx)
        if hanzi in seen:
            continue
        seen.add(hanzi)
        pinyin = "".join(_SYLLABLES[i][1] for i in idx)
        out.append((hanzi, pinyin.capitalize()))
    return out


def street_names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct street names such as 兴安路 or 云溪街."""
    bases = syllable_names(rng, count)
    suffixes = rng.integers(0, len(_STREET_SUFFIX), size=count)
    return [base + _STREET_SUFFIX[s] for (base, _), s in zip(bases, suffixes, strict=True)]
