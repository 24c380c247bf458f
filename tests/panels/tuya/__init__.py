"""Tests of the Tuya Wi-Fi panel driver, its protocol, discovery and emulator."""
