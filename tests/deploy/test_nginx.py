"""deploy/nginx/tempcheck.conf, as shipped, in front of a real `tempcheck serve`: checked with
`nginx -t`, then a respondent answers a whole survey over HTTPS through it (a certificate made
here for 127.0.0.1), and every answer is stored; plain HTTP is sent to HTTPS, the app knows it
is behind HTTPS (its cookie is Secure), tokens are cut short in nginx's log, and `/healthz`
answers through it.

Debian's nginx package (`make test` installs it). The shipped file is only made to listen on
loopback ports, use the test certificate and reach the test's web server.
"""

from __future__ import annotations

import html.parser
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import _free_port
from tests.forms.test_respond import invite, response_of, stored_answers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "tempcheck.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRET = "nginx-test-secret-key-0123456789"
COMMENT = "Through nginx: “quotes”, £5 and ünïcödé"


@dataclass
class Proxy:
    """nginx on loopback in front of the test's web server."""

    https: str
    http: str
    certificate: Path
    folder: Path


def render_site(
    folder: Path, https_port: int, http_port: int, app_port: int, cert: Path, key: Path
) -> str:
    """Give the shipped site with loopback ports, the test certificate and the app's port."""
    site = SITE.read_text()
    replaced = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
        "/etc/letsencrypt/live/feedback.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/feedback.example.org/privkey.pem": str(key),
        "server_name feedback.example.org;": "server_name 127.0.0.1;",
        "/var/log/nginx/tempcheck.access.log": str(folder / "access.log"),
    }
    for old, new in replaced.items():
        assert old in site, f"the shipped site no longer has {old!r}: update this test"
        site = site.replace(old, new)
    # No IPv6 on every test machine.
    return "\n".join(line for line in site.splitlines() if "[::]" not in line)


def main_config(folder: Path, site: Path) -> str:
    """Give an nginx.conf like Debian's, around the site, with everything in `folder`."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\ndaemon off;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        f"    access_log {folder / 'other.log'};\n"
        f"{temp}\n"
        f"    include {site};\n"
        "}\n"
    )


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """Make a self-signed certificate for 127.0.0.1 (and localhost)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, **kwargs: object) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, log.read_text()
        try:
            httpx.get(url, timeout=2, **kwargs)  # type: ignore[arg-type]
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def proxy(database_url: str, tmp_path: Path) -> Iterator[Proxy]:
    """Run `tempcheck serve` and, in front of it, nginx with the shipped site."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: `make test` installs Debian's nginx package")
    app_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    cert, key = make_certificate(tmp_path)
    site = tmp_path / "tempcheck.conf"
    site.write_text(render_site(tmp_path, https_port, http_port, app_port, cert, key))
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_config(tmp_path, site))

    checked = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr

    tempcheck = Path(sys.executable).with_name("tempcheck")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPCHECK_INSTANCE": str(tmp_path / "instance"),
        "SECRET_KEY": SECRET,
        "BASE_URL": f"https://127.0.0.1:{https_port}",
        "TRUSTED_PROXIES": "1",
    }
    app_log, nginx_log = tmp_path / "serve.log", tmp_path / "nginx.out"
    with app_log.open("w") as out:
        app = subprocess.Popen(
            [str(tempcheck), "serve", "--workers", "1", "--threads", "4", "--port", str(app_port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    with nginx_log.open("w") as out:
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_up(f"http://127.0.0.1:{app_port}/healthz", app, app_log)
        _wait_until_up(f"https://127.0.0.1:{https_port}/healthz", nginx, nginx_log, verify=False)
        yield Proxy(
            f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", cert, tmp_path
        )
    finally:
        _stop(nginx)
        _stop(app)


class _Forms(html.parser.HTMLParser):
    """The forms of a page: action, hidden fields, and the choices or text boxes for an answer."""

    @dataclass
    class Form:
        action: str
        hidden: dict[str, str] = field(default_factory=dict)
        choices: list[str] = field(default_factory=list)
        text: bool = False

    def __init__(self, page: str) -> None:
        super().__init__()
        self.forms: list[_Forms.Form] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.forms.append(self.Form(a.get("action", "")))
        elif self.forms and tag == "input" and a.get("type") == "hidden":
            self.forms[-1].hidden[a["name"]] = a.get("value", "")
        elif self.forms and tag == "input" and a.get("type") in ("radio", "checkbox"):
            if a.get("name") == "answer":
                self.forms[-1].choices.append(a.get("value", ""))
        elif self.forms and a.get("name") == "answer" and tag in ("textarea", "input"):
            self.forms[-1].text = True


def answer_the_survey(client: httpx.Client, url: str) -> list[str]:
    """Answer every question (the first choice, or COMMENT in a text box) and submit; give
    the paths of the pages answered."""
    page = client.get(url)
    answered = []
    for _ in range(40):
        assert page.status_code == 200, page.text
        if page.url.path.endswith("/done"):
            return answered
        forms = [f for f in _Forms(page.text).forms if not f.action.endswith("/back")]
        assert forms, f"no form on {page.url.path}"
        form = forms[-1]
        data: dict[str, str] = dict(form.hidden)
        if form.choices:
            data["answer"] = form.choices[0]
        elif form.text:
            data["answer"] = COMMENT
        answered.append(page.url.path)
        # As a browser does: over HTTPS the CSRF check wants the page's address as referrer.
        page = client.post(form.action, data=data, headers={"Referer": str(page.url)})
    raise AssertionError(f"the survey did not end: {answered}")


# What nginx does is the same whatever the database: SQLite only (the answers' path on
# PostgreSQL is tested everywhere else).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_respondent_answers_through_nginx_with_tls_and_every_answer_is_stored(
    proxy: Proxy, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    with httpx.Client(
        base_url=proxy.https,
        verify=ssl.create_default_context(cafile=proxy.certificate),
        follow_redirects=True,
        timeout=10,
    ) as client:
        answered = answer_the_survey(client, f"/r/{token}")
        # The app knows it is behind HTTPS: its session cookie is Secure and __Host- prefixed.
        cookies = [c for c in client.cookies.jar if c.name.startswith("__Host-tempcheck")]
        assert cookies and all(c.secure for c in cookies)
        health = client.get("/healthz")
    assert (health.status_code, health.text) == (200, "ok\n")
    assert len(answered) >= 5

    response = response_of(session_factory, token)
    assert response is not None and response.status == "completed"
    answers = stored_answers(session_factory, response.id)
    assert answers["comments"] == COMMENT
    assert answers["used_support"] == "yes"

    # Plain HTTP is sent to HTTPS, the same address.
    plain = httpx.get(f"{proxy.http}/r/{token}", follow_redirects=False, timeout=5)
    assert plain.status_code == 301
    assert plain.headers["location"] == f"https://127.0.0.1/r/{token}"

    # nginx logs each request with the invitation's token cut short, as the app does (the
    # token opens the group's answers), and leaves the health checks out.
    access = (proxy.folder / "access.log").read_text()
    assert re.search(rf'"POST /r/{re.escape(token[:6])}\.\.\./start HTTP/1\.1" 30[23]', access), (
        access
    )
    assert token not in access
    assert "/healthz" not in access
    served = (proxy.folder / "serve.log").read_text()
    assert f"/r/{token[:6]}…" in served and token not in served
