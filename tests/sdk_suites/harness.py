"""The conformance harness: the SDKs' own test suites, run plain and with llmcost on.

Run it through ``scripts/sdk-suites.sh`` (docs/conformance.md explains it). For each SDK
installed in the current environment (openai, anthropic, google-genai) it:

1. downloads the sdist of the *installed* version into ``.sdk-suites/sdists`` (cached) and
   unpacks it into ``.sdk-suites/src``;
2. installs the SDK's test helpers that are missing (respx, dirty-equals, inline-snapshot, ...:
   the names in ``TEST_HELPERS``, at the version the SDK's lock file pins when PyPI has it);
3. starts ``stand_in.py``, a loopback stand-in for the Stainless mock server, and runs the
   selected tests twice with ``pytest -n 2``: plain, then with ``-p llmcost_on`` (which calls
   ``llmcost.configure(sinks=[MemorySink()])`` and ``llmcost.instrument()``); google-genai's
   tests live inside its package (``google/genai/tests``, relative imports), so they run in
   place in the installed package, after a check that they are the sdist's, byte for byte;
4. prints every test whose outcome differs between the two runs, less the ones listed in
   ``known_flaky.txt``, and the internal errors llmcost counted, by kind and by test.

It exits 1 on any difference, on any internal error, or when the instrumented run recorded
nothing (llmcost was not on: a harness that sees nothing must not say "no difference").
``--fast`` (the default) runs the clients, streaming helpers, raw/streaming responses and the
generated resource tests of the billed endpoints; ``--full`` runs the whole offline suite.
``--oldest`` runs the same in environments built from ``.ci/oldest.txt`` (``OLDEST_RAISED``).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / ".sdk-suites"
FLAKY_FILE = HERE / "known_flaky.txt"

#: Test-only packages the SDK suites import (their conftest files or tests), installed when
#: missing. Never the SDK's runtime dependencies: those are the environment under test.
TEST_HELPERS = (
    "pytest-asyncio",
    "pytest-xdist",
    "respx",
    "dirty-equals",
    "inline-snapshot",
    "http-snapshot",
    "time-machine",
    "rich",
    "boto3",  # with botocore: the Bedrock tests (openai's dev group pins botocore)
    "botocore",
)
#: Test helpers one SDK's suite needs beyond ``TEST_HELPERS``. google-genai's tests import
#: ``httpx`` (the SDK's optional ``httpx`` extra: its other HTTP stack) at module level.
SDK_TEST_HELPERS = {"google-genai": ("httpx",)}

#: The generated resource tests of the endpoints llmcost bills, answered by the stand-in.
API_RESOURCES = {
    "openai": [
        "tests/api_resources/chat/test_completions.py",
        "tests/api_resources/test_completions.py",
        "tests/api_resources/test_responses.py",
        "tests/api_resources/responses/test_input_tokens.py",
        "tests/api_resources/test_embeddings.py",
    ],
    "anthropic": [
        "tests/api_resources/test_messages.py",
        "tests/api_resources/beta/test_messages.py",
    ],
    # google-genai has no generated resource tests: its tests fake their own transports.
}
# create/stream/count calls only (retrieve, list, delete... are not served); the aiohttp
# client variants need the optional aiohttp extra, which is not the HTTP stack under test.
API_RESOURCES_SELECT = "(create or count or deprecated) and not aiohttp"

#: --fast: the clients, the streaming helpers, raw and streaming responses.
FAST = {
    "openai": [
        "tests/test_client.py",
        "tests/test_streaming.py",
        "tests/test_response.py",
        "tests/test_legacy_response.py",
        "tests/test_stream_mode.py",
        "tests/test_large_payload_contract.py",
        "tests/lib/chat",
    ],
    "anthropic": [
        "tests/test_client.py",
        "tests/test_streaming.py",
        "tests/test_response.py",
        "tests/test_open_telemetry.py",
        "tests/lib/streaming",
    ],
}
GENAI_TESTS = "google/genai/tests"
FAST["google-genai"] = [
    f"{GENAI_TESTS}/{path}"
    for path in (
        "client",  # requests, custom and httpx2 clients, async streams, retries, close
        "afc/test_generate_content_stream_afc.py",  # function calling: several requests a call
        "chats/test_validate_response.py",
        "chats/test_get_history.py",
        "models/test_gc_continuation_token.py",  # continuation: several requests a call
        "errors",
        "common",
    )
]
#: --full: the whole offline suite (the generated resource tests run against the stand-in).
FULL = {sdk: ["tests", "--ignore=tests/api_resources"] for sdk in ("openai", "anthropic")}
#: google-genai's whole suite; the modules that need recorded replays (``GOOGLE_GENAI_REPLAYS_
#: DIRECTORY``, not shipped) or a live backend fail at collection in both runs: no difference.
FULL["google-genai"] = [GENAI_TESTS, "--continue-on-collection-errors"]
#: Where an SDK's tests live inside its installed package (they import it relatively): they
#: run there, so they test the installed SDK, the one llmcost patches.
IN_PACKAGE = {"google-genai": "google.genai"}
#: Environment variables that would point a suite at recorded or live traffic: removed.
SDK_ENV_REMOVED = ("GOOGLE_GENAI_REPLAYS_DIRECTORY",)

#: --oldest: each SDK runs in an environment built from ``.ci/oldest.txt`` with these pins
#: raised. anthropic 2.0.0's own suite calls ``httpx2.alias_httpx()`` (httpx2 2.9+) in its
#: ``tests/_alias_httpx.py``: the SDK itself runs on httpx2 2.7.0, its suite does not.
OLDEST_RAISED: dict[str, dict[str, str]] = {"anthropic": {"httpx2": "2.9.1"}}
OLDEST_PINS = ROOT / ".ci" / "oldest.txt"

OUTCOMES = ("passed", "failed", "error", "skipped")


# --- preparing an SDK's suite -----------------------------------------------------------------


def present(source: Path, selection: list[str]) -> list[str]:
    """The paths of ``selection`` that this release's suite has (options kept): older
    releases lack some test files, which is no reason to fail."""
    kept = []
    for item in selection:
        if item.startswith("-") or (source / item).exists():
            kept.append(item)
        else:
            print(f"   {item}: not in this release's suite, skipped")
    return kept


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def fetch_sources(sdk: str, version: str, cache: Path) -> Path:
    """The unpacked sdist of ``sdk==version`` (downloaded once, then read from ``cache``)."""
    source = cache / "src" / f"{sdk}-{version}"
    tests = source / IN_PACKAGE.get(sdk, "").replace(".", "/") / "tests"
    if tests.is_dir():
        return source
    sdists = cache / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    archive = sdist_path(sdists, sdk, version)
    if archive is None:
        print(f"   downloading the {sdk} {version} sdist", flush=True)
        # Only the SDK from source: its build backend's own dependencies may be wheels.
        done = pip(
            "download", "--quiet", "--no-deps", "--no-binary", sdk, "--dest", str(sdists),
            f"{sdk}=={version}",
        )  # fmt: skip
        archive = sdist_path(sdists, sdk, version)
        if done.returncode != 0 or archive is None:
            raise SystemExit(f"could not download the {sdk} {version} sdist:\n{done.stderr}")
    with tempfile.TemporaryDirectory(dir=cache) as scratch, tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
        (top,) = Path(scratch).iterdir()  # an sdist holds one folder, named as it pleases
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(source, ignore_errors=True)  # what an interrupted unpacking left
        top.rename(source)
    if not tests.is_dir():
        raise SystemExit(
            f"the {sdk} {version} sdist has no {tests.relative_to(source)} ({archive})"
        )
    return source


def sdist_path(folder: Path, sdk: str, version: str) -> Path | None:
    """The downloaded sdist: ``openai-3.0.0.tar.gz``, or ``google_genai-3.0.0.tar.gz`` (PEP 625)."""
    for name in {sdk, sdk.replace("-", "_")}:
        if (folder / f"{name}-{version}.tar.gz").exists():
            return folder / f"{name}-{version}.tar.gz"
    return None


def installed_tests(sdk: str, source: Path) -> Path:
    """For an SDK whose tests live in its package: the folder to run them in (the one that
    holds the installed package), once its ``tests`` are the sdist's. A wheel that ships no
    tests gets the sdist's copied in; a wheel whose tests differ is refused."""
    spec = util.find_spec(IN_PACKAGE[sdk])
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{IN_PACKAGE[sdk]} is not importable here")
    package = Path(next(iter(spec.submodule_search_locations)))
    relative = IN_PACKAGE[sdk].replace(".", "/")
    ours, theirs = package / "tests", source / relative / "tests"
    if not ours.exists():
        print(f"   the installed {sdk} has no tests: copying the sdist's in ({ours})")
        shutil.copytree(theirs, ours)
    differ = [
        str(path.relative_to(theirs))
        for path in sorted(theirs.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and (
            not (ours / path.relative_to(theirs)).is_file()
            or (ours / path.relative_to(theirs)).read_bytes() != path.read_bytes()
        )
    ]
    if differ:
        raise SystemExit(
            f"the installed {sdk} ships tests that differ from its sdist's ({ours}): "
            + ", ".join(differ[:5])
        )
    return package.parents[relative.count("/")]


def locked_versions(source: Path) -> dict[str, str]:
    """``name -> version`` from the SDK's lock files (requirements-dev.lock, then uv.lock)."""
    pins: dict[str, str] = {}
    uv_lock = source / "uv.lock"
    if uv_lock.exists():
        import tomllib

        for package in tomllib.loads(uv_lock.read_text()).get("package", []):
            if "name" in package and "version" in package:
                pins.setdefault(normalize(package["name"]), package["version"])
    requirements = source / "requirements-dev.lock"
    if requirements.exists():
        for line in requirements.read_text().splitlines():
            found = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
            if found:
                pins[normalize(found.group(1))] = found.group(2)
    return pins


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_test_helpers(source: Path, sdk: str = "") -> list[str]:
    """Install the missing ``TEST_HELPERS`` (and ``SDK_TEST_HELPERS[sdk]``): the locked
    version if PyPI has it, else the newest."""
    pins = locked_versions(source)
    installed = []
    for helper in (*TEST_HELPERS, *SDK_TEST_HELPERS.get(sdk, ())):
        if installed_version(helper) is not None:
            continue
        pin = pins.get(helper)
        tries = [f"{helper}=={pin}", helper] if pin else [helper]
        for requirement in tries:
            if pip("install", "--quiet", requirement).returncode == 0:
                installed.append(requirement)
                break
        else:
            print(f"   could not install {helper}; tests that import it fail in both runs")
    return installed


@contextmanager
def stand_in_server() -> Iterator[str]:
    """Start ``stand_in.py`` on a free loopback port; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "stand_in.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("port="):
            raise SystemExit(f"the stand-in server did not start (said {line!r})")
        yield f"http://127.0.0.1:{int(line.removeprefix('port='))}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- running and reading ----------------------------------------------------------------------


@dataclass
class Run:
    """One pytest run of one selection: outcome per test, llmcost's tally when it was on."""

    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    status: int = 0
    instrumented: set[str] = field(default_factory=set)
    records: int = 0
    internal_errors: Counter[str] = field(default_factory=Counter)
    errors_by_test: dict[str, dict[str, int]] = field(default_factory=dict)

    def merge(self, other: Run) -> None:
        self.outcomes.update(other.outcomes)
        self.messages.update(other.messages)
        self.seconds += other.seconds
        self.status = max(self.status, other.status)
        self.instrumented |= other.instrumented
        self.records += other.records
        self.internal_errors.update(other.internal_errors)
        self.errors_by_test.update(other.errors_by_test)


def read_junit(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Outcome (the worst of a test's phases) and failure message per test of a JUnit file."""
    rank = {outcome: i for i, outcome in enumerate(("passed", "skipped", "failed", "error"))}
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                found = "failed" if child.tag == "failure" else child.tag
                if rank[found] > rank[outcome]:
                    outcome = found
                    lines = (child.get("message") or "").splitlines()
                    messages[name] = lines[0][:200] if lines else ""
        if name not in outcomes or rank[outcome] > rank[outcomes[name]]:
            outcomes[name] = outcome
    return outcomes, messages


def read_tallies(folder: Path) -> Run:
    run = Run()
    for path in folder.glob("llmcost-*.json"):
        tally = json.loads(path.read_text())
        run.instrumented |= set(tally["instrumented"])
        run.records += tally["records"]
        run.internal_errors.update(tally["internal_errors"])
        run.errors_by_test.update(tally["tests"])
    return run


def run_pytest(
    source: Path,
    args: list[str],
    *,
    instrumented: bool,
    workers: int,
    base_url: str,
    log: Path | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run pytest in ``cwd`` (default: the SDK's source folder) under the SDK's own pytest
    configuration; its whole output goes to ``log``."""
    with tempfile.TemporaryDirectory(prefix="sdk-suites-") as scratch:
        junit = Path(scratch, "junit.xml")
        env = dict(os.environ, TEST_API_BASE_URL=base_url, LLMCOST_SDK_SUITES_OUT=scratch)
        for name in ("LLMCOST_RAISE_INTERNAL_ERRORS", *SDK_ENV_REMOVED):
            env.pop(name, None)
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=line",
            "--durations=0", "--durations-min=30", "-n", str(workers), f"--junitxml={junit}",
        ]  # fmt: skip
        if cwd is not None and cwd != source:
            # The tests run outside the sdist (in the installed package): its configuration
            # still applies, and nothing above cwd (this project's own) is read.
            command += [f"--rootdir={cwd}", "-c", str(config_file(source))]
            # ``google`` is a namespace package (no __init__.py): without this, pytest imports
            # the tests, and through their relative imports the whole SDK, a second time as
            # ``genai.*`` -- a copy no user imports and llmcost does not patch.
            command += ["-o", "consider_namespace_packages=true"]
        if instrumented:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
            command += ["-p", "llmcost_on"]
        started = time.perf_counter()
        done = subprocess.run(
            [*command, *args],
            cwd=cwd or source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"$ {' '.join(command + args)}\n{done.stdout}{done.stderr}")
        if not junit.exists():
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise SystemExit(f"pytest wrote no report ({' '.join(args)}):\n{tail}")
        run = read_tallies(Path(scratch)) if instrumented else Run()
        run.outcomes, run.messages = read_junit(junit)
        run.seconds, run.status = seconds, done.returncode
        return run


def config_file(source: Path) -> Path:
    """The sdist's pytest configuration file."""
    sections = {
        "pytest.ini": "",
        "pyproject.toml": "[tool.pytest.ini_options]",
        "tox.ini": "[pytest]",
        "setup.cfg": "[tool:pytest]",
    }
    for name, section in sections.items():
        if (source / name).exists() and section in (source / name).read_text():
            return source / name
    raise SystemExit(f"no pytest configuration in {source}")


# --- comparing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flaky:
    sdk: str
    pattern: str
    reason: str


def read_flaky(path: Path = FLAKY_FILE) -> list[Flaky]:
    """``known_flaky.txt``: ``sdk  test-id-pattern  # reason`` per line; the reason is required."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        body, _, reason = line.partition("#")
        parts = body.split()
        if len(parts) != 2 or not reason.strip():
            raise SystemExit(f"{path}:{number}: expected 'sdk test-id-pattern  # reason': {line!r}")
        entries.append(Flaky(parts[0], parts[1], reason.strip()))
    return entries


def differences(
    sdk: str, plain: dict[str, str], instrumented: dict[str, str], flaky: list[Flaky]
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """Tests whose outcome differs (a test missing from one run is ``absent`` there),
    split into (differences, differences that ``flaky`` excuses)."""
    found: dict[str, tuple[str, str]] = {}
    excused: dict[str, tuple[str, str]] = {}
    for test in sorted(plain.keys() | instrumented.keys()):
        pair = (plain.get(test, "absent"), instrumented.get(test, "absent"))
        if pair[0] == pair[1]:
            continue
        known = any(f.sdk == sdk and fnmatch.fnmatchcase(test, f.pattern) for f in flaky)
        (excused if known else found)[test] = pair
    return found, excused


def summary(outcomes: dict[str, str]) -> str:
    counts = Counter(outcomes.values())
    return ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])


def report(sdk: str, version: str, plain: Run, on: Run, flaky: list[Flaky]) -> bool:
    """Print what differs for one SDK; True when it conforms."""
    found, excused = differences(sdk, plain.outcomes, on.outcomes, flaky)
    print(f"== {sdk} {version}")
    print(f"   plain:        {summary(plain.outcomes)} ({plain.seconds:.0f} s)")
    print(f"   instrumented: {summary(on.outcomes)} ({on.seconds:.0f} s)")
    print(f"   llmcost: instrumented {sorted(on.instrumented)}, {on.records} records made")
    ok = True
    if not on.instrumented or not on.records:
        print("   FAIL: llmcost recorded nothing: the instrumented run did not test llmcost")
        ok = False
    transitions = Counter(f"{a} -> {b}" for a, b in found.values())
    print(
        f"   differences: {len(found)}"
        + (f" ({', '.join(f'{n} {t}' for t, n in transitions.most_common())})" if found else "")
        + (f"; {len(excused)} more excused by known_flaky.txt" if excused else "")
    )
    for test, (before, after) in found.items():
        print(f"     {before} -> {after}: {test}")
        message = on.messages.get(test) or plain.messages.get(test)
        if message:
            print(f"         {message}")
    if found:
        ok = False
    total = sum(on.internal_errors.values())
    print(f"   llmcost internal errors: {total}")
    for kind, n in on.internal_errors.most_common():
        tests = [t for t, kinds in on.errors_by_test.items() if kind in kinds]
        print(f"     {n} {kind} (in {len(tests)} tests, e.g. {', '.join(sorted(tests)[:3])})")
    if total:
        ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/sdk-suites.sh",
        description="Run the SDKs' own test suites plain and with llmcost on; print differences.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--fast", action="store_true", help="clients, streams, raw responses, "
                       "billed resources (the default; what CI runs)")  # fmt: skip
    scope.add_argument("--full", action="store_true", help="the whole offline suites (releases)")
    parser.add_argument("--sdk", action="append", choices=sorted(FAST), help="default: all")
    parser.add_argument("--oldest", action="store_true", help="in environments built from "
                        ".ci/oldest.txt (kept in the cache) instead of the active one")  # fmt: skip
    parser.add_argument("-n", "--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--cache", type=Path, default=CACHE, help="sdists and unpacked sources")
    parser.add_argument("--json", type=Path, help="also write the outcomes to this JSON file")
    args = parser.parse_args(argv)
    if args.oldest:
        return run_oldest(args)

    flaky = read_flaky()
    selection = FULL if args.full else FAST
    conforming = True
    results: dict[str, object] = {}
    for sdk in args.sdk or sorted(FAST):
        version = installed_version(sdk)
        if version is None:
            print(f"== {sdk}: not installed, skipped")
            continue
        print(f"== {sdk} {version}: preparing", flush=True)
        source = fetch_sources(sdk, version, args.cache)
        for requirement in install_test_helpers(source, sdk):
            print(f"   installed test helper {requirement}")
        cwd = installed_tests(sdk, source) if sdk in IN_PACKAGE else source
        chunks = {"suite": present(source, selection[sdk])}
        if sdk in API_RESOURCES:
            chunks["api_resources"] = [*API_RESOURCES[sdk], "-k", API_RESOURCES_SELECT]
        runs = {}
        with stand_in_server() as base_url:
            for mode in ("plain", "instrumented"):
                print(f"   running {mode}", flush=True)
                total = Run()
                for part, chunk in chunks.items():
                    total.merge(
                        run_pytest(
                            source,
                            chunk,
                            instrumented=mode == "instrumented",
                            workers=args.workers,
                            base_url=base_url,
                            log=args.cache / "logs" / f"{sdk}-{version}-{part}-{mode}.log",
                            cwd=cwd,
                        )
                    )
                runs[mode] = total
        conforming &= report(sdk, version, runs["plain"], runs["instrumented"], flaky)
        results[sdk] = {
            "version": version,
            **{mode: run.outcomes for mode, run in runs.items()},
            "internal_errors": dict(runs["instrumented"].internal_errors),
            "errors_by_test": runs["instrumented"].errors_by_test,
        }
    print(f"== pytest's output of every run: {args.cache / 'logs'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True))
    print("== conformance: " + ("OK, no difference" if conforming else "FAILED"))
    return 0 if conforming else 1


def oldest_constraints(sdk: str) -> str:
    """``.ci/oldest.txt`` with ``OLDEST_RAISED[sdk]``'s pins raised."""
    raised = OLDEST_RAISED.get(sdk, {})
    lines = []
    for line in OLDEST_PINS.read_text().splitlines():
        name = re.split(r"[=<>!~ ;\[]", line.strip(), maxsplit=1)[0]
        if name and normalize(name) in raised:
            line = f"{name}=={raised[normalize(name)]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_oldest(args: argparse.Namespace) -> int:
    """Run the harness once per SDK in an environment built from ``.ci/oldest.txt`` (kept in
    the cache folder, rebuilt when its constraints or pyproject.toml change); 1 if any run
    fails."""
    passed: list[str] = [f"--cache={args.cache}", f"--workers={args.workers}"]
    if args.full:
        passed.append("--full")
    status = 0
    for sdk in args.sdk or sorted(FAST):
        # pyproject.toml's hash too: a changed dev extra rebuilds the environment.
        digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
        constraints = oldest_constraints(sdk) + f"# pyproject.toml sha256 {digest}\n"
        raised = "".join(f"-{n}-{v}" for n, v in sorted(OLDEST_RAISED.get(sdk, {}).items()))
        venv = args.cache / f"venv-oldest{raised}"
        python = venv / "bin" / "python"
        pins = venv / "constraints.txt"
        if not python.exists() or not pins.exists() or pins.read_text() != constraints:
            print(
                f"== {sdk}: building {venv} from .ci/oldest.txt{raised and ' with ' + raised[1:]}"
            )
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pins.write_text(constraints)
            done = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "-e", f"{ROOT}[dev]", "-c", str(pins)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                pins.unlink()
                raise SystemExit(f"could not build {venv}:\n{done.stderr[-3000:]}")
        command = [str(python), str(Path(__file__).resolve()), "--sdk", sdk, *passed]
        if args.json:
            command.append(f"--json={args.json.with_suffix(f'.{sdk}.json')}")
        status = max(status, subprocess.run(command, check=False).returncode)
    print("== conformance on the oldest versions: " + ("OK" if status == 0 else "FAILED"))
    return status


if __name__ == "__main__":
    sys.exit(main())
