"""The `containers` stack's engine on this machine: podman, a local image registry and the images.

``stacks/containers/up`` (control.py) calls ``up``; what it does, each part idempotent:

1. Installs Debian's podman, runc, debootstrap and docker-registry when one is missing (as
   root, with apt-get; otherwise it says what to install). There is no Docker engine here.
2. Starts podman's Docker-compatible API (``podman system service``) on ``podman.sock`` in
   ``state/containers``, with the project's ``containers.conf`` (runc: podman's default runtime,
   crun, fails on this kernel).
3. Starts an image registry (the CNCF distribution registry, Debian's docker-registry) on
   127.0.0.1, with basic authentication. ZenML reuses a pipeline's image only from a stack that
   has a container registry: builds pushed there are found again by their checksum.
4. Builds the base image once per machine with debootstrap (Debian bookworm with Python 3.11;
   no registry, so nothing can be pulled), then the parent image with the project's pinned
   requirements. Each is built only when its name, which carries the hash of its inputs, is
   missing.

``down`` stops the API service and the registry; images and registry contents stay.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List

from core.environment import ENGINE_DIR, ENGINE_SOCKET, container_engine_environment
from stacks.containers import settings as cfg
from stacks.processes import Servers

PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap", "docker-registry": "docker-registry"}
REGISTRY_DIR = ENGINE_DIR / "registry"


class EngineError(RuntimeError):
    pass


def environment() -> Dict[str, str]:
    """This process's environment with the engine's settings (the user's own win)."""
    return {**container_engine_environment(), **os.environ}


def podman(*arguments: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    completed = subprocess.run(["podman", *arguments], env=environment(), text=True, capture_output=True, **kwargs)
    if check and completed.returncode != 0:
        raise EngineError(f"podman {' '.join(arguments[:2])} failed ({completed.returncode}):\n"
                          f"{(completed.stderr or completed.stdout)[-2000:]}")
    return completed


# ---------------------------------------------------------------- packages
def install_packages() -> None:
    missing = [package for binary, package in PACKAGES.items()
               if not shutil.which(binary) and not Path("/usr/bin", binary).exists()]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise EngineError(f"missing {', '.join(missing)}: install them (Debian: sudo apt-get install -y "
                          f"{' '.join(missing)}) and run this again")
    print(f"  + apt-get install {' '.join(missing)}")
    install = ["apt-get", "install", "-y", "-q", *missing]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        completed = subprocess.run(install, env=env, capture_output=True, text=True)
        if completed.returncode != 0:
            raise EngineError(f"apt-get install {' '.join(missing)} failed:\n{completed.stderr[-2000:]}")


# ---------------------------------------------------------------- background processes
SERVERS = Servers(ENGINE_DIR)
running_pid = SERVERS.running_pid


def _start(name: str, command: List[str], healthy, env: Dict[str, str]) -> None:
    if running_pid(name) and healthy():
        print(f"  = {name} running (pid {running_pid(name)})")
        return
    SERVERS.start(name, command, healthy, env, seconds=60)


def api_answers() -> bool:
    """podman's Docker-compatible API answers a ping on the project's socket."""
    import docker

    if not ENGINE_SOCKET.exists():
        return False
    try:
        client = docker.DockerClient(base_url=f"unix://{ENGINE_SOCKET}", timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # docker.errors.DockerException and connection errors alike: not up (yet)
        return False


def registry_answers() -> bool:
    """The registry's API root answers; 401 means up, with authentication enforced."""
    try:
        with urllib.request.urlopen(f"http://{cfg.REGISTRY}/v2/", timeout=3) as response:
            return response.status in (200, 401)
    except urllib.error.HTTPError as error:
        return error.code == 401
    except (urllib.error.URLError, OSError):
        return False


def start_api() -> None:
    ENGINE_DIR.mkdir(parents=True, exist_ok=True)
    if ENGINE_SOCKET.exists() and running_pid("podman-api") is None:
        ENGINE_SOCKET.unlink()  # left by a service that did not stop cleanly
    _start("podman-api", ["podman", "system", "service", "--time=0", f"unix://{ENGINE_SOCKET}"], api_answers,
           environment())


def write_registry_files(password: str) -> Path:
    """The registry's configuration (storage, address, htpasswd) and podman's registry list."""
    import bcrypt

    REGISTRY_DIR.mkdir(parents=True, exist_ok=True)
    htpasswd = REGISTRY_DIR / "htpasswd"
    current = htpasswd.read_text().strip().split(":", 1) if htpasswd.is_file() else []
    if len(current) != 2 or not bcrypt.checkpw(password.encode(), current[1].encode()):
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
        htpasswd.write_text(f"{cfg.REGISTRY_USER}:{hashed}\n")
        htpasswd.chmod(0o600)
    config = REGISTRY_DIR / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {REGISTRY_DIR / 'data'}
  delete:
    enabled: true
http:
  addr: {cfg.REGISTRY}
auth:
  htpasswd:
    realm: mlops-registry
    path: {htpasswd}
""")
    # Replaces the machine's list for the project's podman only: the registry is plain HTTP on
    # loopback, and unqualified names (python:3.11-slim) mean Docker Hub, as with Docker.
    (ENGINE_DIR / "registries.conf").write_text(f"""unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
location = "{cfg.REGISTRY}"
insecure = true
""")
    return config


def start_registry(config: Path) -> None:
    if registry_answers() and running_pid("registry") is None:
        raise EngineError(f"port {cfg.REGISTRY_PORT} is taken by another process: stop it, or move the registry "
                          "with MLOPS_REGISTRY_PORT")
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    # The registry reads REGISTRY_* variables as settings of its own (REGISTRY_AUTH_FILE, podman's
    # login file, would become its `auth.file`): it gets none.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    _start("registry", [binary, "serve", str(config)], registry_answers, env)


# ---------------------------------------------------------------- images
def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def build_base_image() -> str:
    """Debian bookworm with Python 3.11 from Debian's packages, imported as a local image."""
    name = cfg.base_image()
    if image_exists(name):
        print(f"  = base image {name}")
        return name
    print(f"  + base image {name}: debootstrap {cfg.BASE_SUITE} (about a minute)")
    with tempfile.TemporaryDirectory(dir=ENGINE_DIR, prefix="rootfs-") as rootfs:
        completed = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(cfg.BASE_PACKAGES)}",
                                    cfg.BASE_SUITE, rootfs], capture_output=True, text=True)
        if completed.returncode != 0:
            raise EngineError(f"debootstrap failed:\n{(completed.stdout + completed.stderr)[-2000:]}")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = podman("import", "--change", 'CMD ["python3"]', "-", name, stdin=tar.stdout)
        tar.wait()
        del imported
    return name


