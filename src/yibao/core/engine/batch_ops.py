"""``rules.Ops`` over Polars expressions: the batch engine's least, greatest and where."""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["POLARS", "PolarsOps"]


def _lit(x: Any) -> pl.Expr:
    return x if isinstance(x, pl.Expr) else pl.lit(x)


class PolarsOps:
    """``rules.Ops`` over Polars expressions; Python constants fold where both are."""

    @staticmethod
    def least(a: Any, b: Any) -> Any:
        if not isinstance(a, pl.Expr) and not isinstance(b, pl.Expr):
            return min(a, b)
        return pl.min_horizontal(_lit(a), _lit(b))

    @staticmethod
    def greatest(a: Any, b: Any) -> Any:
        if not isinstance(a, pl.Expr) and not isinstance(b, pl.Expr):
            return max(a, b)
        return pl.max_horizontal(_lit(a), _lit(b))

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        if isinstance(cond, bool):
            return a if cond else b
        if a is False:  # a choice between booleans is boolean algebra (cheaper)
            return ~cond & b
        if b is False:
            return cond & a
        return pl.when(cond).then(_lit(a)).otherwise(_lit(b))


POLARS = PolarsOps()
