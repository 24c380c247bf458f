"""Benchmarks: figures measured on the emulated panel inside the Home Assistant test harness.

``measure`` holds the measurements (async functions of a running ``hass``), ``report`` collects
the figures for ``scripts/bench``; ``tests/test_bench.py`` runs them and asserts the budgets.
"""
