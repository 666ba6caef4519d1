"""Install, start, stop and query a local Label Studio server in its own virtual environment.

Label Studio's pins (Django, pytz, the SDK) never touch harvest's environment: the server lives in
`HARVEST_LS_VENV` (default ~/.cache/harvest/label-studio-1.23.2). Its URL and token are recorded in
`<data_dir>/labelstudio/state.json` (mode 0600), which `connection()` reads.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from annotation.config import LS_VERSION, LabelStudioConfig
from annotation.errors import ServerError
from annotation.redact import register_secret

MARKER = ".harvest-complete"
# Label Studio also reads these unprefixed names (LABEL_STUDIO_X, HEARTEX_X, X): a stray one moves the server.
UNPREFIXED = ("HOST", "PORT", "USERNAME", "PASSWORD", "USER_TOKEN", "DEBUG", "DJANGO_DB", "DATABASE_URL")


@dataclass
class ServerState:
    url: str
    token: str
    pid: int | None
    port: int
    host: str
    admin_email: str
    admin_password: str
    ls_data_dir: str
    document_root: str

    def public(self) -> dict[str, object]:
        """The state without secrets, for printing."""
        return {k: v for k, v in asdict(self).items() if k not in ("token", "admin_password")}


def state_dir(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / "labelstudio"


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it 0700: only this user may list or enter it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def make_private(folder: Path) -> None:
    """Take group and other permissions off everything under `folder` (dirs 0700, files at most 0600):
    the Label Studio database holds the admin token and the webhook secret in clear."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o700)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & 0o700)


def read_state(data_dir: Path) -> ServerState | None:
    path = state_dir(data_dir) / "state.json"
    if not path.is_file():
        return None
    state = ServerState(**json.loads(path.read_text()))
    register_secret(state.token)
    register_secret(state.admin_password)
    return state


def write_state(data_dir: Path, state: ServerState) -> Path:
    folder = private_dir(state_dir(data_dir))
    path = folder / "state.json"
    tmp = folder / "state.json.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(state), fh)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def ensure_venv(venv: Path, *, python: str = sys.executable, timeout: float = 900) -> Path:
    """Install label-studio==1.23.2 into `venv` unless a complete install is there; return its CLI path."""
    exe = venv / "bin" / "label-studio"
    if (venv / MARKER).is_file() and exe.is_file():
        return exe
    venv.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"label-studio=={LS_VERSION}"],
            check=True, capture_output=True, timeout=timeout,
        )
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or b"").decode(errors="replace")[-2000:]
        raise ServerError(
            f"installing label-studio=={LS_VERSION} into {venv} failed:\n{tail}\n"
            f"Check that a package index is reachable, or set HARVEST_LS_VENV to an existing install."
        ) from None
    except subprocess.TimeoutExpired:
        raise ServerError(f"installing label-studio into {venv} took longer than {timeout:.0f} s; retry.") from None
    if not exe.is_file():
        raise ServerError(f"label-studio was installed into {venv} but {exe} is missing; delete {venv} and retry.")
    (venv / MARKER).write_text(LS_VERSION + "\n")
    return exe


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests, benchmarks and throwaway servers)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_busy(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout, headers={"Connection": "close"}).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child counts as dead
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def server_env(state: ServerState) -> dict[str, str]:
    """The environment for `label-studio start`: offline, legacy token on, local files under the data dir."""
    env = {k: v for k, v in os.environ.items() if k not in UNPREFIXED and not k.startswith(("LABEL_STUDIO_", "HEARTEX_"))}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=state.ls_data_dir,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LOCAL_FILES_SERVING_ENABLED="true",
        LOCAL_FILES_DOCUMENT_ROOT=state.document_root,
        SSRF_PROTECTION_ENABLED="false",  # loopback webhooks; this server only listens on 127.0.0.1
        SENTRY_DSN="", FRONTEND_SENTRY_DSN="", LATEST_VERSION_CHECK="false", COLLECT_ANALYTICS="false",
    )
    env["DJANGO_DB"] = "sqlite"
    return env


