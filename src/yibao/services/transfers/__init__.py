"""Transfers between hospitals (转院): the sending hospital settles first."""

from yibao.services.transfers.transfer import cancel_transfer, file_transfer

__all__ = ["cancel_transfer", "file_transfer"]
