"""Manual reimbursement (手工报销, issue 19; docs/CLAIMS.md): a claim taken in at the
township counter (受理), forwarded (移交), reviewed twice by two people (初审, 复核),
settled by the engine like an online stay, approved, paid by bank batch, and printed as
a statement (结算单) — each step on a working-day clock, never paid twice.

Modules: ``model`` (inputs, rights, the one state change ``move``), ``intake``,
``review``, ``booking`` (settle, reverse), ``payments``, ``reads``, ``limits``."""

from yibao.services.claims.booking import preview, reverse, settle
from yibao.services.claims.intake import (
    attach,
    forward,
    read_fee_list,
    receive,
    take_in,
    upload_fees,
)
from yibao.services.claims.model import ClaimIn, ClaimView, DiagnosisIn, InvoiceIn
from yibao.services.claims.payments import (
    apply_return,
    batch_view,
    list_batches,
    make_batch,
    write_bank_file,
)
from yibao.services.claims.reads import (
    claim_detail,
    engine_result,
    list_claims,
    overdue,
    statement_html,
    write_statement_xlsx,
)
from yibao.services.claims.review import (
    approve,
    classify,
    first_review,
    reject,
    resubmit,
    return_for_correction,
    second_review,
)

__all__ = [
    "ClaimIn",
    "ClaimView",
    "DiagnosisIn",
    "InvoiceIn",
    "apply_return",
    "approve",
    "attach",
    "batch_view",
    "claim_detail",
    "classify",
    "engine_result",
    "first_review",
    "forward",
    "list_batches",
    "list_claims",
    "make_batch",
    "overdue",
    "preview",
    "read_fee_list",
    "receive",
    "reject",
    "resubmit",
    "return_for_correction",
    "reverse",
    "second_review",
    "settle",
    "statement_html",
    "take_in",
    "upload_fees",
    "write_bank_file",
    "write_statement_xlsx",
]
