"""The API fixture for the filings' REST tests."""

from tests.api.conftest import api  # noqa: F401  (the fixture)
