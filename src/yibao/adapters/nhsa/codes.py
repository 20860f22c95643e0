"""National codes the codec maps, in one place (DOMAIN.md §1.6).

Where the national dictionary could not be verified (``stmt_rslt``, ``cum_type_code``,
``med_chrgitm_type`` from our coarse categories), the value here is the best public
evidence and is named as such in docs/NHSA.md; a region's 1901 dictionary overrides it.
"""

from __future__ import annotations

__all__ = [
    "CHRGITM_TYPE",
    "CUM_TYPE",
    "INSUTYPE",
    "SCHEME_OF",
    "STMT_BALANCED",
    "STMT_DETAIL",
    "STMT_UNBALANCED",
    "paid_cum_type",
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
