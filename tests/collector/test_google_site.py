"""Parsing what the web app shows: grid labels, the info panel, URLs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gphotos_collector import google_site


def test_grid_label() -> None:
    kind, when = google_site.parse_grid_label("Photo - Landscape - Jul 15, 2010, 2:10:48\u202fPM")
    assert kind == "photo"
    assert when == datetime(2010, 7, 15, 14, 10, 48)
    kind, when = google_site.parse_grid_label("Video - Portrait - Jan 1, 2021, 12:00:01 AM")
    assert (kind, when) == ("video", datetime(2021, 1, 1, 0, 0, 1))
    assert google_site.parse_grid_label("Foto - Querformat - 15.07.2010") == ("photo", None)


def test_info_panel_time_with_zone() -> None:
    taken = google_site.parse_info_taken("Jul 15, 2010", "Thu, 2:10:48 PM GMT+02:00")
    assert taken == datetime(2010, 7, 15, 14, 10, 48, tzinfo=timezone(timedelta(hours=2)))
    taken = google_site.parse_info_taken("Dec 31, 2019", "11:59 PM GMT-05:30")
    assert taken == datetime(2019, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    assert google_site.parse_info_taken("Jan 2, 2020", "9:00 AM GMT").utcoffset() == timedelta(0)
    assert google_site.parse_info_taken("garbage", "9:00 AM") is None


def test_urls() -> None:
    base = "http://127.0.0.1:8000"
    assert google_site.library_url(base, 0) == f"{base}/?hl=en"
    assert google_site.item_url(base, 1, "AF1Qx") == f"{base}/u/1/photo/AF1Qx?hl=en"
    assert google_site.is_signed_out_url("https://www.google.com/photos/about/")
    assert google_site.is_signed_out_url("https://accounts.google.com/v3/signin/identifier?x")
    assert not google_site.is_signed_out_url(f"{base}/u/1/?hl=en")
    assert google_site.serves_account(f"{base}/u/1/?hl=en", 1)
    assert not google_site.serves_account(f"{base}/?hl=en", 1)
    assert google_site.serves_account(f"{base}/?hl=en", 0)


def test_combine_taken_adds_the_grid_seconds_to_the_panel_zone() -> None:
    zone = timezone(timedelta(hours=2))
    info = datetime(2001, 6, 13, 13, 47, tzinfo=zone)
    label = datetime(2001, 6, 13, 13, 47, 32)
    assert google_site.combine_taken(info, label) == datetime(2001, 6, 13, 13, 47, 32, tzinfo=zone)
    assert google_site.combine_taken(info, None) == info
    assert google_site.combine_taken(None, label) == label
    other = datetime(2001, 6, 13, 11, 47, 32)  # another wall time: keep the panel's
    assert google_site.combine_taken(info, other) == info


def test_combine_taken_prefers_an_exact_time_recorded_before() -> None:
    zone = timezone(timedelta(hours=-5))
    recorded = datetime(2001, 6, 13, 13, 47, 32, tzinfo=zone)
    info = datetime(2001, 6, 13, 13, 47, tzinfo=zone)
    assert google_site.combine_taken(info, recorded) == recorded
