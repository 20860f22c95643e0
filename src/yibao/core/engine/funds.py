"""National fund codes (基金支付类型 fund_pay_type, GLOSSARY.md "Codes we use").

These are the national platform's dictionary, not a region's policy: they name where a
payment is booked. The COVID fiscal subsidy has no national code; a pack may give a
local one (``covid_overlay[].fiscal_fund_code``).
"""

from __future__ import annotations

__all__ = ["ACCOUNT", "ASSISTANCE", "BASIC", "FISCAL_NAME", "FUND_NAMES", "SERIOUS", "chrgitm_lv"]

BASIC = {"employee": "310100", "resident": "390100"}  # 统筹基金
SERIOUS = {"employee": "330100", "resident": "390200"}  # 大额医疗补助 / 居民大病保险
ASSISTANCE = "610100"  # 医疗救助基金
ACCOUNT = "310200"  # 职工个人账户

FUND_NAMES = {
    "310100": "城镇职工基本医疗保险统筹基金",
    "310200": "城镇职工基本医疗保险个人账户基金",
    "330100": "大额医疗费用补助基金",
    "390100": "城乡居民基本医疗保险基金",
    "390200": "城乡居民大病医疗保险基金",
    "610100": "医疗救助基金",
}

FISCAL_NAME = "新冠肺炎患者个人负担财政补助"  # a pack-defined local code carries this name

_LV = {"A": "01", "B": "02", "C": "03"}


def chrgitm_lv(item_class: str) -> str:
    """甲/乙/丙 -> the national 收费项目等级 code 01/02/03."""
    return _LV[item_class]
