"""§4 line by line: each charge's 全自费, 超限价, 先行自付 and 政策范围内 parts."""

from __future__ import annotations

from collections.abc import Sequence

from yibao.core.engine.model import Line, LineResult
from yibao.core.engine.validate import product_problems
from yibao.core.errors import InvalidRequest
from yibao.core.money import LINE_UNIT, MAX_I64

_UNIT = LINE_UNIT
_HALF = LINE_UNIT // 2

__all__ = ["CATALOG_CLAUSE", "settle_lines"]

CATALOG_CLAUSE = "就医地医保目录（甲乙丙分类、限价、先行自付比例）"
"""Where the line classification comes from when no overlay rule changes it: the
treatment place's catalog (就医地目录), not a pack block (SETTLEMENT.md §2)."""

RULE_OWN_PAY = "§4.3 丙类: 全自费"
RULE_COVERED = "§4.2 诊疗方案/临时编码: 纳入支付范围, 不设先行自付"
RULE_CLASS_A = "§4.4-6 甲类: 超限价自付, 其余政策范围内"
RULE_CLASS_B = "§4.4-6 乙类: 超限价自付, 先行自付, 其余政策范围内"
_LV = {"A": "01", "B": "02", "C": "03"}


def settle_lines(
    lines: Sequence[Line], protocol_covered: bool
) -> tuple[tuple[LineResult, ...], int, int, int, int, int]:
    """§4 for every line, in ``sn`` order as given; returns the results and the sums
    (medfee, fulamt_ownpay, overlmt, preselfpay, inscp). A line whose ``price_e6 ×
    qty_e4`` exceeds 2^63 − 1 is refused here, where the product is formed anyway.

    The body is ``rules.split_line`` written out for ints (it runs for every line of
    every stay); a property test holds the two equal.
    """
    new = tuple.__new__  # LineResult(...) without the namedtuple's Python-level __new__
    out: list[LineResult] = []
    push = out.append
    own_sum = over_sum = pre_sum = inscp_sum = 0
    for ln in lines:
        price = ln.price_e6
        qty = ln.qty_e4
        cls = ln.item_class
        cap = ln.price_cap_e6
        product = price * qty
        if product > MAX_I64:  # SETTLEMENT.md §1: a line beyond the bound is bad input
            raise InvalidRequest.of(product_problems(lines))
        amount = (product + _HALF) // _UNIT  # line_amount (Python ints do not overflow)
        if protocol_covered and (ln.in_protocol or ln.temp_code):  # steps 2, 4, 5: covered
            over = ((price - cap) * qty + _HALF) // _UNIT if cap is not None and price > cap else 0
            inscp = amount - over
            push(new(LineResult, (ln.sn, amount, 0, over, 0, inscp, _LV[cls], RULE_COVERED)))
            over_sum += over
            inscp_sum += inscp
            continue
        if cls == "C":  # step 3
            push(new(LineResult, (ln.sn, amount, amount, 0, 0, 0, "03", RULE_OWN_PAY)))
            own_sum += amount
            continue
        over = 0  # step 4
        if cap is not None and price > cap:
            over = ((price - cap) * qty + _HALF) // _UNIT
            over_sum += over
        if cls == "B":  # steps 5-6
            pre = ((amount - over) * ln.selfpay_bp + 5000) // 10000
            pre_sum += pre
            inscp = amount - over - pre
            push(new(LineResult, (ln.sn, amount, 0, over, pre, inscp, "02", RULE_CLASS_B)))
        else:
            inscp = amount - over
            push(new(LineResult, (ln.sn, amount, 0, over, 0, inscp, "01", RULE_CLASS_A)))
        inscp_sum += inscp
    medfee = own_sum + over_sum + pre_sum + inscp_sum
    return tuple(out), medfee, own_sum, over_sum, pre_sum, inscp_sum
