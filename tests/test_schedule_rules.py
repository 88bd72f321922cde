"""The schedule's pure pieces: a machine's state now, a day's stretches, the filters read
from the address."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fabbooking.bookings.calendar import Interval
from fabbooking.schedule.day import machine_day
from fabbooking.schedule.filters import Choices, read_filters
from fabbooking.schedule.now import MachineNow, machine_now
from tests.conftest import PARIS

NOW = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)  # 14:30 in Paris
OPEN = [Interval(NOW - timedelta(hours=4), NOW + timedelta(hours=4))]


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def test_back_to_back_bookings_keep_a_machine_booked_until_the_last_one_ends():
    busy = [Interval(at(-1), at(0.5)), Interval(at(0.5), at(1.5)), Interval(at(2), at(3))]
    assert machine_now("available", OPEN, busy, NOW) == MachineNow("booked", at(1.5))


def test_a_machine_is_free_now_when_the_next_booking_has_not_started():
    assert machine_now("available", OPEN, [Interval(at(0.25), at(1))], NOW) == MachineNow("free")


def test_a_closed_site_says_when_it_opens_again_that_day():
    later = [Interval(at(1), at(3))]
    assert machine_now("available", later, [], NOW) == MachineNow("closed", at(1))
    assert machine_now("available", [], [], NOW) == MachineNow("closed")


def test_maintenance_comes_before_everything():
    assert machine_now("maintenance", OPEN, [Interval(at(-1), at(1))], NOW).state == "maintenance"


def test_a_stretch_is_cut_to_the_part_of_the_day_and_lists_its_hourly_starts():
    day = date(2026, 12, 8)
    free = [Interval(datetime(2026, 12, 8, 9, tzinfo=PARIS), datetime(2026, 12, 8, 19, 30, tzinfo=PARIS))]
    result = machine_day(day, PARIS, list(range(12, 18)), free, [], free, NOW - timedelta(days=1), 15, "afternoon")
    [stretch] = result.stretches
    assert (stretch.start.astimezone(PARIS).hour, stretch.end.astimezone(PARIS).hour) == (12, 18)
    assert [s.astimezone(PARIS).hour for s in stretch.starts] == [12, 13, 14, 15, 16, 17]
    assert all(c.state == "free" for c in result.cells)


def test_a_stretch_shorter_than_the_shortest_booking_is_not_offered():
    day = date(2026, 12, 8)
    free = [Interval(datetime(2026, 12, 8, 14, tzinfo=PARIS), datetime(2026, 12, 8, 14, 30, tzinfo=PARIS))]
    result = machine_day(day, PARIS, [14], free, [], free, NOW - timedelta(days=1), 60)
    assert result.stretches == [] and result.cells[0].state == "unavailable"


CHOICES = Choices(kinds=["3d_printer"], sites=["atelier"], neighbourhoods=["Bellevue"],
                  today=date(2026, 12, 5), last_day=date(2027, 1, 4))


def read(**params: str):
    return read_filters(params, CHOICES, lambda text: text, signed_in=False)


def test_today_and_tomorrow_are_read_as_the_network_s_dates():
    assert read(day="tomorrow").filters.day == date(2026, 12, 6)
    assert read().filters.day == date(2026, 12, 5) and not read().problems


def test_every_wrong_choice_is_explained_and_left_at_its_default():
    reading = read(day="2027-02-01", period="nuit", kind="fusée", site="x", neighbourhood="Paris")
    assert set(reading.problems) == {"day", "period", "kind", "site", "neighbourhood"}
    assert reading.filters.day == CHOICES.today and reading.filters.kind == ""


def test_i_am_trained_for_it_needs_someone_signed_in():
    assert not read(trained="1").filters.trained
    assert read_filters({"trained": "1"}, CHOICES, str, signed_in=True).filters.trained
