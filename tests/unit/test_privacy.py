"""Personal data is masked by one helper everywhere (docs/STORE.md, "Personal data")."""

from __future__ import annotations

import pytest

from yibao.core import privacy
from yibao.core.privacy import mask, mask_name, mask_psn_no


def test_psn_no_keeps_region_and_last_four() -> None:
    assert mask_psn_no("500102198001011234") == "500102********1234"
    assert mask_psn_no("11010519491231002X") == "110105********002X"
    assert mask_psn_no("500102800101123") == "500102*****1123"  # 15-character (old) IDs


@pytest.mark.parametrize("short", ["", "1", "1234567890"])
def test_short_values_are_masked_whole(short: str) -> None:
    assert mask_psn_no(short) == "*" * len(short)


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三丰", "张**"), ("李四", "李*"), ("欧阳娜娜", "欧***"), ("王", "*"), ("", "")],
)
def test_name_keeps_the_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_by_column_kind() -> None:
    assert mask("psn_no", "500102198001011234") == "500102********1234"
    assert mask("name", "张三丰") == "张**"
    assert mask(None, "H50010200001") == "H50010200001"


def test_all_is_pinned() -> None:
    assert sorted(privacy.__all__) == ["mask", "mask_account", "mask_name", "mask_psn_no"]


def test_bank_account_keeps_four_and_four() -> None:
    assert privacy.mask_account("6222020200112233445") == "6222***********3445"
    assert privacy.mask_account("6222 0202-0011") == "6222****0011"
    assert privacy.mask_account("12345678") == "********"
