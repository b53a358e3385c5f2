"""The production image and manifests for real: build, run, probe and stop the container.

No Docker engine and no image registry here (docs/adr/0009): podman builds
infra/docker/Dockerfile daemonless on a base image made from Debian's own packages
(debootstrap, BASE_IMAGE build argument) and runs it the way the Kubernetes manifest
does: its args, user 10001, a read-only root, no capabilities, the directory mounted
read-only. The container gets a network namespace of its own joined to the host by a
veth pair, so it listens on 8080 like in production (the image's HEALTHCHECK asks that
port) and reaches a real redis-server on the host's end. podman-compose plans every
service of infra/compose.yaml and really starts its two nodes on the file's network;
infra/k8s goes through the Kubernetes OpenAPI schemas (offline, kubernetes-validate). No
Kubernetes cluster runs here, and no registry image (Redis, PostgreSQL, nginx, coturn).

The base image and the build's layers are kept in ~/.cache/etapiste-container-test
(ETAPISTE_CONTAINER_CACHE), a container storage of their own: a rerun builds only what
changed. Missing tools fail the tests: scripts/install-system-deps installs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
import yaml

from signaling.directory import DEMO_CONFIG, TOKEN_SECRET_ENV

from . import redis_server
from .netns import Namespace, ip, network_namespace
from .redis_server import RedisServer
from .support import REPO, booth_client, eventually

# Cold (debootstrap, every wheel from PyPI) the file took 124 s on the 2-core development
# machine, the build fixture 106 s of it; warm 41 s.
pytestmark = pytest.mark.timeout(600)

DOCKERFILE = REPO / "infra" / "docker" / "Dockerfile"
COMPOSE = REPO / "infra" / "compose.yaml"
K8S = REPO / "infra" / "k8s"
IMAGE = "localhost/etapiste:test"
# What the Dockerfile needs of a base: python3 with venv (and pip for it), useradd.
BASE_PACKAGES = ("python3", "python3-venv")
CACHE = Path(
    os.environ.get("ETAPISTE_CONTAINER_CACHE", Path.home() / ".cache" / "etapiste-container-test")
)
# Kubernetes versions the manifests must be valid for: an older one still widely run,
# and the newest the schema package knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


# --- the engine -------------------------------------------------------------------------


def _require(*tools: str) -> None:
    """Fail (never skip) when a tool is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: scripts/install-system-deps installs them")


def _engine_env() -> dict[str, str]:
    """Return the environment that points podman at this test's own configuration.

    runc, not crun: Debian's crun refuses a hybrid cgroup layout (here: hugetlb on the
    v2 hierarchy). Explicit ulimits: podman gives a root container nofile and nproc far
    above ours, and raising them needs CAP_SYS_RESOURCE, which a sandbox may not have.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 65536 if nofile == resource.RLIM_INFINITY else min(nofile, 65536)
    conf = CACHE / "containers.conf"
    conf.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )
    storage = CACHE / "storage.conf"
    run_key = hashlib.sha256(str(CACHE).encode()).hexdigest()[:8]  # one per storage
    storage.write_text(
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{CACHE / "storage"}"\n'
        f'runroot = "/run/etapiste-container-test-{run_key}"\n'
    )
    return {
        **os.environ,
        "CONTAINERS_CONF": str(conf),
        "CONTAINERS_STORAGE_CONF": str(storage),
    }


@pytest.fixture(scope="module")
def engine() -> dict[str, str]:
    """Return podman's environment, after checking the tools are there."""
    _require("podman", "runc", "debootstrap", "tar", "ip", "iptables", "redis-server")
    if not Path("/usr/lib/cni/bridge").exists():
        pytest.fail("missing the CNI plugins: scripts/install-system-deps installs them")
    return _engine_env()


