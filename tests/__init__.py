"""Tests for the red_light_therapy integration."""
