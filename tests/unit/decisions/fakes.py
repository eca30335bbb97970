"""In-memory stand-ins for where decisions go: a bus that records (or refuses) what it is given."""

from __future__ import annotations

from collections.abc import Sequence

from registrar.bus import PublishError
from registrar.decisions.contract import DecisionDetail


class RecordingBus:
    """Keeps every published decision; ``refuse`` makes the next that many publishes fail as PutEvents would."""

    def __init__(self, refuse: int = 0) -> None:
        self.published: list[DecisionDetail] = []
        self.refuse = refuse

    def publish_decisions(self, details: Sequence[DecisionDetail]) -> int:
        if self.refuse:
            self.refuse -= 1
            raise PublishError([(detail.model_package_arn, "InternalFailure", "try again") for detail in details])
        self.published.extend(details)
        return len(details)
