"""The chart of accounts: typed account kinds, books that keep the funds apart, and keys.

An account is ``(code, book, key)``:

- ``code`` names an ``AccountType`` of ``CHART`` (what the account is: a fund's benefit
  expense, a payable to a hospital, an insuree's personal account …);
- ``book`` is the fund the money belongs to — a national fund code (基金支付类型:
  310100, 390100, 330100, 390200, 610100, 310200), ``FISCAL`` for the COVID fiscal
  subsidy, kept apart from every fund (单列, 财社〔2020〕2号), or ``PATIENT`` for the cash
  patients pay at the window (a memo book: that money never passes through a fund);
- ``key`` is the sub-ledger: a provider code (fixmedins_code), an insuree id (psn_no),
  a counterparty, or ``""``.

Every transaction balances inside each book (``checks.books_balance``), so a fund can be
audited on its own and no fen moves from one fund to another by posting. The personal
account is fund 310200's liability to the insuree whatever the scheme (a pack that lets
residents pay from an account books that payment in 310200 too).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from yibao.core.engine.funds import ACCOUNT, ASSISTANCE, BASIC, FUND_NAMES, SERIOUS

__all__ = [
    "ADVANCE",
    "ADVANCE_RECEIVABLE",
    "BENEFIT",
    "CASH_COLLECTED",
    "CENTRAL_RECEIVABLE",
    "CENTRAL_SHARE",
    "CHART",
    "FISCAL",
    "FISCAL_PAYABLE",
    "FISCAL_SUBSIDY",
    "FUND_BANK",
    "FUND_BOOKS",
    "HOSPITAL_PAYABLE",
    "INSUREE_PAYABLE",
    "INTER_REGION_ADVANCED",
    "INTER_REGION_BENEFIT",
    "INTER_REGION_PAYABLE",
    "INTER_REGION_RECEIVABLE",
    "PATIENT",
    "PATIENT_CASH",
    "PERSONAL_ACCOUNT",
    "SUPERVISION_DEDUCTION",
    "Account",
    "AccountType",
    "Kind",
    "Side",
    "account_type",
    "book_name",
    "parse_account",
]


class Kind(StrEnum):
    """What an account is, which fixes its normal side."""

    ASSET = "asset"  # 资产: debit-normal
    LIABILITY = "liability"  # 负债: credit-normal
    NET_ASSETS = "net_assets"  # 净资产/基金结余: credit-normal
    INCOME = "income"  # 收入: credit-normal
    EXPENSE = "expense"  # 支出: debit-normal


class Side(StrEnum):
    DEBIT = "debit"  # 借
    CREDIT = "credit"  # 贷


_DEBIT_NORMAL = frozenset({Kind.ASSET, Kind.EXPENSE})


@dataclass(frozen=True, slots=True)
class AccountType:
    """One line of the chart: code, Chinese name, kind and what its key is."""

    code: str
    name: str
    kind: Kind
    keyed_by: str  # "" | "provider" | "insuree" | "counterparty"
    about: str

    @property
    def normal_side(self) -> Side:
        """The side on which a positive balance of this account is shown."""
        return Side.DEBIT if self.kind in _DEBIT_NORMAL else Side.CREDIT


BENEFIT = AccountType(
    "benefit",
    "基金待遇支出",
    Kind.EXPENSE,
    "",
    "a fund's payment for insured care (hifp_pay, hifob/hifmi_pay, maf_pay)",
)
HOSPITAL_PAYABLE = AccountType(
    "hospital_payable",
    "应付定点医疗机构",
    Kind.LIABILITY,
    "provider",
    "what a fund (or the personal-account fund) owes a hospital for settled care",
)
INSUREE_PAYABLE = AccountType(
    "insuree_payable",
    "应付参保人员（手工报销）",
    Kind.LIABILITY,
    "insuree",
    "what a fund (or the fiscal subsidy) owes an insuree who paid the whole bill and "
    "claimed by hand (手工报销, 渝医保发〔2020〕3号 四（二）); cleared by the bank payment",
)
PERSONAL_ACCOUNT = AccountType(
    "personal_account",
    "个人账户",
    Kind.LIABILITY,
    "insuree",
    "an insuree's personal-account balance, held by fund 310200 (acct_pay debits it)",
)
FISCAL_SUBSIDY = AccountType(
    "fiscal_subsidy",
    "新冠患者个人负担财政补助支出（地方财政先行支付）",
    Kind.EXPENSE,
    "",
    "the COVID-19 fiscal subsidy, paid first by local finance (fiscal_pay)",
)
FISCAL_PAYABLE = AccountType(
    "fiscal_payable",
    "应付医院垫付财政补助",
    Kind.LIABILITY,
    "provider",
    "what finance owes a hospital that advanced (垫付) the fiscal subsidy",
)
CENTRAL_RECEIVABLE = AccountType(
    "central_receivable",
    "应收中央财政补助",
    Kind.ASSET,
    "",
    "central finance's share of the fiscal subsidy, receivable (财社〔2020〕2号)",
)
CENTRAL_SHARE = AccountType(
    "central_share",
    "中央财政补助收入",
    Kind.INCOME,
    "",
    "the same share as income of local finance: its net cost is subsidy - share",
)
PATIENT_CASH = AccountType(
    "patient_cash",
    "个人现金支付",
    Kind.EXPENSE,
    "insuree",
    "cash the patient pays the hospital (psn_cash_pay); memo book PATIENT",
)
CASH_COLLECTED = AccountType(
    "cash_collected",
    "医院收取个人现金",
    Kind.INCOME,
    "provider",
    "the same cash as the hospital's takings; memo book PATIENT",
)
ADVANCE_RECEIVABLE = AccountType(
    "advance_receivable",
    "垫付及预付应收",
    Kind.ASSET,
    "counterparty",
    "money a book paid ahead and will recover: a prepayment to a hospital (预付), "
    "a treatment place's advance for an out-of-area patient (异地垫付)",
)

# -- funds (issue 20, g1): the money leaving a book, and deductions to recover ----------
FUND_BANK = AccountType(
    "fund_bank",
    "基金支出户存款",
    Kind.ASSET,
    "",
    "a book's bank (支出户): credited by every payment out of it — a prepayment (预付), a "
    "monthly clearing's payment to a hospital (清算拨付), finance's payment of a "
    "hospital's subsidy claim (财政补助申报拨付)",
)
SUPERVISION_DEDUCTION = AccountType(
    "supervision_deduction",
    "应收定点医疗机构违规扣款",
    Kind.ASSET,
    "provider",
    "a confirmed supervision deduction, receivable from the hospital (posted by "
    "supervision); the monthly clearing recovers it from what the fund owes the hospital",
)
# -- end funds ---------------------------------------------------------------------------
# -- out-of-area care (issue 18, f1): clearing between regions (异地就医清算) ----------------
INTER_REGION_RECEIVABLE = AccountType(
    "inter_region_receivable",
    "应收异地就医垫付清算款",
    Kind.ASSET,
    "counterparty",
    "the fund share of an inbound patient's settlement our fund advanced (就医地先行垫付), "
    "receivable from the insured region (key: its region code) until cleared",
)
INTER_REGION_ADVANCED = AccountType(
    "inter_region_advanced",
    "异地就医垫付转参保地承担",
    Kind.EXPENSE,
    "",
    "contra-expense: the same fund share taken off our benefit expense (credit-normal use)",
)
INTER_REGION_BENEFIT = AccountType(
    "inter_region_benefit",
    "参保人异地就医待遇支出",
    Kind.EXPENSE,
    "",
    "the fund share of our insurees' stays settled in another region (outbound clearing file)",
)
INTER_REGION_PAYABLE = AccountType(
    "inter_region_payable",
    "应付异地就医清算款",
    Kind.LIABILITY,
    "counterparty",
    "what our fund owes the treating region for those stays (key: its region code)",
)

CHART: dict[str, AccountType] = {
    t.code: t
    for t in (
        BENEFIT,
        HOSPITAL_PAYABLE,
        INSUREE_PAYABLE,
        PERSONAL_ACCOUNT,
        FISCAL_SUBSIDY,
        FISCAL_PAYABLE,
        CENTRAL_RECEIVABLE,
        CENTRAL_SHARE,
        PATIENT_CASH,
        CASH_COLLECTED,
        ADVANCE_RECEIVABLE,
        FUND_BANK,  # funds (issue 20)
        SUPERVISION_DEDUCTION,  # funds (issue 20)
        INTER_REGION_RECEIVABLE,  # out-of-area clearing (issue 18)
        INTER_REGION_ADVANCED,
        INTER_REGION_BENEFIT,
        INTER_REGION_PAYABLE,
    )
}
"""Every account type, by code."""

FISCAL = "fiscal"  # the COVID-19 fiscal-subsidy line: 单列, outside every fund
ADVANCE = "999996"  # 医院垫付基金: a memo book for what hospitals advanced on deferred stays
PATIENT = "patient"  # memo book: cash between patient and hospital
FUND_BOOKS = frozenset({*BASIC.values(), *SERIOUS.values(), ASSISTANCE, ACCOUNT})
"""The national fund codes a settlement posts to (GLOSSARY "Codes we use")."""

_BOOK_NAMES = {
    FISCAL: "新冠财政补助（单列）",
    PATIENT: "个人现金（备查）",
    ADVANCE: "医院垫付（待结算，备查）",
}


def book_name(book: str) -> str:
    """The Chinese name of a book: the fund's national name, or ours for the others."""
    return FUND_NAMES.get(book) or _BOOK_NAMES.get(book, book)


@dataclass(frozen=True, slots=True, order=True)
class Account:
    """One account: a chart code in a book, for one sub-ledger key."""

    code: str
    book: str
    key: str = ""

    @property
    def type(self) -> AccountType:
        return CHART[self.code]

    @property
    def label(self) -> str:
        """``code:book:key`` — the account's text form (``parse_account`` reads it)."""
        return f"{self.code}:{self.book}:{self.key}"


def account_type(code: str) -> AccountType:
    """The chart line for ``code``; a ``KeyError`` names an unknown code."""
    try:
        return CHART[code]
    except KeyError:
        raise KeyError(f"unknown account code {code!r}") from None


def parse_account(label: str) -> Account:
    """``"hospital_payable:310100:H1"`` -> ``Account``; the key may itself hold ``:``."""
    parts = label.split(":", 2)
    if len(parts) != 3 or not parts[1]:
        raise ValueError(f"not an account label (code:book:key): {label!r}")
    account_type(parts[0])
    return Account(parts[0], parts[1], parts[2])
