"""Loading the therapy data's files untrusted, and repairing what they hold.

The files are untrusted. One that cannot be read at all (not JSON, not an object, a newer major
version) is moved aside, a ``store_unreadable`` repair says so and the integration starts
empty (a week: ``history_week_unreadable``, and the other weeks load). Otherwise it is read
record by record (``therapy.read_stored``, in the executor: years of history must not hold the
event loop): what cannot be trusted is left out or reset, and ``async_report_repaired`` copies
the file as it was aside and raises a ``store_repaired`` repair that says how many records and
where the copy is. Nothing valid is lost, nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
import logging
import os
import shutil
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN, MAX_DISTANCE_CM, MAX_SESSION_MINUTES
from .store_files import HISTORY_KEY, TherapyFiles
from .therapy import TherapyError, validate_area
from .therapy._util import finite, shown
from .therapy.stored import (
    StoredTherapy,
    history_period,
    is_period,
    read_history_files,
    read_history_index,
    read_stored,
)

_LOGGER = logging.getLogger(__name__)

_INDEX = "index"

_UNREADABLE = (
    HomeAssistantError,
    NotImplementedError,  # a newer major version than this release reads
    KeyError,  # no version or no data
    TypeError,  # not an object
    ValueError,
)
"""What loading a file that is not a store at all raises."""


@dataclass(slots=True)
class LoadedFiles:
    """What the files held that can be trusted, and what loading them found."""

    therapy: StoredTherapy
    old_layout: bool = False
    """The main file had the first layout (the history inside it): every week is to be written."""
    repaired: list[str] = field(default_factory=list)
    """The files that held untrusted records (without the weeks ``therapy.rewrite`` names)."""
    indexed: set[str] | None = field(default_factory=set)
    """The weeks the index file names (None: it must be written again)."""


async def async_load_files(hass: HomeAssistant, files: TherapyFiles) -> LoadedFiles:
    """Load what can be trusted of every file.

    An unreadable file is moved aside, reported, and replaced by empty data; a readable one with
    untrusted records is loaded without them (``repaired`` names it). The same holds for each
    history file on its own, and the history is read even when the main file is lost.
    """
    result = LoadedFiles(StoredTherapy())
    main = files.main
    try:
        data = await main.async_load()
    except _UNREADABLE as err:
        await _async_keep_aside(hass, main.path, err)
    else:
        if data is None:
            # No file yet; or one holding nothing (``{}``, or null data): the latter
            # was lost.
            if await hass.async_add_executor_job(os.path.isfile, main.path):
                await _async_keep_aside(
                    hass, main.path, ValueError("the file holds no therapy data")
                )
        else:
            result.old_layout = main.loaded_version == 1
            # Handed over in a box the executor empties: freeing years of records is
            # work too, and it happens where the last reference goes.
            box = [data]
            del data
            result.therapy = await hass.async_add_executor_job(
                _read_boxed, box, dt_util.utcnow(), result.old_layout
            )
            if result.therapy.dropped:
                result.repaired.append(main.path)
    if not result.old_layout:
        result.indexed = await _async_load_history(hass, files, result.therapy, result.repaired)
    return result


async def _async_load_history(
    hass: HomeAssistant, files: TherapyFiles, loaded: StoredTherapy, repaired: list[str]
) -> set[str] | None:
    """Load every history file the index names or the storage folder holds.

    Also the weeks a crash between writing a week and the index could have left unnamed
    (this one, and those the active sessions started in); a missing named one is reported,
    an unreadable one (or index) kept aside. Return the weeks the index names (None: it is to
    be written again).
    """
    try:
        index = await files.index.async_load()
    except _UNREADABLE as err:
        await _async_keep_aside(hass, files.index.path, err, _INDEX)
        index = None
    if index is not None:
        before = len(loaded.dropped)
        read_history_index(index, loaded)
        if len(loaded.dropped) > before:
            repaired.append(files.index.path)
    indexed = set(loaded.periods) if not repaired else None
    now = dt_util.utcnow()
    wanted = set(loaded.periods) | {history_period(now)}
    wanted |= {
        history_period(session.started_at)
        for session in loaded.active.values()
        if session.started_at is not None
    }
    folder = os.path.dirname(files.main.path)
    wanted |= await hass.async_add_executor_job(_periods_on_disk, folder)
    weeks: dict[str, object] = {}
    for period in sorted(wanted):
        store = files.week(period)
        try:
            data = await store.async_load()
        except _UNREADABLE as err:
            await _async_keep_aside(hass, store.path, err, period)
            continue
        if data is None:
            if period in loaded.periods:
                loaded.dropped.append(f"history {period}: the file is missing")
            continue
        weeks[period] = data
    box = [weeks]
    del weeks
    await hass.async_add_executor_job(_read_history_boxed, box, loaded)
    return indexed


async def async_report_repaired(
    hass: HomeAssistant, files: TherapyFiles, dropped: list[str], paths: list[str]
) -> bool:
    """Copy each file (``paths``) aside as it was and say what was left out (``dropped``).

    Return whether every copy was made: only then may the cleaned data be saved (so the next
    start does not repair again); without a copy the original is not overwritten.
    """
    stamp = _stamp()
    backups: list[str] = []
    copied = True
    for path in paths:
        backup = f"{path}.before-repair-{stamp}"
        try:
            if await hass.async_add_executor_job(_copy_if_exists, path, backup):
                backups.append(backup)
        except OSError as err:
            _LOGGER.error("Could not copy %s to %s: %s", path, backup, err)
            copied = False
    _LOGGER.error(
        "Therapy data in %s: %d stored records could not be trusted and were left out or "
        "reset (%s); %s",
        ", ".join(paths) or files.main.path,
        len(dropped),
        "; ".join(dropped),
        f"the files as they were are kept as {', '.join(backups)}"
        if copied and backups
        else "the files are unchanged",
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        "store_repaired",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="store_repaired",
        translation_placeholders={
            "count": str(len(dropped)),
            "backup": ", ".join(backups) if copied and backups else files.main.path,
        },
    )
    return copied


async def _async_keep_aside(
    hass: HomeAssistant, path: str, err: Exception, period: str = ""
) -> None:
    """Move an unreadable file aside and say so.

    The main file (the integration starts empty), one week (the other weeks load) or the index
    (only logged: the weeks are found in the folder too, and the index is written again).
    """
    backup = f"{path}.unreadable-{_stamp()}"
    await hass.async_add_executor_job(_move_if_exists, path, backup)
    _LOGGER.error("Therapy data in %s could not be read (%s); kept as %s", path, err, backup)
    if period == _INDEX:
        return
    placeholders = {"backup": backup, "error": str(err)}
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"history_week_unreadable_{period.lower()}" if period else "store_unreadable",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="history_week_unreadable" if period else "store_unreadable",
        translation_placeholders=(
            {**placeholders, "monday": _monday(period).isoformat()} if period else placeholders
        ),
    )


def _monday(period: str) -> date:
    """Return the first day of a history week (``2026-W49``: 2026-11-30)."""
    year, _, week = period.partition("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def _stamp() -> str:
    return dt_util.utcnow().strftime("%Y%m%dT%H%M%S")


def _periods_on_disk(folder: str) -> set[str]:
    """Return the weeks of the history files in ``folder`` (none when it cannot be listed)."""
    prefix = f"{HISTORY_KEY}."
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    return {
        name.removeprefix(prefix)
        for name in names
        if name.startswith(prefix) and is_period(name.removeprefix(prefix))
    }


def _move_if_exists(path: str, backup: str) -> None:
    if os.path.exists(path):
        os.replace(path, backup)


def _copy_if_exists(path: str, backup: str) -> bool:
    if not os.path.isfile(path):
        return False
    shutil.copy2(path, backup)
    return True


def _read_boxed(box: list[Any], now: datetime, old_layout: bool) -> StoredTherapy:
    """Read the stored data, in the executor.

    Read the data (``old_layout``: of the first layout, with the history), then free its records one
    at a time (freeing a list of 20,000 dicts at once is one long C call that holds the GIL).
    """
    data = box.pop()
    loaded = _read(data, now, old_layout)
    history = data.get("history") if isinstance(data, dict) else None
    records = history.get("records") if isinstance(history, dict) else None
    while isinstance(records, list) and records:
        records.pop()
    return loaded


def _read_history_boxed(box: list[dict[str, object]], loaded: StoredTherapy) -> None:
    """Run in the executor: the history files' records into ``loaded``."""
    files = box.pop()
    read_history_files(files, loaded)
    files.clear()


