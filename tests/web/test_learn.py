"""The lessons' pages with Flask's test client: the course, a lesson, checking a program (htmx and without
JavaScript), progress kept per browser in the store, the solution offered when earned, tests opened in the
playground, and the verifier's explanations linking to the lessons."""
from __future__ import annotations

import re
from html import unescape

import pytest

from app.lessons import course
from app.web.learn import SOLUTION_AFTER

from .conftest import HTMX

FIRST = course()[0]
RIGHT = FIRST.solution["asm"]
WRONG = "r0 = 2\nexit\n"


@pytest.fixture
def check(client, csrf):
    def post(source: str, *, slug: str = FIRST.slug, htmx: bool = True, language: str = "asm"):
        return client.post(f"/learn/{slug}", data={"csrf_token": csrf, "source": source, "language": language},
                           headers=HTMX if htmx else {})
    return post


def test_the_course_lists_every_lesson_by_unit(client):
    html = client.get("/learn").get_data(as_text=True)
    for lesson in course():
        assert f'href="/learn/{lesson.slug}"' in html
    assert f"0 of {len(course())} lessons passed" in html
    assert "Forget my progress" not in html  # nothing to forget yet
    assert f"Start with {FIRST.number}. {FIRST.title}" in unescape(html)
    assert '<meta property="og:title" content="Learn eBPF · eBPF Playground">' in html


def test_a_lesson_opens_with_its_text_and_starter(client):
    html = client.get(f"/learn/{FIRST.slug}").get_data(as_text=True)
    assert f"<h1 id=\"lesson-title\">{FIRST.number}. {FIRST.title}</h1>" in unescape(html)
    first_line = FIRST.starter["asm"].splitlines()[0]
    assert first_line in unescape(html.split('<textarea id="source"')[1])
    assert '<h2 id="your-task">Your task</h2>' in html  # Markdown headings get ids
    assert f'<meta name="description" content="{FIRST.summary}">' in unescape(html)
    assert '<details class="solution">' not in html


def test_an_unknown_lesson_is_a_404_page(client):
    response = client.get("/learn/no-such-lesson")
    assert response.status_code == 404 and "no lesson with that name" in response.get_data(as_text=True)


def test_checking_a_rejected_program_explains_the_message(check):
    html = check("exit\n").get_data(as_text=True)
    assert 'id="lesson-result" class="lesson-result is-error"' in html
    assert "The verifier refuses it at insn 0." in html
    assert "<code>R0 !read_ok (EACCES)</code>" in html
    assert "Reading a register that holds no value" in html
    assert html.count('class="test is-skipped"') == len(FIRST.tests)


def test_checking_a_wrong_answer_shows_expected_and_got(check):
    html = unescape(check(WRONG).get_data(as_text=True))
    assert "Not yet" in html and f"{len(FIRST.tests)} of {len(FIRST.tests)} tests fail." in html
    assert "<pre>XDP_DROP (1)</pre>" in html and "<pre>XDP_PASS (2)</pre>" in html


def test_passing_is_recorded_and_shown_on_the_course(client, check):
    html = check(RIGHT).get_data(as_text=True)
    assert "Every test passes." in html
    assert f'id="course-count" hx-swap-oob="true">1 of {len(course())} passed' in html  # the top bar follows
    assert "A solution" in html
    course_page = client.get("/learn").get_data(as_text=True)
    assert f"1 of {len(course())} lessons passed" in course_page
    assert 'class="lesson-entry is-passed"' in course_page and "Forget my progress" in course_page
    # the lesson opens with the program last checked
    lesson_page = unescape(client.get(f"/learn/{FIRST.slug}").get_data(as_text=True))
    assert RIGHT.splitlines()[-1] in lesson_page.split('<textarea id="source"')[1]
    started_over = unescape(client.get(f"/learn/{FIRST.slug}?start=over").get_data(as_text=True))
    assert FIRST.starter["asm"].splitlines()[0] in started_over.split('<textarea id="source"')[1]


