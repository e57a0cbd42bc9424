"""The ``name`` fixture: each test taking it runs once per flow."""

import pytest
from flow_models import NAMES


@pytest.fixture(params=NAMES)
def name(request) -> str:
    return request.param
