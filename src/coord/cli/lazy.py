"""A command group that imports a sub-command's module only when it is needed.

Importing every command's module at start would load the engine, the models, both
database drivers and the HTTP client: over a second before ``coord --help`` prints a
line. The group is given each sub-command's name, the ``module:attribute`` it lives
at and its one-line help. Its listing (``coord --help``) and the completion of
command names show those lines; any other use of a sub-command (running it, its own
``--help``, completing its options and values) imports its module first.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from coord.cli.failures import CoordGroup


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A sub-command, declared without importing it.

    ``target`` is ``"module:attribute"``: a :class:`typer.Typer` (a group of
    commands) or a command function. ``help`` is the line the listing shows: the
    first paragraph of the command's own help (a test holds the two equal).
    """

    name: str
    target: str
    help: str

    def load(self, parent: TyperGroup) -> TyperCommand | TyperGroup:
        """Import the command and build it as ``parent.add_typer``/``command`` would."""
        module, _, attribute = self.target.partition(":")
        value = getattr(importlib.import_module(module), attribute)
        # Built through a Typer of its own, with the parent's rendering settings, so
        # that it is the very command an eager ``add_typer``/``command`` would make.
        holder = typer.Typer(
            rich_markup_mode=parent.rich_markup_mode, suggest_commands=parent.suggest_commands
        )
        if isinstance(value, typer.Typer):
            holder.add_typer(value, name=self.name)
        else:
            holder.command(self.name)(value)
        command = typer.main.get_group(holder).commands[self.name]
        assert isinstance(command, TyperCommand | TyperGroup)
        return command


class _Unloaded(TyperCommand):
    """Stands for a sub-command not imported yet: a name and a line of help."""

    def __init__(self, spec: LazyCommand) -> None:
        super().__init__(spec.name, help=spec.help)
        self.spec = spec


class LazyGroup(CoordGroup):
    """A :class:`~coord.cli.failures.CoordGroup` whose sub-commands (``lazy``, in the
    order they are listed) are imported when they are used.

    Typer instantiates the group class itself, so the sub-commands are a class
    attribute: subclass it with ``lazy = (...)`` and pass the subclass as ``cls``.
    """

    lazy: ClassVar[Sequence[LazyCommand]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # Stand-ins first, so that every name is known at once: Typer's "did you mean"
        # and the listing read ``self.commands``.
        for spec in self.lazy:
            self.commands.setdefault(spec.name, _Unloaded(spec))
        self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The sub-command ``cmd_name``, imported now unless only listed."""
        command = self.commands.get(cmd_name)
        if isinstance(command, _Unloaded) and not self._listing:
            command = self.commands[cmd_name] = command.spec.load(self)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The group's help: its listing shows the declared lines, nothing imported."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        """Complete a command name (or an option of the group) without importing."""
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False
