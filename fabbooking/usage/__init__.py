"""Machine usage: what machines report over MQTT, recorded as usage sessions.

Keep this file free of imports. The reference gateway on a Raspberry Pi (``devices/``) imports
``fabbooking.usage.contract``, ``power`` and ``broker_url`` with only the standard library and
paho-mqtt installed: anything imported here would be imported there too.
"""
