"""Named checks that return problems (empty when they hold): what `yibao ledger check`
proves over the stored journal.

- each transaction balances, in total and inside every book, with integer fen, and
  each account type stays in its own books (the fiscal subsidy never touches a fund);
- the trial balance of any set of transactions is zero, in total and per book;
- each settlement's transaction posts exactly its amounts, and the accumulators move
  as the postings imply: each capped payment is the paid form ``min(b, max(0, H(E + x)
  − P))`` against what its fund had paid, and each ``…_paid_fen`` moves by exactly what
  its fund posted (SETTLEMENT.md §5.3–§5.5, §6);
- each reversal is the exact negation of one settlement, reversed once;
- per insuree-year, each fund's standing payments stay within its yearly cap (unless
  it stood above it before), the net accumulator movements add up to the stored
  accumulators, and each stored ``…_paid_fen`` equals its fund's standing postings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from yibao.core.engine.funds import ACCOUNT
from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators, Settlement
from yibao.core.engine.rules import SCALAR, serious_entitled
from yibao.core.ledger.accounts import (
    ADVANCE,
    ADVANCE_RECEIVABLE,
    BENEFIT,
    CASH_COLLECTED,
    CENTRAL_RECEIVABLE,
    CENTRAL_SHARE,
    FISCAL,
    FISCAL_PAYABLE,
    FISCAL_SUBSIDY,
    FUND_BANK,
    FUND_BOOKS,
    HOSPITAL_PAYABLE,
    INSUREE_PAYABLE,
    PATIENT,
    PATIENT_CASH,
    PERSONAL_ACCOUNT,
    SUPERVISION_DEDUCTION,
    book_name,
)
from yibao.core.ledger.funds import StatementLine, clearing_tx
from yibao.core.ledger.journal import Transaction, balances, book_totals
from yibao.core.ledger.post import posted_amounts
from yibao.core.money import paid_capped
from yibao.core.policy.model import Policy
from yibao.core.privacy import mask_psn_no

__all__ = [
    "TX_CHECKS",
    "Booked",
    "accounts_in_their_books",
    "balances_in_total",
    "books_balance",
    "integer_fen",
    "ledger_problems",
    "reversal_problems",
    "settlement_problems",
    "statement_problems",
    "transaction_problems",
    "trial_balance_problems",
    "year_problems",
]

_INTER_REGION = ("inter_region_receivable", "inter_region_advanced", "inter_region_benefit",
                "inter_region_payable")  # fmt: skip

_ALLOWED_BOOKS: dict[str, frozenset[str] | None] = {
    BENEFIT.code: FUND_BOOKS - {ACCOUNT},
    HOSPITAL_PAYABLE.code: FUND_BOOKS | {ADVANCE},
    INSUREE_PAYABLE.code: (FUND_BOOKS - {ACCOUNT}) | {FISCAL},
    PERSONAL_ACCOUNT.code: frozenset({ACCOUNT}),
    FISCAL_SUBSIDY.code: frozenset({FISCAL}),
    FISCAL_PAYABLE.code: frozenset({FISCAL}),
    CENTRAL_RECEIVABLE.code: frozenset({FISCAL}),
    CENTRAL_SHARE.code: frozenset({FISCAL}),
    PATIENT_CASH.code: frozenset({PATIENT}),
    CASH_COLLECTED.code: frozenset({PATIENT}),
    ADVANCE_RECEIVABLE.code: None,  # any book may advance money
    FUND_BANK.code: FUND_BOOKS | {FISCAL},  # funds (issue 20)
    SUPERVISION_DEDUCTION.code: FUND_BOOKS - {ACCOUNT},  # funds (issue 20)
    **dict.fromkeys(_INTER_REGION, FUND_BOOKS - {ACCOUNT}),  # out-of-area clearing (issue 18)
}


def balances_in_total(tx: Transaction) -> list[str]:
    """Debits equal credits."""
    total = tx.total_fen
    return [] if total == 0 else [f"tx {tx.id}: debits - credits = {total} fen, not 0"]


def books_balance(tx: Transaction) -> list[str]:
    """Debits equal credits inside every book: no posting moves money between funds."""
    totals = book_totals(balances([tx]))
    return [f"tx {tx.id}: book {b} ({book_name(b)}) is off by {fen} fen"
            for b, fen in sorted(totals.items()) if fen]  # fmt: skip


def integer_fen(tx: Transaction) -> list[str]:
    """Every amount is an integer number of fen (no float, no Decimal, no bool)."""
    return [f"tx {tx.id}: {p.account.label} amount {p.amount_fen!r} is not integer fen"
            for p in tx.postings if type(p.amount_fen) is not int]  # fmt: skip


def accounts_in_their_books(tx: Transaction) -> list[str]:
    """Each account type stays in its books: fund accounts in funds, the fiscal subsidy
    in ``FISCAL`` only (单列), cash in ``PATIENT`` only; unknown codes are refused."""
    out = []
    for p in tx.postings:
        code, book = p.account.code, p.account.book
        if code not in _ALLOWED_BOOKS:
            out.append(f"tx {tx.id}: unknown account code {code!r}")
            continue
        allowed = _ALLOWED_BOOKS[code]
        if allowed is not None and book not in allowed:
            out.append(f"tx {tx.id}: {p.account.label} is outside its books")
    return out


TX_CHECKS: tuple[Callable[[Transaction], list[str]], ...] = (
    integer_fen,
    balances_in_total,
    books_balance,
    accounts_in_their_books,
)


def transaction_problems(tx: Transaction) -> list[str]:
    """Every check of ``TX_CHECKS`` on one transaction."""
    return [problem for check in TX_CHECKS for problem in check(tx)]


def trial_balance_problems(txs: Iterable[Transaction]) -> list[str]:
    """The trial balance (试算平衡): all balances sum to zero, in total and per book."""
    totals = book_totals(balances(txs))
    out = [f"trial balance: book {b} ({book_name(b)}) is off by {fen} fen"
           for b, fen in sorted(totals.items()) if fen]  # fmt: skip
    total = sum(totals.values())
    return out + ([f"trial balance: debits - credits = {total} fen"] if total else [])


_ZERO = Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))
_PAID = (("basic fund", "basic_paid_fen"), ("serious illness", "serious_paid_fen"),
         ("medical assistance", "assistance_paid_fen"))  # fmt: skip


def settlement_problems(
    s: Settlement, tx: Transaction, *, policy: Policy | None = None
) -> list[str]:
    """``tx`` posts exactly ``s`` (negated for a reversal), and — for a settlement —
    ``s``'s accumulators and account balance move as its postings imply. With the
    settlement's ``policy``, serious-illness pay is recomputed from its bands too."""
    ref, sign, i = tx.settlement, -1 if tx.kind == "reversal" else 1, s.setlinfo
    if ref is None or (ref.encounter_id, ref.insuree_id) != (s.encounter_id, s.insuree_id):
        who = mask_psn_no(s.insuree_id)
        return [f"tx {tx.id}: does not post encounter {s.encounter_id} of {who}"]
    got = posted_amounts(tx)
    want = (i.hifp_pay, i.hifob_pay + i.hifmi_pay, i.maf_pay, i.acct_pay, i.fiscal_pay,
            i.psn_cash_pay, i.medfee_sumamt)  # fmt: skip
    names = ("hifp_pay", "hifob_pay + hifmi_pay", "maf_pay", "acct_pay", "fiscal_pay",
             "psn_cash_pay", "medfee_sumamt (owed to the hospital or, claimed by hand, "
             "the insuree)")  # fmt: skip
    posted = (got.hifp_pay, got.serious_pay, got.maf_pay, got.acct_pay, got.fiscal_pay,
              got.psn_cash_pay, got.to_hospital + got.to_insuree)  # fmt: skip
    out = [f"tx {tx.id}: posts {name} {p} fen, the settlement says {sign * w}"
           for name, p, w in zip(names, posted, want, strict=True) if p != sign * w]  # fmt: skip
    if sign == 1:
        out += _movement_problems(s, tx, got.hifp_pay, got.serious_pay, got.maf_pay,
                                  got.acct_pay, policy)  # fmt: skip
    return out


