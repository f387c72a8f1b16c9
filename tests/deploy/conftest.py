"""The parsed compose.yaml, shared with tests/test_asterisk_conf.py."""

from tests.test_asterisk_conf import compose  # noqa: F401 - a fixture
