"""The ``name`` fixture: each test taking it runs once per model of the family."""

import pytest
from ar_models import NAMES


@pytest.fixture(params=NAMES)
def name(request) -> str:
    return request.param