def _read(data: object, now: datetime, history: bool = True) -> StoredTherapy:
    """Run in the executor: every trusted record, and each panel's settings made safe."""
    loaded = read_stored(data, now, history=history)
    for panel_id, settings in loaded.settings.items():
        _trust_settings(panel_id, settings, loaded.dropped)
    return loaded


def _trust_settings(panel_id: str, settings: dict[str, Any], dropped: list[str]) -> None:
    """Each panel's settings as the entities can show them.

    A number that is not one (text, infinite) or an unknown or eye area falls back to its default; a
    number out of the entity's range is clamped into it. Keys this release does not know are kept.
    """

    def number(key: str, low: float, high: float) -> None:
        if key not in settings:
            return
        value = settings[key]
        if not finite(value) or value <= 0:
            del settings[key]
            dropped.append(f"setting {key} of {panel_id}: {shown(value)} reset to its default")
        elif not low <= value <= high:
            settings[key] = min(max(float(value), low), high)
            dropped.append(
                f"setting {key} of {panel_id}: {shown(value)} clamped into {low}..{high}"
            )

    number("minutes", 1, MAX_SESSION_MINUTES)
    number("distance_cm", 1, MAX_DISTANCE_CM)
    if "area" in settings:
        try:
            settings["area"] = validate_area(settings["area"]).value
        except TherapyError:
            dropped.append(f"setting area of {panel_id}: {shown(settings.pop('area'))} reset")
    calibration = settings.get("calibration")
    if calibration is not None and not (
        isinstance(calibration, Mapping)
        and all(finite(calibration.get(key)) for key in ("distance_cm", "measured_mw_cm2"))
    ):
        del settings["calibration"]
        dropped.append(f"calibration of {panel_id}: {shown(calibration)} ignored")