def _movement_problems(s: Settlement, tx: Transaction, hifp: int, serious: int, maf: int,
                       acct: int, policy: Policy | None) -> list[str]:  # fmt: skip
    """Accumulators and the account balance against the posted amounts, each capped
    payment in the paid form against what the fund had paid (§5.3–§5.8, §6); each
    ``…_paid_fen`` moves by exactly what its fund posted."""
    f, i, before = s.facts, s.setlinfo, s.accumulators_before
    d, out = s.accumulators_after.minus(before), []
    for name, posted, field in (("hifp_pay", hifp, "basic_paid_fen"),
                                ("hifmi_pay + hifob_pay", serious, "serious_paid_fen"),
                                ("maf_pay", maf, "assistance_paid_fen")):  # fmt: skip
        if getattr(d, field) != posted:
            out.append(f"tx {tx.id}: {field} moved {getattr(d, field)}, {name} posted {posted}")
    h_basic = min(before.basic_entitled_fen + d.basic_entitled_fen, f.basic_cap_fen)
    want = paid_capped(h_basic, f.basic_paid_before_fen, i.inscp_scp_amt - i.act_pay_dedc)
    if hifp != want:
        out.append(f"tx {tx.id}: hifp_pay posted {hifp} != {want}, the paid form of "
                   f"basic_entitled_fen (+{d.basic_entitled_fen}, cap {f.basic_cap_fen}, "
                   f"paid {f.basic_paid_before_fen})")  # fmt: skip
    base = i.inscp_scp_amt - hifp if f.scheme != "none" else 0
    if d.serious_base_fen != base:
        out.append(
            f"tx {tx.id}: serious_base_fen moved {d.serious_base_fen}, the postings "
            f"imply {base} (inscp_scp_amt - hifp_pay)"
        )
    out += _serious_problems(s, tx, serious, d.serious_base_fen, policy)
    cap_m = f.assistance_cap_fen if f.assisted else 0
    h_m = min(before.assistance_entitled_fen + d.assistance_entitled_fen, cap_m)
    want_m = paid_capped(h_m, f.assistance_paid_before_fen, f.assistance_base_fen)
    if maf != want_m or (not f.assisted and d.assistance_entitled_fen):
        out.append(
            f"tx {tx.id}: maf_pay posted {maf} != {want_m}, the paid form of "
            f"assistance_entitled_fen (+{d.assistance_entitled_fen})"
        )
    moved = s.account_balance_before_fen - s.account_balance_after_fen
    if acct != moved:
        out.append(f"tx {tx.id}: acct_pay posted {acct}, the account balance moved {moved}")
    return out


