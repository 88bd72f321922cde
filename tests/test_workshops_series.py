"""Recurring workshops: every date holds its machines through the booking rules; conflicts
are listed before anything is written; all or nothing, or skip the conflicting dates; a
booking racing the series; one date moved or cancelled alone; the series cancelled."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from fabbooking.accounts.services import viewer_for
from fabbooking.bookings import services as bookings
from fabbooking.bookings.tables import Booking
from fabbooking.errors import Refused
from fabbooking.network.tables import Site
from fabbooking.workshops import series
from fabbooking.workshops.services import WorkshopDraft
from fabbooking.workshops.tables import Workshop, WorkshopMachine, WorkshopSeries
from tests.conftest import PARIS
from tests.workshops_support import local_moment, utc_now

pytestmark = pytest.mark.anyio


@pytest.fixture
async def year(world):
    """The atelier lets its machines be held a year ahead."""
    await Site.update({Site.max_days_ahead: 366}).where(Site.id == world.ids["atelier"])
    return world


def series_body(weeks: int = 4, frequency: str = "weekly", days: int = 3, **extra) -> dict:
    begin = local_moment(days, "14:00")
    until = (begin + timedelta(weeks=weeks - 1)).date()
    return {"site": "atelier", "title": "Atelier du mercredi", "start": begin.isoformat(),
            "end": (begin + timedelta(hours=2)).isoformat(), "frequency": frequency,
            "until": until.isoformat(), **extra}


async def post_series(client, world, who="animator", **body):
    return await client.post("/api/v1/workshops/series", json=series_body(**body),
                             headers=world.auth(who))


async def book_maker(client, world, days: int, start: str = "15:00"):
    begin = local_moment(days, start)
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"), json={
        "machine_id": world.ids["printer"], "start": begin.isoformat(),
        "end": (begin + timedelta(hours=1)).isoformat()})
    assert response.status_code == 201, response.text
    return response.json()


async def test_weekly_series_plans_a_workshop_each_week_holding_its_machines(client, year):
    response = await post_series(client, year, machine_ids=[year.ids["printer"], year.ids["laser"]])
    assert response.status_code == 201, response.text
    body = response.json()
    starts = [datetime.fromisoformat(d["start"]).astimezone(PARIS) for d in body["dates"]]
    assert [s.date() for s in starts] == [local_moment(3 + 7 * n, "14:00").date() for n in range(4)]
    assert {s.time() for s in starts} == {time(14)}
    assert await Workshop.count().where(Workshop.series == body["id"]) == 4
    assert await Booking.count().where((Booking.purpose == "workshop")
                                       & (Booking.status == "confirmed")) == 8
    # a maker cannot book the printer during the third workshop
    begin = local_moment(17, "15:00")
    taken = await client.post("/api/v1/bookings", headers=year.auth("maker"), json={
        "machine_id": year.ids["printer"], "start": begin.isoformat(),
        "end": (begin + timedelta(hours=1)).isoformat()})
    assert taken.status_code == 409 and taken.json()["code"] == "overlap"


async def test_fortnightly_and_chosen_dates(client, year):
    response = await post_series(client, year, weeks=5, frequency="fortnightly")
    assert response.status_code == 201, response.text
    days = [d["day"] for d in response.json()["dates"]]
    assert days == [local_moment(3 + 14 * n, "14:00").date().isoformat() for n in range(3)]
    chosen = [local_moment(n, "10:00").date().isoformat() for n in (20, 5, 9)]
    response = await post_series(client, year, frequency="dates", dates=chosen, until=None)
    assert response.status_code == 201, response.text
    assert [d["day"] for d in response.json()["dates"]] == sorted(chosen)
    assert {datetime.fromisoformat(d["start"]).astimezone(PARIS).time()
            for d in response.json()["dates"]} == {time(14)}


async def test_preview_lists_each_conflict_with_who_holds_it_and_writes_nothing(client, year):
    await book_maker(client, year, days=10)
    response = await post_series(client, year, dry_run=True, machine_ids=[year.ids["printer"]])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] is None and body["conflicting_dates"] == 1
    conflicts = {d["day"]: d["conflicts"] for d in body["dates"]}
    (conflict,) = conflicts[local_moment(10, "14:00").date().isoformat()]
    assert conflict["machine_name"] == "Printer" and conflict["holder"] == "Maker"
    assert conflict["code"] == "overlap" and "déjà réservé" in conflict["detail"]
    assert sum(len(c) for c in conflicts.values()) == 1
    assert await Workshop.count() == 0 and await WorkshopSeries.count() == 0


async def test_a_rule_refusal_is_a_conflict_too(client, year):
    await Site.update({Site.max_days_ahead: 5}).where(Site.id == year.ids["atelier"])
    response = await post_series(client, year, dry_run=True, machine_ids=[year.ids["laser"]])
    body = response.json()
    assert body["conflicting_dates"] == 3  # only the first date is within 5 days
    assert body["dates"][1]["conflicts"][0]["code"] == "too_far_ahead"
    assert body["dates"][1]["conflicts"][0]["holder"] is None


async def test_all_or_nothing_refuses_the_whole_series_when_one_date_conflicts(client, year):
    await book_maker(client, year, days=10)
    response = await post_series(client, year, machine_ids=[year.ids["printer"]])
    assert response.status_code == 409
    assert response.json()["code"] == "series_conflicts"
    assert local_moment(10, "14:00").strftime("%d/%m/%Y") in response.json()["detail"]
    assert await Workshop.count() == 0 and await WorkshopSeries.count() == 0
    assert await Booking.count() == 1


async def test_skip_leaves_out_only_the_conflicting_dates(client, year):
    mine = await book_maker(client, year, days=10)
    response = await post_series(client, year, machine_ids=[year.ids["printer"]], on_conflict="skip")
    assert response.status_code == 201, response.text
    days = [d["day"] for d in response.json()["dates"]]
    assert local_moment(10, "14:00").date().isoformat() not in days and len(days) == 3
    still = await Booking.select(Booking.status).where(Booking.id == mine["id"]).first()
    assert still["status"] == "confirmed"


async def test_every_date_in_conflict_writes_nothing(client, year):
    await book_maker(client, year, days=3)
    response = await post_series(client, year, weeks=1, machine_ids=[year.ids["printer"]],
                                 on_conflict="skip")
    assert response.status_code == 409 and response.json()["code"] == "series_nothing_left"
    assert await WorkshopSeries.count() == 0


def _draft(world, weeks: int = 4) -> series.SeriesDraft:
    begin = local_moment(3, "14:00")
    workshop = WorkshopDraft(title="Atelier du mercredi", starts_at=begin,
                             ends_at=begin + timedelta(hours=2), machine_ids=(world.ids["printer"],))
    return series.SeriesDraft(workshop, "weekly", (begin + timedelta(weeks=weeks - 1)).date())


async def test_a_booking_made_between_preview_and_writing_undoes_the_whole_series(year, monkeypatch):
    animator = await viewer_for(year.ids["animator"])
    maker = await viewer_for(year.ids["maker"])
    original = series.preview_series

    async def preview_then_someone_books(*args, **kwargs):
        preview = await original(*args, **kwargs)
        third = local_moment(17, "15:00")
        await bookings.book(maker, year.ids["printer"], third, third + timedelta(hours=1), utc_now())
        return preview

    monkeypatch.setattr(series, "preview_series", preview_then_someone_books)
    with pytest.raises(Refused) as refused:
        await series.plan_series(animator, "atelier", _draft(year), "refuse", utc_now())
    assert refused.value.code == "series_changed_meanwhile" and refused.value.status == 409
    assert refused.value.params["day"] == local_moment(17, "14:00").date()
    assert await Workshop.count() == 0 and await WorkshopSeries.count() == 0
    assert await WorkshopMachine.count() == 0
    assert await Booking.count().where(Booking.status == "confirmed") == 1  # the maker's


async def test_the_databases_overlap_guard_still_refuses_what_the_checks_would_miss(year, monkeypatch):
    animator = await viewer_for(year.ids["animator"])
    maker = await viewer_for(year.ids["maker"])
    third = local_moment(17, "15:00")

    async def checks_that_miss(preview, kept, now):
        await bookings.book(maker, year.ids["printer"], third, third + timedelta(hours=1), utc_now())

    monkeypatch.setattr(series, "_still_free", checks_that_miss)
    with pytest.raises(Refused) as refused:
        await series.plan_series(animator, "atelier", _draft(year), "skip", utc_now())
    assert refused.value.code == "series_overlap_meanwhile" and refused.value.status == 409
    assert await Workshop.count() == 0 and await WorkshopSeries.count() == 0
    assert await Booking.count().where(Booking.purpose == "workshop") == 0


async def test_a_series_and_a_booking_racing_for_one_slot_exactly_one_wins(year):
    animator = await viewer_for(year.ids["animator"])
    maker = await viewer_for(year.ids["maker"])
    third = local_moment(17, "15:00")
    results = await asyncio.gather(
        series.plan_series(animator, "atelier", _draft(year), "refuse", utc_now()),
        bookings.book(maker, year.ids["printer"], third, third + timedelta(hours=1), utc_now()),
        return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, Refused) for r in results if isinstance(r, Exception)), results
    holds = await Booking.count().where((Booking.purpose == "workshop") & (Booking.status == "confirmed"))
    makers = await Booking.count().where((Booking.purpose == "maker") & (Booking.status == "confirmed"))
    if isinstance(results[0], Exception):  # the maker won: no partial series
        assert (holds, makers, await Workshop.count()) == (0, 1, 0)
    else:
        assert (holds, makers, await Workshop.count()) == (4, 0, 4)


async def test_dst_spring_and_autumn_keep_14h_local(year):
    animator = await viewer_for(year.ids["animator"])
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    for first in (date(2027, 3, 17), date(2027, 10, 20)):
        begin = datetime.combine(first, time(14), tzinfo=PARIS)
        draft = series.SeriesDraft(
            WorkshopDraft(title="Repair café", starts_at=begin, ends_at=begin + timedelta(hours=2),
                          machine_ids=(year.ids["printer"],)),
            "weekly", first + timedelta(weeks=3))
        row = await series.plan_series(animator, "atelier", draft, "refuse", now)
        local = [w["starts_at"].astimezone(PARIS) for w in row["workshops"]]
        assert [t.time() for t in local] == [time(14)] * 4
        assert len({w["starts_at"].astimezone(UTC).hour for w in row["workshops"]}) == 2
        held = await Booking.select(Booking.start_at, Booking.end_at).where(
            (Booking.purpose == "workshop") & (Booking.start_at >= begin)
            & (Booking.start_at < begin + timedelta(weeks=4)))
        assert sorted(b["start_at"] for b in held) == sorted(w["starts_at"] for w in row["workshops"])


async def test_one_date_moved_or_cancelled_alone_its_holds_follow(client, year):
    body = (await post_series(client, year, machine_ids=[year.ids["printer"]])).json()
    first, second = body["dates"][0]["workshop_id"], body["dates"][1]["workshop_id"]
    begin = local_moment(4, "10:00")
    moved = await client.patch(f"/api/v1/workshops/{first}", headers=year.auth("animator"), json={
        "start": begin.isoformat(), "end": (begin + timedelta(hours=2)).isoformat()})
    assert moved.status_code == 200, moved.text
    assert moved.json()["series_id"] == body["id"]
    public = await client.get(f"/api/v1/workshops/{first}")
    assert public.json()["series_id"] is None  # the team's own planning
    cancelled = await client.post(f"/api/v1/workshops/{second}/cancel", headers=year.auth("animator"))
    assert cancelled.status_code == 200, cancelled.text
    holds = await Booking.select(Booking.start_at).where(
        (Booking.purpose == "workshop") & (Booking.status == "confirmed")).order_by(Booking.start_at)
    assert [h["start_at"] for h in holds][0] == begin
    assert len(holds) == 3  # the cancelled date gave its hold back
    listed = (await client.get(f"/api/v1/workshops/series/{body['id']}",
                               headers=year.auth("animator"))).json()
    assert [d["status"] for d in listed["dates"]].count("cancelled") == 1


async def test_cancelling_the_series_frees_every_future_hold_and_keeps_the_past(client, year):
    animator = await viewer_for(year.ids["animator"])
    row = await series.plan_series(animator, "atelier", _draft(year), "refuse", utc_now())
    after_first = row["workshops"][0]["starts_at"] + timedelta(minutes=30)
    cancelled = await series.cancel_series(animator, row["id"], after_first)
    assert [w["status"] for w in cancelled["workshops"]] == ["planned"] + ["cancelled"] * 3
    held = await Booking.select(Booking.status).where(Booking.purpose == "workshop").order_by(
        Booking.start_at)
    assert [b["status"] for b in held] == ["confirmed"] + ["cancelled"] * 3
    assert cancelled["cancelled_at"] is not None
    # through the API: nothing left to come, nothing changes
    response = await client.delete(f"/api/v1/workshops/series/{row['id']}", headers=year.auth("animator"))
    assert response.status_code == 200 and [d["status"] for d in response.json()["dates"]][1:] == ["cancelled"] * 3


async def test_only_the_sites_team_plans_reads_and_cancels_a_series(client, year):
    for who, status in (("stranger", 403), ("maker", 403)):
        response = await post_series(client, year, who=who)
        assert response.status_code == status, (who, response.text)
    anonymous = await client.post("/api/v1/workshops/series", json=series_body())
    assert anonymous.status_code == 401
    assert await WorkshopSeries.count() == 0
    planned = (await post_series(client, year)).json()
    for who in ("stranger", "maker"):
        for method in ("get", "delete"):
            response = await getattr(client, method)(f"/api/v1/workshops/series/{planned['id']}",
                                                     headers=year.auth(who))
            assert response.status_code == 404, (who, method, response.text)
    assert await Workshop.count().where(Workshop.status == "planned") == 4
    admin = await client.delete(f"/api/v1/workshops/series/{planned['id']}", headers=year.auth("admin"))
    assert admin.status_code == 200


@pytest.mark.parametrize(("changes", "status", "code"), [
    ({"until": "2000-01-01"}, 422, "series_until_before_start"),
    ({"frequency": "dates", "until": None, "dates": [
        (date(2027, 1, 1) + timedelta(days=n)).isoformat() for n in range(10_000)]}, 422, "series_too_many"),
    ({"until": "2099-12-31"}, 422, "series_too_long"),
    ({"frequency": "daily"}, 422, "series_frequency_unknown"),
    ({"on_conflict": "maybe"}, 422, "series_on_conflict_unknown"),
    ({"frequency": "dates", "until": None, "dates": ["2020-01-01"]}, 422, "series_date_in_past"),
    ({"machine_ids": [2**70]}, 422, None),
    ({"machine_ids": [2**62]}, 422, "machine_not_of_site"),
    ({"until": "not a date"}, 422, "invalid_input"),
])
async def test_hostile_series_are_refused_clearly_and_write_nothing(client, year, changes, status, code):
    body = {**series_body(), **changes}
    response = await client.post("/api/v1/workshops/series", json=body, headers=year.auth("animator"))
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    if code:
        assert response.json()["code"] == code
    assert await WorkshopSeries.count() == 0 and await Workshop.count() == 0


@pytest.mark.parametrize("series_id", ["0", "99999999999999999999", "-1", "abc"])
async def test_bad_series_ids_name_nothing(client, year, series_id):
    response = await client.delete(f"/api/v1/workshops/series/{series_id}", headers=year.auth("animator"))
    assert response.status_code in (400, 404), response.text
    assert response.json()["detail"]

