"""Ask the user on the controlling terminal: the path, read or write, ``[y/N]``, a timeout.

The agent shares the terminal, and may have put it in raw mode or be reading it from
another thread. So, for the duration of a question, :class:`TerminalPrompter`:

* stops the sandbox's processes (``SIGSTOP``, then ``SIGCONT``), when given a
  :class:`SandboxFreezer`, so nothing but the prompt reads the keyboard;
* discards typed-ahead input (a ``y`` typed for the agent must never answer a question);
* switches to line mode with echo, and puts the agent's terminal settings back after.

Anything but ``y``/``yes``/``a``/``always`` is no; so is silence past the timeout, a closed
terminal, or no terminal at all. ``a`` keeps the yes for the session, ``d`` keeps a no.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from nonoc.runtime.supervisor.answers import Answer, Question

TIMEOUT_SECONDS = 30.0


def shown(text: str) -> str:
    """``text`` safe to print on a terminal: control characters and undecodable bytes escaped.

    The agent chooses file names and its own command name; an escape sequence in either
    could otherwise redraw the question into a different one.
    """
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or 0x7F <= code < 0xA0 or char == "\\":
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)


def question_text(question: Question, timeout: float) -> str:
    """The prompt as shown (CR LF line ends: the terminal may be in raw mode)."""
    lines = [
        "",
        f"nono: {shown(question.command)} (pid {question.pid}) wants to "
        f"{question.access_text.replace('+', ' and ')} {shown(question.path)}",
    ]
    if question.requested != question.path:
        lines.append(f"      (it asked for {shown(question.requested)})")
    lines.append(
        f"      allow? [y/N] (a = always, d = never, this session; no answer in {timeout:g}s = no) "
    )
    return "\r\n".join(lines)


def parse_reply(reply: str) -> Answer:
    """The answer a typed line means."""
    word = reply.strip().lower()
    if word in ("y", "yes"):
        return Answer(True)
    if word in ("a", "always"):
        return Answer(True, remember=True)
    if word in ("d", "never"):
        return Answer(False, remember=True)
    return Answer(False)


class SandboxFreezer:
    """Stop and resume every process of the sandbox: ``root`` and its descendants."""

    def __init__(self, root: int) -> None:
        self.root = root

    def members(self) -> list[int]:
        """The pids of ``root`` and every descendant, from ``/proc/*/stat``."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
        found, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        return found

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Stop the sandbox for the duration of the block."""
        stopped = []
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        # A signal is delivered when its target next runs: wait (briefly) until it has.
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and not all(_stopped(pid) for pid in stopped):
            time.sleep(0.002)
        try:
            yield
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


def _stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (or gone, or a zombie: nothing left to stop)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in (b"T", b"t", b"Z", b"X")


class TerminalPrompter:
    """An answer source that asks on ``/dev/tty`` (see the module docstring)."""

    def __init__(
        self,
        *,
        tty: str = "/dev/tty",
        timeout: float = TIMEOUT_SECONDS,
        freeze: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.tty = tty
        self.timeout = timeout
        self.freeze = freeze

    def ask(self, question: Question) -> Answer:
        """Ask and wait for a line; no terminal, a closed one or the timeout mean no."""
        try:
            fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            return Answer(False, reason="no_answers")
        try:
            with self.freeze() if self.freeze is not None else contextlib.nullcontext():
                return self._ask_on(fd, question)
        finally:
            os.close(fd)

    def _ask_on(self, fd: int, question: Question) -> Answer:
        saved = None
        with contextlib.suppress(termios.error):
            saved = termios.tcgetattr(fd)
            mode = termios.tcgetattr(fd)
            mode[3] |= termios.ICANON | termios.ECHO | termios.ECHONL
            mode[1] |= termios.OPOST | termios.ONLCR
            mode[0] |= termios.ICRNL
            termios.tcsetattr(fd, termios.TCSANOW, mode)
            termios.tcflush(fd, termios.TCIFLUSH)  # typed-ahead keys were meant for the agent
        try:
            os.write(fd, question_text(question, self.timeout).encode("utf-8", "replace"))
            reply = _read_line(fd, self.timeout)
            if reply is None:
                os.write(fd, b"\r\nnono: no answer; refused\r\n")
                return Answer(False, reason="timeout")
            answer = parse_reply(reply)
            os.write(fd, b"nono: allowed\r\n" if answer.allow else b"nono: refused\r\n")
            return answer
        finally:
            if saved is not None:
                with contextlib.suppress(termios.error):
                    termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _read_line(fd: int, timeout: float) -> str | None:
    """One line from ``fd`` within ``timeout`` seconds; ``None`` when it did not come."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 256)
        if not chunk:
            return data.decode("utf-8", "replace") if data else None
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")
