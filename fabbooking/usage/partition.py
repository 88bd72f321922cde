"""Listeners that add up: ``fabbooking listen --partition K/N`` records the events of the
sites in share K of N, and only those. Pure.

A site's share is a stable hash of its slug (CRC-32, the same in every process and on every
machine; Python's ``hash()`` of a string changes from one process to the next), so the N
listeners agree without talking to each other, and each subscribes with a plain, persistent
subscription to its own sites' topics: while a listener is away, the broker keeps its sites'
events in its session, across a broker restart too (a ``$share`` subscription is not kept by
Mosquitto 2.0, see docs/mqtt.md).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

MAX_PARTITIONS = 64


def share_of(site_slug: str, count: int) -> int:
    """The share (1 to ``count``) the site belongs to."""
    return zlib.crc32(site_slug.encode("utf-8")) % count + 1


@dataclass(frozen=True)
class Partition:
    index: int  # K, from 1
    count: int  # N

    def owns(self, site_slug: str) -> bool:
        return share_of(site_slug, self.count) == self.index

    @property
    def client_id(self) -> str:
        """Each share has its own session at the broker, hence its own client id."""
        return f"fabbooking-listener-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_partition(text: str) -> Partition:
    """``K/N`` with 1 ≤ K ≤ N; a ValueError says what to write instead."""
    k, sep, n = text.strip().partition("/")
    try:
        index, count = int(k), int(n)
    except ValueError:
        index = count = 0
    if not sep or count < 1:
        raise ValueError(f"{text!r} is not a share: write K/N, e.g. 2/3 for the second of three listeners")
    if count > MAX_PARTITIONS:
        raise ValueError(f"{text!r}: at most {MAX_PARTITIONS} listeners")
    if not 1 <= index <= count:
        raise ValueError(f"{text!r}: K must be from 1 to {count} (write 1/{count} … {count}/{count}, one per listener)")
    return Partition(index, count)