def wait_healthy(url: str, proc: subprocess.Popen | None, timeout: float, log: Path | None = None) -> float:
    """Poll /health until it answers 200; raise ServerError if the process dies or time runs out."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if healthy(url):
            return time.monotonic() - start
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.is_file() else ""
            raise ServerError(f"Label Studio exited with code {proc.returncode} while starting:\n{tail}")
        time.sleep(0.5)
    raise ServerError(f"Label Studio at {url} did not answer /health within {timeout:.0f} s; see {log}.")


def start(data_dir: Path, cfg: LabelStudioConfig) -> ServerState:
    """Start (or reuse) the local server for this data dir; return its state (url, token, pid).

    Its LOCAL_FILES_DOCUMENT_ROOT is `[labelstudio] document_root`, by default the data dir.
    """
    data_dir = Path(data_dir).resolve()
    old = read_state(data_dir)
    if old and alive(old.pid) and healthy(old.url):
        return old
    url = f"http://{cfg.host}:{cfg.port}"
    if port_busy(cfg.host, cfg.port):
        raise ServerError(
            f"port {cfg.port} on {cfg.host} is already in use (Label Studio would silently move to port+1). "
            f"Stop what runs there, or set [labelstudio] port to a free port."
        )
    exe = ensure_venv(cfg.venv_path())
    folder = private_dir(state_dir(data_dir))
    private_dir(folder / "data")
    make_private(folder)  # a server started by an older harvest left its database 0644
    state = ServerState(
        url=url, token=old.token if old else secrets.token_hex(20), pid=None, port=cfg.port, host=cfg.host,
        admin_email=old.admin_email if old else cfg.admin_email,
        admin_password=old.admin_password if old else secrets.token_urlsafe(16),
        ls_data_dir=str(folder / "data"), document_root=str(Path(cfg.document_root or data_dir).resolve()),
    )
    register_secret(state.token)
    register_secret(state.admin_password)
    log = folder / "server.log"
    # the admin login and token go in the environment, never on the command line (`ps` shows that)
    cmd = [str(exe), "start", "--no-browser", "--internal-host", cfg.host, "--port", str(cfg.port),
           "--enable-legacy-api-token"]
    env = server_env(state)
    env.update(LABEL_STUDIO_USERNAME=state.admin_email, LABEL_STUDIO_PASSWORD=state.admin_password,
               LABEL_STUDIO_USER_TOKEN=state.token)
    # umask 077: everything Label Studio writes (its SQLite database with the token and the webhook
    # secret, uploads, exports) is created 0600 in 0700 directories
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, umask=0o077)
    state.pid = proc.pid
    write_state(data_dir, state)
    try:
        wait_healthy(url, proc, cfg.start_timeout, log)
        check_token(url, state.token)
    except ServerError:
        stop(data_dir)
        raise
    return state


def check_token(url: str, token: str) -> dict:
    response = httpx.get(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {token}"}, timeout=30)
    if response.status_code != 200:
        raise ServerError(
            f"Label Studio at {url} refused the recorded token (HTTP {response.status_code}). "
            "The server's user was created with another token: remove <data_dir>/labelstudio and start again."
        )
    return response.json()


def stop(data_dir: Path, timeout: float = 20.0) -> bool:
    """SIGTERM the recorded server process and wait for it to exit; True if one was running."""
    state = read_state(data_dir)
    if state is None or not alive(state.pid):
        return False
    try:
        os.killpg(state.pid, signal.SIGTERM)
    except OSError:
        os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(state.pid):
        if time.monotonic() > deadline:
            os.killpg(state.pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    while port_busy(state.host, state.port) and time.monotonic() < deadline + 5:
        time.sleep(0.1)
    return True


def status(data_dir: Path) -> dict[str, object]:
    state = read_state(data_dir)
    if state is None:
        return {"running": False, "state": None}
    return {"running": alive(state.pid) and healthy(state.url), **state.public()}
