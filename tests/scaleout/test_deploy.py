"""The deployment files in deploy/: nginx accepts the configuration (``nginx -t``), it logs no
address and passes the client's on only as the X-Forwarded-For the app trusts
(``FORUM_TRUST_PROXY=on`` in the unit), and the systemd unit runs a real ``forum run``
command. ``make reliability`` (login-storm) runs the real nginx with this configuration."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from forum.cli import build_parser
from forum.config import ROOT

DEPLOY = ROOT / "deploy"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"],
                       capture_output=True, check=False, timeout=300)
        found = shutil.which("nginx", path="/usr/sbin:/sbin:/usr/bin")
    if found is None:
        print("\nnginx -t skipped: nginx is missing and apt-get could not install it "
              "(apt-get install nginx-light)")
        pytest.skip("nginx is missing and could not be installed")
    return found


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=forum.example.org", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=True,
    )
    return cert, key


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = nginx_binary()
    cert, key = self_signed(tmp_path)
    proxy = tmp_path / "entrepairs-proxy.conf"
    proxy.write_text((DEPLOY / "entrepairs-proxy.conf").read_text())
    config = (DEPLOY / "nginx.conf").read_text()
    config = config.replace("/etc/letsencrypt/live/forum.example.org/fullchain.pem", str(cert))
    config = config.replace("/etc/letsencrypt/live/forum.example.org/privkey.pem", str(key))
    config = config.replace("/etc/nginx/entrepairs-proxy.conf", str(proxy))
    config = config.replace("/var/log/nginx/entrepairs-error.log", str(tmp_path / "error.log"))
    (tmp_path / "nginx.conf").write_text(config)
    result = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
         "-g", f"pid {tmp_path / 'nginx.pid'};"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def directives(text: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.split("#", 1)[0].strip()]


def test_nginx_logs_no_address_and_passes_the_client_only_as_the_forwarded_for() -> None:
    lines = directives((DEPLOY / "nginx.conf").read_text())
    lines += directives((DEPLOY / "entrepairs-proxy.conf").read_text())
    assert "access_log off;" in lines
    assert not any(line.startswith("log_format") for line in lines)
    assert not any(line.startswith("access_log") and line != "access_log off;" for line in lines)
    # Behind one proxy the app would see a single client: 31 failed log-ins from anyone
    # locked every member out. The address replaces whatever the client sent (never
    # $proxy_add_x_forwarded_for, which keeps the client's own entries).
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in lines
    for line in lines:
        if line.startswith("proxy_set_header") and "X-Forwarded-For" not in line:
            assert "$remote_addr" not in line, line
        assert "$proxy_add_x_forwarded_for" not in line, line
    assert 'proxy_set_header X-Real-IP "";' in lines
    assert 'proxy_set_header Forwarded "";' in lines


def test_the_unit_trusts_the_proxy_it_runs_behind() -> None:
    lines = directives((DEPLOY / "entrepairs.service").read_text())
    assert "Environment=FORUM_TRUST_PROXY=on" in lines
    # Only nginx on this machine reaches the app: it listens on the loopback address.
    assert any(line.startswith("ExecStart=") and "--host 127.0.0.1" in line for line in lines)


def test_the_systemd_unit_runs_a_valid_forum_command() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment, method-assign]
    unit.read_string((DEPLOY / "entrepairs.service").read_text())
    command = shlex.split(unit["Service"]["ExecStart"].replace("%i", "8001"))
    assert command[0].endswith("/forum")
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.host, args.port, args.workers) == ("run", "127.0.0.1", 8001, 2)
    assert unit["Service"]["NoNewPrivileges"] == "yes"
    assert re.fullmatch(r"/\S+", unit["Service"]["EnvironmentFile"])


def _seconds(directive: str, lines: list[str]) -> float:
    found = [line for line in lines if line.split()[0] == directive]
    assert found, f"{directive} is missing"
    value = found[0].split()[1].rstrip(";")
    return float(value[:-1]) if value.endswith("s") else float(value)


def test_nginx_closes_slow_and_idle_clients_and_bounds_connections_per_address() -> None:
    from forum.server import KEEP_ALIVE_SECONDS

    lines = directives((DEPLOY / "nginx.conf").read_text())
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert _seconds(directive, lines) <= 15, directive
    assert _seconds("keepalive_timeout", lines) <= 60
    assert "reset_timedout_connection on;" in lines
    assert any(re.fullmatch(r"limit_conn_zone \$binary_remote_addr zone=\w+:\d+m;", line)
               for line in lines)
    assert any(re.fullmatch(r"limit_conn \w+ \d+;", line) for line in lines)
    # The upstream's idle connections close before the app closes them (else a request sent
    # on a connection the app is closing fails).
    upstream = (DEPLOY / "nginx.conf").read_text().split("upstream entrepairs {")[1]
    upstream_lines = directives(upstream.split("}")[0])
    assert _seconds("keepalive_timeout", upstream_lines) < KEEP_ALIVE_SECONDS


def test_the_systemd_unit_leaves_no_orphan_and_allows_many_connections() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment, method-assign]
    unit.read_string((DEPLOY / "entrepairs.service").read_text())
    service = unit["Service"]
    assert service["KillMode"] == "control-group"
    assert int(service["LimitNOFILE"]) >= 8192  # systemd's default is 1,024
    assert service["UMask"] == "0077"


def test_the_error_log_is_kept_above_the_level_where_nginx_names_clients() -> None:
    """nginx writes "client: <address>" in its error-level lines (an upstream that cannot be
    reached, a refused request): at "crit" no address reaches the disk (docs/DEPLOYMENT.md)."""
    config = directives((DEPLOY / "nginx.conf").read_text())
    levels = [line.rstrip(";").split()[-1] for line in config if line.startswith("error_log ")]
    assert levels and all(level in ("crit", "alert", "emerg") for level in levels), levels
    assert "limit_req_log_level info;" in config
