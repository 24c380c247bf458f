"""scripts/develop's Home Assistant has what a real install has.

``scripts/develop --prepare`` fills a configuration folder exactly as a real start does; the
tests read it the way Home Assistant does and check that default_config (Assist, recorder,
history, logbook) and ``automation: !include automations.yaml`` are there, that Home
Assistant's own configuration check finds every integration importable and valid, and that an
automation made from this repository's blueprints loads, Assist answers and history records.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
import subprocess
from typing import Any

from homeassistant import config as conf_util, loader
from homeassistant.components import conversation
from homeassistant.components.recorder import get_instance, history
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent
from homeassistant.helpers.check_config import async_check_ha_config_file
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

REPO = Path(__file__).parent.parent
DEVELOP = REPO / "scripts" / "develop"

AUTOMATIONS = """\
- id: rlt_reminder
  alias: Red light reminder
  use_blueprint:
    path: red_light_therapy/session_reminder.yaml
    input:
      session_event: event.blockbluelight_f522_session
      panel: light.blockbluelight_f522
      notify_action: notify.notify
"""


class _DoseToday(intent.IntentHandler):
    """Stands in for the integration's handler: only whether Assist recognises the sentence
    through the installed custom sentences is checked here (tests/test_intent.py has the rest)."""

    intent_type = "RedLightTherapyDoseToday"

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        response = intent_obj.create_response()
        response.async_set_speech("The dose handler answered.")
        return response


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_db_url: str, enable_custom_integrations: Any) -> None:
    """As in conftest, but the recorder's test database is prepared before ``hass`` starts."""


@pytest.fixture
def develop_config(hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration folder prepared by scripts/develop, as Home Assistant's config dir."""
    config = tmp_path / "config"
    subprocess.run(
        [str(DEVELOP), "--prepare"],
        check=True,
        env={"PATH": "/usr/bin:/bin", "RLT_DEV_CONFIG": str(config)},
        capture_output=True,
        timeout=60,
    )
    monkeypatch.setattr(hass.config, "config_dir", str(config))
    return config


async def _load(hass: HomeAssistant) -> dict[str, Any]:
    return await conf_util.async_hass_config_yaml(hass)


async def test_develop_config_has_default_config_and_automations(
    hass: HomeAssistant, develop_config: Path
) -> None:
    # The UI writes automations here; a fresh start has none yet.
    assert (develop_config / "automations.yaml").read_text().strip() == "[]"
    assert (develop_config / "blueprints/automation/red_light_therapy/auto_start.yaml").is_file()

    config = await _load(hass)
    assert "default_config" in config
    assert "automation" in config

    # automation: !include automations.yaml (and scripts, scenes), as a real install has it.
    (develop_config / "automations.yaml").write_text(AUTOMATIONS)
    raw = load_yaml(develop_config / "configuration.yaml")
    assert isinstance(raw, dict)
    assert [automation["id"] for automation in raw["automation"]] == ["rlt_reminder"]
    assert raw["script"] == []
    assert raw["scene"] == []


async def test_home_assistant_config_check_passes(
    hass: HomeAssistant, develop_config: Path
) -> None:
    """The whole configuration is valid, as `hass --script check_config` says it."""
    hass.config.skip_pip = True
    result = await async_check_ha_config_file(hass)

    assert not result.errors, [str(error) for error in result.errors]
    assert "default_config" in result


def _installed_with(distribution: str) -> set[str]:
    """The distributions pip installs along with ``distribution`` (its dependency closure)."""
    todo, seen = [distribution], set[str]()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


@pytest.mark.skipif(
    HA_VERSION != "2025.4.4",
    reason="scripts/develop runs Home Assistant 2025.4.4: its pins are that release's",
)
async def test_every_integration_of_default_config_imports(hass: HomeAssistant) -> None:
    """scripts/develop runs Home Assistant with --skip-pip: each package an integration of
    default_config needs is pinned in requirements_dev.txt (or requirements_test.txt) as Home
    Assistant pins it, unless the test plugin already brings it, and each integration imports."""
    pinned = {
        line.strip()
        for name in ("requirements_dev.txt", "requirements_test.txt")
        for line in (REPO / name).read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    with_plugin = _installed_with("pytest-homeassistant-custom-component")
    todo, seen, missing = ["default_config"], set[str](), []
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        integration = await loader.async_get_integration(hass, domain)
        missing += [
            f"{requirement} ({domain})"
            for requirement in integration.requirements
            if requirement not in pinned
            and canonicalize_name(Requirement(requirement).name) not in with_plugin
        ]
        await integration.async_get_component()
        todo.extend(integration.dependencies)

    assert not missing
    assert {"conversation", "recorder", "history", "logbook", "dhcp", "ssdp"} <= seen


async def test_blueprint_automation_assist_and_history_work(
    recorder_mock: Any, hass: HomeAssistant, develop_config: Path
) -> None:
    (develop_config / "automations.yaml").write_text(AUTOMATIONS)
    config = await _load(hass)

    assert await async_setup_component(hass, "automation", config)
    for domain in ("homeassistant", "conversation", "history", "logbook"):
        assert await async_setup_component(hass, domain, {})
    await hass.async_block_till_done()

    # The automation made from the blueprint is loaded and armed.
    state = hass.states.get("automation.red_light_reminder")
    assert state is not None
    assert state.state == "on"

    # Assist answers (the develop configuration loads the conversation agent).
    result = await conversation.async_converse(hass, "what time is it", None, Context(), "en")
    assert result.response.speech["plain"]["speech"]
    # ... and knows this integration's sentences (custom_sentences/en, as the README says to
    # install them).
    assert (develop_config / "custom_sentences/en/red_light_therapy.yaml").resolve() == (
        REPO / "custom_sentences/en/red_light_therapy.yaml"
    )
    intent.async_register(hass, _DoseToday())
    result = await conversation.async_converse(
        hass, "what's my red light dose today", None, Context(), "en"
    )
    assert result.response.speech["plain"]["speech"] == "The dose handler answered."

    # The recorder records what changes, so more-info's history has it.
    start = dt_util.utcnow()
    hass.states.async_set("sensor.probe", "1")
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    states = await get_instance(hass).async_add_executor_job(
        history.get_significant_states, hass, start, None, ["sensor.probe"]
    )
    assert [state.state for state in states["sensor.probe"]] == ["1"]
