from enum import StrEnum


class TrafficPolicy(StrEnum):
    CLUSTER = "Cluster"
    LOCAL = "Local"

    def __str__(self) -> str:
        return str(self.value)
