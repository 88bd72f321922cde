"""Decoders for what real devices publish (DEVICES.md): each turns one MQTT message into
signals, given the machine's remembered device state. Pure: no I/O."""
