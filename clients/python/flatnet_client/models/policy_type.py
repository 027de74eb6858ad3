from enum import StrEnum


class PolicyType(StrEnum):
    EGRESS = "Egress"
    INGRESS = "Ingress"

    def __str__(self) -> str:
        return str(self.value)
