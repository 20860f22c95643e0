"""A hospital stay (就诊) from admission to settlement: admit, cancel, discharge, read
(``lifecycle``); fee lines (``fees``); presettle, settle, reverse (``settlement``);
idempotent requests and 冲正 (``requests``); changes before settlement (``changes``: 2403
入院信息变更, 2405 出院撤销); transfers between hospitals (``transfers``:
转院, the sending hospital settles first). What they share: the encounter's records
and lock (``state``), the process context (``context``), the input checks
(``validation``), a settlement as a stored record (``records``)."""

from yibao.services.encounters.changes import (
    AdmissionChange,
    cancel_discharge,
    change_admission,
)
from yibao.services.encounters.fees import cancel_fees, upload_fees
from yibao.services.encounters.lifecycle import (
    admit,
    cancel_admission,
    discharge,
    encounter,
    encounter_lines,
    undo_discharge,
)
from yibao.services.encounters.requests import compensate, replay_or_run
from yibao.services.encounters.settlement import presettle, reverse, settle
from yibao.services.encounters.transfers import cancel_transfer, file_transfer

__all__ = [
    "AdmissionChange",
    "admit",
    "cancel_admission",
    "cancel_discharge",
    "cancel_fees",
    "cancel_transfer",
    "change_admission",
    "compensate",
    "discharge",
    "encounter",
    "encounter_lines",
    "file_transfer",
    "presettle",
    "replay_or_run",
    "reverse",
    "settle",
    "undo_discharge",
    "upload_fees",
]  # fmt: skip
