"""services.validation: the pure checks, and the use cases refusing what they must before
anything is stored (issue 15), whatever adapter calls them."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.registry_data import CENTRE, EMPLOYEE, load_examples
from yibao.core.errors import InvalidRequest
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters import transfers, validation
from yibao.services.encounters.context import CST, Context
from yibao.store.service_tables import Encounter
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 14, 10, 0, tzinfo=CST)
HOSPITAL = Principal("k-centre", "hospital", CENTRE)
T0 = dt.datetime(2020, 2, 3, 9, 0, tzinfo=CST)
PLAIN = (uc.Diagnosis("J18.900", True),)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("B99.900", None),
        ("U07.100x001", None),
        ("", "may not be empty"),
        ("a b", "U+0020"),
        ("\u202e21", "U+202E"),
        ("21\u200b", "U+200B"),
        ("2\x001", "U+0000"),
        ("2\ud8001", "lone surrogate"),
        ("x" * 9, "longer than 8"),
    ],
)
def test_code_problem(value: str, problem: str | None) -> None:
    got = validation.code_problem(value, 8 if problem and "longer" in problem else 32)
    assert got is None if problem is None else (got is not None and problem in got)


def test_free_text_allows_tabs_and_newlines_only() -> None:
    assert validation.text_problem("科室\t1\r\n", 10) is None
    assert validation.text_problem("\u202e is fine in free text", 100) is None
    for bad in ("\x00", "\x07", "\x1b", "\x7f", "\x85", "\udc80"):
        assert validation.text_problem(f"a{bad}", 10) is not None


@pytest.mark.parametrize(
    ("value", "ok"),
    [("21", True), ("2101", True), ("21011", False), ("12345678", False), ("20", False),
     ("9901", True), ("2a", False)],
)  # fmt: skip
def test_med_type_is_national_or_a_local_extension(value: str, ok: bool) -> None:
    assert (validation.med_type_problem(value) is None) is ok


@pytest.mark.parametrize(("value", "ok"), [("310", True), ("39999", True), ("399999", False),
                                           ("999", False), ("31", False)])  # fmt: skip
def test_insutype_is_national_or_a_local_extension(value: str, ok: bool) -> None:
    assert (validation.insutype_problem(value) is None) is ok


def test_integers_are_64_bit_and_never_bools() -> None:
    assert validation.int_problem(2**63 - 1) is None
    assert validation.int_problem(-(2**63)) is None
    assert validation.int_problem(2**63) is not None
    assert validation.int_problem(False) is not None
    assert validation.int_problem(1.0) is not None


def test_lengths_come_from_the_columns() -> None:
    assert validation.LENGTH["med_type"] == Encounter.__table__.c.med_type.type.length
    assert validation.LENGTH["insuree_id"] == 18


def test_the_date_window_follows_the_clock() -> None:
    w = validation.DATE_WINDOW
    assert w.problem(NOW.date(), NOW) is None
    assert w.problem(w.latest(NOW), NOW) is None
    assert w.problem(w.latest(NOW) + dt.timedelta(days=1), NOW) is not None
    assert w.problem(dt.date(2817, 1, 1), NOW) is not None
    assert w.problem(w.earliest - dt.timedelta(days=1), NOW) is not None


# -- the use cases ----------------------------------------------------------------------------


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def _ctx() -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)


def _counts(uow: UnitOfWork) -> dict[str, int]:
    with uow:
        return uow.hospital.counts()


@pytest.mark.parametrize(
    ("field", "cmd"),
    [
        ("insuree_id", uc.Admit("abc", "21", T0, PLAIN, insured_region="500102")),
        ("med_type", uc.Admit(EMPLOYEE, "12345678", T0, PLAIN)),
        ("insutype", uc.Admit(EMPLOYEE, "21", T0, PLAIN, scheme_code="31\x00")),
        ("admit_time", uc.Admit(EMPLOYEE, "21", T0.replace(year=2817), PLAIN)),
        ("admit_time", uc.Admit(EMPLOYEE, "21", T0.replace(tzinfo=None), PLAIN)),
        ("diagnoses.0.code", uc.Admit(EMPLOYEE, "21", T0, (uc.Diagnosis("NOPE", True),))),
        ("diagnoses.0.main", uc.Admit(EMPLOYEE, "21", T0, (uc.Diagnosis("J18.900", 1),))),  # type: ignore[arg-type]
        ("insured_region",
         uc.Admit("500102199501010061", "21", T0, PLAIN, insured_region="509999")),
    ],
)  # fmt: skip
def test_admit_refuses_before_storing(loaded: UnitOfWork, field: str, cmd: uc.Admit) -> None:
    before = _counts(loaded)
    with pytest.raises(InvalidRequest) as err:
        uc.admit(loaded, _ctx(), HOSPITAL, cmd, msgid=None)
    assert field in [p for p, _ in err.value.problems]
    assert _counts(loaded) == before


def test_a_transfer_to_an_unknown_provider_or_from_a_cancelled_stay_is_refused(
    loaded: UnitOfWork,
) -> None:
    ctx = _ctx()
    enc = uc.admit(loaded, ctx, HOSPITAL, uc.Admit(EMPLOYEE, "21", T0, PLAIN), msgid=None)
    before = _counts(loaded)
    with pytest.raises(InvalidRequest, match="to_provider"):
        transfers.file_transfer(loaded, ctx, HOSPITAL, insuree_id=EMPLOYEE,
                                to_provider="H50019999999")  # fmt: skip
    uc.cancel_admission(loaded, ctx, HOSPITAL, enc.id, msgid=None)
    before = _counts(loaded)
    with pytest.raises(InvalidRequest, match="cancelled"):
        transfers.file_transfer(loaded, ctx, HOSPITAL, insuree_id=EMPLOYEE, encounter_id=enc.id)
    with pytest.raises(InvalidRequest, match="cancelled"):
        uc.admit(loaded, ctx, HOSPITAL, uc.Admit(EMPLOYEE, "21", T0, PLAIN, transfer_from=enc.id),
                 msgid=None)  # fmt: skip
    assert _counts(loaded) == before


def test_a_bool_quantity_is_refused_by_the_service(loaded: UnitOfWork) -> None:
    ctx = _ctx()
    enc = uc.admit(loaded, ctx, HOSPITAL, uc.Admit(EMPLOYEE, "21", T0, PLAIN), msgid=None)
    before = _counts(loaded)
    line = uc.FeeIn("1", "YP-0002", price_e6=50_000_000, qty_e4=False)
    with pytest.raises(InvalidRequest, match=r"lines\.0\.qty_e4"):
        uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, [line], msgid=None)
    assert _counts(loaded) == before


def test_the_request_digest_takes_what_orjson_cannot() -> None:
    """An integer beyond 64 bits or a lone surrogate still has a stable digest (the
    idempotency fingerprint), never an exception."""
    from yibao.services.access.rights import digest

    for doc in ({"n": 2**64}, {"n": -(10**30)}, {"s": "\ud800"}, [2**70, {"k": "a\ud800"}]):
        assert digest(doc) == digest(doc)
        assert len(digest(doc)) == 64
    assert digest({"n": 2**64}) != digest({"n": 2**64 + 1})


def test_reads_by_id_check_their_ids_at_the_service() -> None:
    """The CLI reaches the services without REST's or the envelope's checks: a settlement
    id or an insuree number with a NUL byte or past its column is refused there."""
    from yibao.services.encounters import settlement as setl
    from yibao.services.reports import reads as reports

    clerk = Principal("t", "clerk", None)
    with pytest.raises(InvalidRequest, match="settlement_id"):
        setl.settlement(None, clerk, "S\x00" + "1" * 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="psn_no"):
        reports.cumulative(None, clerk, "5" * 300, 2020)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="year"):
        reports.cumulative(None, clerk, "500102198001011234", 99999)  # type: ignore[arg-type]
