"""Row helpers both stores share: what goes into a dialect's SQL and what comes back.

Each module is about one part of the schema, whatever the dialect:

- ``reader``: column lists and :class:`~coord.storage.rows.reader.RowReader`, which
  turns rows into read models (tasks, events, agents, messages, deliveries) knowing
  how a dialect returns JSON and times.
- ``events``: every event a store writes (topic, refs, actor, data), built once for
  both dialects.
- ``tasks``: the task queue: enqueue rows and idempotency resolution, claim
  admission keys, queue stats.
- ``runs``: runs, phases and run tasks to and from the engine's records.
- ``mailbox``: agents, messages and deliveries: idempotent sends, thread rules,
  handler tasks.
- ``security``: API keys, secrets, idempotency records and denial tallies.
- ``ledger``: the audit ledger's head row, batched sealing, sealed content rows.
"""
