"""The hospital settlement service's tables (issue 6; docs/STORE.md, "Service tables").

- ``encounters``: one row per stay (就诊, mdtrt_id) holding its *current* state, a
  projection of ``encounter_events``, which records every change (append-only);
- ``fee_lines``: uploaded fee lines (费用明细) with their catalog fields resolved at
  upload; a cancelled line keeps its row (``cancelled_at`` set once);
- ``settlements``: every settlement and reversal (结算 / 结算撤销) with its pack id and
  hash, its record (lines and facts: its setldetail and trace are rebuilt from it when
  read), accumulators and account balance before and after;
- ``accumulators`` (per insuree-year) and ``account_balances`` (per insuree, the
  movements on top of the registry's opening balance): the rows a settlement locks;
- ``journal_transactions`` / ``journal_postings``: the double-entry journal
  (append-only: database triggers refuse UPDATE and DELETE);
- ``audit_log`` (append-only), ``api_keys``, ``requests`` (Idempotency-Key and national
  msgid replies, unique per hospital), ``compensations`` (冲正: msgids undone).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base
from yibao.store.registry_tables import Id

__all__ = [
    "APPEND_ONLY",
    "DEFERRAL_REASONS",
    "ROLES",
    "STATUSES",
    "TX_KINDS",
    "AccountBalance",
    "Accumulator",
    "ApiKey",
    "AuditEntry",
    "Compensation",
    "Deferral",
    "Encounter",
    "EncounterEvent",
    "FeeLineRow",
    "JournalPosting",
    "JournalTransaction",
    "RequestRecord",
    "SettlementRow",
    "TransferFiling",
]

Json = JSON()
Time = DateTime(timezone=True)
ROLES = ("hospital", "clerk", "finance", "auditor", "admin")
STATUSES = ("admitted", "discharged", "settled", "cancelled", "deferred")
"""Encounter statuses (docs/API.md, "Encounter lifecycle"); ``deferred`` (treat first,
settle later: issue 7, migration 0003) waits in the queue with a ``deferrals`` row."""
DEFERRAL_REASONS = ("not_enrolled", "offline", "awaiting_transfer", "no_pack")
"""Why an encounter waits (docs/OFFLINE.md, "Deferred queue"): the insuree's enrolment is
not imported or not complete on the discharge date (参保信息尚未导入), the hospital
captured it offline (系统故障), or it is a transfer-in whose sending hospital's encounter
is not settled yet (转院: 转出医院先结算), or it is insured in a region no loaded pack covers
(``no_pack``: settled when one is loaded; issue 18, migration 0009)."""
TX_KINDS = ("settlement", "reversal", "adjustment", "advance", "clearing")
"""Journal transaction kinds; ``advance`` (a deferred encounter's 医院垫付) and its
``clearing`` come with migration 0003."""
APPEND_ONLY = ("encounter_events", "journal_transactions", "journal_postings", "audit_log")
"""Tables whose rows are never updated or deleted: triggers refuse it (migration 0002)."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ApiKey(Base):
    """An API key: shown once, stored as the sha256 of its secret; a role and, for a
    hospital, the provider whose encounters it may see and change."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("role <> 'hospital' OR provider_code IS NOT NULL", name="hospital"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))
    provider_code: Mapped[str | None] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Time)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Time)


_SOURCED = text("source_key IS NOT NULL")  # re-entered stays only


class Encounter(Base):
    """就诊: the current state of one stay; ``encounter_events`` is its history."""

    __tablename__ = "encounters"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("covid_status", ("confirmed", "suspected", "none")), name="covid"),
        CheckConstraint(_in("filing", ("registered", "unregistered", "not_needed")), name="filing"),
        Index("ix_encounters_psn_no_admit_date", "psn_no", "admit_date"),
        Index("ix_encounters_provider_code_admit_date", "provider_code", "admit_date"),
        Index(
            "uq_encounters_source_key",
            "source_key",
            unique=True,
            sqlite_where=_SOURCED,
            postgresql_where=_SOURCED,
        ),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)  # mdtrt_id
    provider_code: Mapped[str] = mapped_column(String(20))  # fixmedins_code
    psn_no: Mapped[str] = mapped_column(String(18))
    insured_region: Mapped[str] = mapped_column(String(6))  # 参保地 at admission
    scheme_code: Mapped[str | None] = mapped_column(String(8))  # insutype as sent
    med_type: Mapped[str] = mapped_column(String(8))
    admit_time: Mapped[dt.datetime] = mapped_column(Time)
    admit_date: Mapped[dt.date] = mapped_column(Date)
    discharge_time: Mapped[dt.datetime | None] = mapped_column(Time)
    discharge_date: Mapped[dt.date | None] = mapped_column(Date)
    diagnoses: Mapped[list[dict[str, Any]]] = mapped_column(Json)  # [{code, main}]
    covid_status: Mapped[str | None] = mapped_column(String(10))  # None: from diagnoses
    filing: Mapped[str] = mapped_column(String(12))  # 异地就医备案
    transfer_from: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12))
    settlement_id: Mapped[str | None] = mapped_column(String(30))  # the standing settlement
    admit_msgid: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)  # +1 on every event
    created_at: Mapped[dt.datetime] = mapped_column(Time)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
    # a stay re-entered from a capture file: F + 29 hex of sha256(provider|encounter_no),
    # what finds it again when the file comes twice (DECISIONS 0095); None otherwise
    source_key: Mapped[str | None] = mapped_column(String(30))


class EncounterEvent(Base):
    """One state change of an encounter: what, from which status to which, who, when,
    under which msgid. Append-only."""

    __tablename__ = "encounter_events"
    __table_args__ = (UniqueConstraint("encounter_id", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    status_from: Mapped[str | None] = mapped_column(String(12))
    status_to: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    msgid: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)


_ACTIVE = text("cancelled_at IS NULL")
_UPLOADED = text("upload_msgid IS NOT NULL")  # re-entered lines have none (DECISIONS 0094)


class FeeLineRow(Base):
    """费用明细: one uploaded line with the catalog fields resolved at upload."""

    __tablename__ = "fee_lines"
    __table_args__ = (
        Index(
            "uq_fee_lines_active",
            "encounter_id",
            "sn",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index(
            "ix_fee_lines_upload_msgid",
            "upload_msgid",
            sqlite_where=_UPLOADED,
            postgresql_where=_UPLOADED,
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"))
    sn: Mapped[str] = mapped_column(String(30))  # feedetl_sn
    reverses_sn: Mapped[str | None] = mapped_column(String(30))  # init_feedetl_sn (refund)
    code: Mapped[str] = mapped_column(String(50))  # national code
    hospital_code: Mapped[str | None] = mapped_column(String(50))  # 对码 source
    category: Mapped[str] = mapped_column(String(10))
    item_class: Mapped[str] = mapped_column(String(1))
    selfpay_bp: Mapped[int] = mapped_column(Integer)
    price_e6: Mapped[int] = mapped_column(BigInteger)  # 单价 pric × 10^6
    qty_e4: Mapped[int] = mapped_column(BigInteger)  # 数量 cnt × 10^4, negative on a refund
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    price_cap_e6: Mapped[int | None] = mapped_column(BigInteger)  # 限价 × 10^6
    in_protocol: Mapped[bool] = mapped_column(Boolean)
    temp_code: Mapped[bool] = mapped_column(Boolean)
    catalog_region: Mapped[str] = mapped_column(String(6))
    protocol_edition: Mapped[int | None] = mapped_column(SmallInteger)
    service_date: Mapped[dt.date] = mapped_column(Date)
    service_time: Mapped[dt.datetime | None] = mapped_column(Time)
    dept: Mapped[str | None] = mapped_column(String(30))
    doctor: Mapped[str | None] = mapped_column(String(30))
    order_no: Mapped[str | None] = mapped_column(String(30))
    uploaded_at: Mapped[dt.datetime] = mapped_column(Time)
    upload_msgid: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(Time)  # set once
    cancel_msgid: Mapped[str | None] = mapped_column(String(100))


class SettlementRow(Base):
    """结算 or 结算撤销: never edited. A reversal row negates the amounts of the
    settlement it ``reverses`` (unique: a settlement is reversed once)."""

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint(_in("kind", ("settlement", "reversal")), name="kind"),
        Index("ix_settlements_encounter_id", "encounter_id"),
        Index("ix_settlements_psn_no_year", "psn_no", "year"),
        Index("ix_settlements_provider_code_booked_on", "provider_code", "booked_on"),
        Index("ix_settlements_msgid", "msgid"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)  # setl_id
    kind: Mapped[str] = mapped_column(String(10))
    reverses: Mapped[str | None] = mapped_column(ForeignKey("settlements.id"), unique=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"))
    provider_code: Mapped[str] = mapped_column(String(20))
    psn_no: Mapped[str] = mapped_column(String(18))
    year: Mapped[int] = mapped_column(SmallInteger)  # the accumulator year
    booked_on: Mapped[dt.date] = mapped_column(Date)  # the day it counts in 3201
    settled_at: Mapped[dt.datetime] = mapped_column(Time)
    discharge_date: Mapped[dt.date] = mapped_column(Date)
    msgid: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(64))
    pack_id: Mapped[str] = mapped_column(String(64))
    pack_sha256: Mapped[str] = mapped_column(String(64))
    med_type: Mapped[str] = mapped_column(String(8))
    clr_type: Mapped[str] = mapped_column(String(6))
    central_share_bp: Mapped[int] = mapped_column(Integer)
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)  # signed: negative on a reversal
    fund_pay_sumamt: Mapped[int] = mapped_column(BigInteger)
    fiscal_pay: Mapped[int] = mapped_column(BigInteger)
    acct_pay: Mapped[int] = mapped_column(BigInteger)
    psn_cash_pay: Mapped[int] = mapped_column(BigInteger)
    # {name: fen} keyed by ACCUMULATOR_FIELDS (migration 0007; lists of three before)
    accumulators_before: Mapped[dict[str, int]] = mapped_column(Json)
    accumulators_after: Mapped[dict[str, int]] = mapped_column(Json)
    balance_before_fen: Mapped[int] = mapped_column(BigInteger)
    balance_after_fen: Mapped[int] = mapped_column(BigInteger)
    # the Settlement, facts included: its trace and setldetail (基金分项) are rebuilt from
    # it when read (settlement_record.Stored; DECISIONS 0084)
    record: Mapped[dict[str, Any]] = mapped_column(Json)


class Accumulator(Base):
    """One insuree's yearly accumulators (SETTLEMENT.md §2): locked by every settlement.
    The columns are named as ``ACCUMULATOR_FIELDS``; each ``…_paid_fen`` is what its fund
    paid over the standing settlements (the paid form, SETTLEMENT.md §6)."""

    __tablename__ = "accumulators"

    psn_no: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    basic_entitled_fen: Mapped[int] = mapped_column(BigInteger)
    basic_paid_fen: Mapped[int] = mapped_column(BigInteger)  # hifp_pay standing (0007)
    serious_base_fen: Mapped[int] = mapped_column(BigInteger)
    serious_paid_fen: Mapped[int] = mapped_column(BigInteger)  # hifmi_pay + hifob_pay
    assistance_entitled_fen: Mapped[int] = mapped_column(BigInteger)
    assistance_paid_fen: Mapped[int] = mapped_column(BigInteger)  # maf_pay standing
    updated_at: Mapped[dt.datetime] = mapped_column(Time)


class AccountBalance(Base):
    """个人账户: the net movement (payments negative) on top of the registry's opening
    balance; the balance is opening + ``moved_fen``."""

    __tablename__ = "account_balances"

    psn_no: Mapped[str] = mapped_column(String(18), primary_key=True)
    moved_fen: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)


class JournalTransaction(Base):
    """A ledger transaction (记账凭证): never edited; a reversal is a new one."""

    __tablename__ = "journal_transactions"
    __table_args__ = (
        CheckConstraint(_in("kind", TX_KINDS), name="kind"),
        Index("ix_journal_transactions_provider_code_booked_on", "provider_code", "booked_on"),
        Index("ix_journal_transactions_psn_no_accumulator_year", "psn_no", "accumulator_year"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    booked_on: Mapped[dt.date] = mapped_column(Date)
    reverses: Mapped[str | None] = mapped_column(String(40))
    narration: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(Time)
    settlement_id: Mapped[str | None] = mapped_column(String(30))
    encounter_id: Mapped[str | None] = mapped_column(String(30))
    psn_no: Mapped[str | None] = mapped_column(String(18))
    provider_code: Mapped[str | None] = mapped_column(String(20))
    scheme: Mapped[str | None] = mapped_column(String(8))
    accumulator_year: Mapped[int | None] = mapped_column(SmallInteger)
    clr_type: Mapped[str | None] = mapped_column(String(6))


class JournalPosting(Base):
    """One posting: account (code, book, key) and signed fen (debit > 0 > credit)."""

    __tablename__ = "journal_postings"
    __table_args__ = (UniqueConstraint("tx_id", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tx_id: Mapped[str] = mapped_column(ForeignKey("journal_transactions.id"))
    seq: Mapped[int] = mapped_column(SmallInteger)
    code: Mapped[str] = mapped_column(String(24))
    book: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


_OPEN_DEFERRAL = text("cleared_at IS NULL")


class Deferral(Base):
    """先救治、后结算: one deferral of an encounter — why it waits, what the hospital
    advanced (医院垫付, posted as an ``advance`` transaction) and, set once when the
    queue settles it, the settlement and the ``clearing`` transaction. An encounter has
    at most one open deferral."""

    __tablename__ = "deferrals"
    __table_args__ = (
        CheckConstraint(_in("reason", DEFERRAL_REASONS), name="reason"),
        Index(
            "uq_deferrals_open",
            "encounter_id",
            unique=True,
            sqlite_where=_OPEN_DEFERRAL,
            postgresql_where=_OPEN_DEFERRAL,
        ),
        Index("ix_deferrals_provider_code_cleared_at", "provider_code", "cleared_at"),
        Index("ix_deferrals_psn_no_year", "psn_no", "year"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"))
    provider_code: Mapped[str] = mapped_column(String(20))
    psn_no: Mapped[str] = mapped_column(String(18))
    year: Mapped[int] = mapped_column(SmallInteger)  # the accumulator year (discharge)
    discharge_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(20))
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)  # the lines' total when deferred
    advance_fen: Mapped[int] = mapped_column(BigInteger)  # what the hospital advanced
    provisional: Mapped[bool] = mapped_column(Boolean)  # advance given by the hospital
    deferred_at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    msgid: Mapped[str | None] = mapped_column(String(100))
    advance_tx_id: Mapped[str] = mapped_column(String(40))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(Time)  # set once
    settlement_id: Mapped[str | None] = mapped_column(String(30))
    clearing_tx_id: Mapped[str | None] = mapped_column(String(40))


class TransferFiling(Base):
    """转院备案 (2501): the sending hospital files the transfer of an insuree's stay to a
    receiving hospital; the receiving hospital's admission within the filing's dates
    links to the stay (``transfer_from``). ``cancelled_at`` is set once (2502)."""

    __tablename__ = "transfer_filings"
    __table_args__ = (Index("ix_transfer_filings_psn_no_to_provider", "psn_no", "to_provider"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    from_provider: Mapped[str] = mapped_column(String(20))
    from_encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"))
    psn_no: Mapped[str] = mapped_column(String(18))
    to_provider: Mapped[str | None] = mapped_column(String(20))  # None: any hospital
    transfer_date: Mapped[dt.date] = mapped_column(Date)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
    filed_at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    msgid: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(Time)
    filing_id: Mapped[str | None] = mapped_column(String(30))  # 异地就医备案 (migration 0009)


class AuditEntry(Base):
    """审计日志: who changed what, when, with the sha256 of before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))  # api key id, or the CLI's login name
    role: Mapped[str] = mapped_column(String(20))
    provider_code: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(100))
    msgid: Mapped[str | None] = mapped_column(String(100))
    before_sha256: Mapped[str | None] = mapped_column(String(64))
    after_sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)  # masked


class RequestRecord(Base):
    """The first answer to an idempotent request: REST ``Idempotency-Key`` or national
    ``msgid``, unique per principal (a hospital's provider code, or a key)."""

    __tablename__ = "requests"

    principal: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))  # rest | nhsa
    operation: Mapped[str] = mapped_column(String(120))  # "POST /v1/…" or the infno
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of what was asked
    status: Mapped[int] = mapped_column(SmallInteger)
    content_type: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Time)


class Compensation(Base):
    """冲正 (2601): a msgid undone. A msgid compensated is never applied afterwards."""

    __tablename__ = "compensations"

    principal: Mapped[str] = mapped_column(String(40), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(100), primary_key=True)
    infno: Mapped[str] = mapped_column(String(120))  # the infno, or the REST route
    at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    by_msgid: Mapped[str | None] = mapped_column(String(100))
    undone: Mapped[dict[str, Any]] = mapped_column(Json)
