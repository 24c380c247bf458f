"""Tests of the device layer (no Home Assistant needed)."""
