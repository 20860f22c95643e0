"""A settlement as the store keeps it: the ``record`` column holds every field of the
engine's ``Settlement`` (the facts its trace and ``setldetail`` are built from
included) BY NAME; the trace and the fund rows are rebuilt from it when a row is read
(``Stored``), the same as when it was settled (DECISIONS 0084).

Record version 2 (migration 0007, contract v2): ``setlinfo``, ``facts`` and both
accumulators are ``{name: value}`` objects; ``lines`` is ``{"columns": [LineResult's
field names], "rows": [[…], …]}``, compact but named. Reading builds the engine's
records by keyword, so a field added, removed or reordered in the engine can never shift
a stored value into another field. Version 1 (positional lists, three accumulators)
exists only before migration 0007, which converts it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from yibao.core.engine.model import (
    ACCUMULATOR_FIELDS,
    Accumulators,
    Facts,
    LineResult,
    SetlInfo,
    Settlement,
)

__all__ = [
    "LINE_COLUMNS",
    "RECORD_VERSION",
    "V1_FACTS",
    "Stored",
    "acc_dict",
    "acc_of",
    "record_from_v1",
    "record_to_v1",
    "settlement_from_record",
    "settlement_record",
    "trace_rows",
    "v1_implied_paid",
    "v1_payments",
]

RECORD_VERSION = 2
LINE_COLUMNS = list(LineResult._fields)
"""The ``columns`` of a record's ``lines``."""


def acc_dict(a: Accumulators) -> dict[str, int]:
    """Accumulators as stored: ``{name: fen}`` keyed by ``ACCUMULATOR_FIELDS``."""
    return a.as_dict()


def acc_of(d: dict[str, Any]) -> Accumulators:
    """The ``Accumulators`` of a stored ``{name: fen}`` object (every name required)."""
    return Accumulators(**{f: d[f] for f in ACCUMULATOR_FIELDS})


def settlement_record(s: Settlement) -> dict[str, Any]:
    """The settlement as JSON-ready named data (ints, strings, bools, objects)."""
    return {
        "v": RECORD_VERSION,
        "pack_id": s.pack_id,
        "pack_sha256": s.pack_sha256,
        "encounter_id": s.encounter_id,
        "insuree_id": s.insuree_id,
        "covid": s.covid,
        "overlay_clause": s.overlay_clause,
        "ratio_bp": s.ratio_bp,
        "setlinfo": s.setlinfo._asdict(),
        "lines": {"columns": LINE_COLUMNS, "rows": [list(ln) for ln in s.lines]},
        "accumulators_before": acc_dict(s.accumulators_before),
        "accumulators_after": acc_dict(s.accumulators_after),
        "account_balance_before_fen": s.account_balance_before_fen,
        "account_balance_after_fen": s.account_balance_after_fen,
        "facts": s.facts._asdict(),
    }


def _lines(d: dict[str, Any]) -> tuple[LineResult, ...]:
    columns = d["columns"]
    if columns == LINE_COLUMNS:
        return tuple(LineResult(**dict(zip(LINE_COLUMNS, r, strict=True))) for r in d["rows"])
    missing = set(LINE_COLUMNS) - set(columns)
    if missing:
        raise ValueError(f"settlement record lines lack {sorted(missing)}")
    return tuple(LineResult(**{c: v for c, v in zip(columns, r, strict=True)
                               if c in LineResult._fields}) for r in d["rows"])  # fmt: skip


def settlement_from_record(d: dict[str, Any]) -> Settlement:
    """The engine's ``Settlement`` from ``settlement_record``'s data, by keyword."""
    if d.get("v") != RECORD_VERSION:
        raise ValueError(f"settlement record version {d.get('v')!r} is not {RECORD_VERSION}")
    return Settlement(
        pack_id=d["pack_id"],
        pack_sha256=d["pack_sha256"],
        encounter_id=d["encounter_id"],
        insuree_id=d["insuree_id"],
        covid=d["covid"],
        overlay_clause=d["overlay_clause"],
        ratio_bp=d["ratio_bp"],
        setlinfo=SetlInfo(**d["setlinfo"]),
        lines=_lines(d["lines"]),
        accumulators_before=acc_of(d["accumulators_before"]),
        accumulators_after=acc_of(d["accumulators_after"]),
        account_balance_before_fen=d["account_balance_before_fen"],
        account_balance_after_fen=d["account_balance_after_fen"],
        facts=Facts(**d["facts"]),
    )


