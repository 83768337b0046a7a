"""The supervisor: seccomp user notification in ``nono run``'s parent (docs/supervisor.md).

It widens access on a question (``--supervised``), and closes two holes Landlock leaves
before ABI 9: pathname unix sockets and metadata changes. One concept per module:

* ``notif``: the kernel protocol (RECV, SEND, ID_VALID, ADDFD), structure sizes checked;
* ``memory``: reading the parked thread's memory (paths, addresses, data);
* ``walk``: resolving a path without ever following a link blindly;
* ``grants``: the initial grants, denies and socket grants on this host;
* ``opens``, ``sockets`` (with ``sending``), ``metadata``: one family of calls each;
* ``asking``, ``answers``, ``prompt``, ``memo``: questions, who answers, what is kept;
* ``supervisor``: the loop, its threads, and every decision as an event (``verdict``);
* ``record``: decisions into an audit session;
* ``lowering``, ``notify_filters``, ``syscalls``: the ``notify`` rules and their filter;
* ``handoff``, ``spawn``, ``hook``: getting the listener from the child; ``nono run``'s hook;
* ``netrules``: the sandbox's TCP rules on the threads that connect for it.
"""