def _serious_problems(s: Settlement, tx: Transaction, serious: int, base: int,
                      policy: Policy | None) -> list[str]:  # fmt: skip
    """Serious-illness pay in the paid form: from the facts' G(S + base), and — with the
    settlement's pack — from its bands too."""
    f, out = s.facts, []
    want = paid_capped(f.serious_g_after_fen, f.serious_paid_before_fen, base)
    if serious != want:
        out.append(f"tx {tx.id}: serious-illness pay {serious} != min(base, max(0, "
                   f"G(S + base) - P)) = {want}")  # fmt: skip
    if serious and f.serious_paid_before_fen + serious > f.serious_cap_fen:
        out.append(f"tx {tx.id}: serious-illness pay {serious} exceeds the cap left")
    if policy is not None and f.scheme in policy.serious:
        table = policy.serious[f.scheme]
        s_after = s.accumulators_after.serious_base_fen
        g = serious_entitled(s_after, table, SCALAR) if s_after > table.threshold_fen else 0
        if g != f.serious_g_after_fen:
            out.append(f"tx {tx.id}: G(S + base) is {g} under the pack's bands, the "
                       f"settlement says {f.serious_g_after_fen}")  # fmt: skip
    return out


def reversal_problems(original: Transaction, reversal: Transaction) -> list[str]:
    """``reversal`` negates ``original`` exactly (same accounts, opposite amounts)."""
    out = []
    if reversal.kind != "reversal" or reversal.reverses != original.id:
        out.append(f"tx {reversal.id}: is not marked as the reversal of {original.id}")
    if original.kind != "settlement":
        out.append(f"tx {reversal.id}: reverses {original.id}, which is not a settlement")
    negated = tuple(p.negated() for p in original.postings)
    if reversal.postings != negated or reversal.settlement != original.settlement:
        out.append(f"tx {reversal.id}: is not the exact negation of {original.id}")
    return out


