"""From a trace to a profile with the real front end: base, groups, left-out denies, output."""

from __future__ import annotations

import pytest

from nonoc import ir
from nonoc.compile import compile_profile
from nonoc.learn import Learned, profile_from_trace
from nonoc.learn.events import Endpoint, FileAccess, Mode, Trace
from nonoc.learn.learner import learn
from nonoc.learn.network import lesson
from nonoc.learn.policies import builtin_profiles, choose_base
from nonoc.learn.render import profile_name, quote
from nonoc.resolve import resolve

# Paths that need not exist: coverage compares templates expanded with these values.
HOME = "/home/nono-learn-test"
CWD = "/srv/nono-learn-test/app"


@pytest.fixture(autouse=True)
def fictional_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """A HOME outside /tmp, so that the baseline's /tmp grant does not cover it."""
    monkeypatch.setenv("HOME", HOME)
    for name, below in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(name, f"{HOME}/{below}")


def access(path: str, *modes: str, error: str | None = None, directory: bool = False) -> FileAccess:
    return FileAccess(path, frozenset(modes), "openat", 1, directory, error)  # type: ignore[arg-type]


def trace_of(*accesses: FileAccess, endpoints: tuple[Endpoint, ...] = ()) -> Trace:
    return Trace(accesses=list(accesses), endpoints=list(endpoints), pids={1}, exit_status=0)


PYTHON_RUN = trace_of(
    access("/usr/bin/python3.11", "exec"),
    access("/usr/lib/python3.11/os.py", "read"),
    access("/etc/ld.so.cache", "read"),
    access(f"{CWD}/data/in.csv", "read"),
    access(f"{CWD}/out/report.txt", "write"),
    access(f"{CWD}/out", "write", directory=True),
    access(f"{HOME}/.ssh/id_rsa", "read"),
    access(f"{HOME}/.netrc", "read"),
    access("/etc/shadow", "read", error="EACCES"),
    access(f"{CWD}/missing.py", "read", error="ENOENT"),
)


