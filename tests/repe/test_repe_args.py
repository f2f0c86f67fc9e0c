"""``-M`` arguments of the repe/ provider: a bad value is a user error (Inspect's PrerequisiteError:
one message, no traceback) naming the argument and what would be valid."""

from __future__ import annotations

import pytest
from inspect_ai._util.error import PrerequisiteError

from refusal_evals.repe.provider import _float_arg, parse_layers


@pytest.mark.parametrize(
    "value, message",
    [
        ("banana", "-M layers: cannot read 'banana'; use a range such as 10-17 or a list 12,14"),
        ("9-3", "-M layers: range '9-3' runs backwards"),
        ("40", "-M layers: '40' is out of range"),
    ],
)
def test_bad_layers_are_user_errors(value, message):
    with pytest.raises(PrerequisiteError) as err:
        parse_layers(value, 30)
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize("value", ["nan", "inf", "strong"])
def test_bad_coefficient_is_a_user_error(value):
    with pytest.raises(PrerequisiteError, match="-M honesty_coeff: expected a"):
        _float_arg("honesty_coeff", value)
