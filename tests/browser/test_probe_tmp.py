from tests.browser.test_look import a_day_of_work, log_in, page_urls, laptop  # noqa
import pytest
pytestmark = pytest.mark.django_db(transaction=True)
def test_probe(live_server, laptop, django_user_model):
    data = a_day_of_work()
    log_in(laptop, live_server, django_user_model)
    laptop.goto(live_server.url + page_urls(data)["bot"])
    laptop.locator(".inline-group").first.screenshot(path="/tmp/inline.png")
    print(laptop.evaluate("""() => { const e = document.querySelector('.inline-group'); const h = e.querySelector('h2'); const cs = getComputedStyle(e); const hs = getComputedStyle(h); return [e.className, cs.border, cs.borderTop, h.outerHTML.slice(0,200), hs.border, hs.borderTop, getComputedStyle(h.parentElement).borderTop, h.parentElement.className].join(' | '); }"""))