# -- version 1 (before migration 0007) ---------------------------------------------------

V1_FACTS = (
    "scheme", "scheme_key", "level", "admission_seq", "transfer", "line_count", "line_clause",
    "d_fen", "deductible_clause", "out_of_area", "referral_cut", "cut_waived", "ratio_clause",
    "basic_raw_fen", "basic_cap_fen", "basic_before_fen", "basic_cap_clause",
    "serious_base_fen", "serious_before_fen", "serious_g_before_fen", "serious_threshold_fen",
    "serious_cap_fen", "serious_clause", "assistance_category", "assisted",
    "assistance_base_fen", "assistance_ratio_bp", "assistance_raw_fen",
    "assistance_before_fen", "assistance_cap_fen", "assistance_clause", "covid_status",
    "subsidy_scope", "fiscal_fund_code", "out_of_scope_fen", "account_forbidden", "may_pay",
    "account_allowed_fen", "account_clause",
)  # fmt: skip
"""A version-1 record's ``facts``, by position (frozen: the engine's ``Facts`` before
contract v2)."""
_V1_SETLINFO = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt",
    "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "pool_selfpay_amt", "hifmi_pay", "hifob_pay",
    "maf_pay", "fund_pay_sumamt", "psn_part_amt", "fiscal_pay", "acct_pay", "psn_cash_pay",
)  # fmt: skip
_V1_LINES = ("feedetl_sn", "det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt",
             "preselfpay_amt", "inscp_scp_amt", "chrgitm_lv", "rule")  # fmt: skip


def v1_payments(d: dict[str, Any]) -> tuple[int, int, int]:
    """What a version-1 record's settlement paid from each capped fund: ``hifp_pay``,
    ``hifmi_pay + hifob_pay``, ``maf_pay`` (the paid accumulators' movements)."""
    info = dict(zip(_V1_SETLINFO, d["setlinfo"], strict=True))
    return info["hifp_pay"], info["hifmi_pay"] + info["hifob_pay"], info["maf_pay"]


def v1_implied_paid(d: dict[str, Any]) -> tuple[int, int, int]:
    """What a version-1 settlement computed as if already paid: ``H(E)`` of each fund
    before it (contract v1 paid ``H(E + x) − H(E)``), from its facts alone."""
    f = dict(zip(V1_FACTS, d["facts"], strict=True))
    return (min(f["basic_before_fen"], f["basic_cap_fen"]), f["serious_g_before_fen"],
            min(f["assistance_before_fen"], f["assistance_cap_fen"]))  # fmt: skip


