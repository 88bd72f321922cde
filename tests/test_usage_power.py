"""Jobs found in a metered machine's power draw, with hysteresis (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fabbooking.usage.power import Detector, Reading, Thresholds, feed, went_offline

T0 = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
LASER = Thresholds(start_w=200, idle_w=60, start_after_s=20, stop_after_s=60)


def play(samples, limits=LASER, detector=None):
    """samples: (seconds after T0, watts, Wh counter)."""
    detector = detector or Detector()
    found = []
    for seconds, watts, wh in samples:
        detector, jobs = feed(detector, Reading(T0 + timedelta(seconds=seconds), watts, wh), limits)
        found.extend(jobs)
    return detector, found


def test_chiller_standby_draw_is_not_a_job():
    _, jobs = play([(s, 45, 1000 + s / 100) for s in range(0, 600, 10)])
    assert jobs == []


def test_short_spike_below_start_delay_is_not_a_job():
    _, jobs = play([(0, 40, 1000), (10, 900, 1000), (20, 40, 1001), (30, 40, 1001)])
    assert jobs == []


def test_a_cut_starts_after_the_delay_and_ends_when_power_stays_low():
    samples = [(0, 40, 1000.0), (10, 900, 1000.0), (20, 950, 1002.0), (30, 920, 1005.0)]
    samples += [(s, 900, 1005.0 + (s - 30) / 4) for s in range(40, 400, 10)]
    samples += [(400, 50, 1100.0), (430, 45, 1100.2), (470, 45, 1100.4)]
    detector, jobs = play(samples)
    assert [j.event for j in jobs] == ["job_started", "job_finished"]
    started, finished = jobs
    assert started.started_at == T0 + timedelta(seconds=10)  # when power first rose
    assert finished.at == T0 + timedelta(seconds=400)  # when power first fell
    assert finished.key == started.key
    assert finished.energy_wh == 100.0  # counter at the fall minus counter at the rise
    assert not detector.running


def test_a_pause_shorter_than_the_stop_delay_keeps_one_job():
    samples = [(0, 900, 0), (30, 900, 1), (60, 30, 2), (90, 900, 2), (400, 30, 10), (500, 30, 10)]
    _, jobs = play(samples)
    assert [j.event for j in jobs] == ["job_started", "job_finished"]


def test_plug_going_offline_mid_job_interrupts_it_at_the_last_reading():
    detector, jobs = play([(0, 900, 10.0), (30, 900, 12.0), (90, 900, 15.0)])
    assert [j.event for j in jobs] == ["job_started"]
    detector, ended = went_offline(detector)
    assert [j.event for j in ended] == ["job_interrupted"]
    assert ended[0].at == T0 + timedelta(seconds=90) and ended[0].energy_wh == 5.0
    assert went_offline(detector)[1] == []


def test_repeated_or_late_readings_change_nothing():
    detector, _ = play([(0, 900, 0), (30, 900, 1)])
    same, jobs = feed(detector, Reading(T0 + timedelta(seconds=30), 0, 1), LASER)
    assert same == detector and jobs == []


def test_meter_reset_gives_no_energy_rather_than_a_wrong_one():
    _, jobs = play([(0, 900, 500.0), (30, 900, 510.0), (60, 10, 2.0), (200, 10, 2.0)])
    assert jobs[-1].event == "job_finished" and jobs[-1].energy_wh is None
