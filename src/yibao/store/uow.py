"""The unit of work: one transaction, the repositories as attributes, commit once.

Services open it (STYLE.md §5)::

    def import_file(uow: UnitOfWork, ...) -> Imported:
        with uow:
            ... uow.insurees.stage() ... uow.record_change(...)
            uow.commit()

Leaving the block without ``commit()`` rolls back. Entering a unit of work that is
already open joins it (a depth count): a query service such as
``catalog.resolve_lines`` opens its own when called alone and shares the caller's
transaction when called from a use case, which then commits once. A use case that
``commit()``s inside another's unit of work (the idempotency wrapper around a
settlement, say) leaves the commit to the outermost, which stores its reply in the
same transaction.

``with uow(write=True):`` opens a transaction that will write: on SQLite it begins
``IMMEDIATE`` (the write lock at once: two settlements queue instead of failing), on
PostgreSQL nothing changes (rows are locked ``FOR UPDATE`` where they are read).
"""

from __future__ import annotations

import datetime as dt
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from yibao.core.registry import KINDS
from yibao.store.claim_repo import ClaimRepo
from yibao.store.db import WRITE_OPTION
from yibao.store.deferral_repo import DeferralRepo
from yibao.store.drug_repo import DrugRepo
from yibao.store.encounter_repo import HospitalRepo
from yibao.store.exchange_repo import ExchangeRepo
from yibao.store.filing_repo import FilingRepo
from yibao.store.fund_repo import FundRepo
from yibao.store.gateway_repo import GatewayRepo
from yibao.store.registry_tables import ChangeSet
from yibao.store.supervision_repo import SupervisionRepo
from yibao.store.user_repo import UserRepo
from yibao.store.versioned import Registry

__all__ = ["UnitOfWork"]


class UnitOfWork:
    """One database transaction with the registries' repositories."""

    session: Session
    hospital: HospitalRepo  # the service tables (encounters, settlements, journal …)
    deferrals: DeferralRepo  # the deferred queue (issue 7)
    gateway: GatewayRepo  # the national gateway's clients, nonces, sign-ins (issue 16)
    users: UserRepo  # the console's people (issue 17)
    exchange: ExchangeRepo  # exchanged files and settlement lists (issue 16)
    claims: ClaimRepo  # manual claims (手工报销, issue 19)
    filings: FilingRepo  # out-of-area filings and clearing (issue 18)
    supervision: SupervisionRepo  # fund supervision flags and their review (issue 22)
    drugs: DrugRepo  # drug monitoring and emergency-procurement filings (issue 21)
    funds: FundRepo  # prepayments, monthly clearing, subsidy claims, budgets (issue 20)
    insurees: Registry
    providers: Registry
    catalog: Registry
    protocol: Registry
    mapping: Registry
    diseases: Registry

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._depth = 0
        self._write = False

    def __call__(self, *, write: bool = False) -> UnitOfWork:
        """``with uow(write=True):`` — the transaction this opens will write."""
        if self._depth == 0:
            self._write = write
        return self

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __enter__(self) -> UnitOfWork:
        self._depth += 1
        if self._depth == 1:
            # only SQLite's BEGIN reads the option (db.py); on PostgreSQL a copy of the
            # engine per unit of work costs ~0.1 ms for nothing
            bind = (
                self.engine.execution_options(**{WRITE_OPTION: True})
                if self._write and self.engine.dialect.name == "sqlite"
                else self.engine
            )
            self._write = False
            self.session = Session(bind, expire_on_commit=False, autoflush=False)
            self.session.begin()
            for name, kind in KINDS.items():
                setattr(self, name, Registry(self.session, kind))
            self.hospital = HospitalRepo(self.session)
            self.deferrals = DeferralRepo(self.session)
            self.gateway = GatewayRepo(self.session)
            self.users = UserRepo(self.session)
            self.exchange = ExchangeRepo(self.session)
            self.claims = ClaimRepo(self.session)
            self.filings = FilingRepo(self.session)
            self.supervision = SupervisionRepo(self.session)
            self.drugs = DrugRepo(self.session)
            self.funds = FundRepo(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.session.rollback()  # a no-op after commit()
            self.session.close()

    def registry(self, kind: str) -> Registry:
        """The repository of the registry named ``kind`` (``KINDS``)."""
        reg: Registry = getattr(self, kind)
        return reg

    @property
    def nested(self) -> bool:
        """Is this unit of work joined by a caller (a commit here is the caller's)?"""
        return self._depth > 1

    def commit(self) -> None:
        """Commit the transaction. Inside a joined unit of work this does nothing: the
        outermost caller commits once, for everything."""
        if self._depth < 1:
            raise RuntimeError("commit() outside the unit of work")
        if self._depth == 1:
            self.session.commit()

    def open_change_set(
        self, kind: str, source: str, sha256: str | None, actor: str, at: dt.datetime
    ) -> ChangeSet:
        """Record a change set (who, when, from what) and give it its id."""
        cs = ChangeSet(
            kind=kind,
            source=source[-255:],
            source_sha256=sha256,
            actor=actor[:64],
            recorded_at=at,
            rows_read=0,
            rows_inserted=0,
            rows_superseded=0,
        )
        self.session.add(cs)
        self.session.flush()
        return cs

    def drop_change_set(self, cs: ChangeSet) -> None:
        """Forget a change set that changed nothing (an idempotent re-import)."""
        self.session.delete(cs)
        self.session.flush()
