"""CLI for machine usage: gateways, a machine's telemetry settings, Mosquitto's ACL."""

from __future__ import annotations

import argparse
from pathlib import Path

from fabbooking.cli.guard import run
from fabbooking.errors import CommandFailed

FORMATS = ["contract", "tasmota", "shelly", "octoprint", "klipper"]


def add_parsers(commands) -> None:
    gateway = commands.add_parser("gateway", help="manage device gateways").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    create = gateway.add_parser("create", help="register a gateway and print its MQTT password")
    create.add_argument("--site", required=True, metavar="SLUG")
    create.add_argument("--ident", required=True, help="gateway id: its MQTT username and topic level")
    create.add_argument("--name", default="")
    gateway.add_parser("list", help="list gateways")

    machine = commands.add_parser("machine", help="machine settings").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    telemetry = machine.add_parser("telemetry", help="set how a machine reports its use")
    telemetry.add_argument("--machine", required=True, help="machine id, or SITE/MACHINE slugs")
    telemetry.add_argument("--format", choices=FORMATS)
    telemetry.add_argument("--gateway", help="gateway id (format contract)")
    telemetry.add_argument("--device-topic", type=_device_topic,
                           help="device topic (tasmota, shelly, octoprint, klipper): one device's exact topic")
    telemetry.add_argument("--start-w", type=float, help="power that starts a job (W)")
    telemetry.add_argument("--idle-w", type=float, help="power under which a job ends (W)")
    telemetry.add_argument("--start-after", type=int, dest="start_after_s", help="seconds above start-w")
    telemetry.add_argument("--stop-after", type=int, dest="stop_after_s", help="seconds below idle-w")
    telemetry.add_argument("--show", action="store_true", help="only print the current settings")

    mqtt = commands.add_parser("mqtt", help="broker configuration").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    acl = mqtt.add_parser("acl", help="print Mosquitto's ACL for the gateways")
    acl.add_argument("--password-file", type=Path, help="also write Mosquitto's password file here")
    acl.add_argument("--listener-user", default="fabbooking")


def _device_topic(text: str) -> str:
    """Refused before anything runs (exit 2), with what to fix."""
    from fabbooking.usage.routing import device_topic_problem

    problem = text.strip() and device_topic_problem(text.strip())  # empty: clear it
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device topic: {problem}")
    return text.strip()


async def _machine_id(text: str) -> int:
    from fabbooking.network.tables import Machine

    if text.isdigit():
        return int(text)
    site, _, slug = text.partition("/")
    row = await Machine.select(Machine.id).where((Machine.site.slug == site) & (Machine.slug == slug)).first()
    if row is None:
        raise CommandFailed(f"no machine {text!r}: give its id or SITE/MACHINE (see GET /api/v1/machines)")
    return row["id"]


def cmd_gateway(args: argparse.Namespace) -> int:
    from fabbooking.usage import services

    if args.action == "list":
        for row in run(lambda: services.list_gateways(None)):
            print(f"{row['ident']:24} {row['site_slug']:24} {row['state']:8} {row['name']}")
        return 0
    row, password = run(lambda: services.create_gateway(None, args.site, args.ident, args.name))
    print(f"gateway {row['ident']} registered for site {row['site_slug']}")
    print(f"MQTT username: {row['ident']}")
    print(f"MQTT password: {password}   (shown once: put it in the gateway's configuration)")
    print("Then refresh Mosquitto's password file and ACL and reload it "
          "(docs/operations.md, « Gateways and devices »).")
    return 0


def cmd_machine(args: argparse.Namespace) -> int:
    from fabbooking.usage import services

    async def apply():
        machine_id = await _machine_id(args.machine)
        if args.show:
            return await services.telemetry_of(machine_id)
        values = {k: getattr(args, k) for k in ("format", "gateway", "device_topic", "start_w", "idle_w",
                                                 "start_after_s", "stop_after_s") if getattr(args, k) is not None}
        return await services.set_telemetry(None, machine_id, values)

    row = run(apply)
    if row is None:
        print("this machine does not report its use")
        return 0
    print(f"machine {row['machine']}: format {row['format']}, gateway {row['gateway_ident'] or '-'}, "
          f"device topic {row['device_topic'] or '-'}, start {row['start_w']} W after {row['start_after_s']} s, "
          f"idle {row['idle_w']} W after {row['stop_after_s']} s")
    return 0


def cmd_mqtt(args: argparse.Namespace) -> int:
    from fabbooking.usage.mosquitto import acl_file, password_file
    from fabbooking.usage.tables import Gateway, Telemetry

    async def load():
        gateways = await Gateway.select(Gateway.ident, Gateway.site.slug.as_alias("site"),
                                        Gateway.mqtt_password_hash)
        devices = await Telemetry.select(Telemetry.format, Telemetry.device_topic).where(Telemetry.format != "contract")
        return gateways, devices

    gateways, devices = run(load)
    from fabbooking.usage.routing import DECODERS, device_topic_problem

    usable = [d for d in devices if d["device_topic"] and not device_topic_problem(d["device_topic"])]
    device_topics = sorted({t for d in usable for t in DECODERS[d["format"]].subscriptions(d["device_topic"])})
    print(acl_file([(g["site"], g["ident"]) for g in gateways], args.listener_user, device_topics), end="")
    if args.password_file:
        try:
            args.password_file.write_text(password_file({g["ident"]: g["mqtt_password_hash"] for g in gateways}))
        except OSError as exc:
            raise CommandFailed(f"cannot write {args.password_file} ({exc.strerror})") from None
    return 0


HANDLERS = {"gateway": cmd_gateway, "machine": cmd_machine, "mqtt": cmd_mqtt}