def podman(
    env: dict[str, str], *args: str, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run podman; on failure raise with its output."""
    result = subprocess.run(
        ["podman", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited with {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


# --- the base image: Debian's packages, no registry -------------------------------------


def _codename() -> str:
    found = re.search(r"^VERSION_CODENAME=(\w+)", Path("/etc/os-release").read_text(), re.M)
    return found.group(1) if found else "bookworm"


def _debian_mirror(codename: str) -> str:
    """Return the apt mirror this machine already uses for ``codename`` (not -security)."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        # One-line format: deb [options] URI SUITE COMPONENTS...
        for found in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
            if found.group(2) == codename and "/debian" in found.group(1):
                return found.group(1)
        # deb822 format: stanzas with URIs: and Suites:.
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and codename in suites.group(1).split():
                if "/debian" in uris.group(1) and "security" not in uris.group(1):
                    return uris.group(1)
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def base_image(engine: dict[str, str]) -> str:
    """Return a local base image: a debootstrapped Debian with python3 and venv."""
    codename = _codename()
    key = hashlib.sha256(" ".join((codename, *BASE_PACKAGES)).encode()).hexdigest()[:12]
    tag = f"localhost/etapiste-test-base:{codename}-{key}"
    if podman(engine, "image", "exists", tag, check=False).returncode == 0:
        return tag
    mirror = _debian_mirror(codename)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="rootfs-") as rootfs:
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
        made = subprocess.run(
            [*command, codename, rootfs, mirror], capture_output=True, text=True, timeout=400
        )
        assert made.returncode == 0, f"debootstrap from {mirror}:\n{made.stderr[-3000:]}"
        shutil.rmtree(Path(rootfs) / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        shutil.rmtree(Path(rootfs) / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["podman", "import", "-", tag], stdin=tar.stdout, env=engine, capture_output=True
        )
        assert tar.stdout is not None
        tar.stdout.close()
        assert tar.wait() == 0 and imported.returncode == 0, imported.stderr
    print(f"base image {tag} from {mirror} in {time.monotonic() - began:.0f} s")
    return tag


@pytest.fixture(scope="module")
def image(engine: dict[str, str], base_image: str) -> str:
    """Build infra/docker/Dockerfile on the local base; return the image's name.

    --isolation chroot: RUN steps need no OCI runtime or cgroups. The host's CA store is
    mounted into RUN steps so that pip trusts what this machine trusts (Debian's pip
    reads the system store); it is not part of any image.
    """
    began = time.monotonic()
    build = ["build", "--format", "docker", "--layers", "--isolation", "chroot"]
    build += ["--network", "host", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    build += ["--ignorefile", str(DOCKERFILE.parent / "Dockerfile.dockerignore")]
    build += ["--build-arg", f"BASE_IMAGE={base_image}", "-f", str(DOCKERFILE), "-t", IMAGE]
    started = int(time.time())
    podman(engine, *build, str(REPO), timeout=540)
    # Layers of earlier builds that this one no longer uses: the cache would only grow.
    podman(engine, "image", "prune", "-f", "--filter", f"until={started}", check=False)
    print(f"image {IMAGE} built in {time.monotonic() - began:.0f} s")
    return IMAGE


# --- the manifests ----------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    """Return every resource of infra/k8s."""
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def k8s_resource(kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        doc for doc in k8s_documents() if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    return found


def k8s_container(name: str) -> dict[str, Any]:
    """Return the first container of the Deployment ``name``."""
    spec: dict[str, Any] = k8s_resource("Deployment", name)["spec"]["template"]["spec"]
    return spec["containers"][0]  # type: ignore[no-any-return]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def _seconds(duration: str) -> float:
    """Return the seconds of a compose duration such as "15s" or "1m30s"."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def _with_option(args: list[str], option: str, value: str) -> list[str]:
    """Return ``args`` with ``--option=…`` replaced by ``--option=value``."""
    assert any(arg.startswith(f"--{option}=") for arg in args), (option, args)
    return [f"--{option}={value}" if arg.startswith(f"--{option}=") else arg for arg in args]


# --- running it -------------------------------------------------------------------------


@contextlib.contextmanager
def redis_listening_on(
    address: str, directory: Path, port: int | None = None
) -> Iterator[RedisServer]:
    """Run a real redis-server on ``address`` (the host's end of the container's veth)."""
    # RedisServer binds and pings tests.redis_server.HOST (loopback): point it elsewhere.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis_server, "HOST", address)
        server = RedisServer(directory, port=port)
        server.start()
    try:
        yield server
    finally:
        server.stop()


def run_options(name: str, ns: Namespace) -> list[str]:
    """Return `podman run` options for a container named ``name`` like a manifest's pod."""
    # readOnlyRootFilesystem with an emptyDir at /tmp, capabilities dropped, no new
    # privileges: the manifests' securityContext. The user is the image's own (10001).
    options = ["run", "--name", name, "--network", f"ns:/run/netns/{ns.name}"]
    options += ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
    return options + ["--security-opt", "no-new-privileges"]


@contextlib.contextmanager
def container(env: dict[str, str], name: str, ns: Namespace, *args: str) -> Iterator[str]:
    """Run the image detached in ``ns``; remove it after."""
    podman(env, "rm", "-f", name, check=False)
    podman(env, *run_options(name, ns), "-d", *args)
    try:
        yield name
    finally:
        logs = podman(env, "logs", name, check=False)
        print(f"--- {name} log (tail)\n{(logs.stdout + logs.stderr)[-2000:]}")
        podman(env, "rm", "-f", "-t", "0", name, check=False)


async def _healthy(base_url: str) -> bool:
    """Tell whether the node answers /healthz with 200 and reaches its store."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
            http.get(base_url + "/healthz") as resp,
        ):
            return resp.status == 200 and bool((await resp.json())["store_ok"])
    except (aiohttp.ClientError, TimeoutError):
        return False


@pytest.fixture
def directory_dir(tmp_path: Path) -> Path:
    """Return a directory holding the demo directory as directory.toml, readable by 10001."""
    folder = tmp_path / "etc-etapiste"
    folder.mkdir()
    shutil.copy(DEMO_CONFIG, folder / "directory.toml")
    folder.chmod(0o755)
    (folder / "directory.toml").chmod(0o644)
    tmp_path.chmod(0o755)
    return folder


def test_image_runs_as_10001_with_the_healthcheck_and_drain_signal(
    engine: dict[str, str], image: str
) -> None:
    """The built image's configuration: non-root user, /healthz check, SIGTERM, entrypoint."""
    (info,) = json.loads(podman(engine, "image", "inspect", image).stdout)
    config = info["Config"]
    # Numeric: Kubernetes' runAsNonRoot can only verify a numeric user.
    assert config["User"] == "10001:10001"
    assert config["StopSignal"] == "SIGTERM"
    assert config["Entrypoint"] == ["etapiste"]
    assert config["Cmd"][0] == "serve" and "8080/tcp" in config["ExposedPorts"]
    check = info["Healthcheck"]["Test"]
    assert check[0] == "CMD" and "/healthz" in " ".join(check)
    print(f"image size {info['Size'] / 1e6:.0f} MB")


def test_image_holds_this_checkout_of_the_code(engine: dict[str, str], image: str) -> None:
    """Every module installed in the image is the working tree's (no stale build cache)."""
    packages = ["etapiste", "signaling", "stats", "endpoint_agent", "agent_console"]
    script = (
        "import hashlib, json, pathlib, sys, signaling\n"
        "root = pathlib.Path(signaling.__file__).parent.parent\n"
        "print(json.dumps({str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()"
        " for name in sys.argv[1:] for p in (root / name).rglob('*.py')}))"
    )
    run = ["run", "--rm", "--entrypoint", "python", image, "-c", script, *packages]
    installed = json.loads(podman(engine, *run).stdout)
    assert len(installed) > 20
    for relative, digest in installed.items():
        assert hashlib.sha256((REPO / relative).read_bytes()).hexdigest() == digest, relative


async def test_node_serves_healthz_passes_its_healthcheck_and_drains_on_sigterm(
    engine: dict[str, str], image: str, directory_dir: Path, tmp_path: Path
) -> None:
    """`etapiste serve` in the container with the manifest's args, a real Redis, a client."""
    grace_s = _seconds(compose()["x-node"]["stop_grace_period"])
    node = k8s_container("etapiste-node")
    args = _with_option(node["args"], "node-id", "container-1")
    with (
        network_namespace() as ns,
        redis_listening_on(ns.host_address, tmp_path / "redis") as redis,
    ):
        args = _with_option(args, "store", f"redis://{ns.host_address}:{redis.port}/0")
        mount = f"{directory_dir}:/etc/etapiste:ro"
        env = f"{TOKEN_SECRET_ENV}={'t' * 48}"
        name = f"etapiste-test-node-{os.getpid()}"
        with container(engine, name, ns, "-v", mount, "-e", env, image, *args):
            base_url = f"http://{ns.ns_address}:8080"
            began = time.monotonic()
            await eventually(
                lambda: _healthy(base_url), timeout=30, interval=0.2, message="/healthz 200"
            )
            print(f"/healthz 200 from the host {time.monotonic() - began:.1f} s after start")
            whoami = podman(engine, "exec", name, "id", "-u").stdout.strip()
            assert whoami == "10001"
            # The image's own HEALTHCHECK, run inside the container by the engine.
            podman(engine, "healthcheck", "run", name)
            # The manifest's preStop hook works in the image as the user it runs as.
            pre_stop = node["lifecycle"]["preStop"]["exec"]["command"]
            podman(engine, "exec", name, *pre_stop, timeout=30)

            client = await booth_client(base_url)
            try:
                began = time.monotonic()
                stop = await asyncio.create_subprocess_exec(
                    *("podman", "stop", "-t", str(int(grace_s)), name),
                    env=engine,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,  # no systemd here: timer warnings
                )
                await asyncio.wait_for(client.going_away.wait(), 10)
                assert await asyncio.wait_for(stop.wait(), grace_s + 10) == 0
                stopped_s = time.monotonic() - began
            finally:
                await client.close()
            state = podman(engine, "inspect", name, "--format", "json")
            (inspected,) = json.loads(state.stdout)
            # 0, not 137: it drained and exited by itself, before the engine's SIGKILL.
            assert inspected["State"]["ExitCode"] == 0, inspected["State"]
            assert stopped_s < grace_s
            print(f"SIGTERM: GOING_AWAY to the client, exit 0 in {stopped_s:.1f} s")


async def test_stats_consumer_runs_from_the_same_image(
    engine: dict[str, str], image: str, tmp_path: Path
) -> None:
    """`etapiste stats consume` with the manifest's args follows a real Redis and exits."""
    consumer = k8s_container("etapiste-stats")
    with (
        network_namespace() as ns,
        redis_listening_on(ns.host_address, tmp_path / "redis") as redis,
    ):
        args = _with_option(consumer["args"], "store", f"redis://{ns.host_address}:{redis.port}/0")
        # SQLite on the container's /tmp instead of PostgreSQL; --once: stop when caught up.
        args = _with_option(args, "db", "sqlite:////tmp/stats.db") + ["--once"]
        name = f"etapiste-test-stats-{os.getpid()}"
        podman(engine, "rm", "-f", name, check=False)
        try:
            podman(engine, *run_options(name, ns), image, *args, timeout=60)
        finally:
            podman(engine, "rm", "-f", name, check=False)
    usage = podman(engine, "run", "--rm", image, "stats", "consume", "--help").stdout
    assert "--store" in usage and "--db" in usage


def test_kubernetes_manifests_are_valid_against_the_kubernetes_schemas() -> None:
    """Every resource in infra/k8s passes the OpenAPI schemas, strictly (no unknown keys)."""
    docs = k8s_documents()
    assert {doc["kind"] for doc in docs} >= {"Deployment", "Service", "Ingress", "Secret"}
    for version in K8S_VERSIONS:
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                raise AssertionError(
                    f"{doc['kind']}/{doc['metadata']['name']} invalid for Kubernetes "
                    f"{version}: {exc.message} at {list(exc.absolute_path)}"
                ) from exc


def test_kubernetes_probes_limits_and_tls() -> None:
    """Probes ask /healthz on the image's port, every container has limits, TLS at the ingress."""
    node = k8s_container("etapiste-node")
    (port,) = node["ports"]
    assert port["containerPort"] == 8080
    for probe in ("readinessProbe", "livenessProbe"):
        assert node[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    deployment = k8s_resource("Deployment", "etapiste-node")["spec"]["template"]["spec"]
    # Enough for the preStop pause and the drain (--shutdown-timeout, 5 s by default).
    pre_stop = node["lifecycle"]["preStop"]["exec"]["command"]
    assert deployment["terminationGracePeriodSeconds"] >= 5 + 5, pre_stop
    assert deployment["securityContext"]["runAsUser"] == 10001
    for doc in k8s_documents():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for c in doc["spec"]["template"]["spec"]["containers"]:
                assert {"cpu", "memory"} <= set(c["resources"]["limits"]), c["name"]
                assert {"cpu", "memory"} <= set(c["resources"]["requests"]), c["name"]
    ingress = k8s_resource("Ingress", "etapiste")["spec"]
    (tls,) = ingress["tls"]
    assert tls["secretName"] == "etapiste-tls"
    hosts = {rule["host"] for rule in ingress["rules"]}
    assert hosts <= set(tls["hosts"])
    (path,) = [p for rule in ingress["rules"] for p in rule["http"]["paths"]]
    assert path["backend"]["service"]["name"] == "etapiste-node"


def compose_copy(tmp_path: Path) -> Path:
    """Return infra/compose.yaml in a copy of infra/ with placeholder secrets.

    infra/secrets/ is never committed; the demo directory stands in for the real one.
    """
    infra = tmp_path / "infra"
    for relative in ("compose.yaml", "nginx/compose.conf", "coturn/turnserver.conf"):
        (infra / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "infra" / relative, infra / relative)
    secrets = infra / "secrets"
    (secrets / "certs").mkdir(parents=True)
    database_url = "postgresql://etapiste:pw@postgres/etapiste"
    env_file = f"{TOKEN_SECRET_ENV}={'t' * 48}\nDATABASE_URL={database_url}\n"
    (secrets / "etapiste.env").write_text(env_file)
    shutil.copy(DEMO_CONFIG, secrets / "directory.toml")
    (secrets / "postgres_password").write_text("pw\n")
    # The nodes run as 10001 and read the directory through a bind mount.
    for path in (tmp_path, *infra.rglob("*"), infra):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return infra / "compose.yaml"


def podman_compose(
    env: dict[str, str], compose_file: Path, project: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run podman-compose on ``compose_file`` as project ``project``; raise on failure."""
    command = [sys.executable, "-m", "podman_compose", "-p", project, "-f", str(compose_file)]
    result = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"podman-compose {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


def remove_stale_networks(env: dict[str, str]) -> None:
    """Remove the project networks (and bridges) of test runs that died before cleaning up.

    The compose file's subnet is fixed: a leftover network would hold it.
    """
    listed = podman(env, "network", "ls", "--format", "json").stdout
    for network in json.loads(listed or "[]"):
        found = re.fullmatch(r"etapiste-(?:test|plan)-(\d+)_etapiste", network["name"])
        if found and not Path(f"/proc/{found.group(1)}").exists():
            podman(env, "network", "rm", "-f", network["name"], check=False)
            ip("link", "delete", network["network_interface"], check=False)


def podman_compose_plan(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Return the `podman create` command podman-compose plans for each service (dry run).

    A dry run still creates the project's network (podman-compose 1.6): removed here.
    """
    project = f"etapiste-plan-{os.getpid()}"
    compose_file = compose_copy(tmp_path)
    remove_stale_networks(env)
    try:
        result = podman_compose(
            env, compose_file, project, "--verbose", "--dry-run", "up", "-d", "--no-build"
        )
    finally:
        podman(env, "network", "rm", "-f", f"{project}_etapiste", check=False)
    plan = {}
    for line in result.stderr.splitlines():
        # The logger is podman_compose, or __main__ under -m.
        found = re.match(r"INFO:[\w.]+:podman create (.*)", line)
        if found:
            # Logged as its words joined by spaces (not shell-quoted).
            (service,) = re.findall(rf"--name={project}_(\S+)_1 ", found.group(1))
            plan[service] = found.group(1)
    return plan


def test_compose_file_as_podman_compose_plans_it(engine: dict[str, str], tmp_path: Path) -> None:
    """podman-compose reads infra/compose.yaml into the containers production runs."""
    plan = podman_compose_plan(engine, tmp_path)
    assert set(plan) == {"redis", "node-1", "node-2", "stats", "postgres", "nginx", "coturn"}
    for name in ("node-1", "node-2"):
        words = plan[name].split()
        assert words[words.index("-m") + 1] == "1g" and words[words.index("--cpus") + 1] == "1.0"
        assert any(w.endswith(":/etc/etapiste/directory.toml:ro,rprivate,rbind") for w in words)
        assert f"{TOKEN_SECRET_ENV}={'t' * 48}" in words
        # No health command of its own: the image's HEALTHCHECK (/healthz) applies.
        assert not any(w.startswith("--health") for w in words)
        image_at = words.index("etapiste:0.1.0")
        assert words[image_at + 1] == "serve" and f"--node-id={name}" in words[image_at:]
    assert "--no-healthcheck" in plan["stats"].split()
    # $$ in the file is a literal $ for the shell inside the container.
    assert '--db \\"$DATABASE_URL\\""]' in plan["stats"]
    assert "-p 443:443" in plan["nginx"] and "--stop-signal SIGQUIT" in plan["nginx"]


async def test_compose_runs_both_nodes_with_the_built_image(
    engine: dict[str, str], image: str, tmp_path: Path
) -> None:
    """podman-compose starts node-1 and node-2 of infra/compose.yaml on its network.

    Redis, PostgreSQL, nginx and coturn are images from a registry, which is out of reach
    here: `--no-deps` leaves them out, and a real redis-server on the host takes the
    compose Redis's address on the project network's bridge.
    """
    spec = compose()
    (subnet,) = [c["subnet"] for c in spec["networks"]["etapiste"]["ipam"]["config"]]
    redis_address = spec["services"]["redis"]["networks"]["etapiste"]["ipv4_address"]
    nodes = {
        name: spec["services"][name]["networks"]["etapiste"]["ipv4_address"]
        for name in ("node-1", "node-2")
    }
    podman(engine, "tag", image, spec["x-node"]["image"])  # what the file's build: makes
    project = f"etapiste-test-{os.getpid()}"
    network = f"{project}_etapiste"
    compose_file = compose_copy(tmp_path)
    remove_stale_networks(engine)
    podman(engine, "network", "create", "--subnet", subnet, network)
    (inspected,) = json.loads(podman(engine, "network", "inspect", network).stdout)
    bridge = inspected["network_interface"]
    gateway = str(ipaddress.IPv4Network(subnet).network_address + 1)
    prefix = ipaddress.IPv4Network(subnet).prefixlen
    try:
        # The bridge is made when the first container joins; make it now, with Redis's
        # address on it too, so that redis-server can listen there before the nodes start.
        ip("link", "add", bridge, "type", "bridge")
        ip("addr", "add", f"{gateway}/{prefix}", "dev", bridge)
        ip("addr", "add", f"{redis_address}/{prefix}", "dev", bridge)
        ip("link", "set", bridge, "up")
        with redis_listening_on(redis_address, tmp_path / "redis", port=6379):
            podman_compose(
                engine, compose_file, project, "up", "-d", "--no-build", "--no-deps", *nodes
            )
            for name, address in nodes.items():
                await eventually(
                    lambda address=address: _healthy(f"http://{address}:8080"),
                    timeout=30,
                    interval=0.2,
                    message=f"{name} /healthz 200",
                )
                container_name = f"{project}_{name}_1"
                podman(engine, "healthcheck", "run", container_name)
                (state,) = json.loads(podman(engine, "inspect", container_name).stdout)
                # deploy.resources.limits of the file, applied by the engine.
                assert state["HostConfig"]["Memory"] == 1024**3
                assert state["HostConfig"]["NanoCpus"] == 1_000_000_000
            podman_compose(engine, compose_file, project, "stop", *nodes)
            for name in nodes:
                (state,) = json.loads(podman(engine, "inspect", f"{project}_{name}_1").stdout)
                assert state["State"]["ExitCode"] == 0, (name, state["State"])
    finally:
        podman_compose(engine, compose_file, project, "down", check=False)
        podman(engine, "network", "rm", "-f", network, check=False)
        ip("link", "delete", bridge, check=False)