class Booked(NamedTuple):
    """A stored transaction with the settlement it posts (for a reversal: the
    settlement it reverses)."""

    settlement: Settlement
    transaction: Transaction


YearKey = tuple[str, int]  # (insuree id, accumulator year)


def year_problems(
    booked: Iterable[Booked],
    *,
    accumulators: Mapping[YearKey, Accumulators] | None = None,
    opening: Mapping[YearKey, Accumulators] | None = None,
) -> list[str]:
    """Per insuree-year: each fund's standing payments (opening paid + what the booked
    settlements and reversals posted) within its yearly cap, unless it stood above it
    at the opening and paid nothing more; and — given the stored ``accumulators`` —
    opening (default zero) + net movements == stored, with each stored ``…_paid_fen``
    equal to its fund's standing payments."""
    caps: dict[YearKey, list[int]] = {}
    posted: dict[YearKey, list[int]] = {}
    moves: dict[YearKey, Accumulators] = {}
    for s, tx in booked:
        if tx.settlement is None:
            continue
        key = (tx.settlement.insuree_id, tx.settlement.accumulator_year)
        got, f = posted_amounts(tx), s.facts
        row = posted.setdefault(key, [0, 0, 0])
        row[0] += got.hifp_pay
        row[1] += got.serious_pay
        row[2] += got.maf_pay
        cap = caps.setdefault(key, [0, 0, 0])
        cap[0] = max(cap[0], f.basic_cap_fen)
        cap[1] = max(cap[1], f.serious_cap_fen)
        cap[2] = max(cap[2], f.assistance_cap_fen)
        d = s.accumulators_after.minus(s.accumulators_before)
        now = moves.get(key, _ZERO)
        moves[key] = now.minus(d) if tx.kind == "reversal" else now.minus(_ZERO.minus(d))
    out = []
    starts = opening or {}
    for key, paid in sorted(posted.items()):
        start = starts.get(key, _ZERO)
        for n, (name, field) in enumerate(_PAID):
            first, limit = getattr(start, field), caps[key][n]
            standing = first + paid[n]
            if standing > max(limit, first):
                out.append(f"{_who(key)}: {name} paid {standing} fen, above the yearly cap {limit}")
    if accumulators is not None:
        out += _accumulator_totals(moves, posted, accumulators, starts)
    return out


def _who(key: YearKey) -> str:
    """An insuree-year in a problem line: the ID number masked (problems reach logs)."""
    return f"{mask_psn_no(key[0])} {key[1]}"


def _accumulator_totals(moves: Mapping[YearKey, Accumulators],
                        posted: Mapping[YearKey, list[int]],
                        stored: Mapping[YearKey, Accumulators],
                        opening: Mapping[YearKey, Accumulators]) -> list[str]:  # fmt: skip
    out = []
    for key in sorted(set(moves) | set(stored)):
        start, now = opening.get(key, _ZERO), stored.get(key, _ZERO)
        net = moves.get(key, _ZERO)
        for name in ACCUMULATOR_FIELDS:
            want = getattr(start, name) + getattr(net, name)
            if want != getattr(now, name):
                out.append(f"{_who(key)}: {name} is {getattr(now, name)}, the booked "
                           f"settlements imply {want}")  # fmt: skip
        paid = posted.get(key, [0, 0, 0])
        for n, (name, field) in enumerate(_PAID):
            standing = getattr(start, field) + paid[n]
            if standing != getattr(now, field):
                out.append(f"{_who(key)}: {field} is {getattr(now, field)}, the "
                           f"{name}'s standing postings are {standing}")  # fmt: skip
    return out