def pip_ca_bundle() -> str:
    """The CA bundle that pip on this machine trusts, for pip inside the parent image's build."""
    configured = os.environ.get("PIP_CERT")
    if not configured:
        listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            key, _, value = line.partition("=")
            if key.endswith(".cert") and value:
                configured = value.strip().strip("'\"")
    for candidate in (configured, os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    import certifi

    return certifi.where()


def build_parent_image(base: str) -> str:
    """The project's pinned requirements on the base; pip's CA bundle goes in as a build secret."""
    name = cfg.parent_image()
    if image_exists(name):
        print(f"  = parent image {name}")
        return name
    print(f"  + parent image {name}: pip install -r requirements.txt (about 3 minutes)")
    with tempfile.TemporaryDirectory(prefix="mlops-parent-") as context:
        for source in cfg.PARENT_INPUTS:
            shutil.copy(source, context)
        completed = podman("build", "--secret", f"id=pip_ca,src={pip_ca_bundle()}", "--build-arg",
                           f"BASE_IMAGE={base}", "-f", str(Path(context) / cfg.PARENT_DOCKERFILE.name),
                           "-t", name, context, check=False)
    if completed.returncode != 0:
        raise EngineError(f"building {name} failed:\n{(completed.stdout + completed.stderr)[-3000:]}")
    return name


# ---------------------------------------------------------------- commands
def up(registry_password: str) -> str:
    """Start everything; returns the parent image's name."""
    install_packages()
    registry_config = write_registry_files(registry_password)  # podman reads its registry list at start
    start_api()
    start_registry(registry_config)
    return build_parent_image(build_base_image())


def down() -> None:
    SERVERS.stop("registry", timeout=20)
    SERVERS.stop("podman-api", timeout=20)
    ENGINE_SOCKET.unlink(missing_ok=True)


def status() -> int:
    checks = {"podman-api": api_answers, "registry": registry_answers}
    healthy = True
    for name, check in checks.items():
        ok = bool(running_pid(name)) and check()
        healthy &= ok
        print(f"{name:10s} {'up' if ok else 'down':5s} pid={running_pid(name) or '-'}")
    parent = cfg.parent_image()
    present = shutil.which("podman") is not None and image_exists(parent)
    print(f"{'image':10s} {'built' if present else 'missing':5s} {parent}")
    return 0 if healthy and present else 1
