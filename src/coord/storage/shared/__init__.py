"""Store methods written once for both dialects, over the narrow interface of
:mod:`.session` (a session's ``one``, ``all``, ``count`` and ``events``; a dialect's
``_reading``/``_writing``, row reader and list binding), each dialect supplying its
named queries under the same names:

- ``session``: the interface, which each dialect's connection class implements.
- ``tasks``: task-queue reads (policies, steps, tasks, events, dead letters).
- ``runs``: workflow definitions, run events and artifacts.
- ``security``: API keys, secrets, idempotency records, denial tallies.
- ``ledger``: reads of the audit ledger (head, backlog, strays, sealed content).
- ``mailbox_reads``: agents, inboxes, messages and threads.

The hot paths (claim, renew, complete, send, run decisions) and the writes shaped by
a dialect's locking stay in ``sqlite/`` and ``postgres/``.
"""
