"""Fixtures for phone calls (tests/test_voice.py, tests/test_voice_check.py)."""
from __future__ import annotations

import pytest

from bot import create_app
from bot.config import TestConfig

RESPONDER = "+15550009999"  # the responder line a call is put through to


@pytest.fixture
def call_app(redis_client, redis_url, tmp_path):
    """The app with a responder line, on the test Redis."""
    return create_app(TestConfig(redis_url, str(tmp_path), VOICE_RESPONDER_NUMBER=RESPONDER))
