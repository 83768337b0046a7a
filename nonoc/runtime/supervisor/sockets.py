"""stub"""
from __future__ import annotations
from nonoc.runtime.supervisor.syscalls import SOCKET_CALLS
from nonoc.runtime.supervisor.verdict import CONTINUE, Event

class SocketMediator:
    def __init__(self, grants):
        self.grants = grants
    def handles(self, name):
        return name in SOCKET_CALLS
    def handle(self, listener, n, name):
        return CONTINUE, Event(name, n.pid, "continue", "granted")
