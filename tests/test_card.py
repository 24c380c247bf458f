"""The dashboard card is served from the integration's folder and added to the frontend."""

from __future__ import annotations

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.red_light_therapy.card import CARD_FILE
from custom_components.red_light_therapy.const import DOMAIN


async def test_card_is_served_and_added_to_the_frontend(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "frontend", {})
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    [url] = [url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if "red-light" in url]
    path, _, version = url.partition("?v=")
    assert version  # cache-busting: a new bundle gets a new URL

    client = await hass_client()
    response = await client.get(url)
    assert response.status == 200
    body = await response.read()
    assert body == CARD_FILE.read_bytes()
    assert b"red-light-therapy-card" in body
    assert (await client.get(path)).status == 200


async def test_card_registered_when_the_frontend_loads_later(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Set up before the frontend (as the development simulator does it), the card still
    reaches the dashboard once the frontend has loaded."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "frontend", {})
    await hass.async_block_till_done()

    [url] = [url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if "red-light" in url]
    client = await hass_client()
    assert (await client.get(url)).status == 200


async def test_no_frontend_no_card(hass: HomeAssistant) -> None:
    """Without a web UI there is no dashboard: nothing is served, setup still succeeds."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert "frontend" not in hass.config.components
    assert DATA_EXTRA_MODULE_URL not in hass.data
