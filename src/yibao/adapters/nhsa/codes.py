"""National codes the codec maps, in one place (DOMAIN.md §1.6).

Where the national dictionary could not be verified (``stmt_rslt``, ``cum_type_code``,
``med_chrgitm_type`` from our coarse categories), the value here is the best public
evidence and is named as such in docs/NHSA.md; a region's 1901 dictionary overrides it.
"""

from __future__ import annotations

__all__ = [
    "CHRGITM_TYPE",
    "CLR_WAY_BY_ITEM",
    "CUM_TYPE",
    "CVLSERV_NO",
    "GEND_UNKNOWN",
    "IDET_TYPE",
    "INSUTYPE",
    "INSU_STAS",
    "SCHEME_OF",
    "STMT_BALANCED",
    "STMT_DETAIL",
    "STMT_UNBALANCED",
    "chrgitm_type_of",
    "paid_cum_type",
    "psn_type_of",
    "scheme_of",
]

INSUTYPE = {"employee": "310", "resident": "390"}  # 险种类型
SCHEME_OF = {code: scheme for scheme, code in INSUTYPE.items()}


def scheme_of(insutype: str | None) -> str | None:
    """310 -> employee, 390 -> resident, any other (local) insutype -> None."""
    return SCHEME_OF.get(insutype or "")


# 3201 stmt_rslt: a Chongqing and a Hunan client test "0" for 平; one other system
# expects "000000". Char 6 on the wire.
STMT_BALANCED = "0"
STMT_UNBALANCED = "1"
# 3202 detail rows: our statuses -> the row's stmt_rslt (unverified; see docs/NHSA.md)
STMT_DETAIL = {"match": "0", "ours_only": "1", "declared_only": "2", "amounts_differ": "3"}

# 医疗收费项目类别 from our coarse line category, used only when the catalog gives none.
CHRGITM_TYPE = {"bed": "01", "service": "05", "consumable": "08", "drug": "09", "other": "14"}

# 5206 cum_type_code: 'D' + fund code with its last two digits '01' is the pattern of the
# paid cumulatives seen in public clients (D310101 统筹, D330101 大额, D390201 大病,
# D610101 救助, D310201 个账); our six accumulators (each capped fund's uncapped base and
# what it has paid against its cap, SETTLEMENT.md §2) have no national code and get local
# codes (prefix L_), in ACCUMULATOR_FIELDS order.
CUM_TYPE = {
    "basic_entitled_fen": "L_BASIC_ENTITLED",
    "basic_paid_fen": "L_BASIC_PAID",
    "serious_base_fen": "L_SERIOUS_BASE",
    "serious_paid_fen": "L_SERIOUS_PAID",
    "assistance_entitled_fen": "L_ASSISTANCE_ENTITLED",
    "assistance_paid_fen": "L_ASSISTANCE_PAID",
}


def paid_cum_type(fund_code: str) -> str:
    """The cum_type_code of a fund's paid cumulative: 310100 -> D310101."""
    return f"D{fund_code[:4]}01"


# 人员参保状态 (psn_insu_stas): 0 未参保, 1 正常参保, 2 暂停参保, 4 终止参保 — the list a
# public HIS adapter's 1101 handler writes down; the registry says only "enrolled or not",
# so an enrolment on record but not complete (enrolled: false) is 2 暂停参保.
INSU_STAS = {"enrolled": "1", "paused": "2"}

# 人员身份类别 (idetinfo.psn_idet_type) of our assistance categories: the national
# dictionary was not found; these are our category codes, a region's 1901 overrides.
IDET_TYPE = {"dibao": "dibao", "tekun": "tekun", "poverty": "poverty"}

GEND_UNKNOWN = "0"  # GB/T 2261.1 未知的性别 (a psn_no that is not an ID number)
CVLSERV_NO = "0"  # 公务员标志: yibao pays no 公务员医疗补助 (cvlserv_pay is always 0)

# 清算方式 (clr_way): unverified; COVID stays are paid by item (按项目), coded "1" here.
CLR_WAY_BY_ITEM = "1"


def psn_type_of(scheme: str, age: int | None) -> str | None:
    """人员类别 where the registry determines it: a resident under 18 is 14 未成年居民,
    else 15 成年居民; an employee's 在职/退休 (11/12) is not in the registry: None."""
    if scheme != "resident" or age is None:
        return None
    return "14" if age < 18 else "15"


# 医疗收费项目类别 of a national drug code by its first letter (医保药品分类与代码:
# X 西药, Z 中成药, T 中药饮片): 09 西药费, 11 中成药费, 10 中药饮片费.
_DRUG_CHRGITM = {"X": "09", "Z": "11", "T": "10"}


def chrgitm_type_of(code: str, category: str) -> str:
    """med_chrgitm_type of a line: a drug's from its national code's first letter,
    anything else from our coarse category (CHRGITM_TYPE)."""
    if category == "drug" and code[:1] in _DRUG_CHRGITM:
        return _DRUG_CHRGITM[code[:1]]
    return CHRGITM_TYPE[category]
