"""Agent mailboxes at run time: waiting for messages, agent handlers, plugin hooks."""
