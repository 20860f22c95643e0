"""The compiled ``Policy`` as Polars expressions: one lookup per figure the batch reads.

The batch engine settles rows under several packs at once (each encounter's pack is
chosen by its insured region and discharge date, POLICY-PACKS.md), so every figure is an
expression keyed by the row's pack index: ``replace_strict`` over a small mapping built
from the ``Policy`` dicts, or the figure itself when one pack is loaded. Nothing here
holds a figure of its own: each comes from ``Policy`` (SETTLEMENT.md §3, §5).

Codes used in the frame: scheme ``s`` 0 employee, 1 resident, 2 none; scheme key ``k``
0 employee, 1 resident_1, 2 resident_2, 3 none; account rule 0 none, 1 inscope, 2 all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from yibao.core.engine.model import MAX_FEN
from yibao.core.engine.rules import Ops, serious_entitled
from yibao.core.engine.validate import KNOWN_ASSISTANCE_CATEGORIES
from yibao.core.errors import PackError
from yibao.core.policy.model import OverlayVersion, Policy

__all__ = ["SCHEMES", "SCHEME_KEYS", "PolicyExprs"]

SCHEMES = ("employee", "resident", "none")
SCHEME_KEYS = ("employee", "resident_1", "resident_2")
MAY_PAY = {"none": 0, "inscope": 1, "all": 2}

_pack = pl.col("pack")  # the row's pack index (null: no single pack covers it)
_s = pl.col("s")  # scheme code
_k = pl.col("k")  # scheme-key code
_v = pl.col("v")  # the overlay version in force on the discharge date (global index)


def _check_bounds(p: Policy) -> None:
    """Every fen figure must fit the batch engine's int64 products (DECISIONS 0022)."""
    figures = [("basic_cap.fen." + s, f) for s, f in p.basic_cap_fen.items()]
    figures += [
        (f"deductible.first_admission_fen.{k}.{lv}", f)
        for k, t in p.deductible_fen.items()
        for lv, f in t.items()
    ]
    for s, t in p.serious.items():
        figures += [
            (f"serious.{s}.threshold_fen", t.threshold_fen),
            (f"serious.{s}.cap_fen", t.cap_fen),
        ] + [(f"serious.{s}.bands", lo) for lo, _, _ in t.bands]
    figures += [(f"assistance.categories.{c}.cap_fen", t.cap_fen) for c, t in p.assistance.items()]
    for path, fen in figures:
        if fen > MAX_FEN:
            raise PackError(
                f"pack {p.id}: {path}: {fen} exceeds {MAX_FEN} fen, the largest figure the "
                "batch engine settles exactly"
            )


def _lookup(key: pl.Expr, values: Sequence[int]) -> pl.Expr:
    """``values[key]`` for a small integer key: a gather from a literal, several times
    cheaper than ``replace_strict``. Keys out of range (rows refused anyway) clip."""
    table = pl.Series(values, dtype=pl.Int64)
    return pl.lit(table).gather(key.clip(0, len(values) - 1))


def _in_area(col: pl.Expr, prefixes: Sequence[str]) -> pl.Expr:
    """A region is in the pooling area when it starts with one of its prefixes."""
    return pl.any_horizontal([col.str.starts_with(pfx) for pfx in prefixes])


