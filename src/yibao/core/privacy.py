"""Masking personal data (个人信息脱敏): ID numbers and names.

One pure helper for every place that shows an insuree: logs, CLI output, error messages
and exports. Unmasked output needs an explicit choice (the CLI's ``--unmasked``; the API
will gate it by role). docs/STORE.md, "Personal data".
"""

from __future__ import annotations

__all__ = ["mask", "mask_account", "mask_name", "mask_psn_no"]


def mask_psn_no(psn_no: str) -> str:
    """``500102198001011234`` -> ``500102********1234``: region and last four only.

    Anything shorter than 11 characters is masked whole: too little is left to hide.
    """
    n = len(psn_no)
    if n < 11:
        return "*" * n
    return psn_no[:6] + "*" * (n - 10) + psn_no[-4:]


def mask_name(name: str) -> str:
    """``张三丰`` -> ``张**``: the first character (the family name, usually) only."""
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_account(account: str) -> str:
    """A bank account number (银行账号) -> ``6222************1234``: the first four and
    the last four only; anything of 8 characters or fewer is masked whole. Spaces and
    dashes clerks type are dropped first."""
    digits = "".join(ch for ch in account if ch not in " -")
    n = len(digits)
    if n <= 8:
        return "*" * n
    return digits[:4] + "*" * (n - 8) + digits[-4:]


def mask(personal: str | None, value: str) -> str:
    """Mask ``value`` as the registry column's ``personal`` kind says (``psn_no`` or
    ``name``); anything else is not personal and comes back as it is."""
    if personal == "psn_no":
        return mask_psn_no(value)
    if personal == "name":
        return mask_name(value)
    return value