def statements_of(text: str) -> list[str]:
    """The profile body's statements, comments and blanks dropped."""
    body = text.split("{", 1)[1].rsplit("}", 1)[0]
    return [
        line.strip()
        for line in body.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_credentials_are_left_out_and_said_so() -> None:
    learned = profile_from_trace(PYTHON_RUN, ["python3", "job.py"], cwd=CWD, base="default")
    described = [entry.describe() for entry in learned.lesson.left_out]
    assert len(described) == 2
    assert described[0].startswith(
        "read $HOME/.netrc: denied by group deny_credentials (stdlib/credentials.nono:"
    )
    assert described[1].startswith(
        "read $HOME/.ssh/id_rsa: denied by group deny_credentials (stdlib/"
    )
    assert "#   read $HOME/.ssh/id_rsa: denied by group deny_credentials" in learned.text
    assert ".ssh" not in "\n".join(statements_of(learned.text))


def test_secrets_in_another_account_s_home_are_left_out_too() -> None:
    run = trace_of(
        access("/root/.ssh/id_ed25519", "read"),
        access("/root/.aws/config", "read"),
        access(f"{CWD}/.env", "read"),  # a project's file of that name is the project's
        access("/srv/other/.ssh/x", "read"),  # not a home: an ordinary directory
    )
    learned = profile_from_trace(run, ["tool"], cwd=CWD, base="default")
    described = [entry.describe() for entry in learned.lesson.left_out]
    assert len(described) == 2
    assert described[0].startswith("read /root/.aws/config: denied by group deny_credentials")
    assert described[0].endswith(", as ~/.aws of /root")
    assert described[1].startswith("read /root/.ssh/id_ed25519: denied by group deny_credentials")
    assert statements_of(learned.text) == ['read "/srv/other/.ssh"', "network block"]


def test_a_command_the_base_blocks_is_allowed_by_name() -> None:
    run = trace_of(access(f"{CWD}/build", "write", directory=True))
    learned = profile_from_trace(run, ["rm", "-r", "build/x"], cwd=CWD, base="default")
    assert learned.lesson.command_allow == ["rm"]
    assert 'command allow "rm"' in statements_of(learned.text)
    assert "rm" in resolve("<learned>", "linux", text=learned.text).policy.allowed_commands


def test_what_the_base_grants_is_dropped_and_the_rest_folded() -> None:
    learned = profile_from_trace(PYTHON_RUN, ["python3", "job.py"], cwd=CWD, base="default")
    assert learned.text.count("profile learned-python3 extends default") == 1
    # default reads $CWD already; system libraries and python come with its baseline.
    assert statements_of(learned.text) == ['write "$CWD/out"', "network block"]


def test_failed_attempts_are_listed_or_counted_never_granted() -> None:
    learned = profile_from_trace(PYTHON_RUN, ["python3"], cwd=CWD, base="default")
    assert learned.lesson.failed == [("read", "/etc/shadow", "EACCES")]
    assert learned.lesson.missing == 1
    assert "#   read /etc/shadow (EACCES)" in learned.text
    assert "missing.py" not in learned.text


def test_without_a_built_in_profile_stdlib_groups_are_used() -> None:
    learned = profile_from_trace(PYTHON_RUN, ["python3"], cwd=CWD, candidates=[])
    assert learned.lesson.base is None
    assert "extends" not in learned.text.split("profile ", 1)[1].split("{")[0]
    body = statements_of(learned.text)
    assert body[0] == "use system"
    assert 'read "$CWD/data"' in body and 'write "$CWD/out"' in body
    policy = resolve("<learned>", "linux", text=learned.text).policy
    assert any(g.path == "$CWD/out" and ir.Access.WRITE in g.access for g in policy.grants)


def test_the_closest_built_in_profile_is_extended() -> None:
    pyenv = f"{HOME}/.pyenv/versions/3.12.1"
    run = trace_of(
        access(f"{pyenv}/bin/python3.12", "exec"),
        access(f"{pyenv}/lib/python3.12/os.py", "read"),
        access(f"{HOME}/.cache/pip/http/x", "write"),
        access(f"{CWD}/setup.py", "read"),
        access(f"{CWD}/build", "write", directory=True),
    )
    names = builtin_profiles()
    if "python-dev" not in names:
        pytest.skip("this installation ships no python-dev profile")
    learned = profile_from_trace(run, ["python3", "setup.py", "build"], cwd=CWD)
    assert learned.lesson.base == "python-dev"
    assert "extends python-dev" in learned.text
    assert "the closest built-in profile" in learned.lesson.base_note


def test_choose_base_prefers_coverage_then_tightness() -> None:
    from nonoc.learn.learner import host_values

    values = host_values(CWD)
    items: list[tuple[str, Mode]] = [(f"{CWD}/a.txt", "write")]
    assert choose_base(items, [], values) is None
    choice = choose_base(items, ["default", "python-dev"], values)
    assert choice is not None and choice.name == "python-dev"  # it writes $CWD; default does not
    assert choice.covered == 1 and choice.total == 1


def test_network_lessons() -> None:
    assert lesson([]).statements == ["network block"]
    tcp = Endpoint("inet", "connect", "140.82.112.3", 443, "tcp")
    result = lesson([tcp, Endpoint("unix", "connect", "/run/nscd/socket")])
    assert result.statements == ["network open"]
    assert "  connect tcp 140.82.112.3:443" in result.comments
    assert result.unix_sockets == ["/run/nscd/socket"]
    abstract = lesson([Endpoint("unix", "connect", "@/tmp/.X11-unix/X0")])
    assert abstract.statements == ["network block", "scope abstract_unix off"]
    failed_unix = lesson([Endpoint("unix", "connect", "/run/gone.sock", error="ENOENT")])
    assert failed_unix.unix_sockets == []


def test_network_and_sockets_reach_the_profile_and_compile(isolated_home: object) -> None:
    run = trace_of(
        access(f"{CWD}/x", "read"),
        endpoints=(
            Endpoint("inet", "connect", "127.0.0.1", 8080, "tcp"),
            Endpoint("unix", "connect", "/run/nscd/socket"),
        ),
    )
    learned = profile_from_trace(run, ["curl", "localhost:8080"], cwd=CWD, base="default")
    assert statements_of(learned.text) == ['unix_socket "/run/nscd/socket"', "network open"]
    assert "#   connect tcp 127.0.0.1:8080" in learned.text


def test_the_output_compiles_with_the_real_backends(tmp_path: object) -> None:
    learned: Learned = profile_from_trace(
        PYTHON_RUN, ["python3", "job.py"], cwd=CWD, base="default"
    )
    path = f"{tmp_path}/learned.nono"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(learned.text)
    compilation = compile_profile(path, unsigned=True, use_cache=False)
    assert compilation.profile == "learned-python3"


def test_exec_adds_the_programs_the_kernel_opens_itself() -> None:
    run = trace_of(access("/usr/bin/python3", "exec"))
    lesson_ = learn(run, ["python3"], cwd=CWD, candidates=[])
    assert lesson_.groups == ["system"]  # python3 and its ELF interpreter are system programs


def test_names_and_literals() -> None:
    assert profile_name(["/usr/local/bin/my tool!"]) == "learned-my-tool"
    assert profile_name(["./x.sh"]) == "learned-x.sh"
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