def ledger_problems(
    booked: Sequence[Booked],
    *,
    others: Sequence[Transaction] = (),
    accumulators: Mapping[YearKey, Accumulators] | None = None,
    opening: Mapping[YearKey, Accumulators] | None = None,
    packs: Mapping[str, Policy] | None = None,
) -> list[str]:
    """Everything above over a stored journal: what `yibao ledger check` reports.

    ``booked`` pairs each settlement or reversal transaction with its settlement;
    ``others`` are the transactions no settlement posts (adjustments, and later
    prepayments and clearing), checked for balance and in the trial balance."""
    txs = [b.transaction for b in booked] + list(others)
    out = [problem for tx in txs for problem in transaction_problems(tx)]
    out += trial_balance_problems(txs)
    seen: set[str] = set()
    for tx in txs:
        if tx.id in seen:
            out.append(f"tx {tx.id}: booked twice")
        seen.add(tx.id)
    by_id = {b.transaction.id: b for b in booked}
    reversed_ids: set[str] = set()
    for s, tx in booked:
        policy = (packs or {}).get(s.pack_id)
        out += settlement_problems(s, tx, policy=policy) if tx.settlement is not None else []
        if tx.kind != "reversal":
            continue
        original = by_id.get(tx.reverses or "")
        if original is None:
            out.append(f"tx {tx.id}: reverses {tx.reverses}, which is not booked")
            continue
        if original.transaction.id in reversed_ids:
            out.append(f"tx {tx.id}: {original.transaction.id} is reversed twice")
        reversed_ids.add(original.transaction.id)
        out += reversal_problems(original.transaction, tx)
    return out + year_problems(booked, accumulators=accumulators, opening=opening)


# -- funds (issue 20, g1): statements equal postings ------------------------------------


def statement_problems(
    statement_id: str,
    lines: Sequence[StatementLine],
    posted: Mapping[str, tuple[int, int]],
    clearing: Transaction | None,
    *,
    provider_code: str,
) -> list[str]:
    """A hospital's monthly statement against the books: each book's owed amounts
    (ordinary, COVID) equal what the month's settlements and reversals ``posted`` to its
    payable; deductions and offsets are non-negative; and the clearing transaction, once
    paid, posts exactly the statement's lines (``funds.clearing_tx``)."""
    out = []
    by_book = {ln.book: ln for ln in lines}
    for book in sorted(set(by_book) | {b for b, v in posted.items() if v != (0, 0)}):
        ln = by_book.get(book)
        have = (ln.owed_ordinary_fen, ln.owed_covid_fen) if ln else (0, 0)
        want = posted.get(book, (0, 0))
        if have != want:
            out.append(f"statement {statement_id}: book {book} owes {have} (ordinary, COVID) "
                       f"fen, the postings say {want}")  # fmt: skip
        if ln is not None and (ln.deduction_fen < 0 or ln.offset_fen < 0):
            out.append(f"statement {statement_id}: book {book} has a negative deduction or "
                       f"offset")  # fmt: skip
    if clearing is not None:
        want_tx = clearing_tx(tx_id=clearing.id, provider_code=provider_code, lines=lines,
                              booked_on=clearing.booked_on, narration="")  # fmt: skip
        if balances([want_tx]) != balances([clearing]) or clearing.kind != "clearing":
            out.append(f"statement {statement_id}: clearing {clearing.id} does not post the "
                       f"statement's lines")  # fmt: skip
    return out
