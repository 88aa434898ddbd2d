"""Settings are declared once; the docs, the environment and validation follow from that."""

from pathlib import Path

import pytest

from server.cli.main import settings_table
from server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_docs_settings_page_lists_every_setting_as_declared():
    assert (ROOT / "docs" / "settings.md").read_text() == settings_table(), (
        "regenerate with: python -m server settings > docs/settings.md"
    )


def test_environment_variables_set_values_and_flags_win():
    s = Settings.from_env({"CFN_RATE_LIMIT": "0", "CFN_PORT": "9000"}, port=9100)
    assert s.rate_limit == 0.0 and s.port == 9100


@pytest.mark.parametrize(
    "env", [{"CFN_PORT": "eighty"}, {"CFN_SYNCHRONOUS": "OFF"}, {"CFN_MAX_FRAME": "0"}]
)
def test_bad_setting_values_are_refused_with_the_variable_named(env):
    with pytest.raises(ValueError, match="CFN_"):
        Settings.from_env(env)