def test_without_javascript_a_check_returns_the_whole_page(check):
    response = check(WRONG, htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<!doctype html>" in html and "Not yet" in html
    assert 'id="course-count">0 of' in html and "hx-swap-oob" not in html


def test_a_solution_is_offered_after_some_failed_checks(check):
    for attempt in range(1, SOLUTION_AFTER):
        html = check(WRONG).get_data(as_text=True)
        assert '<details class="solution">' not in html and f"({attempt} so far)" in html
    html = check(WRONG).get_data(as_text=True)
    assert '<details class="solution">' in html and "Stuck? A solution" in html


def test_progress_belongs_to_one_browser(app, client, check):
    check(RIGHT)
    other = app.test_client()
    assert "0 of" in other.get("/learn").get_data(as_text=True)


def test_forgetting_progress_deletes_it(client, csrf, check):
    check(RIGHT)
    with client.session_transaction() as session:
        before = session["learner"]
    response = client.post("/learn/forget", data={"csrf_token": csrf})
    with client.session_transaction() as session:
        assert "learner" not in session
    check(WRONG)
    with client.session_transaction() as session:
        assert session["learner"] != before
    assert response.status_code == 303 and response.headers["Location"].endswith("/learn")
    assert "0 of" in client.get("/learn").get_data(as_text=True)


def test_progress_survives_a_restart(tmp_path):
    from app import create_app

    config = {"TESTING": True, "SECRET_KEY": "kept", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    first = create_app(config).test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', first.get(f"/learn/{FIRST.slug}").get_data(as_text=True))[1]
    first.post(f"/learn/{FIRST.slug}", data={"csrf_token": token, "source": RIGHT, "language": "asm"})
    cookie = first.get_cookie("session")
    assert cookie is not None and cookie.expires is not None  # kept beyond the browser session
    second = create_app(config).test_client()
    second.set_cookie("session", cookie.value)
    assert "1 of" in second.get("/learn").get_data(as_text=True)


def test_a_check_needs_the_csrf_token(client):
    response = client.post(f"/learn/{FIRST.slug}", data={"source": RIGHT, "language": "asm"})
    assert response.status_code == 400


def test_a_language_the_lesson_lacks_is_refused(check):
    response = check(RIGHT, language="rust")
    assert response.status_code == 400


def test_checks_count_against_the_run_limit(tmp_path):
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                      "RUN_RATE_PER_MINUTE": 1, "RUN_BURST": 1})
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get(f"/learn/{FIRST.slug}").get_data(as_text=True))[1]
    data = {"csrf_token": token, "source": RIGHT, "language": "asm"}
    assert client.post(f"/learn/{FIRST.slug}", data=data).status_code == 200
    refused = client.post(f"/learn/{FIRST.slug}", data=data)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_user_text_is_escaped(check):
    html = check("<script>alert(1)</script>\n", htmx=False).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_each_test_opens_in_the_playground_with_the_program_and_its_input(client, check):
    html = check(WRONG).get_data(as_text=True)
    forms = re.findall(r'<form class="open-test" action="/run" method="post" target="_blank">(.*?)</form>', html, re.DOTALL)
    assert len(forms) == len(FIRST.tests)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', forms[0]))
    assert unescape(fields["source"]) == WRONG and fields["type"] == FIRST.hook
    assert fields["packet_from"] in ("spec", "fields", "hex")
    opened = client.post("/run", data={k: unescape(v) for k, v in fields.items()})
    assert opened.status_code == 200 and "XDP_PASS" in opened.get_data(as_text=True)


def test_the_verifier_explanation_links_to_its_lesson(post_form):
    html = post_form("/run", source="exit\n", type="xdp", packet_from="hex", packets="00" * 60).get_data(as_text=True)
    assert f'<a href="/learn/{FIRST.slug}">{FIRST.number}. {FIRST.title}</a>' in html


# --- the JSON API -----------------------------------------------------------------------------------------

def test_the_api_lists_the_course(client):
    lessons = client.get("/api/v1/lessons").get_json()["lessons"]
    assert [entry["slug"] for entry in lessons] == [lesson.slug for lesson in course()]
    assert lessons[0]["url"] == f"/learn/{FIRST.slug}" and lessons[0]["languages"][0] == "asm"


def test_the_api_checks_a_program_and_records_nothing(client):
    answer = client.post(f"/api/v1/lessons/{FIRST.slug}/check", json={"source": WRONG})
    assert answer.status_code == 200
    report = answer.get_json()
    assert report["status"] == "fail" and report["tests"][0]["expected"] == "XDP_DROP (1)"
    rejected = client.post(f"/api/v1/lessons/{FIRST.slug}/check", json={"source": "exit\n"}).get_json()
    assert (rejected["status"], rejected["insn"], rejected["lesson"]) == ("error", 0, "registers")
    assert "0 of" in client.get("/learn").get_data(as_text=True)


@pytest.mark.parametrize("url, body, status, field", [
    ("/api/v1/lessons/nope/check", {"source": "exit"}, 404, None),
    (f"/api/v1/lessons/{FIRST.slug}/check", {}, 400, "source"),
    (f"/api/v1/lessons/{FIRST.slug}/check", {"source": "exit", "language": "go"}, 400, "language"),
    (f"/api/v1/lessons/{FIRST.slug}/check", {"source": "exit", "colour": 1}, 400, "colour"),
])
def test_the_api_names_what_is_wrong(client, url, body, status, field):
    answer = client.post(url, json=body)
    assert answer.status_code == status
    assert answer.get_json()["error"].get("field") == field


def test_a_program_over_the_size_limit_is_refused_and_not_kept(client, check):
    html = check("r0 = 1\n" * 20_000 + "exit\n").get_data(as_text=True)
    assert "is-error" in html and "bytes" in html
    course_page = client.get("/learn").get_data(as_text=True)
    assert "0 of" in course_page and "is-tried" not in course_page


def test_a_test_opens_at_the_packet_that_went_wrong(client, check):
    # drops IPv6 only: of the third test's packets (IPv6, VLAN-tagged IPv4, ICMP), the second is wrong first
    source = ("r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\nr0 = 2\nif r4 > r3 goto out\n"
              "r5 = *(u16 *)(r2 + 12)\nif r5 != 0xdd86 goto out\nr0 = 1\nout:\nexit\n")
    html = check(source).get_data(as_text=True)
    assert "wrong return value (packet 2 first)" in html
    last = re.findall(r'<form class="open-test".*?</form>', html, re.DOTALL)[-1]
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', last))
    assert fields["run"] == "1"
    opened = client.post("/run", data={k: unescape(v) for k, v in fields.items()}).get_data(as_text=True)
    assert 'id="run-pick-1" value="1" checked' in opened


def test_the_api_explains_a_rejection(client):
    report = client.post(f"/api/v1/lessons/{FIRST.slug}/check", json={"source": "exit\n"}).get_json()
    assert report["explanation"]["title"] == "Reading a register that holds no value"
    assert report["explanation"]["check"] and report["tests"][0]["run"] == 0
