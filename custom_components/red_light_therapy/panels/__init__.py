"""The panels the integration drives, behind one interface; no Home Assistant here."""