@dataclass(frozen=True, slots=True)
class PolicyExprs:
    """Expressions over the encounter frame that read the figures of each row's pack."""

    packs: tuple[Policy, ...]
    versions: tuple[tuple[int, OverlayVersion], ...]  # (pack index, version), global order

    @classmethod
    def of(cls, packs: Sequence[Policy]) -> PolicyExprs:
        for p in packs:
            _check_bounds(p)
        versions = tuple((i, v) for i, p in enumerate(packs) for v in p.overlay)
        return cls(tuple(packs), versions)

    # -- choosing the pack and the overlay version -------------------------------------

    def covering(self) -> list[pl.Expr]:
        """For each pack: does it cover the row's insured region on its discharge date?"""
        day = pl.col("discharge_date")
        return [
            _in_area(pl.col("insured_region"), p.pooling_area)
            & day.is_between(pl.lit(p.valid_from), pl.lit(p.valid_to))
            for p in self.packs
        ]

    def pack_index(self, covering: list[pl.Expr]) -> pl.Expr:
        """The one covering pack's index; null when none or several cover the row."""
        count = pl.sum_horizontal([c.fill_null(False).cast(pl.Int8) for c in covering])
        pick: pl.Expr = pl.lit(None, pl.Int8)
        for i in reversed(range(len(self.packs))):
            pick = pl.when(covering[i]).then(pl.lit(i, pl.Int8)).otherwise(pick)
        return pl.when(count == 1).then(pick)

    def version(self) -> pl.Expr:
        """§3: the overlay version whose [from, to] holds the discharge date (-1: none)."""
        day, out = pl.col("discharge_date"), pl.lit(-1, pl.Int16)
        for g in reversed(range(len(self.versions))):
            i, v = self.versions[g]
            inside = day >= pl.lit(v.from_date)
            if v.to_date is not None:
                inside = inside & (day <= pl.lit(v.to_date))
            out = pl.when((_pack == i) & inside).then(pl.lit(g, pl.Int16)).otherwise(out)
        return out

    def covid(self) -> pl.Expr:
        """§3: the version in force covers this patient (status, diagnosis, hospital)."""
        dx, status = pl.col("diagnoses"), pl.col("covid_status")
        terms = [pl.lit(False)]
        for g, (_, v) in enumerate(self.versions):
            coded = pl.any_horizontal([dx.list.contains(c) for c in sorted(v.disease_codes)])
            here = pl.lit(True) if not v.designated_only else pl.col("covid_designated")
            terms.append((_v == g) & status.is_in(sorted(v.statuses)) & coded & here)
        return pl.any_horizontal(terms).fill_null(False)

    def overlay_flag(self, attr: Callable[[OverlayVersion], bool]) -> pl.Expr:
        """A true/false term of the version in force (use together with ``covid``)."""
        chosen = [g for g, (_, v) in enumerate(self.versions) if attr(v)]
        return _v.is_in(chosen) if chosen else pl.lit(False)

    # -- figures by pack ---------------------------------------------------------------

    def _by_pack(self, figure: Callable[[Policy], int]) -> pl.Expr:
        values = [figure(p) for p in self.packs]
        if len(set(values)) == 1:
            return pl.lit(values[0], pl.Int64)
        return _lookup(_pack, values)

    def _by_key(self, figure: Callable[[Policy, str, int], int]) -> pl.Expr:
        """A figure by pack, scheme key and provider level (deductible, ratio)."""
        values = [
            figure(p, name, lv) if name and lv else 0
            for p in self.packs
            for name in (*SCHEME_KEYS, "")
            for lv in (0, 1, 2, 3)
        ]
        return _lookup((_pack.cast(pl.Int32) * 4 + _k) * 4 + pl.col("provider_level"), values)

    def _by_scheme(self, figure: Callable[[Policy, str], int]) -> pl.Expr:
        """A figure by pack and scheme (caps, account); 0 for the uninsured."""
        values = [
            figure(p, name) if name else 0 for p in self.packs for name in (*SCHEMES[:2], "", "")
        ]
        return _lookup(_pack.cast(pl.Int32) * 4 + _s, values)

    def first_admission_fen(self) -> pl.Expr:
        """§5.1 D before reductions, by pack, scheme key and provider level."""
        return self._by_key(lambda p, k, lv: p.deductible_fen[k][lv])

    def ratio_bp(self) -> pl.Expr:
        """§5.2 R by pack, scheme key and provider level."""
        return self._by_key(lambda p, k, lv: p.ratio_bp[k][lv])

    def later_admission_bp(self) -> pl.Expr:
        return self._by_pack(lambda p: p.later_admission_bp)

    def transfer_bp(self) -> pl.Expr:
        return self._by_pack(lambda p: p.transfer_bp)

    def referral_cut_bp(self) -> pl.Expr:
        return self._by_pack(lambda p: p.referral_cut_bp)

    def basic_cap_fen(self) -> pl.Expr:
        """§5.3 CAP by pack and scheme (0 for the uninsured)."""
        return self._by_scheme(lambda p, name: p.basic_cap_fen[name])

    def account_rule(self) -> pl.Expr:
        """§5.8 what the account may pay, by pack and scheme (0 none, 1 inscope, 2 all)."""
        return self._by_scheme(lambda p, name: MAY_PAY[p.account_may_pay[name]])

    def provider_in_area(self) -> pl.Expr:
        """POLICY-PACKS.md: the provider is in the pack's pooling area."""
        out: pl.Expr = pl.lit(False)
        for i in reversed(range(len(self.packs))):
            here = _in_area(pl.col("provider_region"), self.packs[i].pooling_area)
            out = pl.when(_pack == i).then(here).otherwise(out)
        return out

    def serious_entitled(self, cumulative: pl.Expr, ops: Ops) -> pl.Expr:
        """§5.4 G(x) of the row's pack and scheme (0 for the uninsured)."""
        out: pl.Expr = pl.lit(0, pl.Int64)
        for i, p in enumerate(self.packs):
            for s, name in enumerate(SCHEMES[:2]):
                g = serious_entitled(cumulative, p.serious[name], ops)
                out = pl.when((_pack == i) & (_s == s)).then(g).otherwise(out)
        return out

    # -- medical assistance --------------------------------------------------------------

    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for p in self.packs for c in p.assistance}))

    def assistance_key(self) -> pl.Expr:
        """(pack, category) as one small integer from 1; 0 when the category is not one
        any pack lists (the row's own pack may still not list it: ``assisted``)."""
        cats = self.categories()
        code = pl.col("assistance_category").replace_strict(
            {c: j for j, c in enumerate(cats)}, default=None, return_dtype=pl.Int32
        )
        return (_pack.cast(pl.Int32) * len(cats) + code + 1).fill_null(0)

    def assistance_term(self, term: Callable[[Policy, str], int]) -> pl.Expr:
        """A figure of the row's assistance terms by (pack, category); 0 when none."""
        values = [0] + [
            term(p, c) if c in p.assistance else 0 for p in self.packs for c in self.categories()
        ]
        return _lookup(pl.col("akey"), values)

    def assisted(self) -> pl.Expr:
        """§5.5 the row's category is listed in its pack."""
        return self.assistance_term(lambda _p, _c: 1) == 1

    def known_category(self) -> pl.Expr:
        """DECISIONS 0007: the national list, or a category the row's pack lists."""
        known = sorted(KNOWN_ASSISTANCE_CATEGORIES)
        return pl.col("assistance_category").is_in(known) | self.assisted()