def record_from_v1(d: dict[str, Any], paid_before: Sequence[int] | None = None
                   ) -> dict[str, Any]:  # fmt: skip
    """A version-2 record from a version-1 one, exactly (migration 0007).

    Entitlements, amounts and lines are kept. The paid accumulators before are
    ``paid_before`` (basic, serious, assistance: what the funds stood at; default
    ``v1_implied_paid``) and after them plus this settlement's payments. The facts say
    how the amounts were computed: contract v1 paid ``H(E + x) − H(E)``, which is the
    paid form with ``P = H(E)``, so each ``…_paid_before_fen`` fact is
    ``v1_implied_paid`` (equal to ``paid_before`` unless a reversal came earlier in the
    year), and the trace rebuilt from them gives the stored amounts; and
    ``serious_g_after_fen`` is ``serious_g_before_fen + hifmi_pay + hifob_pay``, which is
    G(S + base) exactly (v1 paid G(S + base) − G(S) past the threshold and 0, with G(S)
    0, up to it)."""
    if d.get("v") != 1:
        raise ValueError(f"settlement record version {d.get('v')!r} is not 1")
    pay = v1_payments(d)
    implied = v1_implied_paid(d)
    before = paid_before if paid_before is not None else implied
    after = tuple(b + p for b, p in zip(before, pay, strict=True))
    f1 = dict(zip(V1_FACTS, d["facts"], strict=True))
    g_before = f1.pop("serious_g_before_fen")
    facts = {**f1, "basic_paid_before_fen": implied[0], "serious_paid_before_fen": implied[1],
             "serious_g_after_fen": g_before + pay[1],
             "assistance_paid_before_fen": implied[2]}  # fmt: skip

    def acc(entitled: list[int], paid: Sequence[int]) -> dict[str, int]:
        return {"basic_entitled_fen": entitled[0], "basic_paid_fen": paid[0],
                "serious_base_fen": entitled[1], "serious_paid_fen": paid[1],
                "assistance_entitled_fen": entitled[2], "assistance_paid_fen": paid[2]}  # fmt: skip

    out = {k: v for k, v in d.items() if k not in ("facts", "setlinfo", "lines")}
    out.update(v=RECORD_VERSION, setlinfo=dict(zip(_V1_SETLINFO, d["setlinfo"], strict=True)),
               lines={"columns": list(_V1_LINES), "rows": [list(r) for r in d["lines"]]},
               accumulators_before=acc(d["accumulators_before"], before),
               accumulators_after=acc(d["accumulators_after"], after), facts=facts)  # fmt: skip
    return out


def record_to_v1(d: dict[str, Any]) -> dict[str, Any]:
    """A version-1 record from a version-2 one (migration 0007's downgrade): the paid
    accumulators and facts dropped, ``serious_g_before_fen`` = ``serious_g_after_fen −
    hifmi_pay − hifob_pay``."""
    if d.get("v") != RECORD_VERSION:
        raise ValueError(f"settlement record version {d.get('v')!r} is not {RECORD_VERSION}")
    info, f = d["setlinfo"], dict(d["facts"])
    g_before = f["serious_g_after_fen"] - info["hifmi_pay"] - info["hifob_pay"]
    f["serious_g_before_fen"] = g_before

    def acc(a: dict[str, int]) -> list[int]:
        return [a["basic_entitled_fen"], a["serious_base_fen"], a["assistance_entitled_fen"]]

    cols = d["lines"]["columns"]
    return {**{k: v for k, v in d.items() if k not in ("facts", "setlinfo", "lines")},
            "v": 1, "setlinfo": [info[k] for k in _V1_SETLINFO],
            "lines": [[dict(zip(cols, r, strict=True))[k] for k in _V1_LINES]
                      for r in d["lines"]["rows"]],
            "accumulators_before": acc(d["accumulators_before"]),
            "accumulators_after": acc(d["accumulators_after"]),
            "facts": [f[k] for k in V1_FACTS]}  # fmt: skip


def trace_rows(s: Settlement) -> list[dict[str, Any]]:
    """The settlement's trace as JSON-ready rows (what the API shows)."""
    return [t._asdict() for t in s.trace]


class Stored:
    """A ``settlements`` row as read, with ``trace`` and ``setldetail`` rebuilt from its
    record (the columns are not stored: DECISIONS 0084); every other attribute is the
    row's."""

    __slots__ = ("_row", "_settlement")

    def __init__(self, row: Any) -> None:
        self._row = row
        self._settlement: Settlement | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)

    @property
    def settlement(self) -> Settlement:
        """The engine's ``Settlement`` of the record."""
        if self._settlement is None:
            self._settlement = settlement_from_record(self._row.record)
        return self._settlement

    @property
    def trace(self) -> list[dict[str, Any]]:
        """Every amount with its step, inputs and clause, as at settlement."""
        return trace_rows(self.settlement)

    @property
    def setldetail(self) -> list[dict[str, Any]]:
        """One row per fund (基金分项), as at settlement."""
        return [r._asdict() for r in self.settlement.setldetail]
