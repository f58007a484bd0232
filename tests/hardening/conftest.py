import pytest

from tests.cards.web import OutsideWeb


@pytest.fixture(scope="session")
def hostile_site():
    """The outside web of tests/cards/web.py, with pages each test puts up (`served`)."""
    web = OutsideWeb()
    yield web
    web.close()


@pytest.fixture
def fetchable_site(hostile_site, settings):
    """hostile_site, reachable by the link-card fetcher as news.test (loopback and its port allowed)."""
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = True
    settings.LINKCARD_FETCH_ALLOWED_PORTS = [hostile_site.port]
    settings.LINKCARD_FETCH_STATIC_HOSTS = {"news.test": ["127.0.0.1"]}
    hostile_site.served.clear()
    return hostile_site
