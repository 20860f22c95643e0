"""What `yibao ledger check` adds for fund management: every statement equals the
postings (its month's payables, and its clearing once paid), every disbursed prepayment
posts its proposed amount, every subsidy claim equals its stays' postings and its
payment, every central claim's true-up is booked."""

from __future__ import annotations

from collections import defaultdict

from yibao.core.ledger import Transaction, balances
from yibao.core.ledger.accounts import FISCAL_PAYABLE
from yibao.core.ledger.checks import statement_problems
from yibao.core.ledger.funds import prepayment_tx, subsidy_payment_tx
from yibao.services.funds.clearing import lines_of, month_owed
from yibao.store.uow import UnitOfWork

__all__ = ["fund_problems"]


def fund_problems(uow: UnitOfWork) -> list[str]:
    out: list[str] = []
    with uow:
        f = uow.funds
        stmts = f.statements(states=("draft", "confirmed", "paid"))
        preps = f.prepayments(states=("disbursed",))
        claims = f.claims()
        centrals = f.central_claims()
        ids = ([s.tx_id for s in stmts if s.tx_id] + [p.tx_id for p in preps]
               + [c.tx_id for c in claims if c.tx_id]
               + [c.adjustment_tx_id for c in centrals if c.adjustment_tx_id])  # fmt: skip
        txs: dict[str, Transaction] = (
            {t.id: t for t in uow.hospital.transactions(ids)} if ids else {}
        )
        by_month = defaultdict(list)
        for s in stmts:
            by_month[s.month].append(s)
        for month, rows in sorted(by_month.items()):
            owed = month_owed(uow, month)
            for s in rows:
                tx = txs.get(s.tx_id) if s.tx_id else None
                if s.tx_id and tx is None:
                    out.append(f"statement {s.id}: clearing {s.tx_id} is not booked")
                out += statement_problems(s.id, lines_of(s.lines), owed.get(s.provider_code, {}),
                                          tx, provider_code=s.provider_code)  # fmt: skip
        for p in preps:
            got = txs.get(p.tx_id)
            want = prepayment_tx(tx_id=p.tx_id, provider_code=p.provider_code,
                                 by_book={b: int(v) for b, v in (p.by_book or {}).items()},
                                 booked_on=p.booked_on, narration="")  # fmt: skip
            if got is None or balances([got]) != balances([want]):
                out.append(f"prepayment {p.id}: {p.tx_id} does not post {p.proposed_fen} fen")
        posted = f.claimed_fiscal(FISCAL_PAYABLE.code)
        for c in claims:
            if posted.get(c.id, 0) != int(c.fiscal_fen):
                out.append(f"subsidy claim {c.id}: claims {c.fiscal_fen} fen, its stays posted "
                           f"{posted.get(c.id, 0)}")  # fmt: skip
            if c.tx_id:
                got = txs.get(c.tx_id)
                want = subsidy_payment_tx(tx_id=c.tx_id, provider_code=c.provider_code,
                                          fen=int(c.fiscal_fen), booked_on=c.claimed_at.date(),
                                          narration="")  # fmt: skip
                if got is None or balances([got]) != balances([want]):
                    out.append(f"subsidy claim {c.id}: payment {c.tx_id} does not post "
                               f"{c.fiscal_fen} fen")  # fmt: skip
        for c in centrals:
            if c.adjustment_tx_id and c.adjustment_tx_id not in txs:
                out.append(f"central claim {c.id}: true-up {c.adjustment_tx_id} is not booked")
    return out
