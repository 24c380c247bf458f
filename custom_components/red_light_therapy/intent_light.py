"""The built-in light intents say a panel's failure in words.

"Turn on/off the <panel>" works through Home Assistant's own intents on the panel's light. They
answer "Turned on" whatever became of the service call; ``SaysPanelFailures`` is put around each
of them, and the panel's light reports the failure of a command such an intent asked for here
(``async_assist_command``), so Assist says the reason (a refusal by the limits, a panel out of
reach) instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import logging
from typing import Any

from homeassistant.components.light.intent import INTENT_SET as INTENT_LIGHT_SET
from homeassistant.const import EVENT_COMPONENT_LOADED, EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import intent
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

# Home Assistant's own intents that switch or dim a light: their answer learns of a panel's
# failure (see ``SaysPanelFailures``).
LIGHT_INTENTS = (intent.INTENT_TURN_ON, intent.INTENT_TURN_OFF, INTENT_LIGHT_SET)

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class _AssistCall:
    """The panel commands one built-in intent asked for, by the intent's context."""

    errors: list[HomeAssistantError] = field(default_factory=list)
    listening: bool = True
    """False once the intent has answered (its service calls may still run)."""
    pending: int = 0


ASSIST_CALLS: HassKey[dict[str, _AssistCall]] = HassKey(f"{DOMAIN}_assist_calls")


@callback
def async_setup_light_intents(hass: HomeAssistant) -> None:
    """Make the built-in light intents say a panel's failure, now and when they come later."""
    _async_say_panel_failures(hass)

    # The built-in handlers may be registered after this platform (the intent component
    # processes platforms before registering its own) or by a component loaded later.
    @callback
    def _loaded(_event: Event[Any]) -> None:
        _async_say_panel_failures(hass)

    hass.bus.async_listen(EVENT_COMPONENT_LOADED, _loaded)
    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, _loaded)


@callback
def _async_say_panel_failures(hass: HomeAssistant) -> None:
    """Put ``SaysPanelFailures`` around each built-in light intent not yet wrapped."""
    handlers = {handler.intent_type: handler for handler in intent.async_get(hass)}
    for intent_type in LIGHT_INTENTS:
        handler = handlers.get(intent_type)
        if handler is None or isinstance(handler, SaysPanelFailures):
            continue
        intent.async_remove(hass, intent_type)  # replaced on purpose: no "overwritten" warning
        intent.async_register(hass, SaysPanelFailures(handler))


class SaysPanelFailures(intent.IntentHandler):
    """A built-in light intent whose answer says a panel's failure in words.

    Home Assistant's service intents wait a moment (``service_timeout``, 0.2 s) for the
    service call, then answer "Turned on" whatever became of it, leaving a failed call's
    exception in a task nobody retrieves. The panel's light reports a failure of a command
    such an intent asked for here instead of raising it (``async_assist_command``): while
    the intent waits, it answers with the reason; once it has answered, the failure is
    logged. A refusal by the limits is decided before any I/O, so it is always said.
    """

    def __init__(self, inner: intent.IntentHandler) -> None:
        """Wrap the built-in light intent handler ``inner``."""
        self.inner = inner
        self.intent_type = inner.intent_type
        self.description = inner.description
        self.platforms = inner.platforms

    @property
    def slot_schema(self) -> dict[Any, Any] | None:  # what Assist's LLM tools describe
        """The built-in handler's slot schema, unchanged."""
        return self.inner.slot_schema

    @callback
    def async_can_handle(self, intent_obj: intent.Intent) -> bool:
        """Return whether the built-in handler can handle ``intent_obj``."""
        return self.inner.async_can_handle(intent_obj)

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Handle ``intent_obj`` with the built-in handler, a panel's failure said in words."""
        calls = intent_obj.hass.data.setdefault(ASSIST_CALLS, {})
        key = intent_obj.context.id
        call = calls[key] = _AssistCall()
        try:
            response = await self.inner.async_handle(intent_obj)
        finally:
            call.listening = False
            if not call.pending:
                calls.pop(key, None)
        if call.errors:
            response = intent_obj.create_response()
            response.async_set_error(
                intent.IntentResponseErrorCode.FAILED_TO_HANDLE,
                " ".join(_sentence(err) for err in call.errors),
            )
        return response


def _sentence(err: HomeAssistantError) -> str:
    """Return the translated reason, as Assist says it (Home Assistant drops the full stop)."""
    return str(err) or "That did not work."


@asynccontextmanager
async def async_assist_command(hass: HomeAssistant, context: Context | None) -> AsyncIterator[None]:
    """Send a panel light's failure to the light intent that asked for it, if one did.

    Around a panel light's command: when a built-in light intent asked for it, a failure goes to
    that intent's answer (or, once it has answered, to the log) instead of being raised into a task
    Home Assistant does not retrieve. Otherwise it is raised as usual.
    """
    calls = hass.data.get(ASSIST_CALLS)
    call = calls.get(context.id) if calls is not None and context is not None else None
    if calls is None or context is None or call is None:
        yield
        return
    call.pending += 1
    try:
        yield
    except HomeAssistantError as err:
        if call.listening:
            call.errors.append(err)
        else:
            _LOGGER.warning("%s (asked through Assist)", _sentence(err))
    finally:
        call.pending -= 1
        if not call.listening and not call.pending:
            calls.pop(context.id, None)
