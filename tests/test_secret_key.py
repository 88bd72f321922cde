"""The development secret key (no FABBOOKING_SECRET_KEY): made once in the var folder and
kept; processes starting together on a new folder all take the same one."""

from __future__ import annotations

from fabbooking import settings


def test_the_key_is_made_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("FABBOOKING_SECRET_KEY", raising=False)
    first = settings._secret_key(tmp_path)
    assert len(first) >= settings.MIN_SECRET_LENGTH
    assert settings._secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0, "only the app's user may read it"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"], "no draft left behind"


def test_a_process_that_comes_second_takes_the_first_one_s_key(tmp_path, monkeypatch):
    """Two processes start on a new folder; the other writes its key while this one makes
    its own: this one must use the other's, or their sessions and forms would not agree."""
    monkeypatch.delenv("FABBOOKING_SECRET_KEY", raising=False)
    theirs = "k" * 64
    real = settings.secrets.token_urlsafe

    def meanwhile(length: int) -> str:
        (tmp_path / "secret_key").write_text(theirs + "\n")  # the other process, just then
        return real(length)

    monkeypatch.setattr(settings.secrets, "token_urlsafe", meanwhile)
    assert settings._secret_key(tmp_path) == theirs
    assert (tmp_path / "secret_key").read_text().strip() == theirs
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_a_key_too_short_to_use_is_replaced(tmp_path, monkeypatch):
    monkeypatch.delenv("FABBOOKING_SECRET_KEY", raising=False)
    (tmp_path / "secret_key").write_text("short\n")
    key = settings._secret_key(tmp_path)
    assert len(key) >= settings.MIN_SECRET_LENGTH
    assert (tmp_path / "secret_key").read_text().strip() == key
