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


CANNED_LOG = f"""\
300 execve("/usr/bin/python3", ["python3", "job.py"], 0x7ffd /* 30 vars */) = 0
300 openat(AT_FDCWD<{CWD}>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
300 openat(AT_FDCWD<{CWD}>, "/usr/lib/python3.11/os.py", O_RDONLY|O_CLOEXEC) = 3</usr/lib/python3.11/os.py>
300 openat(AT_FDCWD<{CWD}>, "job.py", O_RDONLY|O_CLOEXEC) = 3<{CWD}/job.py>
300 openat(AT_FDCWD<{CWD}>, "data/2024/jan.csv", O_RDONLY|O_CLOEXEC) = 3<{CWD}/data/2024/jan.csv>
300 openat(AT_FDCWD<{CWD}>, "data/2023/dec.csv", O_RDONLY|O_CLOEXEC) = 3<{CWD}/data/2023/dec.csv>
300 mkdir("reports", 0777) = 0
300 openat(AT_FDCWD<{CWD}>, "reports/jan.txt", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 3<{CWD}/reports/jan.txt>
300 openat(AT_FDCWD<{CWD}>, "{HOME}/.config/report/settings.toml", O_RDONLY) = 3<{HOME}/.config/report/settings.toml>
300 openat(AT_FDCWD<{CWD}>, "{HOME}/.cache/report/index", O_RDWR|O_CREAT, 0600) = 4<{HOME}/.cache/report/index>
300 openat(AT_FDCWD<{CWD}>, "{HOME}/.aws/credentials", O_RDONLY) = 5<{HOME}/.aws/credentials>
300 openat(AT_FDCWD<{CWD}>, "/etc/ssl/private/key.pem", O_RDONLY) = -1 EACCES (Permission denied)
300 openat(AT_FDCWD<{CWD}>, "{CWD}/plugins", O_RDONLY|O_DIRECTORY) = -1 ENOENT (No such file or directory)
300 vfork( <unfinished ...>
301 execve("/usr/bin/gzip", ["gzip", "reports/jan.txt"], 0x7ffd /* 30 vars */ <unfinished ...>
300 <... vfork resumed>) = 301
301 <... execve resumed>) = 0
301 openat(AT_FDCWD<{CWD}>, "reports/jan.txt.gz", O_WRONLY|O_CREAT|O_EXCL, 0600) = 3<{CWD}/reports/jan.txt.gz>
301 unlink("reports/jan.txt") = 0
"""


def test_a_canned_strace_log_folds_into_a_profile() -> None:
    from nonoc.learn.strace_log import read_log

    trace = read_log(CANNED_LOG.splitlines(), CWD, realpath=lambda p: p, is_dir=lambda p: False)
    learned = profile_from_trace(trace, ["python3", "job.py"], cwd=CWD, base="default")
    assert statements_of(learned.text) == [
        'read "$XDG_CONFIG_HOME/report"',
        'write "$CWD"',
        'allow "$XDG_CACHE_HOME/report"',
        "network block",
    ]  # $CWD is read by default already; reports/ folds into the write of $CWD (mkdir)
    (left_out,) = learned.lesson.left_out
    assert left_out.describe().startswith("read $HOME/.aws/credentials: denied by group deny_")
    assert learned.lesson.failed == [("read", "/etc/ssl/private/key.pem", "EACCES")]
    assert learned.lesson.missing == 1
    assert learned.lesson.processes == 2


def test_a_base_given_as_a_file_is_imported(tmp_path: object) -> None:
    base = f"{tmp_path}/team.nono"
    with open(base, "w", encoding="utf-8") as handle:
        handle.write('profile team extends default {\n  read "/srv/shared"\n}\n')
    run = trace_of(access("/srv/shared/a", "read"), access(f"{CWD}/out", "write", directory=True))
    learned = profile_from_trace(run, ["tool"], cwd=CWD, base=base)
    assert f'import "{base}"\n\nprofile learned-tool extends team ' in learned.text
    assert statements_of(learned.text) == ['write "$CWD/out"', "network block"]
