"""``lowbit docs``: builds the Sphinx sources into a directory and opens the front page, or says
clearly why it cannot. The real site is built by CI (`.ci/run`, warnings as errors); here a
two-file site keeps the test fast."""

from __future__ import annotations

import webbrowser

import pytest

from lowbit.commands import docs


@pytest.fixture
def opened(monkeypatch):
    pages: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: pages.append(url) or True)
    return pages


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A two-file Sphinx site standing in for the checkout's docs."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('project = "t"\n')
    (src / "index.rst").write_text("Title\n=====\n\nA page.\n")
    monkeypatch.setattr(docs, "sources", lambda: src)
    return src


def test_builds_and_opens(cli, tmp_path, site, opened):
    code, out, err = cli("docs", "--out", tmp_path / "html")
    assert code == 0, err
    index = tmp_path / "html" / "index.html"
    assert "A page." in index.read_text()
    assert opened == [index.resolve().as_uri()]
    assert str(index) in out


def test_no_open(cli, tmp_path, site, opened):
    assert cli("docs", "--no-open", "-o", tmp_path / "html")[0] == 0
    assert opened == []


def test_missing_sources_is_a_usage_error(cli, tmp_path, monkeypatch, opened):
    monkeypatch.setattr(docs, "sources", lambda: tmp_path / "nowhere")
    code, _, err = cli("docs", "--no-open", "-o", tmp_path / "html")
    assert code == 2
    assert "conf.py is missing" in err and "pip install -e" in err
    assert not (tmp_path / "html").exists() and opened == []


def test_the_checkout_has_the_sources():
    assert (docs.sources() / "conf.py").is_file()
