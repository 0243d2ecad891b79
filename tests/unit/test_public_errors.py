"""Every error a public call can raise is in ``coord.errors`` and in ``coord.__all__``
(issue 14), under one name each."""

from __future__ import annotations

import inspect

import coord
from coord import errors


def test_every_coord_error_is_exported_by_coord() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.CoordError)
    }
    missing = sorted(defined - set(coord.__all__))
    assert missing == [], f"errors not in coord.__all__: {missing}"
    for name in defined:
        assert getattr(coord, name) is getattr(errors, name)


def test_error_codes_are_unique() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, errors.CoordError)
    ]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)), sorted(codes)
